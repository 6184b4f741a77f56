"""The report's privacy section on a small simulated world."""

from __future__ import annotations

import gc
from pathlib import Path

from redcat.engine import open_engine
from redcat.privacy.ledger import BudgetLedger
from redcat.report.assemble import build_report
from redcat.report.sections import SECTION_BUILDERS
from redcat.report.sections.privacy import build_privacy_section
from redcat.settings import PrivacySettings, Settings


def _section(store: Path, settings: Settings):  # type: ignore[no-untyped-def]
    with open_engine(store, read_only=True) as engine:
        report = build_report(engine, "B02", settings, sections=[build_privacy_section])
        gc.collect()
    (section,) = report.sections
    return section


def test_section_shows_exact_released_and_budget(world_store: Path) -> None:
    assert build_privacy_section in SECTION_BUILDERS
    settings = Settings(privacy=PrivacySettings(k=5))
    section = _section(world_store, settings)
    assert section.key == "privacy"
    tables = {t.key: t for t in section.tables}
    assert set(tables) == {"modes", "sample", "totals", "budget"}
    sample = tables["sample"].frame
    assert {"buyers", "buyers_released", "orders_released", "gmv_released"} <= set(sample)
    assert set(sample["status"]) <= {"released", "suppressed", "other"}
    suppressed = sample[sample["status"] == "suppressed"]
    assert (suppressed["buyers_released"] == "<5").all()
    assert (suppressed["buyers"] < 5).any() or len(suppressed) >= 2
    budget = dict(zip(tables["budget"].frame["item"], tables["budget"].frame["value"], strict=True))
    assert budget["ledger"] == "in memory (this run only)"
    assert budget["epsilon spent by this report"] == "1.5"  # a table and a kpi release
    assert budget["epsilon left"] == "8.5 / 10"
    totals = tables["totals"].frame.set_index("figure")
    assert list(totals.index) == [
        "matched_reach", "buyers", "orders", "gmv",
        "purchase_rate", "orders_per_buyer", "gmv_per_order",
    ]  # fmt: skip
    assert "±" in tables["sample"].caption.en  # type: ignore[union-attr]


def test_section_spends_from_a_configured_ledger(world_store: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    settings = Settings(privacy=PrivacySettings(ledger_url=url))
    _section(world_store, settings)
    again = _section(world_store, settings)  # the same question: stored answer
    frame = next(t.frame for t in again.tables if t.key == "budget")
    budget = dict(zip(frame["item"], frame["value"], strict=True))
    assert budget["epsilon spent by this report"] == "0 (stored answers)"
    assert BudgetLedger.open(url).status("B02").spent == 1.5
