from collections.abc import Iterator

import duckdb
import pytest

from redcat.engine.store import ensure_schema


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory store with the contract tables, the quarantine and the ingest log."""
    connection = duckdb.connect()
    ensure_schema(connection)
    yield connection
    connection.close()
