"""Range snapshots built on demand: one background worker measures a brand over a date range.

A date range other than the whole period needs its own measurement (distinct people and
attributed orders do not add up over days), which takes seconds, not the milliseconds a page
may take. So a request for a range that has no snapshot yet *asks* the :class:`RangeBuilder`
and gets a :class:`RangeState` back at once: ``queued`` or ``building`` (the page shows a notice
and reloads, the API answers 202 with Retry-After), ``busy`` (the queue is full: 429),
``failed`` (the last try failed, for a short while: 503), ``refused`` (the brand's privacy
budget does not cover a new release of it this period: 403, for :data:`REFUSED_SECONDS`), or
``ready``.

One build runs at a time (a build is CPU-bound and the dashboard must stay responsive), at most
``queue_size`` wait, and the same brand, scope and range asked twice is queued once. A finished
build is a range snapshot on disk (:func:`redcat.web.snapshot.build_range`); the brand keeps at
most ``keep`` of them (least recently used dropped). A refresh of the brand's snapshots (new
data) removes them all, since they live inside the brand's folder.

Several server processes (``redcat serve --workers N``) each run their own worker; they share the
snapshots on disk, so at worst two of them build the same range once each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from redcat.errors import PrivacyBudgetExceeded, RedcatError
from redcat.web.config import WebConfig
from redcat.web.snapshot import (
    ALL,
    META,
    StaleRange,
    build_range,
    evict_ranges,
    range_folder,
    read_meta,
    scope_folder,
)

log = logging.getLogger("redcat.web.ranges")

Status = Literal["ready", "queued", "building", "busy", "failed", "refused"]
#: How long a failed build is reported before a new request tries again (seconds).
FAILURE_SECONDS = 30.0
#: How long a build the privacy budget refused is reported before a new request tries again
#: (seconds): the budget changes only when a period starts or an operator raises it.
REFUSED_SECONDS = 600.0


@dataclass(frozen=True)
class RangeKey:
    """One range snapshot: a brand, a scope (``all`` or a retailer id), inclusive days."""

    brand_id: str
    scope: str
    start: date
    end: date

    @property
    def days(self) -> tuple[date, date]:
        """The inclusive (first, last) days."""
        return (self.start, self.end)


@dataclass(frozen=True)
class RangeState:
    """Where a range request stands. ``position``: builds ahead of it (0 while it builds);
    ``message``: why it failed or was refused."""

    status: Status
    position: int = 0
    message: str = ""


Build = Callable[[RangeKey], Path]

#: The filter bar's quick ranges: the last this many days of the data period.
PRESET_DAYS: tuple[int, ...] = (7, 14)


def preset_start(period_start: date, period_end: date, n: int) -> date:
    """Return the first day of the last ``n`` days of a data period (not before its start)."""
    return max(period_start, period_end - timedelta(days=n - 1))


def preset_ranges(period_start: date, period_end: date) -> list[tuple[date, date]]:
    """Return the inclusive (first, last) days of each :data:`PRESET_DAYS` range of a data
    period, leaving out any that is the whole period (that is the precomputed snapshot)."""
    out = []
    for n in PRESET_DAYS:
        days = (preset_start(period_start, period_end, n), period_end)
        if days != (period_start, period_end) and days not in out:
            out.append(days)
    return out


def prebuild_presets(config: WebConfig, scopes: Mapping[str, Sequence[str]]) -> int:
    """Build the preset ranges (:func:`preset_ranges`) of every brand and scope in ``scopes``
    (brand → scopes, as a refresh wrote them) that are not built yet, so the first click on
    近7天 / 近14天 answers at once; return how many were built. For the operator view: in the
    brand view each range is a release from the brand's budget, spent only when asked. A build
    that fails (a writer holds the store, a refresh overtook it) is logged and skipped."""
    root = config.report_dir
    built = 0
    for brand_id, brand_scopes in scopes.items():
        try:
            meta = read_meta(scope_folder(root, brand_id, ALL))
        except RedcatError:
            continue
        period = (date.fromisoformat(meta["period_start"]), date.fromisoformat(meta["period_end"]))
        for scope in brand_scopes:
            for days in preset_ranges(*period):
                if (range_folder(root, brand_id, scope, days) / META).exists():
                    continue
                try:
                    build_range(config.store, root, brand_id, scope, days, config.report_settings)
                except RedcatError as exc:
                    log.warning("preset range %s %s %s not built: %s", brand_id, scope, days, exc)
                    continue
                built += 1
    return built


class RangeBuilder:
    """The background builder of one app's range snapshots (see the module docstring).

    ``build`` measures one key and returns its folder (default: :func:`build_range` on the
    config's store and snapshot root, followed by an eviction down to ``keep``); tests pass
    their own. The worker thread starts on the first request.
    """

    def __init__(
        self,
        config: WebConfig,
        *,
        build: Build | None = None,
        queue_size: int | None = None,
        keep: int | None = None,
    ) -> None:
        web = config.settings.web
        self.config = config
        self.queue_size = web.range_queue if queue_size is None else queue_size
        self.keep = web.range_snapshots_per_brand if keep is None else keep
        self._build = build or self._build_snapshot
        self._cond = threading.Condition()
        self._queue: deque[RangeKey] = deque()
        self._current: RangeKey | None = None
        self._failed: dict[RangeKey, tuple[float, str, Status]] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        #: Builds finished (successful or not), for tests and logs.
        self.builds = 0

    def folder(self, key: RangeKey) -> Path:
        """Return where ``key``'s range snapshot lives (whether built or not)."""
        return range_folder(self.config.report_dir, key.brand_id, key.scope, key.days)

    def request(self, key: RangeKey) -> RangeState:
        """Return ``key``'s state, queueing a build when it has no snapshot and is neither
        queued, building, recently failed nor refused for a full queue."""
        if (self.folder(key) / META).exists():
            return RangeState("ready")
        with self._cond:
            if self._current == key:
                return RangeState("building")
            if key in self._queue:
                return RangeState("queued", position=self._ahead(key))
            failed = self._failed.get(key)
            if failed is not None:
                stamp, message, status = failed
                hold = REFUSED_SECONDS if status == "refused" else FAILURE_SECONDS
                if time.monotonic() - stamp < hold:
                    return RangeState(status, message=message)
                del self._failed[key]
            if (self.folder(key) / META).exists():  # finished between the check and the lock
                return RangeState("ready")
            if len(self._queue) >= self.queue_size:
                return RangeState("busy", message="too many date ranges are being prepared")
            self._queue.append(key)
            self._start()
            self._cond.notify_all()
            return RangeState("queued", position=self._ahead(key))

    def _ahead(self, key: RangeKey) -> int:
        return list(self._queue).index(key) + (1 if self._current is not None else 0)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="redcat-ranges", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                key = self._current = self._queue.popleft()
            try:
                started = time.perf_counter()
                self._build(key)
                log.info("range %s built in %.1f s", key, time.perf_counter() - started)
            except StaleRange:  # a refresh replaced the brand's snapshots: measure anew
                with self._cond:
                    if key not in self._queue:
                        self._queue.appendleft(key)
            except PrivacyBudgetExceeded as exc:  # nothing spent; asking again soon is futile
                self._fail(key, str(exc), "refused")
            except RedcatError as exc:  # a writer holds the store; no report for the brand
                self._fail(key, str(exc))
            except Exception as exc:  # never let one bad build stop the worker
                log.exception("range %s failed", key)
                self._fail(key, f"{type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    self._current = None
                    self.builds += 1
                    self._cond.notify_all()

    def _fail(self, key: RangeKey, message: str, status: Status = "failed") -> None:
        with self._cond:
            self._failed[key] = (time.monotonic(), message, status)

    def _build_snapshot(self, key: RangeKey) -> Path:
        root = self.config.report_dir
        folder = build_range(
            self.config.store, root, key.brand_id, key.scope, key.days, self.config.report_settings
        )
        evict_ranges(root, key.brand_id, self.keep, spare=folder)
        return folder

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until nothing is queued or building (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._current is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Drop what is queued, let a running build finish (up to ``timeout`` seconds) and
        stop the worker."""
        with self._cond:
            self._queue.clear()
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
