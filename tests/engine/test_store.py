import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from redcat.engine import open_engine
from redcat.engine.store import attach_read_only, connect, has_table, store_key, table_ddl
from redcat.errors import StoreError
from redcat.ingest.contract import ALL_TABLES, COMMERCE_EVENTS_TABLE, NOTES


def test_notes_ddl_follows_contract():
    assert table_ddl(NOTES) == (
        "CREATE TABLE IF NOT EXISTS notes (\n"
        "    note_id VARCHAR NOT NULL,\n"
        "    brand_id VARCHAR NOT NULL,\n"
        "    creator_id VARCHAR NOT NULL,\n"
        "    note_type VARCHAR NOT NULL,\n"
        "    product_ids VARCHAR[],\n"
        "    published_at TIMESTAMP NOT NULL,\n"
        "    title VARCHAR\n"
        ")"
    )


def test_retailer_tables_are_keyed_by_retailer():
    assert store_key(COMMERCE_EVENTS_TABLE) == ("retailer_id", "event_id")
    assert store_key(NOTES) == ("note_id",)


def test_new_store_holds_every_contract_table_empty(tmp_path):
    with open_engine(tmp_path / "s.duckdb") as engine:
        for name, spec in ALL_TABLES.items():
            table = engine.table(name)
            extra = ("retailer_id",) if spec.party == "retailer" else ()
            assert tuple(table.columns) == extra + spec.columns
            assert engine.execute(table.count())["value"][0] == 0


def test_distinct_values_sorted_without_nulls(tmp_path):
    with open_engine(tmp_path / "s.duckdb") as engine:
        engine.duck.execute(
            "INSERT INTO shops VALUES ('jd','s2','B2'),('tmall','s1','B1'),('jd','s3','B1')"
        )
        assert engine.distinct_values("shops", "brand_id") == ["B1", "B2"]
        assert engine.distinct_values("shops", "retailer_id") == ["jd", "tmall"]


def _hold_lock(path: Path, seconds: float, read_only: bool = True) -> subprocess.Popen[str]:
    """Start another process that opens ``path`` (read-only: DuckDB then refuses writers from
    other processes; else a writer, refusing everyone) for ``seconds``; return once it holds
    the file."""
    code = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(path)!r}, read_only={read_only})\n"
        "print('holding', flush=True)\n"
        f"time.sleep({seconds})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_a_writer_waits_for_another_process_to_let_go(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    connect(path).close()
    reader = _hold_lock(path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"cannot open the store .*lock"):
            connect(path, lock_wait_seconds=0.3)
        assert time.monotonic() - started < 5  # gave up after about the wait asked
    finally:
        reader.kill()
        reader.wait()
    reader = _hold_lock(path, 1.0)
    try:
        con = connect(path, lock_wait_seconds=30)  # opens once the reader is gone
        assert has_table(con, "notes")
        con.close()
        assert reader.wait(timeout=30) == 0
    finally:
        reader.kill()


def test_a_reader_attaching_waits_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    connect(path).close()
    writer = _hold_lock(path, 1.0, read_only=False)
    try:
        con = duckdb.connect(":memory:")
        attach_read_only(con, path, "src", lock_wait_seconds=30)
        assert con.execute("SELECT count(*) FROM src.main.notes").fetchone() == (0,)
        con.close()
    finally:
        writer.kill()
        writer.wait()
