"""Date ranges: the views a range measures on (a tiny hand-built world with known answers), the
range snapshot a build writes, and the background builder (dedupe, cache, refresh, LRU bound)."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from tests.report.conftest import make_demo

from redcat.engine.store import connect
from redcat.errors import StoreError
from redcat.funnel import brand_funnel
from redcat.match import run_direct_match
from redcat.settings import Settings, WebSettings
from redcat.web.config import WebConfig
from redcat.web.ranges import RangeBuilder, RangeKey, RangeState
from redcat.web.service import BadQuery, NotFound, Reports, open_report, resolve_range
from redcat.web.snapshot import (
    ALL,
    META,
    StaleRange,
    _scoped_engine,
    build_range,
    evict_ranges,
    range_folder,
    range_snapshots,
    write_snapshot,
)

D1, D2, D3 = date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days, brand B1 with notes n1 (published day 1) and n2 (day 3), users u1..u3.

    Day 1: u1 and u2 see n1; u1 reads n1 at 10:00. Day 2: u1 orders 10.0 at shop s1 (its only
    touches are on day 1). Day 3: u3 and u1 see n2; u3 visits s1 at 12:00. Spend 5.0 on n1
    (day 1) and 7.0 on n2 (day 3); u2 orders 4.0 at retailer r2's shop t1 on day 3.
    """
    store = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    con = connect(store)
    con.executemany(
        "INSERT INTO notes VALUES (?, 'B1', 'c1', 'organic', NULL, ?, ?)",
        [("n1", f"{D1} 08:00:00", "first"), ("n2", f"{D3} 08:00:00", "second")],
    )
    content = [
        ("e1", "u1", "n1", f"{D1} 09:00:00", "impression"),
        ("e2", "u2", "n1", f"{D1} 09:30:00", "impression"),
        ("e3", "u1", "n1", f"{D1} 10:00:00", "read"),
        ("e4", "u3", "n2", f"{D3} 09:00:00", "impression"),
        ("e5", "u1", "n2", f"{D3} 09:10:00", "impression"),
    ]
    con.executemany("INSERT INTO content_events VALUES (?, ?, ?, ?, ?, 'feed')", content)
    commerce = [
        ("r1", "o1", "u1", "s1", f"{D2} 12:00:00", "order", None, "p1", "ord1", 10.0),
        ("r1", "v1", "u3", "s1", f"{D3} 12:00:00", "visit", None, None, None, None),
        ("r2", "o2", "u2", "t1", f"{D3} 13:00:00", "order", None, "p1", "ord2", 4.0),
    ]
    con.executemany("INSERT INTO commerce_events VALUES (?,?,?,?,?,?,?,?,?,?)", commerce)
    con.executemany("INSERT INTO shops VALUES (?, ?, 'B1')", [("r1", "s1"), ("r2", "t1")])
    con.execute("INSERT INTO brand_terms VALUES ('r1', 'B1', 'bee')")
    con.executemany(
        "INSERT INTO spend VALUES (?, ?, 'k1', ?, 'heat')", [(D1, "n1", 5.0), (D3, "n2", 7.0)]
    )
    run_direct_match(con, "salt")
    con.close()
    return store


def _count(store: Path, table: str, retailer: str | None, days: tuple[date, date] | None) -> int:
    engine = _scoped_engine(store, retailer, days)
    try:
        return int(engine.duck.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
    finally:
        engine.close()


def test_range_views_keep_the_rows_of_those_days(tiny: Path) -> None:
    assert _count(tiny, "content_events", None, None) == 5
    assert _count(tiny, "cr_content_events", None, (D1, D1)) == 3
    assert _count(tiny, "cr_content_events", None, (D2, D3)) == 2
    assert _count(tiny, "cr_commerce_events", None, (D2, D2)) == 1
    assert _count(tiny, "cr_commerce_events", "r1", (D3, D3)) == 1  # both restrictions at once
    assert _count(tiny, "spend", None, (D2, D3)) == 1
    assert _count(tiny, "notes", None, (D1, D2)) == 1  # n2 was not published yet
    assert _count(tiny, "shops", None, (D1, D1)) == 2  # dimensions stay whole


def test_a_range_is_measured_as_if_only_its_days_happened(tiny: Path) -> None:
    def kpis(days: tuple[date, date] | None) -> dict[str, float | None]:
        engine = _scoped_engine(tiny, None, days)
        try:
            return brand_funnel(engine, "B1").kpis
        finally:
            engine.close()

    whole, first, late = kpis(None), kpis((D1, D1)), kpis((D2, D3))
    assert (whole["impressions"], whole["reach"], whole["spend"]) == (4, 3, 12.0)
    # ord1 and ord2 each follow a day-1 touch of their buyer (within the funnel window)
    assert whole["orders"] == 2 and whole["gmv"] == 14.0
    assert (first["impressions"], first["reach"], first["spend"]) == (2, 2, 5.0)
    assert first["orders"] == 0  # both orders fall after the range
    # days 2-3: neither order has a touch in the range (the look-back stops at day 2)
    assert (late["impressions"], late["reach"], late["spend"]) == (2, 2, 7.0)
    assert late["orders"] == 0 and late["visitors"] == 1  # u3 saw n2, then visited s1


def test_build_range_writes_a_range_snapshot(tiny: Path, tmp_path: Path) -> None:
    root = tmp_path / "reports"
    whole = dataclasses.replace(make_demo(days=3), brand_id="B1")
    write_snapshot(whole, root / "B1" / ALL)
    folder = build_range(
        tiny, root, "B1", ALL, (D2, D3), Settings(store=tiny, web=WebSettings(view="operator"))
    )
    assert folder == range_folder(root, "B1", ALL, (D2, D3)) and (folder / META).exists()
    data = Reports(root).get_range("B1", ALL, (D2, D3))
    assert (data.period_start, data.period_end) == (D2, D3)
    assert data.kpis["reach"] == 2 and data.kpis["spend"] == 7.0
    assert any("as if only the events of those days" in c for c in data.notes_md)
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging left behind
    with pytest.raises(StoreError):  # no whole-period snapshot for that scope
        build_range(
            tiny, root, "B1", "r1", (D2, D3), Settings(store=tiny, web=WebSettings(view="operator"))
        )


def test_resolve_range_rules() -> None:
    data = make_demo(days=10)
    first, last = data.period_start, data.period_end
    assert resolve_range(data, None, None) is None
    assert resolve_range(data, first, last) is None  # the whole period is the precomputed one
    assert resolve_range(data, first, None) is None
    assert resolve_range(data, None, first) == (first, first)
    with pytest.raises(BadQuery, match="ends before"):
        resolve_range(data, last, first)
    with pytest.raises(BadQuery, match="within the data period"):
        resolve_range(data, first.replace(year=first.year - 1), last)


def _config(root: Path) -> WebConfig:
    return WebConfig(store=root / "none.duckdb", ops_db="sqlite://", report_dir=root)


def _fake_snapshot(root: Path, key: RangeKey) -> Path:
    folder = range_folder(root, key.brand_id, key.scope, key.days)
    folder.mkdir(parents=True)
    (folder / META).write_text("{}")
    return folder


def test_builder_dedupes_caches_and_bounds_its_queue(tmp_path: Path) -> None:
    gate = threading.Event()
    built: list[RangeKey] = []

    def build(key: RangeKey) -> Path:
        gate.wait(10)
        built.append(key)
        return _fake_snapshot(tmp_path, key)

    builder = RangeBuilder(_config(tmp_path), build=build, queue_size=2)
    a, b, c, d = (RangeKey("B1", ALL, D1, day) for day in (D1, D2, D3, date(2026, 5, 4)))
    try:
        assert builder.request(a).status in ("queued", "building")
        deadline = time.monotonic() + 10
        while builder.request(a).status != "building":  # asked again: still one build
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert builder.request(b) == RangeState("queued", position=1)
        assert builder.request(b) == RangeState("queued", position=1)
        assert builder.request(c) == RangeState("queued", position=2)
        assert builder.request(d).status == "busy"  # a builds, b and c fill the queue
        gate.set()
        assert builder.wait_idle(10)
        assert built == [a, b, c] and builder.builds == 3
        assert builder.request(a).status == "ready"  # a cache hit: no new build
        assert builder.builds == 3
    finally:
        gate.set()
        builder.close()


def test_a_failed_build_is_reported_then_retried(tmp_path: Path) -> None:
    calls: list[RangeKey] = []

    def build(key: RangeKey) -> Path:
        calls.append(key)
        raise StoreError("the store is locked")

    builder = RangeBuilder(_config(tmp_path), build=build)
    key = RangeKey("B1", ALL, D1, D2)
    try:
        builder.request(key)
        assert builder.wait_idle(10)
        state = builder.request(key)
        assert state.status == "failed" and "locked" in state.message and len(calls) == 1
    finally:
        builder.close()


def test_open_report_builds_once_then_serves(tmp_path: Path) -> None:
    whole = make_demo(days=10)
    write_snapshot(whole, tmp_path / whole.brand_id / ALL)
    part = dataclasses.replace(whole, period_end=whole.period_start)
    days = (whole.period_start, whole.period_start)

    def build(key: RangeKey) -> Path:
        return write_snapshot(part, range_folder(tmp_path, key.brand_id, key.scope, key.days))

    builder = RangeBuilder(_config(tmp_path), build=build)
    reports = Reports(tmp_path)
    try:
        first = open_report(reports, builder, whole.brand_id, ALL, *days)
        assert not hasattr(first, "kpis") and first.status in ("queued", "building")  # type: ignore[union-attr]
        assert builder.wait_idle(10)
        ready = open_report(reports, builder, whole.brand_id, ALL, *days)
        assert getattr(ready, "period_end", None) == whole.period_start
        assert open_report(reports, builder, whole.brand_id, ALL, None, None) is reports.get(
            whole.brand_id
        )
        assert builder.builds == 1
    finally:
        builder.close()


def test_refresh_drops_ranges_and_eviction_keeps_the_recent(tmp_path: Path) -> None:
    whole = make_demo(days=10)
    brand = whole.brand_id
    write_snapshot(whole, tmp_path / brand / ALL)
    folders = []
    for n, day in enumerate((D1, D2, D3)):
        folder = _fake_snapshot(tmp_path, RangeKey(brand, ALL, day, day))
        os.utime(folder, (1_000_000 + n, 1_000_000 + n))  # used in order D1, D2, D3
        folders.append(folder)
    assert range_snapshots(tmp_path, brand) == folders[::-1]
    assert evict_ranges(tmp_path, brand, keep=2, spare=folders[0]) == 1
    assert [p.exists() for p in folders] == [True, False, True]  # D2, the oldest not spared
    # a refresh swaps the brand's folder in whole: the range snapshots go with the old one
    from redcat.web.snapshot import _swap_in

    stage = tmp_path / ".stage"
    write_snapshot(whole, stage / ALL)
    _swap_in(stage, tmp_path / brand)
    assert range_snapshots(tmp_path, brand) == []
    with pytest.raises(NotFound):
        Reports(tmp_path).get_range(brand, ALL, (D1, D1))


def test_a_build_overtaken_by_a_refresh_is_built_again(tmp_path: Path) -> None:
    calls: list[RangeKey] = []

    def build(key: RangeKey) -> Path:
        calls.append(key)
        if len(calls) == 1:
            raise StaleRange("refreshed meanwhile")
        return _fake_snapshot(tmp_path, key)

    builder = RangeBuilder(_config(tmp_path), build=build)
    key = RangeKey("B1", ALL, D1, D2)
    try:
        builder.request(key)
        assert builder.wait_idle(10)
        assert calls == [key, key] and builder.request(key).status == "ready"
    finally:
        builder.close()


def test_build_range_drops_a_result_overtaken_by_a_refresh(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "reports"
    whole = dataclasses.replace(make_demo(days=3), brand_id="B1")
    write_snapshot(whole, root / "B1" / ALL)
    from redcat.web import snapshot

    real = snapshot.build_report

    def slow_refresh(*args: object, **kwargs: object) -> object:
        data = real(*args, **kwargs)  # type: ignore[arg-type]
        os.utime(root / "B1" / ALL / META, ns=(1, 1))  # a refresh wrote the brand meanwhile
        return data

    monkeypatch.setattr(snapshot, "build_report", slow_refresh)
    with pytest.raises(StaleRange):
        build_range(
            tiny, root, "B1", ALL, (D1, D2), Settings(store=tiny, web=WebSettings(view="operator"))
        )
    assert not range_folder(root, "B1", ALL, (D1, D2)).exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
