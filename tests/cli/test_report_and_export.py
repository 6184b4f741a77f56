"""`redcat report` and `redcat paths export` through the CLI, on the hand-made tiny world."""

import io
import json

import pandas as pd
import pytest
from tests.tiny_world import build

from redcat.cli.main import main
from redcat.match import run_direct_match


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "s.duckdb"
    engine = build(path)
    run_direct_match(engine.duck, "salt")
    engine.close()
    return path


def test_report_csv_prints_the_notes_table(store, capsys):
    args = ["report", "--brand", "B1", "--format", "csv", "--view", "operator"]
    assert main([*args, "--store", str(store)]) == 0
    notes = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert notes["note_id"].tolist() == ["n1", "n2"]
    assert notes["orders"].tolist() == [1, 1]
    assert notes["gmv"].tolist() == [99.5, 10.0]


def test_report_csv_folder_holds_every_table(store, tmp_path, capsys):
    out = tmp_path / "csv"
    assert (
        main(
            [
                "report",
                "--brand",
                "B1",
                "--format",
                "csv",
                "--view",
                "operator",
                "--out",
                str(out),
                "--store",
                str(store),
            ]
        )
        == 0
    )
    credits = pd.read_csv(out / "credits.csv", encoding="utf-8-sig")
    # two attributed orders (o1 after n1 > n1, o2 after n2), each credited in full by every model
    per_model = credits.groupby("model")["conversions"].sum()
    assert per_model.round(12).tolist() == [2.0] * 7
    lone = credits[(credits["model"] == "last")].set_index("note_id")["value"]
    assert lone.to_dict() == {"n1": 99.5, "n2": 10.0}


def test_report_html_and_table(store, tmp_path, capsys):
    out = tmp_path / "html"
    assert (
        main(
            [
                "report",
                "--brand",
                "B1",
                "--format",
                "html",
                "--out",
                str(out),
                "--store",
                str(store),
            ]
        )
        == 0
    )
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "assets/echarts.min.js" in page and "https://" not in page
    assert (out / "report.en.html").is_file()
    assert main(["report", "--brand", "B1", "--lang", "en", "--store", str(store)]) == 0
    assert "B1" in capsys.readouterr().out


def test_report_refuses_an_unknown_brand(store, capsys):
    assert main(["report", "--brand", "B7", "--store", str(store)]) == 2
    assert "B7" in capsys.readouterr().err


def test_report_without_a_store(tmp_path, capsys):
    missing = tmp_path / "none.duckdb"
    assert main(["report", "--brand", "B1", "--store", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_paths_export_journeys_and_aggregate(store, tmp_path, capsys):
    journeys = tmp_path / "j.jsonl"
    assert (
        main(["paths", "export", "--brand", "B1", "--out", str(journeys), "--store", str(store)])
        == 0
    )
    rows = [json.loads(line) for line in journeys.read_text().splitlines()]
    assert [(r["journey_id"], r["path"], r["kinds"]) for r in rows] == [
        ("tmall:order:o1", "n1 > n1 > n1", "view > view > click"),
        ("tmall:order:o2", "n2", "view"),
    ]
    agg = tmp_path / "paths.csv"
    assert (
        main(
            [
                "paths",
                "export",
                "--brand",
                "B1",
                "--aggregate",
                "--out",
                str(agg),
                "--store",
                str(store),
            ]
        )
        == 0
    )
    assert agg.read_text().splitlines() == [
        "path;total_conversions;total_conversion_value;total_null",
        "n1 > n1 > n1;1;99.5;0",
        "n2;1;10.0;0",
    ]
    # the aggregated export feeds `redcat paths attribute` as it is
    capsys.readouterr()
    assert (
        main(["paths", "attribute", "--input", str(agg), "--model", "linear", "--format", "json"])
        == 0
    )
    credited = {r["channel"]: r["conversions"] for r in json.loads(capsys.readouterr().out)}
    assert credited == {"n1": 1.0, "n2": 1.0}


def test_category_decision_cycle_sets_the_funnel_window(store, tmp_path, capsys):
    # o4 comes 19 days after u1's touch of n1: outside the default 15 days, inside skincare's 29.
    def orders(*extra):
        out = tmp_path / "_".join(extra or ("default",))
        assert (
            main(
                [
                    "report",
                    "--brand",
                    "B1",
                    "--format",
                    "csv",
                    "--out",
                    str(out),
                    "--store",
                    str(store),
                    "--view",
                    "operator",
                    *extra,
                ]
            )
            == 0
        )
        kpis = pd.read_csv(out / "kpis.csv", encoding="utf-8-sig").set_index("metric")
        return float(kpis.loc["orders", "value"])

    assert orders() == 2.0
    assert orders("--category", "skincare") == 3.0
    assert orders("--category", "skincare", "--funnel-days", "15") == 2.0
    assert main(["report", "--brand", "B1", "--store", str(store), "--category", "cars"]) == 2
    assert "unknown category 'cars' (known: apparel, baby_food" in capsys.readouterr().err


def test_creator_and_campaign_tables_carry_credits(store, tmp_path, capsys):
    out = tmp_path / "csv"
    assert (
        main(
            [
                "report",
                "--brand",
                "B1",
                "--format",
                "csv",
                "--view",
                "operator",
                "--out",
                str(out),
                "--store",
                str(store),
            ]
        )
        == 0
    )
    creators = pd.read_csv(out / "creators.csv", encoding="utf-8-sig").set_index("creator_id")
    assert creators.loc["c1", "orders_markov"] == 1.0
    assert creators.loc["c2", "orders_first"] == 1.0
    campaigns = pd.read_csv(out / "campaigns.csv", encoding="utf-8-sig").set_index("campaign_id")
    # n1's one order splits over its campaigns by spend: C1 paid 100 of 150, C2 50
    assert campaigns.loc["C1", "orders_last"] == pytest.approx(2 / 3)
    assert campaigns.loc["C2", "orders_last"] == pytest.approx(1 / 3)
    assert campaigns.loc["C1", "gmv"] == pytest.approx(99.5 * 2 / 3)
    assert campaigns.loc["C1", "roi"] == pytest.approx(99.5 * 2 / 3 / 100)
    assert campaigns.loc["C2", "roi"] == pytest.approx(99.5 / 3 / 50)
    notes = pd.read_csv(out / "notes.csv", encoding="utf-8-sig").set_index("note_id")
    assert notes.loc["n1", ["orders", "gmv", "touched_orders"]].tolist() == [1.0, 99.5, 1.0]
    assert notes.loc["n1", "roi"] == pytest.approx(99.5 / 150)


def test_out_must_not_be_a_file(store, tmp_path, capsys):
    target = tmp_path / "taken.csv"
    target.write_text("x")
    for fmt in ("csv", "html"):
        assert (
            main(
                [
                    "report",
                    "--brand",
                    "B1",
                    "--format",
                    fmt,
                    "--out",
                    str(target),
                    "--store",
                    str(store),
                ]
            )
            == 2
        )
        assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_a_store_that_is_not_duckdb_is_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    assert main(["report", "--brand", "B1", "--store", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open the store") and err.count("\n") == 1
