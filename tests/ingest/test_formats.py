"""CSV, JSONL and Parquet exports of the same logical rows load to the same stored rows."""

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from redcat.engine.store import ensure_schema
from redcat.ingest.load import ingest_party

SHANGHAI = timezone(timedelta(hours=8))

NOTES = [
    {"note_id": "n1", "brand_id": "b1", "creator_id": "c1", "note_type": "ad",
     "product_ids": ["p1", "p2"], "published_at": datetime(2026, 4, 1, 8, 0, tzinfo=SHANGHAI),
     "title": 'Spring, "fresh"\nlook'},
    {"note_id": "n2", "brand_id": "b2", "creator_id": "c2", "note_type": "organic",
     "product_ids": None, "published_at": datetime(2026, 4, 2, 12, 30, 15, 250000, tzinfo=UTC),
     "title": None},
]  # fmt: skip
EVENTS = [
    {"event_id": f"e{i}", "user_key": f"u{i % 3}", "note_id": "n1" if i % 2 else "n2",
     "ts": datetime(2026, 5, 1, 10, 0, tzinfo=UTC) + timedelta(minutes=i),
     "event": ["impression", "read", "like", "link_click"][i % 4],
     "surface": ["feed", "search", "profile"][i % 3]}
    for i in range(8)
]  # fmt: skip
SPEND = [
    {"date": date(2026, 5, 1), "note_id": "n1", "campaign_id": "k1", "amount": 120.5,
     "kind": "heat"},
    {"date": date(2026, 5, 2), "note_id": "n1", "campaign_id": "k1", "amount": 0.0,
     "kind": "traffic"},
]  # fmt: skip
HOLDOUTS = [
    {"user_key": "u0", "campaign_id": "k1", "arm": "test"},
    {"user_key": "u1", "campaign_id": "k1", "arm": "control"},
]
TABLES = {"notes": NOTES, "content_events": EVENTS, "spend": SPEND, "holdouts": HOLDOUTS}


def text(value: object, *, offset: bool) -> str:
    """A value as an export writes it: ISO timestamps (with the original offset, or in UTC)."""
    if isinstance(value, datetime):
        shown = value if offset else value.astimezone(UTC)
        return shown.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(path, rows) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0].keys())
    for row in rows:
        writer.writerow(
            [
                "" if v is None else "|".join(v) if isinstance(v, list) else text(v, offset=True)
                for v in row.values()
            ]
        )
    path.write_text(out.getvalue(), encoding="utf-8")


def write_jsonl(path, rows) -> None:
    lines = [
        json.dumps(
            {
                k: v if v is None or isinstance(v, list | float) else text(v, offset=False)
                for k, v in row.items()
            }
        )
        for row in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_parquet(path, rows) -> None:
    columns = {k: [row[k] for row in rows] for k in rows[0]}
    arrays = {}
    for name, values in columns.items():
        if isinstance(values[0], datetime):
            arrays[name] = pa.array(values, pa.timestamp("ns", tz="Asia/Shanghai"))
        else:
            arrays[name] = pa.array(values)
    pq.write_table(pa.table(arrays), path)


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}


def stored(directory) -> dict[str, list[tuple]]:
    con = duckdb.connect()
    ensure_schema(con)
    reports = ingest_party(con, "content", directory)
    assert all(r.quarantined == 0 and r.duplicates == 0 for r in reports)
    assert {r.table: r.loaded for r in reports} == {t: len(rows) for t, rows in TABLES.items()}
    result = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    con.close()
    return result


@pytest.fixture(scope="module")
def by_format(tmp_path_factory) -> dict[str, dict[str, list[tuple]]]:
    result = {}
    for fmt, write in WRITERS.items():
        directory = tmp_path_factory.mktemp(fmt)
        for table, rows in TABLES.items():
            write(directory / f"{table}.{fmt}", rows)
        result[fmt] = stored(directory)
    return result


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_each_format_stores_the_same_rows_as_csv(by_format, fmt):
    assert by_format[fmt] == by_format["csv"]


def test_stored_values_are_typed_and_in_utc(by_format):
    notes = by_format["csv"]["notes"]
    assert notes == [
        ("n1", "b1", "c1", "ad", ["p1", "p2"], datetime(2026, 4, 1, 0, 0),
         'Spring, "fresh"\nlook'),
        ("n2", "b2", "c2", "organic", None, datetime(2026, 4, 2, 12, 30, 15, 250000), None),
    ]  # fmt: skip
    assert by_format["csv"]["spend"][0] == (date(2026, 5, 1), "n1", "k1", 120.5, "heat")
    assert by_format["csv"]["content_events"][0][3] == datetime(2026, 5, 1, 10, 0)


def test_parquet_string_columns_are_validated_like_text(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    pq.write_table(
        pa.table(
            {
                "event_id": ["e1", "e2"],
                "user_key": ["u1", "u2"],
                "note_id": ["n1", "n1"],
                "ts": ["2026-05-01T18:00:00+08:00", "yesterday"],
                "event": ["read", "read"],
                "surface": ["feed", "feed"],
            }
        ),
        directory / "content_events.parquet",
    )
    con = duckdb.connect()
    [report] = ingest_party(con, "content", directory)
    assert (report.loaded, report.quarantined) == (1, 1)
    assert con.execute("SELECT ts FROM content_events").fetchall() == [(datetime(2026, 5, 1, 10),)]
    assert con.execute("SELECT row_number, field, reason FROM quarantine").fetchall() == [
        (2, "ts", "not an ISO 8601 timestamp: 'yesterday'")
    ]
