"""The brand view of a report on a hand-built world whose every cell is known.

Brand B1 has four notes; each matched person sees exactly one note (so no contribution bound
clips anyone) and every buyer visits the shop once and orders once:

| note | creator | viewers | buyers (= visitors) | order amount | orders | GMV   |
|------|---------|---------|---------------------|--------------|--------|-------|
| n1   | c1      | 200     | 120                 | 50           | 120    | 6000  |
| n2   | c2      | 100     | 70                  | 30           | 70     | 2100  |
| n3   | c2      | 20      | 10                  | 40           | 10     | 400   |
| n4   | c3      | 90      | 55                  | 20           | 55     | 1100  |

With k = 50, n3 (10 buyers) is withheld; complementary suppression puts the smallest released
note, n4 (55), with it, so the other row holds n3 + n4 = 65 orders and 1500 GMV. Creators: c1 =
120, c2 = n2 + n3 = 80, c3 = 55 orders, all released. Readers: the first 30 viewers of each note
read it (content figures, exact). Every person also searched the retailer for something else
before, so everyone is matched.

Campaign C1 (n1's spend, 500) has a randomized holdout: its test arm is n1's 200 viewers (120
buy one order of 50), its control arm 150 people who never see a note, 60 of whom buy one order
of 50. Orders per person 0.6 vs 0.4: lift +50%, incremental orders (0.6 − 0.4) × 200 = 40,
incremental GMV 2000, iROAS 2000 / 500 = 4.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redcat.engine import Engine, open_engine
from redcat.errors import PrivacyBudgetExceeded
from redcat.funnel import brand_funnel
from redcat.match import run_direct_match
from redcat.privacy.bundle import BundlePart, release_bundle
from redcat.privacy.ledger import BudgetLedger
from redcat.privacy.release import Measure
from redcat.privacy.thresholds import OTHER
from redcat.report.brand import (
    add_released_rates,
    build_brand_report,
    prepare_brand_report,
    release_brand_report,
)
from redcat.report.data import ReportData, view_meta, with_view_meta
from redcat.report.html import page_html
from redcat.report.tables import export_csv, header_line, kpi_view
from redcat.settings import PrivacySettings, Settings

NOTES = {  # note → (creator, viewers, buyers, amount)
    "n1": ("c1", 200, 120, 50.0),
    "n2": ("c2", 100, 70, 30.0),
    "n3": ("c2", 20, 10, 40.0),
    "n4": ("c3", 90, 55, 20.0),
}
READERS = 30
CONTROL, CONTROL_BUYERS = 150, 60
#: Every person is a retailer's customer too (so matched): a search for no brand's term.
ELSEWHERE = (None, "2026-04-20 09:00", "search", "weather", None, None, None)


def _build(path: Path) -> None:
    engine = open_engine(path)
    con = engine.duck
    notes, content, commerce = [], [], []
    for note, (creator, viewers, buyers, amount) in NOTES.items():
        notes.append((note, "B1", creator, "organic", None, "2026-05-01", f"title {note}"))
        for i in range(viewers):
            user = f"{note}-u{i}"
            content.append((f"{user}-e", user, note, "2026-05-01 10:00", "impression", "feed"))
            commerce.append(("tmall", f"{user}-s", user, *ELSEWHERE))
            if i < READERS:
                content.append((f"{user}-r", user, note, "2026-05-01 10:01", "read", "feed"))
            if i < buyers:
                visit = ("2026-05-02 10:00", "visit", None, None, None, None)
                order = ("2026-05-02 10:05", "order", None, "p1", f"{user}-order", amount)
                commerce.append(("tmall", f"{user}-v", user, "s1", *visit))
                commerce.append(("tmall", f"{user}-o", user, "s1", *order))
    holdouts = [(f"n1-u{i}", "C1", "test") for i in range(NOTES["n1"][1])]
    for i in range(CONTROL):
        user = f"ctl-u{i}"
        holdouts.append((user, "C1", "control"))
        commerce.append(("tmall", f"{user}-s", user, *ELSEWHERE))
        if i < CONTROL_BUYERS:
            order = ("2026-05-02 10:05", "order", None, "p1", f"{user}-order", 50.0)
            commerce.append(("tmall", f"{user}-o", user, "s1", *order))
    con.executemany("INSERT INTO holdouts VALUES (?, ?, ?)", holdouts)
    con.executemany("INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?)", notes)
    con.executemany("INSERT INTO content_events VALUES (?, ?, ?, ?, ?, ?)", content)
    con.executemany("INSERT INTO commerce_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", commerce)
    con.execute("INSERT INTO spend VALUES ('2026-05-01','n1','C1',500,'heat')")
    con.execute("INSERT INTO shops VALUES ('tmall','s1','B1')")
    con.execute("INSERT INTO brand_terms VALUES ('tmall','B1','Acme')")
    run_direct_match(con, "salt")
    engine.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("brandworld") / "s.duckdb"
    _build(path)
    return path


@pytest.fixture
def engine(store: Path) -> Iterator[Engine]:
    with open_engine(store, read_only=True) as eng:
        yield eng


def _settings(epsilon: float = 2.0, budget: float = 10.0) -> Settings:
    privacy = PrivacySettings(
        epsilon_per_period=budget,
        release_epsilon={"table": 1.0, "kpi": 0.5, "cell": 0.1, "report": epsilon},
    )
    return dataclasses.replace(Settings(), privacy=privacy)


#: Noise so small it rounds away: the figures are the thresholded exact ones (an attacker's
#: best case, used to check what thresholds alone do).
EXACT_EPS = 1e7


def _by_key(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.set_index(key)


def test_a_note_below_k_is_withheld_and_lands_in_the_other_row(engine: Engine) -> None:
    settings = _settings(EXACT_EPS, budget=2 * EXACT_EPS)
    data = build_brand_report(
        engine, "B1", settings, ledger=BudgetLedger.in_memory(settings.privacy)
    )
    notes = _by_key(data.notes, "note_id")
    assert list(notes.index) == ["n1", "n2", "n3", "n4", OTHER]
    # n3 (10 buyers) withheld, n4 (the smallest released, 55) withheld with it.
    for note in ("n3", "n4"):
        assert notes.loc[note, ["orders", "gmv", "visitors"]].isna().all()
        assert bool(notes.loc[note, "suppressed_buyers"])
    assert notes.loc["n1", "orders"] == 120 and notes.loc["n1", "gmv"] == pytest.approx(6000, abs=1)
    assert notes.loc["n2", "orders"] == 70
    assert notes.loc[OTHER, "orders"] == 65 and notes.loc[OTHER, "gmv"] == pytest.approx(
        1500, abs=1
    )
    assert bool(notes.loc[OTHER, "is_other"])
    # Totals add up: the released rows (other row included) sum to the brand's orders and GMV.
    assert notes["orders"].sum() == data.kpis["orders"] == 255
    assert notes["gmv"].sum() == pytest.approx(data.kpis["gmv"], abs=1)
    assert data.kpis["gmv"] == pytest.approx(9600, abs=1)
    # Total minus the shown notes is the other row (n3 + n4), never n3's 10 orders alone.
    shown = notes.drop(index=[OTHER])["orders"].sum()
    assert data.kpis["orders"] - shown == 65
    # Creators: each at least 50 buyers, all released.
    creators = _by_key(data.creators, "creator_id")
    assert creators.loc[["c1", "c2", "c3"], "orders"].tolist() == [120, 80, 55]
    # Lift from the released arm sums: both arms have at least 50 buyers.
    lift = next(s for s in data.sections if s.key == "lift").tables[0].frame.iloc[0]
    assert lift["campaign_id"] == "C1" and lift["spend"] == 500
    assert (lift["n_test"], lift["n_control"]) == (200, 150)
    assert (lift["orders_test"], lift["orders_control"]) == (120, 60)
    assert lift["rel_lift_orders"] == pytest.approx(0.5, abs=1e-3)
    assert lift["incremental_orders"] == pytest.approx(40, abs=0.1)
    assert lift["incremental_gmv"] == pytest.approx(2000, abs=5)
    assert lift["iroas"] == pytest.approx(4, abs=0.01)


def test_content_figures_are_exact_and_nothing_exact_about_matched_people_leaks(
    engine: Engine,
) -> None:
    settings = _settings()
    data = build_brand_report(
        engine, "B1", settings, ledger=BudgetLedger.in_memory(settings.privacy)
    )
    exact = brand_funnel(engine, "B1", settings.windows)
    mine = _by_key(data.notes, "note_id").drop(index=[OTHER])
    theirs = _by_key(exact.notes, "note_id")
    for col in ("impressions", "reach", "reads", "ctr", "spend"):
        assert mine[col].tolist() == pytest.approx(theirs.loc[mine.index, col].tolist())
    assert mine["reach"].tolist() == [200, 100, 20, 90]
    assert mine["reads"].tolist() == [READERS, READERS, 20, READERS]  # n3 has 20 viewers
    for key in ("impressions", "reach", "reads", "interactions", "spend"):
        assert data.kpis[key] == exact.kpis[key]
        assert data.kpi_modes[key].en.startswith("exact")
    assert data.kpi_modes["orders"].en.startswith("noisy ±")
    assert data.kpi_modes["visit_rate"].en == "computed from released figures"
    # Columns an operator's report carries about matched people, exact, are absent.
    forbidden = {"buyers", "cart_users", "matched_read_users", "touched_orders", "touched_gmv"}
    for frame in (data.notes, data.creators, data.campaigns, data.daily):
        cols = set(frame.columns)
        assert not cols & forbidden
        assert not {c for c in cols if c.startswith(("raw_", "orders_", "exact_"))}
    assert data.credits.empty and data.truth is None
    assert data.view == "brand" and "models" in data.withheld
    assert [s.key for s in data.sections] == ["lift", "privacy"]
    assert "brand view" in header_line(data, "en")
    assert [c.key for c in kpi_view(data, "en").columns] == ["metric", "value", "mode"]


def test_differencing_two_overlapping_filters_is_swamped_by_noise(engine: Engine) -> None:
    # Creator c2 = n2 + n3, and n2 is released: exact figures would give n3 = c2 − n2 = 10.
    settings = _settings(EXACT_EPS, budget=2 * EXACT_EPS)
    exact = build_brand_report(
        engine, "B1", settings, ledger=BudgetLedger.in_memory(settings.privacy)
    )
    c2 = _by_key(exact.creators, "creator_id").loc["c2", "orders"]
    n2 = _by_key(exact.notes, "note_id").loc["n2", "orders"]
    assert c2 - n2 == 10  # the attack is real without noise
    prepared = prepare_brand_report(engine, "B1", _settings())
    guesses = []
    for _ in range(12):  # 12 brands' worth of fresh budgets: each asks once
        data = release_brand_report(prepared, ledger=BudgetLedger.in_memory())
        c2 = _by_key(data.creators, "creator_id").loc["c2", "orders"]
        n2 = _by_key(data.notes, "note_id").loc["n2", "orders"]
        guesses.append(c2 - n2)
    misses = np.abs(np.asarray(guesses) - 10)
    # Each difference carries two Laplace draws of scale ≥ 100 orders (sd ≥ 200): landing within
    # 5 of the truth has probability < 5%; most of the 12 attacks miss by far more than n3 itself.
    assert (misses < 5).sum() <= 3
    assert np.median(misses) > 10


def test_the_identical_report_is_answered_again_and_spends_once(engine: Engine) -> None:
    settings = _settings()
    ledger = BudgetLedger.in_memory(settings.privacy)
    first = build_brand_report(engine, "B1", settings, ledger=ledger)
    again = build_brand_report(engine, "B1", settings, ledger=ledger)
    pd.testing.assert_frame_equal(first.notes, again.notes)
    pd.testing.assert_frame_equal(first.daily, again.daily)
    assert first.kpis == again.kpis
    status = ledger.status("B1")
    assert status.spent == 2.0 and status.releases == 1
    privacy = next(s for s in again.sections if s.key == "privacy")
    budget = dict(privacy.tables[1].frame.itertuples(index=False, name=None))
    assert budget["epsilon spent by this request"].startswith("0 (stored answer")
    # Another scope (e.g. a date range) is another question: it spends again.
    build_brand_report(engine, "B1", settings, ledger=ledger, scope={"start": "2026-05-02"})
    assert ledger.status("B1").spent == 4.0


def test_a_report_beyond_the_budget_is_refused_and_spends_nothing(engine: Engine) -> None:
    settings = _settings(epsilon=2.0, budget=3.0)
    ledger = BudgetLedger.in_memory(settings.privacy)
    whole = prepare_brand_report(engine, "B1", settings)
    week = prepare_brand_report(engine, "B1", settings, scope={"range": "last 7 days"})
    release_brand_report(whole, ledger=ledger)
    with pytest.raises(PrivacyBudgetExceeded, match="nothing was spent"):
        release_brand_report(week, ledger=ledger)
    status = ledger.status("B1")
    assert status.spent == 2.0 and status.releases == 1
    # The stored report is still answered (it costs nothing).
    release_brand_report(whole, ledger=ledger)
    assert ledger.status("B1").spent == 2.0


def test_exports_and_page_say_which_mode_produced_each_figure(
    engine: Engine, tmp_path: Path
) -> None:
    settings = _settings()
    data = build_brand_report(
        engine, "B1", settings, ledger=BudgetLedger.in_memory(settings.privacy)
    )
    names = {p.stem for p in export_csv(data, tmp_path)}
    assert {"kpis", "notes", "privacy_release", "privacy_budget"} <= names
    assert not {"credits", "model_scores", "truth"} & names
    kpis = pd.read_csv(tmp_path / "kpis.csv", encoding="utf-8-sig").set_index("metric")
    assert kpis.loc["reach", "mode"].startswith("exact")
    assert kpis.loc["gmv", "mode"].startswith("noisy")
    modes = pd.read_csv(tmp_path / "privacy_release.csv", encoding="utf-8-sig")
    noisy = modes[modes["mode"] == "noisy"]
    assert set(noisy["table"]) == {"brand", "notes", "daily", "creators", "campaigns", "lift"}
    assert (noisy["error_bound"] > 0).all()
    page = page_html(data, "en")
    assert 'data-view="brand"' in page and "data-withheld" in page
    assert "chart-models" not in page
    zh = page_html(data, "zh")
    assert "品牌视图" in zh


_counts = st.integers(min_value=0, max_value=5000)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(_counts, _counts, _counts, _counts), min_size=1, max_size=6),
    withheld=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_released_counts_are_never_negative_and_rates_stay_in_0_1(
    rows: list[tuple[int, int, int, int]], withheld: list[bool]
) -> None:
    frame = pd.DataFrame(
        {
            "note_id": [f"n{i}" for i in range(len(rows))],
            "matched_reach": [float(r[0]) for r in rows],
            "back_search_users": [float(min(r[1], r[0])) for r in rows],
            "visitors": [float(min(r[2], r[0])) for r in rows],
            "gmv": [float(r[3]) for r in rows],
        }
    )
    frame.loc[[w for w in withheld[: len(rows)]], "visitors"] = np.nan
    measures = (
        Measure("matched_reach", 4.0),
        Measure("back_search_users", 4.0),
        Measure("visitors", 4.0),
        Measure("gmv", 4000.0, integer=False),
    )
    ledger = BudgetLedger.in_memory()
    out = release_bundle(
        [BundlePart("notes", "note_id", frame, measures)],
        ledger=ledger,
        brand="B1",
        name="prop",
        epsilon=0.5,
        params={},
    )
    released = out.parts["notes"].frame.assign(spend=100.0, is_other=False)
    for m in measures:
        values = released[m.column].dropna()
        assert (values >= 0).all()
        if m.integer:
            assert (values == values.round()).all()
    assert released["visitors"].isna().tolist() == frame["visitors"].isna().tolist()
    rated = add_released_rates(released)
    for rate in ("back_search_rate", "visit_rate"):
        values = rated[rate].dropna()
        assert ((values >= 0) & (values <= 1)).all()
    assert (rated["roi"].dropna() >= 0).all()
    ledger.engine.dispose()
    assert math.isfinite(out.spent)


def test_lift_is_neither_shown_nor_paid_for_when_an_arm_is_below_k(engine: Engine) -> None:
    base = _settings()
    settings = dataclasses.replace(base, privacy=dataclasses.replace(base.privacy, k=70))
    prepared = prepare_brand_report(engine, "B1", settings)  # control: 60 buyers < 70
    assert "lift" not in [p.name for p in prepared.tables.parts]
    data = release_brand_report(prepared, ledger=BudgetLedger.in_memory(settings.privacy))
    lift = next(s for s in data.sections if s.key == "lift")
    assert not lift.tables and "no lift is released" in lift.notes[0].en


def test_view_meta_round_trips_through_json(engine: Engine) -> None:
    settings = _settings()
    data = build_brand_report(
        engine, "B1", settings, ledger=BudgetLedger.in_memory(settings.privacy)
    )
    meta = json.loads(json.dumps(view_meta(data), ensure_ascii=False))
    bare = dataclasses.replace(
        data, view="operator", captions={}, kpi_modes={}, withheld=frozenset()
    )
    back = with_view_meta(bare, meta)
    assert back.view == "brand" and back.withheld == data.withheld
    assert back.captions == data.captions and back.kpi_modes == data.kpi_modes
    assert with_view_meta(bare, {}).view == "operator"


def test_the_operator_view_is_labelled_exact_and_operator_only(small: ReportData) -> None:
    assert small.view == "operator"
    assert header_line(small, "en").endswith("View: exact — clean-room operator only")
    assert "精确值——仅限净室运营方" in header_line(small, "zh")
    page = page_html(small, "en")
    assert 'data-view="operator"' in page and "exact — clean-room operator only" in page
    assert "data-withheld" not in page and "chart-models" in page
