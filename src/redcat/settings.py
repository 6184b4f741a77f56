"""Settings: every default redcat uses, in one place.

Settings are frozen; derive a changed copy with :func:`dataclasses.replace`. Windows are in days,
half-lives in days, money in the retailer's currency (units as exported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from redcat.errors import ConfigError

DEFAULT_STORE = Path("redcat.duckdb")

# Content events that count as a click-through touch (the reader acted on the note);
# an impression alone is a view-through touch.
CLICK_EVENTS: tuple[str, ...] = (
    "read",
    "like",
    "collect",
    "comment",
    "share",
    "follow",
    "link_click",
)
VIEW_EVENTS: tuple[str, ...] = ("impression",)
INTERACTION_EVENTS: tuple[str, ...] = ("like", "collect", "comment", "share", "follow")


@dataclass(frozen=True)
class Windows:
    """Look-back windows, in days.

    ``funnel_days`` bounds 回搜 / 进店 / 加购 / 成交 after an exposure; ``click_days`` and
    ``view_days`` bound which touches attribution may credit (views usually reach further in
    seeding, where a note read today is bought weeks later). ``category_days`` maps a product
    category to its decision cycle (ROI(T+x)); ``new_customer_days`` is the 新客 look-back.
    """

    funnel_days: int = 15
    click_days: int = 15
    view_days: int = 30
    new_customer_days: int = 365
    category_days: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(
            {"skincare": 29, "makeup": 15, "baby_food": 70, "apparel": 15, "snacks": 7}
        )
    )

    def __post_init__(self) -> None:
        for name in ("funnel_days", "click_days", "view_days", "new_customer_days"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"window {name} must be a positive number of days")

    def decision_cycle(self, category: str | None) -> Windows:
        """Return these windows with the funnel window set to ``category``'s decision cycle
        (unchanged when the category is None); raises :class:`ConfigError` for a category with
        no cycle in ``category_days``."""
        if category is not None and category not in self.category_days:
            known = ", ".join(sorted(self.category_days))
            raise ConfigError(f"unknown category {category!r} (known: {known})")
        return replace(self, funnel_days=self.for_category(category))

    def for_category(self, category: str | None) -> int:
        """Return the decision-cycle window in days for ``category`` (funnel window if unknown)."""
        if category is None:
            return self.funnel_days
        return int(self.category_days.get(category, self.funnel_days))


@dataclass(frozen=True)
class IngestSettings:
    """Ingest limits. ``block_bytes``: CSV/JSONL bytes read and validated at a time (cut at a line
    end); ``parquet_batch_rows``: Parquet rows per batch; ``raw_max_chars``: characters of a bad
    row's raw text kept in the quarantine; ``max_record_lines``: lines one quoted CSV field may
    span before its row is quarantined as an unterminated quote."""

    block_bytes: int = 64 * 1024 * 1024
    parquet_batch_rows: int = 1_000_000
    raw_max_chars: int = 2000
    max_record_lines: int = 10_000

    def __post_init__(self) -> None:
        for name in ("block_bytes", "parquet_batch_rows", "raw_max_chars", "max_record_lines"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"ingest setting {name} must be positive")


@dataclass(frozen=True)
class AttributionSettings:
    """Attribution defaults: time-decay half-life (days), position-based weights, Markov order,
    the Shapley exact-enumeration limit (channels) beyond which permutations are sampled, and
    ``report_model``, whose credits reports use for orders, GMV and ROI per note."""

    half_life_days: float = 7.0
    position_first: float = 0.4
    position_last: float = 0.4
    markov_order: int = 1
    shapley_exact_max_channels: int = 15
    shapley_samples: int = 2000
    seed: int = 0
    # The model whose credits give per-note, creator and campaign orders, GMV and ROI in reports:
    # last touch came closest to causal truth on the simulator's worlds (see README).
    report_model: str = "last"


@dataclass(frozen=True)
class ReportSettings:
    """Report layout defaults: how many notes the top-notes table and the per-note charts show."""

    top_notes: int = 10
    chart_notes: int = 10


@dataclass(frozen=True)
class LiftSettings:
    """Lift (增量) defaults: ``alpha`` two-sided level of the intervals and tests (0.05 → 95% CIs);
    ``power`` for the minimum detectable effect; a comparison is flagged underpowered when its CI
    includes 0 and its MDE exceeds ``underpowered_mde_share`` of |control mean|; sample-ratio
    mismatch is flagged when the chi-square p-value is below ``srm_alpha``; ``bootstrap_cells``
    bounds the resample indices drawn at once (memory), not the result."""

    alpha: float = 0.05
    power: float = 0.8
    underpowered_mde_share: float = 0.10
    srm_alpha: float = 0.001
    bootstrap_cells: int = 4_000_000


@dataclass(frozen=True)
class Settings:
    """All of redcat's settings; ``Settings()`` holds every default."""

    store: Path = DEFAULT_STORE
    ingest: IngestSettings = field(default_factory=IngestSettings)
    windows: Windows = field(default_factory=Windows)
    attribution: AttributionSettings = field(default_factory=AttributionSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    lift: LiftSettings = field(default_factory=LiftSettings)
    # Salt for the spine's direct match (user_key → match_key); the PSI issue replaces it.
    match_salt: str = "redcat-spine-match-v1"
