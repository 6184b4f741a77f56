"""`redcat report --view brand` end to end on a simulated world: what a brand receives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from redcat.cli.main import main
from redcat.privacy.ledger import BudgetLedger


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", encoding="utf-8-sig")


def _report(store: Path, out: Path, *extra: str) -> None:
    args = ["report", "--brand", "B02", "--format", "csv", "--out", str(out)]
    assert main([*args, "--store", str(store), *extra]) == 0


def test_brand_view_csv_releases_matched_figures_and_keeps_content_exact(
    world_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _report(world_store, tmp_path / "brand", "--view", "brand")
    _report(world_store, tmp_path / "operator", "--view", "operator")
    brand, operator = tmp_path / "brand", tmp_path / "operator"
    names = {p.stem for p in brand.glob("*.csv")}
    assert {"kpis", "funnel", "daily", "notes", "creators", "campaigns"} <= names
    assert {"privacy_release", "privacy_budget"} <= names
    # Nothing the brand view has not released: no credits, scores, truth or operator sections.
    assert not {"credits", "model_scores", "truth", "privacy_sample", "privacy_totals"} & names
    assert not any(n.startswith(("lift_", "assets_", "roi_", "calibration_")) for n in names)
    notes = _csv(brand, "notes")
    assert not {"buyers", "touched_orders", "orders_last", "orders_markov"} & set(notes.columns)
    assert "(other)" in notes["note_id"].tolist() or notes["suppressed_buyers"].any()
    exact = _csv(operator, "notes").set_index("note_id")
    mine = notes[notes["note_id"] != "(other)"].set_index("note_id")
    assert mine["reach"].tolist() == exact.loc[mine.index, "reach"].tolist()
    assert mine["impressions"].tolist() == exact.loc[mine.index, "impressions"].tolist()
    kpis = _csv(brand, "kpis").set_index("metric")
    operator_kpis = _csv(operator, "kpis").set_index("metric")
    for key in ("impressions", "reach", "reads", "interactions", "spend"):
        assert kpis.loc[key, "value"] == pytest.approx(operator_kpis.loc[key, "value"])
        assert kpis.loc[key, "mode"].startswith("exact")
    assert kpis.loc["orders", "mode"].startswith(("noisy", "withheld"))
    released = kpis.loc[["matched_reach", "visitors", "orders", "gmv"], "value"].dropna()
    assert (released >= 0).all()
    budget = _csv(brand, "privacy_budget").set_index("item")["value"]
    assert budget["ledger"] == "in memory (this run only)"
    assert budget["epsilon spent by this request"] == "2"
    capsys.readouterr()


def test_brand_view_is_the_default_and_says_so(
    world_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--brand", "B02", "--lang", "en", "--store", str(world_store)]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert "View: brand view: figures about matched people released through the privacy" in flat
    assert "The attribution model comparison is withheld from the brand view" in flat
    args = ["report", "--brand", "B02", "--lang", "en", "--view", "operator"]
    assert main([*args, "--store", str(world_store)]) == 0
    assert "View: exact — clean-room operator only" in " ".join(capsys.readouterr().out.split())
    truth = ["--truth", "note_truth.csv"]
    assert main(["report", "--brand", "B02", *truth, "--store", str(world_store)]) == 2
    assert "--view operator" in capsys.readouterr().err


def test_a_persistent_ledger_answers_the_identical_report_again(
    world_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    _report(world_store, tmp_path / "first", "--ops-db", ops)
    _report(world_store, tmp_path / "again", "--ops-db", ops)
    for name in ("kpis", "notes", "daily", "creators"):
        pd.testing.assert_frame_equal(
            _csv(tmp_path / "first", name), _csv(tmp_path / "again", name)
        )
    budget = _csv(tmp_path / "again", "privacy_budget").set_index("item")["value"]
    assert budget["epsilon spent by this request"].startswith("0 (stored answer")
    ledger = BudgetLedger.open(ops)
    try:
        status = ledger.status("B02")
    finally:
        ledger.engine.dispose()
    assert status.spent == 2.0 and status.releases == 1
    capsys.readouterr()


def test_a_report_the_budget_does_not_cover_is_one_clear_line(
    world_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    ledger = BudgetLedger.open(ops)
    try:
        ledger.set_budget("B02", 1.5)  # a brand report needs ε = 2
    finally:
        ledger.engine.dispose()
    args = ["report", "--brand", "B02", "--ops-db", ops, "--store", str(world_store)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "privacy budget of brand 'B02'" in err
    assert "nothing was spent" in err
    ledger = BudgetLedger.open(ops)
    try:
        assert ledger.status("B02").spent == 0.0
    finally:
        ledger.engine.dispose()
