"""The analytics store: one DuckDB file holding ingested tables, the quarantine and match output.

The layout is derived from the data contract so that ingest, match and the measurements agree on
it. Retailer tables carry a ``retailer_id`` column naming the party that exported each row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from redcat.errors import StoreError
from redcat.ingest.contract import ALL_TABLES, Field, TableSpec

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


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the DuckDB store at ``path`` with every contract table present."""
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError(f"store {path} does not exist; run `redcat ingest` first")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:  # locked by another process, not a DuckDB file, ...
        raise StoreError(f"cannot open the store {path}: {exc}") from None
    if not read_only:
        ensure_schema(con)
    return con


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
