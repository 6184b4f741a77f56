"""Report sections: measurements beyond the funnel (lift, audience assets, calibration, privacy...)
that every renderer shows the same way.

A :class:`Section` is built once per report by a builder in :mod:`redcat.report.sections` from a
:class:`SectionInput` and carries raw frames plus bilingual text; the terminal report, the HTML
page and CSV export draw every section generically, so a new measurement needs no renderer change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # types only: the report layer's renderers import this module
    from redcat.attribution.journeys import JourneyTable
    from redcat.engine.core import Engine
    from redcat.funnel.metrics import BrandFunnel
    from redcat.settings import Settings

LANGS: tuple[str, ...] = ("zh", "en")


@dataclass(frozen=True)
class Text2:
    """One text in Simplified Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        """Return the text in ``lang`` (``zh`` or ``en``; anything else gets English)."""
        return self.zh if lang == "zh" else self.en


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class SectionTable:
    """A table of a section: raw values in ``frame`` (machine column names, unformatted), shown
    as ``columns`` in that order.

    ``headers`` overrides a column's header (default: the report's metric label for that name, or
    the name itself); ``kinds`` overrides its format kind (``count``, ``decimal``, ``rate``,
    ``rate1``, ``money``, ``ratio``, ``text``, ``date``; default: the report's kind for that
    name). ``highlight`` holds 0-based row numbers to emphasise. CSV export writes the whole
    ``frame`` as ``<section key>_<table key>.csv``.
    """

    key: str
    title: Text2
    frame: pd.DataFrame
    columns: tuple[str, ...]
    headers: Mapping[str, Text2] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    caption: Text2 | None = None
    highlight: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        absent = [c for c in self.columns if c not in self.frame.columns]
        if absent:
            raise ValueError(f"section table {self.key!r} lacks column(s) {', '.join(absent)}")
        object.__setattr__(self, "headers", _frozen(self.headers))
        object.__setattr__(self, "kinds", _frozen(self.kinds))


@dataclass(frozen=True, eq=False)
class SectionChart:
    """An ECharts chart of a section: one option dict per language (keys ``zh`` and ``en``),
    drawn ``height`` pixels tall in the HTML page (the terminal shows tables only)."""

    key: str
    title: Text2
    options: Mapping[str, dict[str, Any]]
    height: int = 360

    def __post_init__(self) -> None:
        missing = [lang for lang in LANGS if lang not in self.options]
        if missing:
            raise ValueError(f"section chart {self.key!r} lacks options for {', '.join(missing)}")
        object.__setattr__(self, "options", _frozen(self.options))


@dataclass(frozen=True, eq=False)
class Section:
    """One report section: an id-safe ``key`` (HTML anchor and CSV prefix), a title, its tables,
    charts and notes (caveats and assumptions shown under it)."""

    key: str
    title: Text2
    tables: tuple[SectionTable, ...] = ()
    charts: tuple[SectionChart, ...] = ()
    notes: tuple[Text2, ...] = ()

    def __post_init__(self) -> None:
        if not self.key.replace("_", "").isalnum() or not self.key.isascii():
            raise ValueError(f"section key {self.key!r} must be ASCII letters, digits and _")


@dataclass(frozen=True, eq=False)
class SectionInput:
    """What a section builder gets: the open engine, the brand, its settings and what the core
    report already measured — the brand's funnel, the long credits frame (``model``,
    ``note_id``, ``conversions`` = credited orders, ``value`` = credited GMV), the journeys the
    models attributed, and the simulator's per-note truth restricted to the brand's notes
    (``None`` outside simulated worlds)."""

    engine: Engine
    brand_id: str
    settings: Settings
    funnel: BrandFunnel
    credits: pd.DataFrame
    journeys: JourneyTable
    truth: pd.DataFrame | None = None


SectionBuilder = Callable[[SectionInput], "Section | None"]
