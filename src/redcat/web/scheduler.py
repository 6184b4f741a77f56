"""Keeps report snapshots fresh while ``redcat serve`` runs: rebuilds them when the store changed
after the last build (an ingest or match run wrote it) and, if operators set one, on a clock.

One daemon thread checks every ``watch_seconds``; a refresh that cannot open the store (a writer
holds it) is retried at the next check. The newest snapshot's ``meta.json`` time is the last
build, so a restarted server does not rebuild needlessly. In the operator view a refresh is
followed by the preset ranges (近7天 / 近14天) of every brand and scope
(:func:`redcat.web.ranges.prebuild_presets`), so their first click answers at once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from redcat.errors import RedcatError
from redcat.web.config import WebConfig
from redcat.web.ranges import prebuild_presets
from redcat.web.snapshot import META, refresh

log = logging.getLogger("redcat.web.refresh")


def store_changed_at(store: Path) -> float | None:
    """Return the store's last write time (epoch seconds; its WAL file counts), None if absent."""
    times = [p.stat().st_mtime for p in (store, Path(f"{store}.wal")) if p.exists()]
    return max(times) if times else None


def built_at(report_dir: Path) -> float | None:
    """Return when the newest snapshot was written (epoch seconds), None when there is none."""
    if not report_dir.is_dir():
        return None
    times = [p.stat().st_mtime for p in report_dir.glob(f"*/*/{META}")]
    return max(times) if times else None


def due(
    now: float,
    store_time: float | None,
    built: float | None,
    every_seconds: float,
    watch: bool,
) -> bool:
    """True when snapshots should be rebuilt: the store exists and either nothing was built, the
    store changed after the last build (``watch``), or ``every_seconds`` (> 0) have passed."""
    if store_time is None:
        return False
    if built is None:
        return True
    if watch and store_time > built:
        return True
    return every_seconds > 0 and now - built >= every_seconds


@dataclass
class RefreshScheduler:
    """The background refresher of one app (see the module docstring)."""

    config: WebConfig
    stop: threading.Event
    refreshes: int = 0
    failures: int = 0
    presets_built: int = 0

    def tick(self, now: float | None = None) -> bool:
        """Check once and refresh if :func:`due`; return whether a refresh ran and succeeded."""
        web = self.config.settings.web
        if not due(
            time.time() if now is None else now,
            store_changed_at(self.config.store),
            built_at(self.config.report_dir),
            web.refresh_minutes * 60,
            web.watch_seconds > 0,
        ):
            return False
        try:
            result = refresh(self.config.store, self.config.report_dir, self.config.report_settings)
        except RedcatError as exc:  # a writer holds the store, or it is not ingested yet
            self.failures += 1
            log.warning("report refresh failed, retrying later: %s", exc)
            return False
        self.refreshes += 1
        log.info("refreshed %d brand(s) in %.1f s", len(result.brands), result.seconds)
        if web.view == "operator" and web.prebuild_presets:
            started = time.perf_counter()
            self.presets_built += prebuild_presets(self.config, result.scopes)
            log.info("preset ranges built in %.1f s", time.perf_counter() - started)
        return True

    def run(self) -> None:
        """Check every ``watch_seconds`` (or every minute on a clock alone) until stopped."""
        web = self.config.settings.web
        interval = web.watch_seconds if web.watch_seconds > 0 else 60.0
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(interval)


def start_scheduler(config: WebConfig) -> tuple[RefreshScheduler, threading.Thread] | None:
    """Start the refresher thread when watching or a clock is configured; None otherwise."""
    web = config.settings.web
    if web.watch_seconds <= 0 and web.refresh_minutes <= 0:
        return None
    scheduler = RefreshScheduler(config, threading.Event())
    thread = threading.Thread(target=scheduler.run, name="redcat-refresh", daemon=True)
    thread.start()
    return scheduler, thread
