"""Table queries, range totals and snapshots on hand-made frames with known answers."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.report.conftest import make_demo

from redcat.report.data import ReportData
from redcat.report.section import Section, SectionChart, SectionTable, Text2
from redcat.web.service import (
    BadQuery,
    NotFound,
    Reports,
    daily_in_range,
    format_cell,
    query_table,
    range_totals,
)
from redcat.web.snapshot import (
    ALL,
    _swap_in,
    load_snapshot,
    scopes_of,
    snapshot_brands,
    write_snapshot,
)

NOTES = pd.DataFrame(
    {
        "note_id": ["n1", "n2", "n3", "n4"],
        "title": ["夏日防晒", "Winter cream", "防晒喷雾", None],
        "note_type": ["organic", "ad", "ad", "organic"],
        "gmv": [10.0, None, 30.0, 20.0],
    }
)


def test_query_sorts_with_missing_last_and_pages() -> None:
    page = query_table(NOTES, sort="gmv", descending=True, page=1, page_size=2)
    assert page.total == 4 and page.rows["note_id"].tolist() == ["n3", "n4"]
    second = query_table(NOTES, sort="gmv", descending=True, page=2, page_size=2)
    assert second.rows["note_id"].tolist() == ["n1", "n2"]
    asc = query_table(NOTES, sort="gmv", descending=False)
    assert asc.rows["note_id"].tolist() == ["n1", "n4", "n3", "n2"]


def test_query_searches_text_and_filters_exactly() -> None:
    assert query_table(NOTES, q="防晒").rows["note_id"].tolist() == ["n1", "n3"]
    assert query_table(NOTES, q="WINTER").rows["note_id"].tolist() == ["n2"]
    typed = query_table(NOTES, q="防晒", filters={"note_type": "ad"})
    assert typed.rows["note_id"].tolist() == ["n3"] and typed.total == 1
    with pytest.raises(BadQuery):
        query_table(NOTES, sort="nope")
    with pytest.raises(BadQuery):
        query_table(NOTES, filters={"nope": "x"})


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 7), st.integers(1, 5))
def test_pages_partition_the_rows(rows: int, size: int) -> None:
    frame = pd.DataFrame({"note_id": [f"n{i}" for i in range(rows)], "gmv": range(rows)})
    seen: list[str] = []
    page = 1
    while True:
        got = query_table(frame, sort="gmv", page=page, page_size=size)
        if got.rows.empty:
            break
        seen += got.rows["note_id"].tolist()
        page += 1
    assert sorted(seen) == sorted(frame["note_id"]) and len(seen) == rows


DAILY = pd.DataFrame(
    {
        "date": [date(2026, 5, d) for d in (1, 2, 3)],
        "impressions": [100, 200, 300],
        "reach": [50, 60, 70],
        "reads": [10, 20, 30],
        "interactions": [1, 2, 3],
        "back_search_users": [0, 1, 2],
        "visitors": [1, 1, 1],
        "orders": [0, 2, 5],
        "gmv": [0.0, 19.5, 50.0],
        "spend": [10.0, 10.0, 0.0],
    }
)


def test_range_totals_by_hand() -> None:
    class Data:
        daily = DAILY

    cut = daily_in_range(Data(), date(2026, 5, 2), date(2026, 5, 3))  # type: ignore[arg-type]
    totals = range_totals(cut)
    assert totals["days"] == 2
    assert totals["orders"] == 7 and totals["gmv"] == 69.5 and totals["spend"] == 10.0
    assert totals["reach_person_days"] == 130  # 60 + 70 people-days, not distinct people
    # a withheld day (brand view, fewer than k people) leaves that column without a total
    withheld = cut.assign(orders=[3.0, float("nan")])
    assert range_totals(withheld)["orders"] is None and range_totals(withheld)["gmv"] == 69.5
    with pytest.raises(BadQuery):
        daily_in_range(Data(), date(2026, 5, 3), date(2026, 5, 2))  # type: ignore[arg-type]


def test_cells_follow_report_formats() -> None:
    assert format_cell("gmv", 1234.5, "zh") == "¥1,234.50"
    assert format_cell("ctr", 0.12345, "en") == "12.35%"
    assert format_cell("orders_last", 2.25, "en") == "2.2"
    assert format_cell("note_type", "ad", "zh") != "ad"
    assert format_cell("gmv", None, "zh") == "—"


def _with_section() -> ReportData:
    frame = pd.DataFrame({"arm": ["test", "control"], "users": [10, 12], "rate": [0.5, 0.25]})
    section = Section(
        "lift",
        Text2("增量", "Lift"),
        tables=(
            SectionTable(
                "arms",
                Text2("分组", "Arms"),
                frame,
                ("arm", "users", "rate"),
                headers={"arm": Text2("组", "Arm")},
                kinds={"rate": "rate"},
                highlight=frozenset({1}),
            ),
        ),
        charts=(SectionChart("bars", Text2("图", "Chart"), {"zh": {"a": 1}, "en": {"a": 2}}),),
        notes=(Text2("注", "Note"),),
    )
    return dataclasses.replace(make_demo(days=10, n_notes=5), sections=(section,))


def test_snapshot_round_trip_and_scopes(tmp_path: Path) -> None:
    data = _with_section()
    root = tmp_path / "reports"
    write_snapshot(data, root / data.brand_id / ALL)
    write_snapshot(data, root / data.brand_id / "r1", "r1")
    back = load_snapshot(root / data.brand_id / ALL)
    for name in ("funnel", "notes", "creators", "campaigns", "credits", "model_scores"):
        pd.testing.assert_frame_equal(
            back.__getattribute__(name).reset_index(drop=True),
            data.__getattribute__(name).reset_index(drop=True),
            check_dtype=False,
        )
    assert back.kpis == {k: (None if v is None else float(v)) for k, v in data.kpis.items()}
    assert back.retailers == data.retailers and back.period_end == data.period_end
    table = back.sections[0].tables[0]
    assert table.frame.equals(data.sections[0].tables[0].frame)
    assert table.kinds == {"rate": "rate"} and table.highlight == frozenset({1})
    assert back.sections[0].charts[0].options["en"] == {"a": 2}
    assert back.sections[0].notes[0].zh == "注"
    assert snapshot_brands(root) == [data.brand_id]
    assert scopes_of(root, data.brand_id) == [ALL, "r1"]
    reports = Reports(root)
    assert reports.get(data.brand_id) is reports.get(data.brand_id)
    with pytest.raises(NotFound):
        reports.get(data.brand_id, "nope")
    with pytest.raises(NotFound):
        reports.get("../etc")


def test_swap_in_replaces_a_brand_whole(tmp_path: Path) -> None:
    target = tmp_path / "B1"
    (target / "all").mkdir(parents=True)
    (target / "all" / "old.txt").write_text("old")
    staged = tmp_path / ".stage"
    (staged / "all").mkdir(parents=True)
    (staged / "all" / "new.txt").write_text("new")
    _swap_in(staged, target)
    assert [p.name for p in (target / "all").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["B1"]
