"""Fresh data: when the background refresher rebuilds the snapshots."""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

import pytest

import redcat.web.scheduler as scheduler_module
from redcat.errors import StoreError
from redcat.web.config import WebConfig
from redcat.web.scheduler import RefreshScheduler, built_at, due, store_changed_at
from redcat.web.snapshot import RefreshResult


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
