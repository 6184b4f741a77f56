"""Fresh data: when the background refresher rebuilds the snapshots."""

from __future__ import annotations

import dataclasses
import os
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from tests.web.conftest import World

import redcat.web.scheduler as scheduler_module
from redcat.errors import StoreError
from redcat.settings import Settings, WebSettings
from redcat.web.config import WebConfig
from redcat.web.ranges import prebuild_presets, preset_ranges
from redcat.web.scheduler import RefreshScheduler, built_at, due, store_changed_at
from redcat.web.snapshot import (
    RefreshResult,
    range_folder,
    read_meta,
    refresh,
    scope_folder,
    scopes_of,
)


def test_due_by_hand() -> None:
    assert not due(100.0, None, None, 0, True)  # no store yet
    assert due(100.0, 50.0, None, 0, True)  # never built
    assert due(100.0, 60.0, 50.0, 0, True)  # store written after the build
    assert not due(100.0, 60.0, 50.0, 0, False)  # ... unless not watching
    assert not due(100.0, 40.0, 50.0, 0, True)  # built after the last write
    assert due(3650.0, 40.0, 50.0, 3600, False)  # an hourly clock, 3600 s after the build
    assert not due(3649.0, 40.0, 50.0, 3600, False)


def test_refresher_rebuilds_after_the_store_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The measurement itself is tested elsewhere (tests/web/test_cli_web.py); here a stand-in
    # writes one snapshot's meta.json, so only the decisions are timed.
    calls: list[Path] = []

    def fake_refresh(store: Path, root: Path, _settings: object) -> RefreshResult:
        if not store.exists():
            raise StoreError("no store")
        calls.append(store)
        meta = root / "B1" / "all" / "meta.json"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text("{}")
        return RefreshResult(("B1",), {"B1": ("all",)}, 0.0)

    monkeypatch.setattr(scheduler_module, "refresh", fake_refresh)
    store = tmp_path / "s.duckdb"
    store.write_bytes(b"")
    reports = tmp_path / "reports"
    config = WebConfig(store=store, ops_db="sqlite://", report_dir=reports)
    scheduler = RefreshScheduler(config, threading.Event())
    assert scheduler.tick() and scheduler.refreshes == 1  # never built
    assert not scheduler.tick()  # nothing changed
    built = built_at(reports)
    assert built is not None
    later = built + 5
    os.utime(store, (later, later))  # an ingest or match run wrote the store
    assert store_changed_at(store) == later
    assert scheduler.tick() and scheduler.refreshes == 2 and len(calls) == 2
    os.utime(store, (later + 10, later + 10))
    store.unlink()
    assert not scheduler.tick()  # no store: nothing to do
    store.write_bytes(b"")
    locked = dataclasses.replace(config, store=store)
    monkeypatch.setattr(
        scheduler_module, "refresh", lambda *_: (_ for _ in ()).throw(StoreError("locked"))
    )
    failing = RefreshScheduler(locked, threading.Event())
    os.utime(store, (later + 20, later + 20))
    assert not failing.tick() and failing.failures == 1


def test_preset_ranges_by_hand() -> None:
    may1, may30 = date(2026, 5, 1), date(2026, 5, 30)
    assert preset_ranges(may1, may30) == [(date(2026, 5, 24), may30), (date(2026, 5, 17), may30)]
    # a 10-day period: the 14-day preset is the whole period (the precomputed snapshot)
    assert preset_ranges(date(2026, 5, 21), may30) == [(date(2026, 5, 24), may30)]
    assert preset_ranges(may30, may30) == []


def test_prebuild_presets_builds_each_missing_range_once(world: World, tmp_path: Path) -> None:
    brand = world.brands[0]
    config = dataclasses.replace(world.config, report_dir=tmp_path / "reports")
    refresh(config.store, config.report_dir, config.report_settings, brands=[brand])
    scopes = {brand: scopes_of(config.report_dir, brand)}
    assert scopes[brand] == ["all", "jd", "tmall"]  # the session world is the operator view
    assert prebuild_presets(config, scopes) == 6  # 2 presets × 3 scopes
    meta = read_meta(scope_folder(config.report_dir, brand, "all"))
    end = date.fromisoformat(meta["period_end"])
    week = (end - timedelta(days=6), end)
    assert (range_folder(config.report_dir, brand, "tmall", week) / "meta.json").exists()
    assert prebuild_presets(config, scopes) == 0  # all there already


def test_the_refresher_prebuilds_presets_in_the_operator_view_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, tuple[str, ...]]] = []
    monkeypatch.setattr(
        scheduler_module, "refresh", lambda *_: RefreshResult(("B1",), {"B1": ("all",)}, 0.0)
    )
    monkeypatch.setattr(
        scheduler_module, "prebuild_presets", lambda _c, scopes: asked.append(scopes) or 2
    )
    store = tmp_path / "s.duckdb"
    store.write_bytes(b"")
    for view, expected in (("operator", 1), ("brand", 0)):
        settings = Settings(web=WebSettings(view=view))
        config = WebConfig(store, "sqlite://", tmp_path / view, settings)
        scheduler = RefreshScheduler(config, threading.Event())
        assert scheduler.tick()
        assert scheduler.presets_built == 2 * expected
    assert asked == [{"B1": ("all",)}]
