"""``redcat ingest``: content and retailer directories into a store, and the quarantine view."""

import json

import duckdb

from redcat.cli.main import main

EVENTS = (
    "event_id,user_key,note_id,ts,event,surface\n"
    "e1,u1,n1,2026-05-01T10:00:00Z,impression,feed\n"
    "e2,u1,n1,2026-05-01T10:01:00Z,purchase,feed\n"
    "e1,u1,n1,2026-05-01T10:00:00Z,impression,feed\n"
)
NOTES = '{"note_id": "n1", "brand_id": "b1", "creator_id": "c1", "note_type": "ad", "published_at": "2026-04-01T00:00:00Z"}\n'  # noqa: E501
COMMERCE = (
    "event_id,user_key,shop_id,ts,event,query,product_id,order_id,amount\n"
    "o1,u1,s1,2026-05-02T12:00:00Z,order,,p1,ord1,59.9\n"
    "o2,u1,s1,2026-05-02T12:00:00Z,order,,p1,ord2,-5\n"
)


def unwrapped(text: str) -> str:
    """Rich wraps error lines at 80 columns when stderr is not a terminal; compare without it."""
    return "".join(text.split())


def content_dir(tmp_path):
    d = tmp_path / "content"
    d.mkdir()
    (d / "content_events.csv").write_text(EVENTS)
    (d / "notes.jsonl").write_text(NOTES)
    return d


def test_ingest_content_json_reports_each_file(tmp_path, capsys):
    d = content_dir(tmp_path)
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "content", str(d), "--store", str(store), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [
        {"file": str(d / "notes.jsonl"), "rows": 1, "loaded": 1, "quarantined": 0,
         "duplicates": 0},
        {"file": str(d / "content_events.csv"), "rows": 3, "loaded": 1, "quarantined": 1,
         "duplicates": 1},
    ]  # fmt: skip
    assert "no file for the optional table 'spend'" in captured.err
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM content_events").fetchone() == (1,)

    assert main(["ingest", "content", str(d), "--store", str(store), "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [(r["loaded"], r["quarantined"], r["duplicates"]) for r in again] == [
        (0, 0, 1),
        (0, 1, 2),
    ]


def test_ingest_content_table_says_where_the_quarantine_is(tmp_path, capsys):
    d = content_dir(tmp_path)
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "content", str(d), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "content_events.csv" in out and "quarantined" in out
    assert "redcat ingest quarantine --store" in out


def test_ingest_retailer_and_view_its_quarantine(tmp_path, capsys):
    d = tmp_path / "tmall"
    d.mkdir()
    (d / "commerce_events.csv").write_text(COMMERCE)
    (d / "shops.csv").write_text("shop_id,brand_id\ns1,b1\n")
    store = tmp_path / "s.duckdb"
    args = ["ingest", "retailer", "tmall", str(d), "--store", str(store), "--format", "json"]
    assert main(args) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [(r["rows"], r["loaded"], r["quarantined"]) for r in reports] == [(2, 1, 1), (1, 1, 0)]

    args = ["ingest", "quarantine", "--store", str(store), "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"file": str(d / "commerce_events.csv"), "table_name": "commerce_events",
         "retailer_id": "tmall", "row_number": 2, "field": "amount",
         "reason": "negative amount -5",
         "raw": "o2,u1,s1,2026-05-02T12:00:00Z,order,,p1,ord2,-5"},
    ]  # fmt: skip


def test_quarantine_filters_by_file_and_limits(tmp_path, capsys):
    d = content_dir(tmp_path)
    (d / "notes.jsonl").write_text(NOTES + "{broken\n" + "[]\n")
    store = tmp_path / "s.duckdb"
    assert main(["ingest", "content", str(d), "--store", str(store), "--format", "json"]) == 0
    capsys.readouterr()
    args = ["ingest", "quarantine", "--store", str(store), "--file", "notes.jsonl"]
    assert main([*args, "--format", "csv", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "file,table_name,retailer_id,row_number,field,reason,raw"
    assert len(lines) == 2 and ",notes,,2,," in lines[1]
    assert main([*args, "--format", "table"]) == 0
    captured = capsys.readouterr()
    assert "not a JSON object" in captured.out
    assert "2 of 2 quarantined row(s) shown" in captured.err


def test_bad_retailer_name_is_one_error_line(tmp_path, capsys):
    d = tmp_path / "x"
    d.mkdir()
    assert main(["ingest", "retailer", "Tmall!", str(d), "--store", str(tmp_path / "s")]) == 2
    err = unwrapped(capsys.readouterr().err)
    assert "invalidretailername'Tmall!'" in err and "Traceback" not in err


def test_missing_required_column_is_one_error_line(tmp_path, capsys):
    d = tmp_path / "c"
    d.mkdir()
    (d / "content_events.csv").write_text("event_id,user_key,note_id,event,surface\n")
    assert main(["ingest", "content", str(d), "--store", str(tmp_path / "s.duckdb")]) == 2
    err = unwrapped(capsys.readouterr().err)
    assert unwrapped(f"{d / 'content_events.csv'}: missing required column 'ts'") in err


def test_quarantine_of_a_missing_store_is_an_error(tmp_path, capsys):
    assert main(["ingest", "quarantine", "--store", str(tmp_path / "none.duckdb")]) == 2
    assert "doesnotexist" in unwrapped(capsys.readouterr().err)


def test_a_store_duckdb_cannot_open_is_one_error_line(tmp_path, capsys):
    d = content_dir(tmp_path)
    store = tmp_path / "s.duckdb"
    store.write_bytes(b"this is not a DuckDB file")
    assert main(["ingest", "content", str(d), "--store", str(store)]) == 2
    err = unwrapped(capsys.readouterr().err)
    assert unwrapped(f"cannot open the store {store}") in err and "Traceback" not in err
