"""The Engine: an Ibis backend over the store, plus the raw connection for marked fast paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd

from redcat.engine.store import connect, has_table, require_tables
from redcat.errors import StoreError


class Engine:
    """An open store. ``ibis`` runs portable expressions; ``duck`` is the DuckDB connection for
    ingest, match and marked fast paths only. On another backend (Spark, see
    :mod:`redcat.engine.spark`) ``duck`` is absent: asking for it raises :class:`StoreError`."""

    def __init__(self, ibis: Any, duck: duckdb.DuckDBPyConnection | None, path: Path) -> None:
        self.ibis = ibis
        self._duck = duck
        self.path = path

    @property
    def on_duckdb(self) -> bool:
        """True when the engine runs on the embedded DuckDB store."""
        return self._duck is not None

    @property
    def duck(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection; raises :class:`StoreError` on another backend."""
        if self._duck is None:
            raise StoreError(
                f"this step needs the DuckDB store; the engine on {self.path} runs on "
                f"{self.ibis.name}"
            )
        return self._duck

    def has_table(self, name: str) -> bool:
        """Return whether the store holds a table (or, on Spark, a view) called ``name``."""
        if self._duck is not None:
            return has_table(self._duck, name)
        return name in self.ibis.list_tables()

    def table(self, name: str) -> ir.Table:
        """Return the stored table ``name`` as an Ibis expression; raises :class:`StoreError`
        when the store has no such table."""
        if self._duck is not None:
            require_tables(self._duck, name)
        elif not self.has_table(name):
            raise StoreError(f"no table {name!r} among the engine's tables ({self.path})")
        return self.ibis.table(name)

    def execute(self, expr: ir.Expr) -> pd.DataFrame:
        """Run an Ibis expression and return its result as a pandas DataFrame."""
        result = self.ibis.execute(expr)
        if isinstance(result, pd.DataFrame):
            return result
        return pd.DataFrame({"value": [result]})

    def distinct_values(self, table: str, column: str) -> list[str]:
        """Return the sorted distinct non-null values of ``table.column``."""
        t = self.table(table)
        expr = t.select(column).filter(t[column].notnull()).distinct().order_by(column)
        return [str(v) for v in self.execute(expr)[column].tolist()]

    def create_table(self, name: str, expr: ir.Table, *, overwrite: bool = True) -> ir.Table:
        """Materialize ``expr`` as table ``name`` in the store and return it."""
        return self.ibis.create_table(name, expr, overwrite=overwrite)

    def scratch_table(self, name: str, expr: ir.Table) -> ir.Table:
        """Materialize ``expr`` as ``name`` for this connection only and return it: a temporary
        table on DuckDB, a cached temporary view on Spark (Ibis has no temporary tables there).
        Replaces an earlier scratch table of the same name."""
        if self._duck is not None:
            return self.ibis.create_table(name, expr, temp=True, overwrite=True)
        view = self.ibis.create_view(name, expr, overwrite=True)
        self.ibis.raw_sql(f"CACHE TABLE `{name}`")
        return view

    def close(self) -> None:
        """Close the store."""
        self.ibis.disconnect()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_engine(path: Path | str, *, read_only: bool = False) -> Engine:
    """Open the store at ``path`` (created with the contract schema unless ``read_only``)."""
    con = connect(path, read_only=read_only)
    backend = ibis.duckdb.from_connection(con)
    return Engine(ibis=backend, duck=con, path=Path(path))
