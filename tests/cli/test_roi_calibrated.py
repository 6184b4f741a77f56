"""``redcat attribute calibrated`` and ``redcat roi`` on hand-built stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.attribution.test_roi import build
from tests.lift.test_campaign import hand_store

from redcat.cli.main import main


@pytest.fixture
def lift_store(tmp_path: Path) -> str:
    path = tmp_path / "lift.duckdb"
    hand_store(path).close()
    return str(path)


@pytest.fixture
def roi_store(tmp_path: Path) -> str:
    path = tmp_path / "roi.duckdb"
    build(path).close()
    return str(path)


def test_calibrated_json(
    lift_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every B1 journey touches only n1 (campaign C1): t1's o1, t2's o3, t3's o4 and c1's o5 are
    # credited (t1's o2 has no touch after o1), 4 orders. The holdout over spend dates + 2 days
    # measures (0.75 − 1/3) × 4 = 5/3 incremental orders, so the factor is 5/12.
    truth = tmp_path / "note_truth.csv"
    truth.write_text(
        "note_id,brand_id,retailer_id,true_incremental_orders,true_incremental_gmv\n"
        "n1,B1,tmall,2,40\nn9,B2,tmall,7,70\n"
    )
    argv = ["attribute", "calibrated", "--brand", "B1", "--model", "last", "--days", "2"]
    code = main([*argv, "--truth", str(truth), "--store", lift_store, "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    payload = json.loads(out.out)
    [row] = payload["credits"]
    assert (row["note_id"], row["campaign_id"], row["raw_conversions"]) == ("n1", "C1", 4.0)
    assert row["calibrated_conversions"] == pytest.approx(5 / 3)
    assert row["factor"] == pytest.approx(5 / 12)
    assert row["status"] == "calibrated"
    [score] = payload["scores"]
    # only B1's notes count: |4 − 2| / 2 raw, |5/3 − 2| / 2 calibrated
    assert score["raw_wape"] == pytest.approx(1.0)
    assert score["calibrated_wape"] == pytest.approx((2 - 5 / 3) / 2)
    assert "spend dates + 2 days" in out.err


def test_calibrated_table_csv_and_errors(
    lift_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["attribute", "calibrated", "--brand", "B1", "--store", lift_store]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "holdout targets" in out and "calibrated credits" in out
    assert main([*base, "--format", "csv", "--model", "linear"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("model,note_id,campaign_id,raw_conversions")
    assert len(lines) == 2
    assert main([*base, "--pooling", "nope"]) == 2
    assert "--pooling" in capsys.readouterr().err


def test_roi_csv_and_table(roi_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["roi", "--brand", "B1", "--store", roi_store]
    assert main([*base, "--category", "skincare", "--format", "csv", "--level", "brand"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "level,id,window,days,decision_cycle,orders,gmv,spend,roi"
    assert [ln.split(",")[2] for ln in lines[1:]] == ["T+29", "T+7", "T+15"]
    assert [float(ln.split(",")[6]) for ln in lines[1:]] == [330.0, 80.0, 130.0]
    assert main([*base, "--category", "skincare"]) == 0
    out = capsys.readouterr().out
    assert "ROI per brand" in out and "ROI per campaign" in out and "roi_T+29" in out
    assert main([*base, "--format", "json", "--level", "note"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert {r["window"] for r in rows} == {"T+15", "T+7"}
    assert "no --category" in captured.err
    assert main([*base, "--category", "furniture"]) == 2
    assert main([*base, "--level", "shop"]) == 2
