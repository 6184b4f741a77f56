"""Finding a party's files: one per contract table; others reported and skipped."""

import pytest

from redcat.errors import InputError
from redcat.ingest.discover import check_retailer_id, discover
from redcat.ingest.load import ingest_party

EVENTS = "event_id,user_key,note_id,ts,event,surface\ne1,u1,n1,2026-05-01T10:00:00Z,read,feed\n"


def make(directory, **files: str):
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name.replace("__", ".")).write_text(text)
    return directory


def test_files_are_matched_to_tables_in_contract_order(tmp_path):
    d = make(tmp_path / "d", holdouts__jsonl="", content_events__parquet="", notes__csv="")
    found = discover(d, "content")
    assert [(spec.name, path.name) for spec, path in found.files] == [
        ("notes", "notes.csv"),
        ("content_events", "content_events.parquet"),
        ("holdouts", "holdouts.jsonl"),
    ]
    assert found.missing == ("spend",)
    assert found.notes == ("no file for the optional table 'spend'; skipped",)


def test_other_files_are_reported_and_skipped(tmp_path):
    d = make(
        tmp_path / "d",
        content_events__csv="",
        shops__csv="",
        readme__txt="",
        orders__csv="",
        **{".hidden": ""},
    )
    (d / "sub").mkdir()
    found = discover(d, "content")
    assert [p.name for p in found.skipped] == ["orders.csv", "readme.txt", "shops.csv"]
    assert found.notes[:3] == (
        f"skipped {d / 'orders.csv'}: 'orders' is not a content table "
        "(expected one of: notes, content_events, spend, holdouts)",
        f"skipped {d / 'readme.txt'}: not a contract file (expected <table>.csv|.parquet|.jsonl)",
        f"skipped {d / 'shops.csv'}: 'shops' is a retailer table, not a content one",
    )


def test_two_files_for_one_table_is_an_error(tmp_path):
    d = make(tmp_path / "d", content_events__csv="", notes__csv="", notes__parquet="")
    with pytest.raises(
        InputError, match=r"two files for table 'notes'.*notes\.csv, notes\.parquet"
    ):
        discover(d, "content")


def test_missing_required_table_is_an_error(tmp_path):
    d = make(tmp_path / "d", shops__csv="")
    with pytest.raises(InputError, match="no file for the required table 'commerce_events'"):
        discover(d, "retailer")


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(InputError, match="is not a directory"):
        discover(tmp_path / "nope", "content")


@pytest.mark.parametrize("name", ["tmall", "jd", "retailer_2", "a-b", "0x"])
def test_valid_retailer_names(name):
    assert check_retailer_id(name) == name


@pytest.mark.parametrize("name", ["", "Tmall", "tm all", "_x", "-x", "x/y", "a" * 65, "天猫"])
def test_invalid_retailer_names(name):
    with pytest.raises(InputError, match="invalid retailer name"):
        check_retailer_id(name)


def test_ingest_party_checks_every_header_before_loading_any(con, tmp_path):
    d = make(tmp_path / "d", content_events__csv=EVENTS, spend__csv="date,note_id\n")
    with pytest.raises(InputError, match=r"spend\.csv: missing required column 'campaign_id'"):
        ingest_party(con, "content", d)
    assert con.execute("SELECT count(*) FROM content_events").fetchone() == (0,)


def test_ingest_party_tells_what_it_skipped(con, tmp_path):
    d = make(tmp_path / "d", content_events__csv=EVENTS, extra__csv="")
    news: list[str] = []
    [report] = ingest_party(con, "content", d, notify=news.append)
    assert report.loaded == 1
    assert news == [
        f"skipped {d / 'extra.csv'}: 'extra' is not a content table "
        "(expected one of: notes, content_events, spend, holdouts)",
        "no file for the optional table 'notes'; skipped",
        "no file for the optional table 'spend'; skipped",
        "no file for the optional table 'holdouts'; skipped",
    ]


def test_ingest_party_needs_a_retailer_name_for_retailers_only(con, tmp_path):
    d = make(tmp_path / "d", content_events__csv=EVENTS)
    with pytest.raises(InputError, match="needs the retailer's name"):
        ingest_party(con, "retailer", d)
    with pytest.raises(InputError, match="takes no retailer name"):
        ingest_party(con, "content", d, retailer_id="jd")


def test_ingest_party_opens_a_store_path_and_reports_progress(tmp_path):
    import duckdb

    d = make(tmp_path / "d", content_events__csv=EVENTS)
    calls: list[tuple[str, int, int]] = []
    store = tmp_path / "s.duckdb"
    ingest_party(
        store, "content", d, progress=lambda f, done, total: calls.append((f, done, total))
    )
    size = (d / "content_events.csv").stat().st_size
    assert calls == [(str(d / "content_events.csv"), size, size)]
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM content_events").fetchone() == (1,)
