"""The malformed-row matrix: each bad row is quarantined with its exact row, field and reason,
and every file's counts reconcile with what the store holds."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from redcat.errors import InputError
from redcat.ingest.contract import ALL_TABLES
from redcat.ingest.load import FileReport, ingest_file

HEADERS = {
    "content_events": "event_id,user_key,note_id,ts,event,surface",
    "notes": "note_id,brand_id,creator_id,note_type,product_ids,published_at,title",
    "spend": "date,note_id,campaign_id,amount,kind",
    "holdouts": "user_key,campaign_id,arm",
    "commerce_events": "event_id,user_key,shop_id,ts,event,query,product_id,order_id,amount",
    "shops": "shop_id,brand_id",
    "brand_terms": "brand_id,term",
}
# Two good rows per table, written before and after the row under test.
GOOD = {
    "content_events": (
        "e1,u1,n1,2026-05-01T10:00:00Z,impression,feed",
        "e9,u1,n1,2026-05-01T10:05:00Z,read,feed",
    ),
    "notes": (
        "n1,b1,c1,ad,p1|p2,2026-04-01T08:00:00+08:00,hello",
        "n9,b1,c1,organic,,2026-04-02T00:00:00Z,",
    ),
    "spend": ("2026-05-01,n1,c1,100.5,heat", "2026-05-02,n1,c1,0,traffic"),
    "holdouts": ("u1,c1,test", "u9,c1,control"),
    "commerce_events": (
        "o1,u1,s1,2026-05-02T12:00:00Z,order,,p1,ord1,59.9",
        "o9,u1,,2026-05-02T12:01:00Z,search,lipstick,,,",
    ),
}

EVENTS = "unknown event '{}' (expected one of: impression, read, like, collect, comment, share, follow, search, link_click, post)"  # noqa: E501

CSV_CASES = [
    # (case id, table, bad line, field, reason)
    ("empty required field", "content_events",
     "e2,,n1,2026-05-01T10:00:00Z,read,feed", "user_key", "empty required field 'user_key'"),
    ("blank required field", "content_events",
     "e2,  ,n1,2026-05-01T10:00:00Z,read,feed", "user_key", "empty required field 'user_key'"),
    ("bad timestamp", "content_events",
     "e2,u1,n1,2026-13-45,read,feed", "ts", "not an ISO 8601 timestamp: '2026-13-45'"),
    ("timestamp not ISO 8601", "content_events",
     "e2,u1,n1,05/01/2026 10:00,read,feed", "ts",
     "not an ISO 8601 timestamp: '05/01/2026 10:00'"),
    ("timestamp as a word", "content_events",
     "e2,u1,n1,epoch,read,feed", "ts", "not an ISO 8601 timestamp: 'epoch'"),
    ("unknown event", "content_events",
     "e2,u1,n1,2026-05-01T10:00:00Z,purchase,feed", "event", EVENTS.format("purchase")),
    ("unknown surface", "content_events",
     "e2,u1,n1,2026-05-01T10:00:00Z,read,home", "surface",
     "unknown surface 'home' (expected one of: feed, search, profile)"),
    ("first failing field wins", "content_events",
     "e2,,n1,nonsense,purchase,feed", "user_key", "empty required field 'user_key'"),
    ("too many fields", "content_events",
     "e2,u1,n1,2026-05-01T10:00:00Z,read,feed,extra", None,
     "wrong number of fields: expected 6, got 7"),
    ("too few fields", "content_events",
     "e2,u1,n1", None, "wrong number of fields: expected 6, got 3"),
    ("empty line", "content_events", "", None, "empty line"),
    ("malformed quoting", "content_events",
     'e2,"u1"x,n1,2026-05-01T10:00:00Z,read,feed', None, "malformed CSV: ',' expected after '\"'"),
    ("unknown note_type", "notes",
     "n2,b1,c1,sponsored,,2026-04-01T00:00:00Z,t", "note_type",
     "unknown note_type 'sponsored' (expected one of: organic, partnership, ad)"),
    ("bad published_at", "notes",
     "n2,b1,c1,ad,,2026-04-31T00:00:00Z,t", "published_at",
     "not an ISO 8601 timestamp: '2026-04-31T00:00:00Z'"),
    ("empty list item", "notes",
     "n2,b1,c1,ad,p1||p2,2026-04-01T00:00:00Z,t", "product_ids",
     "empty item in product_ids: 'p1||p2'"),
    ("bad date", "spend",
     "2026-02-30,n1,c1,10,heat", "date", "not a date (YYYY-MM-DD): '2026-02-30'"),
    ("date with a time", "spend",
     "2026-05-03T00:00:00,n1,c1,10,heat", "date",
     "not a date (YYYY-MM-DD): '2026-05-03T00:00:00'"),
    ("negative amount", "spend", "2026-05-03,n1,c1,-3.5,heat", "amount", "negative amount -3.5"),
    ("non-numeric amount", "spend", "2026-05-03,n1,c1,abc,heat", "amount", "not a number: 'abc'"),
    ("amount not finite", "spend",
     "2026-05-03,n1,c1,nan,heat", "amount", "not a finite number: 'nan'"),
    ("unknown spend kind", "spend",
     "2026-05-03,n1,c1,1,boost", "kind", "unknown kind 'boost' (expected one of: heat, traffic)"),
    ("unknown arm", "holdouts",
     "u2,c1,treatment", "arm", "unknown arm 'treatment' (expected one of: test, control)"),
    ("negative order amount", "commerce_events",
     "o2,u1,s1,2026-05-02T12:00:00Z,order,,p1,ord2,-1", "amount", "negative amount -1"),
    ("unknown commerce event", "commerce_events",
     "o2,u1,s1,2026-05-02T12:00:00Z,purchase,,p1,ord2,1", "event",
     "unknown event 'purchase' (expected one of: search, visit, favorite, cart, order)"),
]  # fmt: skip


def ingest(con, tmp_path: Path, table: str, name: str, content: bytes, **kw) -> FileReport:
    path = tmp_path / name
    path.write_bytes(content)
    retailer = "tmall" if ALL_TABLES[table].party == "retailer" else None
    return ingest_file(con, ALL_TABLES[table], path, retailer_id=retailer, **kw)


def quarantine(con) -> list[tuple]:
    return con.execute(
        "SELECT row_number, field, reason, raw FROM quarantine ORDER BY row_number"
    ).fetchall()


def assert_reconciles(con, report: FileReport) -> None:
    assert report.rows == report.loaded + report.quarantined + report.duplicates
    stored = con.execute(f"SELECT count(*) FROM {report.table}").fetchone()[0]
    refused = con.execute(
        "SELECT count(*) FROM quarantine WHERE file = ?", [report.file]
    ).fetchone()[0]
    assert (stored, refused) == (report.loaded, report.quarantined)


@pytest.mark.parametrize(
    ("table", "line", "field", "reason"),
    [case[1:] for case in CSV_CASES],
    ids=[case[0] for case in CSV_CASES],
)
def test_bad_csv_row_is_quarantined_with_its_reason(con, tmp_path, table, line, field, reason):
    first, last = GOOD[table]
    text = "\n".join([HEADERS[table], first, line, last]) + "\n"
    report = ingest(con, tmp_path, table, f"{table}.csv", text.encode())
    assert (report.rows, report.loaded, report.quarantined, report.duplicates) == (3, 2, 1, 0)
    assert quarantine(con) == [(2, field, reason, line)]
    assert_reconciles(con, report)


def test_quarantine_names_file_table_and_retailer(con, tmp_path):
    first, last = GOOD["commerce_events"]
    bad = "o2,u1,s1,2026-05-02,order,,,,x"
    text = "\n".join([HEADERS["commerce_events"], first, bad, last]) + "\n"
    report = ingest(con, tmp_path, "commerce_events", "commerce_events.csv", text.encode())
    row = con.execute(
        "SELECT file, table_name, retailer_id, row_number, field, reason FROM quarantine"
    ).fetchone()
    assert row == (str(tmp_path / "commerce_events.csv"), "commerce_events", "tmall", 2,
                   "amount", "not a number: 'x'")  # fmt: skip
    assert report.retailer_id == "tmall"
    assert con.execute("SELECT DISTINCT retailer_id FROM commerce_events").fetchall() == [
        ("tmall",)
    ]


def test_invalid_utf8_quarantines_the_line_not_the_file(con, tmp_path):
    first, last = GOOD["content_events"]
    content = (
        HEADERS["content_events"].encode() + b"\n" + first.encode() + b"\n"
        + b"e2,u\xff1,n1,2026-05-01T10:00:00Z,read,feed\n" + last.encode() + b"\n"
    )  # fmt: skip
    report = ingest(con, tmp_path, "content_events", "content_events.csv", content)
    assert (report.rows, report.loaded, report.quarantined) == (3, 2, 1)
    assert quarantine(con) == [
        (2, None, "invalid UTF-8", "e2,u\\xff1,n1,2026-05-01T10:00:00Z,read,feed")
    ]


def test_invalid_utf8_inside_a_quoted_csv_record(con, tmp_path):
    first, last = GOOD["content_events"]
    content = (
        HEADERS["content_events"].encode() + b"\n" + first.encode() + b"\n"
        + b'e2,"u\xfe1",n1,2026-05-01T10:00:00Z,read,feed\n' + last.encode() + b"\n"
    )  # fmt: skip
    report = ingest(con, tmp_path, "content_events", "content_events.csv", content)
    assert (report.rows, report.loaded, report.quarantined) == (3, 2, 1)
    assert quarantine(con) == [
        (2, None, "invalid UTF-8", 'e2,"u\\xfe1",n1,2026-05-01T10:00:00Z,read,feed')
    ]


def test_unterminated_quote_quarantines_its_line_and_reading_resumes(con, tmp_path):
    first, last = GOOD["content_events"]
    bad = 'e2,"u1,n1,2026-05-01T10:00:00Z,read,feed'
    text = "\n".join([HEADERS["content_events"], first, bad, last]) + "\n"
    report = ingest(con, tmp_path, "content_events", "content_events.csv", text.encode())
    assert (report.rows, report.loaded, report.quarantined) == (3, 2, 1)
    assert quarantine(con) == [(2, None, "unterminated quoted field", bad)]


JSONL_GOOD = (
    {"event_id": "e1", "user_key": "u1", "note_id": "n1", "ts": "2026-05-01T10:00:00Z",
     "event": "impression", "surface": "feed"},
    {"event_id": "e9", "user_key": "u1", "note_id": "n1", "ts": "2026-05-01T10:05:00Z",
     "event": "read", "surface": "feed"},
)  # fmt: skip

JSONL_CASES = [
    ("missing required field",
     '{"event_id": "e2", "note_id": "n1", "ts": "2026-05-01T10:00:00Z", "event": "read", '
     '"surface": "feed"}', "user_key", "missing required field 'user_key'"),
    ("null required field",
     '{"event_id": "e2", "user_key": null, "note_id": "n1", "ts": "2026-05-01T10:00:00Z", '
     '"event": "read", "surface": "feed"}', "user_key", "missing required field 'user_key'"),
    ("empty required field",
     '{"event_id": "e2", "user_key": "", "note_id": "n1", "ts": "2026-05-01T10:00:00Z", '
     '"event": "read", "surface": "feed"}', "user_key", "empty required field 'user_key'"),
    ("malformed JSON", '{"event_id": "e2"', None,
     "malformed JSON: Expecting ',' delimiter at column 18"),
    ("missing colon", '{"event_id" "e2"}', None,
     "malformed JSON: Expecting ':' delimiter at column 13"),
    ("bare word", "event_id=e2", None, "malformed JSON: Expecting value at column 1"),
    ("not an object", '["e2", "u1"]', None, "not a JSON object"),
    ("empty line", "", None, "empty line"),
    ("nested value", '{"event_id": "e2", "user_key": {"id": 1}, "note_id": "n1", '
     '"ts": "2026-05-01T10:00:00Z", "event": "read", "surface": "feed"}',
     "user_key", "user_key: expected a single value, got a JSON object"),
    ("bad timestamp", '{"event_id": "e2", "user_key": "u1", "note_id": "n1", '
     '"ts": "2026-05-01T25:00:00Z", "event": "read", "surface": "feed"}',
     "ts", "not an ISO 8601 timestamp: '2026-05-01T25:00:00Z'"),
    ("unknown event", '{"event_id": "e2", "user_key": "u1", "note_id": "n1", '
     '"ts": "2026-05-01T10:00:00Z", "event": "purchase", "surface": "feed"}',
     "event", EVENTS.format("purchase")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [case[1:] for case in JSONL_CASES],
    ids=[case[0] for case in JSONL_CASES],
)
def test_bad_jsonl_line_is_quarantined_with_its_reason(con, tmp_path, line, field, reason):
    lines = [json.dumps(JSONL_GOOD[0]), line, json.dumps(JSONL_GOOD[1])]
    text = "\n".join(lines) + "\n"
    report = ingest(con, tmp_path, "content_events", "content_events.jsonl", text.encode())
    assert (report.rows, report.loaded, report.quarantined, report.duplicates) == (3, 2, 1, 0)
    assert quarantine(con) == [(2, field, reason, line)]
    assert_reconciles(con, report)


def test_invalid_utf8_in_a_jsonl_line(con, tmp_path):
    bad = b'{"event_id": "e2", "user_key": "u\xc3(", "note_id": "n1"}'
    content = b"\n".join(
        [json.dumps(JSONL_GOOD[0]).encode(), bad, json.dumps(JSONL_GOOD[1]).encode()]
    )
    report = ingest(con, tmp_path, "content_events", "content_events.jsonl", content)
    assert (report.rows, report.loaded, report.quarantined) == (3, 2, 1)
    assert quarantine(con) == [
        (2, None, "invalid UTF-8", '{"event_id": "e2", "user_key": "u\\xc3(", "note_id": "n1"}')
    ]


def test_jsonl_list_field_must_be_a_list(con, tmp_path):
    note = {"note_id": "n2", "brand_id": "b1", "creator_id": "c1", "note_type": "ad",
            "published_at": "2026-04-01T00:00:00Z"}  # fmt: skip
    lines = [
        json.dumps({**note, "product_ids": ["p1", "p2"]}),
        json.dumps({**note, "note_id": "n3", "product_ids": "p1|p2"}),
        json.dumps({**note, "note_id": "n4", "product_ids": ["p1", ""]}),
        json.dumps({**note, "note_id": "n5", "product_ids": []}),
    ]
    report = ingest(con, tmp_path, "notes", "notes.jsonl", ("\n".join(lines) + "\n").encode())
    assert (report.rows, report.loaded, report.quarantined) == (4, 2, 2)
    assert [q[:3] for q in quarantine(con)] == [
        (2, "product_ids", "product_ids: expected a JSON list, got 'p1|p2'"),
        (3, "product_ids", 'empty item in product_ids: \'["p1",""]\''),
    ]
    assert con.execute("SELECT note_id, product_ids FROM notes ORDER BY 1").fetchall() == [
        ("n2", ["p1", "p2"]),
        ("n5", None),
    ]


def test_parquet_null_and_negative_values_are_quarantined(con, tmp_path):
    path = tmp_path / "spend.parquet"
    pq.write_table(
        pa.table(
            {
                "date": pa.array([19478, 19479, 19480], pa.date32()),
                "note_id": ["n1", None, "n1"],
                "campaign_id": ["c1", "c1", "c1"],
                "amount": [10.0, 5.0, -3.5],
                "kind": ["heat", "heat", "traffic"],
            }
        ),
        path,
    )
    report = ingest_file(con, ALL_TABLES["spend"], path)
    assert (report.rows, report.loaded, report.quarantined) == (3, 1, 2)
    assert quarantine(con) == [
        (2, "note_id", "missing required field 'note_id'",
         '{"date":"2023-05-02","note_id":null,"campaign_id":"c1","amount":5.0,"kind":"heat"}'),
        (3, "amount", "negative amount -3.5",
         '{"date":"2023-05-03","note_id":"n1","campaign_id":"c1","amount":-3.5,"kind":"traffic"}'),
    ]  # fmt: skip
    assert_reconciles(con, report)


def test_duplicate_key_within_file_counts_once_first_wins(con, tmp_path):
    first, last = GOOD["content_events"]
    again = "e1,u2,n2,2026-05-01T11:00:00Z,read,search"
    text = "\n".join([HEADERS["content_events"], first, again, last, first]) + "\n"
    report = ingest(con, tmp_path, "content_events", "content_events.csv", text.encode())
    assert (report.rows, report.loaded, report.quarantined, report.duplicates) == (4, 2, 0, 2)
    assert quarantine(con) == []
    assert con.execute("SELECT user_key FROM content_events WHERE event_id = 'e1'").fetchall() == [
        ("u1",)
    ]
    assert_reconciles(con, report)


def test_a_bad_first_occurrence_does_not_shadow_a_good_repeat(con, tmp_path):
    bad = "e1,u1,n1,not-a-time,read,feed"
    good = "e1,u2,n1,2026-05-01T10:00:00Z,read,feed"
    text = "\n".join([HEADERS["content_events"], bad, good]) + "\n"
    report = ingest(con, tmp_path, "content_events", "content_events.csv", text.encode())
    assert (report.loaded, report.quarantined, report.duplicates) == (1, 1, 0)
    assert con.execute("SELECT user_key FROM content_events").fetchall() == [("u2",)]


def test_reingesting_the_same_file_adds_nothing(con, tmp_path):
    first, last = GOOD["content_events"]
    text = "\n".join([HEADERS["content_events"], first, "e2,,n1,x,read,feed", last]) + "\n"
    one = ingest(con, tmp_path, "content_events", "content_events.csv", text.encode())
    two = ingest(con, tmp_path, "content_events", "content_events.csv", text.encode())
    assert (one.rows, one.loaded, one.quarantined, one.duplicates) == (3, 2, 1, 0)
    assert (two.rows, two.loaded, two.quarantined, two.duplicates) == (3, 0, 1, 2)
    assert con.execute("SELECT count(*) FROM content_events").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)
    logged = con.execute(
        "SELECT rows, loaded, quarantined, duplicates, sha256 FROM ingest_files ORDER BY loaded"
    ).fetchall()
    assert [row[:4] for row in logged] == [(3, 0, 1, 2), (3, 2, 1, 0)]
    assert logged[0][4] == logged[1][4] == one.sha256 and len(one.sha256) == 64


def test_same_event_id_from_two_retailers_is_two_rows(con, tmp_path):
    path = tmp_path / "commerce_events.csv"
    path.write_text(HEADERS["commerce_events"] + "\n" + GOOD["commerce_events"][0] + "\n")
    spec = ALL_TABLES["commerce_events"]
    assert ingest_file(con, spec, path, retailer_id="tmall").loaded == 1
    assert ingest_file(con, spec, path, retailer_id="jd").loaded == 1
    assert ingest_file(con, spec, path, retailer_id="jd").duplicates == 1
    assert con.execute("SELECT retailer_id FROM commerce_events ORDER BY 1").fetchall() == [
        ("jd",),
        ("tmall",),
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("content_events.csv", b"event_id,user_key,note_id,event,surface\ne1,u1,n1,read,feed\n"),
        (
            "content_events.jsonl",
            b'{"event_id": "e1", "user_key": "u1", "note_id": "n1", "event": "read", '
            b'"surface": "feed"}\n{"event_id": "e2", "bad json"\n',
        ),
    ],
    ids=["csv", "jsonl"],
)
def test_missing_required_column_fails_the_whole_file(con, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        ingest_file(con, ALL_TABLES["content_events"], path)
    assert caught.value.file == str(path)
    assert "missing required column 'ts'" in str(caught.value)
    assert str(path) in str(caught.value)
    for table in ("content_events", "quarantine", "ingest_files"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_missing_required_parquet_column_fails_the_whole_file(con, tmp_path):
    path = tmp_path / "holdouts.parquet"
    pq.write_table(pa.table({"user_key": ["u1"], "arm": ["test"]}), path)
    with pytest.raises(InputError, match="missing required column 'campaign_id'"):
        ingest_file(con, ALL_TABLES["holdouts"], path)


def test_missing_optional_column_is_stored_as_null(con, tmp_path):
    path = tmp_path / "commerce_events.csv"
    path.write_text("event_id,user_key,ts,event\no1,u1,2026-05-02T12:00:00Z,visit\n")
    report = ingest_file(con, ALL_TABLES["commerce_events"], path, retailer_id="jd")
    assert report.loaded == 1
    assert con.execute("SELECT shop_id, amount FROM commerce_events").fetchall() == [(None, None)]


def test_unknown_columns_are_ignored_and_reported_once(con, tmp_path):
    path = tmp_path / "holdouts.csv"
    path.write_text("user_key,campaign_id,arm,score,region\nu1,c1,test,3,x\nu2,c1,control,4,y\n")
    report = ingest_file(con, ALL_TABLES["holdouts"], path)
    assert report.loaded == 2
    assert report.notes == (f"{path}: ignored columns not in the contract: score, region",)
