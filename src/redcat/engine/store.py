"""The analytics store: one DuckDB file holding ingested tables, the quarantine and match output.

The layout is derived from the data contract so that ingest, match and the measurements agree on
it. Retailer tables carry a ``retailer_id`` column naming the party that exported each row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from redcat.errors import StoreError
from redcat.ingest.contract import ALL_TABLES, Field, TableSpec

T = TypeVar("T")

_SQL_TYPES = {
    "str": "VARCHAR",
    "enum": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "list": "VARCHAR[]",
}

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    file VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    retailer_id VARCHAR,
    row_number BIGINT NOT NULL,
    field VARCHAR,
    reason VARCHAR NOT NULL,
    raw VARCHAR,
    ingested_at TIMESTAMP NOT NULL
)
"""

INGEST_FILES_DDL = """
CREATE TABLE IF NOT EXISTS ingest_files (
    file VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    retailer_id VARCHAR,
    rows BIGINT NOT NULL,
    loaded BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    ingested_at TIMESTAMP NOT NULL
)
"""


def sql_type(field: Field) -> str:
    """Return the DuckDB column type that stores a contract field."""
    return _SQL_TYPES[field.kind]


def table_ddl(spec: TableSpec) -> str:
    """Return ``CREATE TABLE IF NOT EXISTS`` for a contract table (retailer tables gain
    ``retailer_id``)."""
    cols = [f"{f.name} {sql_type(f)}{' NOT NULL' if f.required else ''}" for f in spec.fields]
    if spec.party == "retailer":
        cols.insert(0, "retailer_id VARCHAR NOT NULL")
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n    " + ",\n    ".join(cols) + "\n)"


def store_key(spec: TableSpec) -> tuple[str, ...]:
    """Return the columns that identify a stored row (the contract key, plus ``retailer_id``)."""
    return (("retailer_id",) if spec.party == "retailer" else ()) + spec.key


#: How long opening the store waits for another process's lock to go (seconds). DuckDB lets one
#: process write a file, or any number read it; a dashboard measuring a date range reads the
#: store for a few seconds, so an ingest or match run started meanwhile waits instead of failing.
LOCK_WAIT_SECONDS = 30.0


def _waiting_for_locks(open_it: Callable[[], T], path: Path, lock_wait_seconds: float) -> T:
    """Return ``open_it()``, retried while another process holds a conflicting lock on ``path``
    for up to ``lock_wait_seconds``; :class:`StoreError` naming the file when it fails."""
    deadline = time.monotonic() + lock_wait_seconds
    pause = 0.05
    while True:
        try:
            return open_it()
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() + pause > deadline:
                raise StoreError(f"cannot open the store {path}: {exc}") from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        except duckdb.Error as exc:  # not a DuckDB file, ...
            raise StoreError(f"cannot open the store {path}: {exc}") from None


def connect(
    path: Path | str, *, read_only: bool = False, lock_wait_seconds: float = LOCK_WAIT_SECONDS
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the DuckDB store at ``path`` with every contract table present.

    While another process holds a conflicting lock on the file, retries for up to
    ``lock_wait_seconds`` (0: fail at once); raises :class:`StoreError` naming the file when it
    cannot be opened (still locked, not a DuckDB file, ...)."""
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError(f"store {path} does not exist; run `redcat ingest` first")
    con = _waiting_for_locks(
        lambda: duckdb.connect(str(path), read_only=read_only), path, lock_wait_seconds
    )
    if not read_only:
        ensure_schema(con)
    return con


def attach_read_only(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    alias: str,
    *,
    lock_wait_seconds: float = LOCK_WAIT_SECONDS,
) -> None:
    """Attach the store at ``path`` to ``con`` read-only as ``alias``, waiting like
    :func:`connect` for a writer in another process to let go of the file."""
    path = Path(path)
    quoted = str(path).replace("'", "''")
    _waiting_for_locks(
        lambda: con.execute(f"ATTACH '{quoted}' AS \"{alias}\" (READ_ONLY)"),
        path,
        lock_wait_seconds,
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the contract tables, the quarantine and the ingest log if they are missing."""
    for spec in ALL_TABLES.values():
        con.execute(table_ddl(spec))
    con.execute(QUARANTINE_DDL)
    con.execute(INGEST_FILES_DDL)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Return whether the store holds a table called ``name``."""
    rows = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(rows)


def require_tables(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Raise :class:`StoreError` naming the first of ``names`` the store lacks or holds empty."""
    for name in names:
        if not has_table(con, name):
            raise StoreError(f"the store has no table {name!r}; run the step that builds it first")
