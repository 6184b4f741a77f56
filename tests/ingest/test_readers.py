"""Readers: every data row staged once with the right number, whatever the block boundaries."""

import hashlib

import pytest

from redcat.errors import InputError
from redcat.ingest.contract import ALL_TABLES
from redcat.ingest.load import ingest_file
from redcat.ingest.readers import csv_records_table, lines_table, parse_header
from redcat.settings import IngestSettings

NOTES_HEADER = "note_id,brand_id,creator_id,note_type,product_ids,published_at,title"


def test_lines_table_numbers_lines_and_flags_bad_bytes():
    block = b"a,b\r\nc\xff,d\n\nlast"
    table = lines_table(block, first_row=10).sort_by("__row").to_pylist()
    assert [(r["__row"], r["__raw"], r["__problem"]) for r in table] == [
        (11, "a,b", None),
        (12, "c\\xff,d", "invalid UTF-8"),
        (13, "", None),
        (14, "last", None),
    ]


def test_csv_records_follow_a_quoted_field_past_the_block_end():
    more = iter([b'still in the title",x\n', b"next,row\n"])
    table, lines = csv_records_table(
        b'a,"title\n', lambda: next(more, b""), first_row=0, max_lines=50
    )
    assert lines == 2
    assert table.to_pylist() == [
        {"__row": 1, "__raw": 'a,"title\nstill in the title",x', "__problem": None,
         "__fields": ["a", "title\nstill in the title", "x"]},
    ]  # fmt: skip
    assert next(more) == b"next,row\n"  # the line after the record is left for the next block


def test_csv_record_open_too_long_is_an_unterminated_quote():
    block = b'a,"open\nb,c\nd,e\nf,g\n'
    table, lines = csv_records_table(block, lambda: b"", first_row=0, max_lines=2)
    assert lines == 4
    assert [(r["__row"], r["__raw"], r["__problem"], r["__fields"]) for r in table.to_pylist()] == [
        (1, 'a,"open', "unterminated quoted field", None),
        (2, "b,c", None, ["b", "c"]),
        (3, "d,e", None, ["d", "e"]),
        (4, "f,g", None, ["f", "g"]),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"", "empty file or empty header line"),
        (b"a,b,a\n", "column 'a' appears twice"),
        (b"a,\xff\n", "header row is not valid UTF-8"),
        (b'a,"b\n', "malformed header row"),
    ],
)
def test_unusable_header_is_an_input_error(tmp_path, line, message):
    with pytest.raises(InputError, match=message):
        parse_header(line, tmp_path / "x.csv")


def test_header_bom_spaces_and_crlf_are_tolerated(tmp_path):
    assert parse_header(b"\xef\xbb\xbfshop_id , brand_id\r\n", tmp_path / "x.csv") == (
        "shop_id",
        "brand_id",
    )


# A notes file mixing plain lines, quoted fields with commas and newlines, and bad rows.
NOTES_ROWS = [
    "n1,b1,c1,ad,p1|p2,2026-04-01T00:00:00Z,plain",
    'n2,b1,c1,ad,p3,2026-04-01T00:00:00Z,"comma, and\nnewline"',
    "n3,b1,c1,nope,,2026-04-01T00:00:00Z,bad type",
    'n4,b1,c1,organic,,2026-04-01T00:00:00Z,"two\nline\nbreaks"',
    "n5,b1,c1,ad,,2026-04-01,too,many",
    "n6,b1,c1,partnership,,2026-04-01T00:00:00Z,",
]
NOTES_BYTES = ("\r\n".join([NOTES_HEADER, *NOTES_ROWS])).encode()  # CRLF, no final newline


@pytest.mark.parametrize("block_bytes", [1, 7, 23, 64, 100, 1 << 20])
def test_block_size_changes_nothing(con, tmp_path, block_bytes):
    path = tmp_path / "notes.csv"
    path.write_bytes(NOTES_BYTES)
    report = ingest_file(
        con, ALL_TABLES["notes"], path, settings=IngestSettings(block_bytes=block_bytes)
    )
    assert (report.rows, report.loaded, report.quarantined, report.duplicates) == (6, 4, 2, 0)
    assert report.sha256 == hashlib.sha256(NOTES_BYTES).hexdigest()
    assert con.execute("SELECT note_id, title FROM notes ORDER BY 1").fetchall() == [
        ("n1", "plain"),
        ("n2", "comma, and\nnewline"),
        ("n4", "two\nline\nbreaks"),
        ("n6", None),
    ]
    assert con.execute(
        "SELECT row_number, field, reason FROM quarantine ORDER BY 1"
    ).fetchall() == [
        (3, "note_type", "unknown note_type 'nope' (expected one of: organic, partnership, ad)"),
        (5, None, "wrong number of fields: expected 7, got 8"),
    ]


def test_many_blocks_keep_row_numbers(con, tmp_path):
    lines = [f"e{i},u{i},n1,2026-05-01T10:00:00Z,read,feed" for i in range(1, 2001)]
    lines[1234] = "e1235,u1235,n1,2026-05-01T10:00:00Z,nope,feed"
    lines[1789] = 'e1790,"u1790",n1,2026-05-01T10:00:00Z,read,feed'  # a quoted block
    path = tmp_path / "content_events.csv"
    path.write_text("event_id,user_key,note_id,ts,event,surface\n" + "\n".join(lines) + "\n")
    report = ingest_file(
        con, ALL_TABLES["content_events"], path, settings=IngestSettings(block_bytes=4096)
    )
    assert (report.rows, report.loaded, report.quarantined) == (2000, 1999, 1)
    assert con.execute("SELECT row_number, raw FROM quarantine").fetchall() == [(1235, lines[1234])]
    assert con.execute(
        "SELECT user_key FROM content_events WHERE event_id = 'e1790'"
    ).fetchall() == [("u1790",)]


def test_parquet_batches_keep_row_numbers(con, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    arms = ["test"] * 50
    arms[37] = "maybe"
    path = tmp_path / "holdouts.parquet"
    pq.write_table(
        pa.table(
            {"user_key": [f"u{i}" for i in range(50)], "campaign_id": ["k"] * 50, "arm": arms}
        ),
        path,
        row_group_size=16,
    )
    report = ingest_file(
        con, ALL_TABLES["holdouts"], path, settings=IngestSettings(parquet_batch_rows=7)
    )
    assert (report.rows, report.loaded, report.quarantined) == (50, 49, 1)
    assert con.execute("SELECT row_number, raw FROM quarantine").fetchall() == [
        (38, '{"user_key":"u37","campaign_id":"k","arm":"maybe"}')
    ]
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_raw_text_is_cut_in_the_quarantine(con, tmp_path):
    path = tmp_path / "shops.csv"
    path.write_text("shop_id,brand_id\ns1," + "x" * 50 + ",extra\n")
    ingest_file(con, ALL_TABLES["shops"], path, retailer_id="jd",
                settings=IngestSettings(raw_max_chars=10))  # fmt: skip
    assert con.execute("SELECT raw FROM quarantine").fetchall() == [("s1,xxxxxxx",)]


def test_quoted_lines_are_parsed_one_by_one_among_plain_ones():
    block = b'a,b\n"c,1",d\n"e"x,f\ng\xff,"h"\n'
    rows = lines_table(block, first_row=0, csv_fields=True).sort_by("__row").to_pylist()
    assert [(r["__row"], r["__raw"], r["__problem"], r["__fields"]) for r in rows] == [
        (1, "a,b", None, None),  # split on commas in SQL
        (2, '"c,1",d', None, ["c,1", "d"]),
        (3, '"e"x,f', "malformed CSV: ',' expected after '\"'", None),
        (4, 'g\\xff,"h"', "invalid UTF-8", None),
    ]


def test_a_line_opening_a_multiline_record_sends_the_block_to_the_csv_reader():
    assert lines_table(b'a,b\nc,"d\ne",f\n', first_row=0, csv_fields=True) is None
    assert lines_table(b'a,"b\xff\ne",f\n', first_row=0, csv_fields=True) is None


def test_simply_quoted_lines_are_split_in_sql(con, tmp_path):
    path = tmp_path / "content_events.csv"
    path.write_text(
        '"event_id","user_key","note_id","ts","event","surface"\n'
        '"e1","u 1","n1","2026-05-01T10:00:00Z","read","feed"\n'
        '"e2","","n1","2026-05-01T10:00:00Z","read","feed"\n'
        'e3,"u3",n1,2026-05-01T10:00:00Z,"read",feed\n'
        '"e4","u"4","n1","2026-05-01T10:00:00Z","read","feed"\n'
        '"e5","u,5","n1","2026-05-01T10:00:00Z","read","feed"\n'
    )
    table = lines_table(path.read_bytes().split(b"\n", 1)[1], first_row=0, csv_fields=True)
    # Simply quoted lines stay unparsed (split in SQL); the others went through the csv module.
    assert [(r["__fields"], r["__problem"]) for r in table.sort_by("__row").to_pylist()] == [
        (None, None),
        (None, None),
        (None, None),
        (None, "malformed CSV: ',' expected after '\"'"),
        (["e5", "u,5", "n1", "2026-05-01T10:00:00Z", "read", "feed"], None),
    ]
    report = ingest_file(con, ALL_TABLES["content_events"], path)
    assert (report.loaded, report.quarantined) == (3, 2)
    assert con.execute("SELECT event_id, user_key FROM content_events ORDER BY 1").fetchall() == [
        ("e1", "u 1"),
        ("e3", "u3"),
        ("e5", "u,5"),
    ]
    assert con.execute("SELECT row_number, reason FROM quarantine ORDER BY 1").fetchall() == [
        (2, "empty required field 'user_key'"),
        (4, "malformed CSV: ',' expected after '\"'"),
    ]


def test_jsonl_byte_order_mark_is_not_part_of_the_first_line(con, tmp_path):
    path = tmp_path / "shops.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"shop_id": "s1", "brand_id": "b1"}\n')
    report = ingest_file(con, ALL_TABLES["shops"], path, retailer_id="jd")
    assert (report.rows, report.loaded) == (1, 1)
