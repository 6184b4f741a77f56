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
# Operational state (web users, tokens, sessions, ledger, links): SQLite file beside the store.
DEFAULT_OPS_DB = "sqlite:///redcat-ops.db"

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
    # Fixed attribution windows (days after the touch) shown beside the decision-cycle ROI(T+x).
    roi_fixed_days: tuple[int, ...] = (7, 15)
    # The brand's category once decision_cycle() applied it (ROI(T+x) takes x from it).
    category: str | None = None

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
        if category is None:
            return self
        return replace(self, funnel_days=self.for_category(category), category=category)

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
    # Lift calibration (attribution.calibrate): holdout outcome window in days after a campaign's
    # last spend date, and how campaign estimates pool ("none": each campaign's own; "spend":
    # shrunk toward the brand's incremental orders per spend). 7 days: the simulator's effects
    # fade with a 3-day half-life and every further day adds baseline orders to both arms; on
    # the demo world the holdouts' error against true incremental orders (WAPE over campaigns)
    # was 0.45 with 7 days, 0.61 with 15 and 0.67 with 30.
    calibration_window_days: int = 7
    calibration_pooling: str = "none"


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
class AssetSettings:
    """AIPS audience-asset (人群资产) defaults, in days: a stage lasts this long after the last
    event that put a user in it, then decays (the user falls to their highest stage still alive,
    or to none). Awareness fades slowest among the engagement stages because a brand seen many
    times stays known; interest is a shorter-lived intent; a purchase or a note written about the
    brand keeps the user in P or S for a year (the 新客 look-back). ``purchase_credit_days``: a
    user's entry into P is credited to the last brand note they touched at most this many days
    before the order (a click window, as in attribution)."""

    aware_days: int = 90
    interest_days: int = 60
    purchase_days: int = 365
    share_days: int = 365
    purchase_credit_days: int = 15

    def __post_init__(self) -> None:
        for name in (
            "aware_days",
            "interest_days",
            "purchase_days",
            "share_days",
            "purchase_credit_days",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"asset setting {name} must be a positive number of days")


@dataclass(frozen=True)
class WebSettings:
    """Web dashboard and API defaults. ``session_hours``: a login session's lifetime;
    ``login_max_failures`` failed logins per user name or client address within
    ``login_window_seconds`` lock further attempts until the window passes; ``page_size``: rows a
    table page returns by default (``max_page_size`` at most); ``report_dir``: folder of the
    precomputed report tables the API reads (relative to the working directory)."""

    ops_db: str = DEFAULT_OPS_DB
    session_hours: float = 12.0
    login_max_failures: int = 5
    login_window_seconds: int = 900
    page_size: int = 50
    max_page_size: int = 500
    report_dir: Path = Path("redcat-web")
    # Fresh data: `redcat serve` rebuilds the snapshots every ``refresh_minutes`` (0: never on a
    # clock) and, every ``watch_seconds`` (0: off), when the store changed after the last build
    # (an ingest or match run wrote it).
    refresh_minutes: float = 0.0
    watch_seconds: float = 30.0
    # Date ranges other than the whole period are measured on demand (range snapshots): one build
    # at a time, at most ``range_queue`` waiting, ``range_snapshots_per_brand`` kept on disk per
    # brand (least recently used dropped); clients are told to retry after ``range_retry_seconds``.
    range_queue: int = 8
    range_snapshots_per_brand: int = 32
    range_retry_seconds: int = 2
    # Whose figures the dashboard and API serve: ``brand`` (every figure about matched people
    # thresholded and noised, each snapshot one release paid from the brand's privacy budget in
    # the operational store) or ``operator`` (exact figures: only for a deployment that the
    # clean-room operator alone uses).
    view: str = "brand"
    # Operator view: after each background refresh, build the 近7天 / 近14天 ranges of every
    # brand and scope (the brand view builds a range only when asked: each is a release).
    prebuild_presets: bool = True

    def __post_init__(self) -> None:
        if self.view not in ("brand", "operator"):
            raise ConfigError(f"web setting view must be brand or operator, not {self.view!r}")


@dataclass(frozen=True)
class MatchSettings:
    """Limits of PSI between parties over the network (seconds, bytes).

    ``connect_timeout_s``: TCP connect; ``handshake_timeout_s``: TLS handshake and the hello
    exchange; ``accept_timeout_s``: how long ``serve`` waits for its peer to connect;
    ``idle_timeout_s``: the longest silence tolerated from a peer (a computing peer sends a
    keepalive every ``keepalive_s``, so silence means a stalled peer or a dead link);
    ``run_timeout_s``: a whole run; ``max_message_bytes``: the largest frame accepted from a peer
    (a 1M-identifier reply is 64 MB; the default admits 10M identifiers per side).
    ``spu_python``: the interpreter with SecretFlow SPU for ``--backend spu`` (its own environment,
    numpy < 2; the environment variable ``REDCAT_SPU_PYTHON`` overrides it).
    """

    connect_timeout_s: float = 10.0
    handshake_timeout_s: float = 30.0
    accept_timeout_s: float = 600.0
    idle_timeout_s: float = 60.0
    keepalive_s: float = 5.0
    run_timeout_s: float = 4 * 3600.0
    max_message_bytes: int = 700_000_000
    spu_python: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "connect_timeout_s",
            "handshake_timeout_s",
            "accept_timeout_s",
            "idle_timeout_s",
            "keepalive_s",
            "run_timeout_s",
            "max_message_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"match setting {name} must be positive")
        if self.keepalive_s >= self.idle_timeout_s:
            raise ConfigError("match keepalive_s must be shorter than idle_timeout_s")


@dataclass(frozen=True)
class LinksSettings:
    """种草直达 ad links. ``allowed_hosts``: per retailer id, the destination hosts a link may
    point at (exact names, or ``*.domain`` for its subdomains; https only); ``public_base``: the
    redirect service's public URL that link texts start with; ``click_param``: the query
    parameter carrying the click id to the retailer; ``click_days``: click-through window in days
    in which a postback order counts as a conversion of the link; a source (salted IP hash)
    with more than ``burst_clicks`` clicks within ``burst_seconds`` seconds is flagged as a bot,
    as is any user agent matching ``bot_user_agents`` (regex fragments, case-insensitive);
    ``postback_max_age_seconds``: a postback whose timestamp is further from the server's clock
    is refused as stale; ``sqlite_synchronous``: SQLite sync level of the click log (NORMAL
    survives a killed process; FULL also survives power loss, at a cost per click)."""

    allowed_hosts: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType(
            {
                "tmall": ("detail.tmall.com", "*.tmall.com", "item.taobao.com"),
                "jd": ("item.jd.com", "*.jd.com"),
                "vip": ("detail.vip.com", "*.vip.com"),
            }
        )
    )
    public_base: str = "http://127.0.0.1:8710"
    click_param: str = "rc_click"
    click_days: int = 15
    burst_clicks: int = 20
    burst_seconds: float = 60.0
    bot_user_agents: tuple[str, ...] = (
        r"bot\b",
        "crawl",
        "spider",
        "slurp",
        "headless",
        "preview",
        "facebookexternalhit",
        r"curl/",
        r"wget/",
        r"python-(?:requests|urllib|httpx)",
        r"go-http-client",
        r"java/",
        r"okhttp",
        r"libwww",
        r"scrapy",
        r"wrk\b",
    )
    postback_max_age_seconds: int = 300
    sqlite_synchronous: str = "NORMAL"

    def __post_init__(self) -> None:
        for name in ("click_days", "burst_clicks", "burst_seconds", "postback_max_age_seconds"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"links setting {name} must be positive")
        if self.sqlite_synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ConfigError("links sqlite_synchronous must be NORMAL, FULL or EXTRA")


@dataclass(frozen=True)
class PrivacySettings:
    """Output privacy (see :mod:`redcat.privacy`).

    ``k``: fewest distinct matched users a released cell may come from (aggregation threshold; a
    party may only raise it, the strictest applies). Contribution bounds applied per user before
    aggregation: ``max_cells_per_user`` cells (notes, days...) of one table, ``max_events_per_cell``
    events in one cell's count, ``value_bound`` currency in one cell's sum. ``epsilon_per_period``
    is a brand's differential-privacy budget per calendar month; ``release_epsilon`` the ε each
    kind of release spends (``report``: one brand view of a whole report, split over its tables,
    so a month's budget holds the demo's releases and about four distinct brand reports, a
    repeated identical report costing nothing); ``confidence`` the level of the stated error
    bounds (0.95: the released value is within the bound of the exact one with probability
    95%). The bounds sit at about the 99th percentile of the simulated demo world's buyers (notes
    per buyer, orders and GMV per buyer and note), so they clip few people while keeping the
    noise small.
    """

    k: int = 50
    max_cells_per_user: int = 4
    max_events_per_cell: int = 3
    value_bound: float = 1000.0
    epsilon_per_period: float = 10.0
    release_epsilon: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"table": 1.0, "kpi": 0.5, "cell": 0.1, "report": 2.0}
        )
    )
    confidence: float = 0.95
    # Thresholds the parties set for their own data (party → k, e.g. {"tmall": 100}); a release
    # applies the strictest of k and every party's (privacy.thresholds.strictest_k).
    party_k: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # The budget ledger a report's privacy section spends from (an operational-store URL);
    # None: a fresh in-memory ledger per report, which the section says.
    ledger_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("k", "max_cells_per_user", "max_events_per_cell", "value_bound"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"privacy setting {name} must be positive")
        if self.epsilon_per_period <= 0:
            raise ConfigError("privacy setting epsilon_per_period must be positive")
        for kind, eps in self.release_epsilon.items():
            if eps <= 0:
                raise ConfigError(f"privacy release_epsilon[{kind!r}] must be positive")
        if not 0 < self.confidence < 1:
            raise ConfigError("privacy setting confidence must lie strictly between 0 and 1")
        for party, k in self.party_k.items():
            if k < 1:
                raise ConfigError(f"privacy party_k[{party!r}] must be at least 1 user")

    def threshold(self) -> int:
        """Return the aggregation threshold that applies: the largest of ``k`` and every
        party's own (users)."""
        return max([self.k, *self.party_k.values()])


@dataclass(frozen=True)
class Settings:
    """All of redcat's settings; ``Settings()`` holds every default."""

    store: Path = DEFAULT_STORE
    ingest: IngestSettings = field(default_factory=IngestSettings)
    windows: Windows = field(default_factory=Windows)
    attribution: AttributionSettings = field(default_factory=AttributionSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    lift: LiftSettings = field(default_factory=LiftSettings)
    match: MatchSettings = field(default_factory=MatchSettings)
    web: WebSettings = field(default_factory=WebSettings)
    links: LinksSettings = field(default_factory=LinksSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    assets: AssetSettings = field(default_factory=AssetSettings)
    # Salt for the spine's direct match (user_key → match_key); the PSI issue replaces it.
    match_salt: str = "redcat-spine-match-v1"
