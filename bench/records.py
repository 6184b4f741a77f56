"""What the benchmarks measure: one record per timed stage or model run, JSON-ready."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

from redcat.attribution.journeys import JourneyTable

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Run ``fn()`` ``repeat`` times; return the last result and the fastest run's wall-clock
    seconds (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        began = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - began)
    return result, best


def cold(table: JourneyTable) -> JourneyTable:
    """The same journeys with an empty per-touch cache, so every timed run starts cold."""
    return replace(table, _cache={})


@dataclass(frozen=True)
class Stage:
    """One timed stage of the world pipeline.

    ``rows`` counts what the stage consumed or produced, in ``unit`` (file rows, touches,
    journeys…); ``seconds`` is wall-clock time of one run; ``brand`` is set for per-brand stages;
    ``detail`` holds a short human note (what the rows are, what the stage returned)."""

    stage: str
    rows: int
    unit: str
    seconds: float
    brand: str | None = None
    detail: str = ""

    @property
    def per_second(self) -> float | None:
        """Rows per second, or None when the stage took no measurable time."""
        return self.rows / self.seconds if self.seconds > 0 else None

    def to_json(self) -> dict[str, Any]:
        """The record as a dict, with ``per_second`` added."""
        return {**asdict(self), "per_second": self.per_second}


@dataclass(frozen=True)
class ModelRun:
    """One implementation running one model on an aggregated path file (or a subsample of it).

    ``seconds`` is wall-clock time of one run excluding reading the file (``model == "load"``
    rows time the reading and preparing). ``credits`` maps channel → credited conversions
    (count); empty for load rows and failed runs. ``removal_effects`` maps channel → removal
    effect for Markov runs that expose them. ``aligned`` holds a reference's credits redone
    under redcat's convention where the two differ by a stated rule (``aligned_how``), to show
    that the rule is the whole difference. ``error`` says why a run has no result."""

    model: str
    implementation: str
    rows: int
    seconds: float | None
    credits: dict[str, float] = field(default_factory=dict)
    removal_effects: dict[str, float] = field(default_factory=dict)
    aligned: dict[str, float] = field(default_factory=dict)
    aligned_how: str = ""
    note: str = ""
    error: str = ""


@dataclass(frozen=True)
class Comparison:
    """One line of the model × implementation table.

    ``ratio`` is the reference's seconds ÷ redcat's seconds on the same rows (above 1: redcat is
    faster); ``max_rel_diff`` is the largest per-channel |ref − redcat| ÷ max(|ref|, |redcat|) of
    credited conversions, ``moved`` is Σ|ref − redcat| ÷ 2 ÷ total conversions (the share of
    credit that lands on another channel); both are None for redcat itself or without a
    result."""

    model: str
    implementation: str
    rows: int
    seconds: float | None
    redcat_seconds: float | None
    ratio: float | None
    max_rel_diff: float | None
    moved: float | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The record as a dict."""
        return asdict(self)
