"""Property: for any mix of good, bad and repeated rows, in any format and block size, every row
is loaded, quarantined or counted as a duplicate, exactly once, and re-ingesting adds nothing."""

import csv
import io
import json

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redcat.engine.store import ensure_schema
from redcat.ingest.contract import CONTENT_EVENTS_TABLE
from redcat.ingest.load import ingest_file
from redcat.settings import IngestSettings

COLUMNS = ["event_id", "user_key", "note_id", "ts", "event", "surface"]
GOOD_TS = ["2026-05-01T10:00:00Z", "2026-05-01 18:00:00+08:00", "2026-05-01T10:00:00"]
BAD_KINDS = ["empty_user", "bad_ts", "bad_event", "bad_utf8", "broken", "empty_line"]

text = st.text(alphabet='ab种 ,"\n', min_size=1, max_size=6).filter(lambda s: s.strip() != "")
good_row = st.fixed_dictionaries(
    {
        "kind": st.just("good"),
        "key": st.integers(0, 5),
        "user": text,
        "note": text,
        "ts": st.sampled_from(GOOD_TS),
    }
)
bad_row = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(BAD_KINDS),
        "key": st.integers(0, 5),
        "user": text,
        "note": text,
        "ts": st.sampled_from(GOOD_TS),
    }
)
rows_strategy = st.lists(st.one_of(good_row, bad_row), max_size=25)


def values(row: dict) -> list[str]:
    user = "" if row["kind"] == "empty_user" else row["user"]
    ts = "2026-02-30T00:00:00Z" if row["kind"] == "bad_ts" else row["ts"]
    event = "purchase" if row["kind"] == "bad_event" else "read"
    return [f"e{row['key']}", user, row["note"], ts, event, "feed"]


def encode(row: dict, fmt: str, quoting: int) -> bytes:
    if row["kind"] == "empty_line":
        return b""
    if fmt == "csv":
        out = io.StringIO()
        cells = values(row) + (["extra"] if row["kind"] == "broken" else [])
        csv.writer(out, lineterminator="\n", quoting=quoting).writerow(cells)
        line = out.getvalue()[:-1].encode()
    else:
        line = json.dumps(dict(zip(COLUMNS, values(row), strict=True))).encode()
        if row["kind"] == "broken":
            line = line[:-1]  # drop the closing brace
    if row["kind"] == "bad_utf8":
        line = line.replace(b"e", b"\xff", 1)
    return line


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=rows_strategy,
    fmt=st.sampled_from(["csv", "jsonl"]),
    block_bytes=st.sampled_from([1, 40, 1 << 16]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_no_row_is_lost(tmp_path_factory, rows, fmt, block_bytes, quoting):
    path = tmp_path_factory.mktemp("p") / f"content_events.{fmt}"
    lines = [encode(row, fmt, quoting) for row in rows]
    header = [",".join(COLUMNS).encode()] if fmt == "csv" else []
    path.write_bytes(b"\n".join(header + lines) + (b"\n" if lines else b""))

    con = duckdb.connect()
    ensure_schema(con)
    opts = IngestSettings(block_bytes=block_bytes)
    report = ingest_file(con, CONTENT_EVENTS_TABLE, path, settings=opts)

    bad = [i + 1 for i, row in enumerate(rows) if row["kind"] != "good"]
    first_user: dict[str, str] = {}
    for row in rows:
        if row["kind"] == "good":
            first_user.setdefault(f"e{row['key']}", row["user"])
    good = len(rows) - len(bad)
    assert report.rows == len(rows) == report.loaded + report.quarantined + report.duplicates
    assert (report.loaded, report.quarantined, report.duplicates) == (
        len(first_user),
        len(bad),
        good - len(first_user),
    )
    quarantined = con.execute("SELECT row_number FROM quarantine ORDER BY 1").fetchall()
    assert [r for (r,) in quarantined] == bad
    stored = dict(con.execute("SELECT event_id, user_key FROM content_events").fetchall())
    assert stored == first_user

    again = ingest_file(con, CONTENT_EVENTS_TABLE, path, settings=opts)
    assert (again.rows, again.loaded, again.quarantined, again.duplicates) == (
        len(rows),
        0,
        len(bad),
        good,
    )
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (len(bad),)
    assert con.execute("SELECT count(*) FROM content_events").fetchone() == (len(first_user),)
    con.close()
