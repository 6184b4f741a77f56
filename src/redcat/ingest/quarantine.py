"""Read the quarantine: the rows ingest refused, with the file, row, field and reason."""

from __future__ import annotations

import duckdb
import pandas as pd

from redcat.engine.store import require_tables

QUARANTINE_COLUMNS = ("file", "table_name", "retailer_id", "row_number", "field", "reason", "raw")


def quarantine_frame(
    con: duckdb.DuckDBPyConnection, *, file: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Return quarantined rows, ordered by file and row number (one row per refused data row).

    ``file`` keeps the rows of one file, given as ingested (``DIR/notes.csv``) or by its name
    alone (``notes.csv``); ``limit`` caps the number of rows returned.
    """
    require_tables(con, "quarantine")
    sql = f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM quarantine"
    params: dict[str, object] = {}
    if file is not None:
        sql += " WHERE file = $file OR ends_with(file, '/' || $file)"
        params["file"] = file
    sql += " ORDER BY file, table_name, retailer_id, row_number, ingested_at"
    if limit is not None:
        sql += " LIMIT $limit"
        params["limit"] = limit
    return con.execute(sql, params).df()


def quarantine_count(con: duckdb.DuckDBPyConnection, *, file: str | None = None) -> int:
    """Return how many quarantined rows the store holds (for ``file`` only, if given)."""
    require_tables(con, "quarantine")
    if file is None:
        row = con.execute("SELECT count(*) FROM quarantine").fetchone()
    else:
        row = con.execute(
            "SELECT count(*) FROM quarantine WHERE file = $file OR ends_with(file, '/' || $file)",
            {"file": file},
        ).fetchone()
    assert row is not None
    return int(row[0])
