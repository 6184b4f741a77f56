"""Is the holdout lift honest on the simulator? Coverage and bias of campaign lift over many worlds.

    python -m bench.lift_coverage --worlds 200 --users 100000      # the full study (2 processes)
    python -m bench.lift_coverage --worlds 10 --users 20000        # a quick look
    python -m bench --only lift                                    # the same study from the bench

Each world (seeds ``first_seed`` … ``first_seed + worlds − 1``, every other knob the simulator's
default) is simulated, written as Parquet, ingested, matched, and every campaign of every brand
is measured by :func:`redcat.lift.campaign.campaign_lift`. The 95% interval of a campaign's
incremental orders is compared with the simulator's truth for that campaign
(``true_incremental_orders_test`` in ``truth/world.json``).

Estimand and truth are the same quantity. The truth is the number of orders that paid
impressions of the campaign's notes caused among its test arm, up to the period end (control
users receive no paid impressions; organic exposure and every other note's effect reach both
arms alike and add to nothing the truth counts). The estimand is the ITT effect over the matched
test arm, (mean orders test − mean orders control) × matched test users, with the outcome window
running from the first spend date to the last spend date + ``window_days``. So the study sets
``window_days`` = the world's days: the window then reaches the period end, after which the
simulator observes nothing, and no caused order falls outside it. (With the default 15-day
funnel window the estimand leaves out caused orders of late spend: a different quantity.) Every
user with a caused order has a retailer event, hence is matched: the truth over all test users
equals the truth over matched ones. The truth is the realized count in this world, not its
expectation: estimate − truth = n_test × (mean of the test arm's other orders − control mean),
so an interval sized for the whole test-arm variance is, if anything, slightly conservative.

Figures: coverage (share of intervals that hold the truth, with its Wilson 95% band), coverage
by the control arm's order count (where Welch intervals are weakest), relative bias
Σ(estimate − truth) ÷ Σ truth with a Monte Carlo standard error clustered by world, mean
interval width, and the share of campaigns flagged for sample-ratio mismatch.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from redcat.engine import open_engine
from redcat.ingest.load import ingest_party
from redcat.lift.campaign import campaign_lift
from redcat.match import run_direct_match
from redcat.simulate import WorldConfig, simulate_world

Say = Callable[[str], None]

#: Control-arm order counts the coverage is broken down by: [low, high] inclusive.
CONTROL_STRATA: tuple[tuple[str, int, float], ...] = (
    ("control orders = 0", 0, 0),
    ("control orders 1–4", 1, 4),
    ("control orders ≥ 5", 5, math.inf),
)


@dataclass(frozen=True)
class StudyConfig:
    """The study: ``worlds`` worlds of ``users`` people (seeds from ``first_seed``), each
    ``days`` days long with the simulator's other defaults; campaign outcome window
    ``window_days`` (default: the world's days, see the module docstring); ``workers`` processes;
    temporary files under ``workdir`` (default the system's temporary folder)."""

    worlds: int = 200
    users: int = 100_000
    first_seed: int = 0
    days: int = 30
    window_days: int | None = None
    alpha: float = 0.05
    workers: int = 2
    workdir: Path | None = None

    @property
    def window(self) -> int:
        """The outcome window in days after a campaign's last spend date."""
        return self.days if self.window_days is None else self.window_days


@dataclass(frozen=True)
class CampaignOutcome:
    """One campaign of one world: matched arm sizes (users), the control arm's orders, the
    estimated incremental orders with its interval, the simulator's true incremental orders and
    the SRM p-value."""

    seed: int
    campaign_id: str
    n_test: int
    n_control: int
    orders_control: int
    estimate: float
    low: float
    high: float
    truth: int
    srm_p_value: float
    srm_flag: bool

    @property
    def covered(self) -> bool:
        """Whether the interval holds the truth (bounds included)."""
        return self.low <= self.truth <= self.high


@dataclass(frozen=True)
class Coverage:
    """Coverage of one group of campaigns: ``hits`` of ``campaigns`` intervals held the truth;
    ``low``/``high`` is the Wilson 95% band of the share (NaN without campaigns)."""

    label: str
    campaigns: int
    hits: int
    low: float
    high: float

    @property
    def share(self) -> float:
        """hits ÷ campaigns (NaN without campaigns)."""
        return self.hits / self.campaigns if self.campaigns else math.nan


@dataclass(frozen=True)
class StudySummary:
    """What the study found. ``bias`` is Σ(estimate − truth) ÷ Σ truth (a fraction) and
    ``bias_se`` its Monte Carlo standard error clustered by world; ``mean_width`` the mean
    interval width and ``mean_truth`` the mean true incremental orders per campaign (orders);
    ``srm_flagged`` the share of campaigns flagged for sample-ratio mismatch."""

    config: StudyConfig
    worlds: int
    overall: Coverage
    strata: tuple[Coverage, ...]
    bias: float
    bias_se: float
    mean_width: float
    mean_truth: float
    mean_estimate: float
    srm_flagged: float
    seconds: float


def run_world(seed: int, config: StudyConfig) -> list[CampaignOutcome]:
    """Simulate world ``seed``, run ingest → match → campaign lift on it, and return one outcome
    per measured campaign (every brand), in brand then campaign order."""
    tmp = Path(tempfile.mkdtemp(prefix=f"lift-cov-{seed}-", dir=config.workdir))
    try:
        world = tmp / "world"
        cfg = WorldConfig(users=config.users, days=config.days, seed=seed)
        simulate_world(cfg, world, "parquet")
        truth = json.loads((world / "truth" / "world.json").read_text())["campaigns"]
        out: list[CampaignOutcome] = []
        with open_engine(tmp / "store.duckdb") as engine:
            ingest_party(engine.duck, "content", world / "content")
            for rdir in sorted(p for p in (world / "retailers").iterdir() if p.is_dir()):
                ingest_party(engine.duck, "retailer", rdir, rdir.name)
            run_direct_match(engine.duck, f"study-{seed}")
            for brand in sorted({str(v["brand_id"]) for v in truth.values()}):
                frame = campaign_lift(engine, brand, window_days=config.window, alpha=config.alpha)
                for r in frame.itertuples():
                    out.append(
                        CampaignOutcome(
                            seed=seed,
                            campaign_id=str(r.campaign_id),
                            n_test=int(r.n_test),
                            n_control=int(r.n_control),
                            orders_control=int(r.orders_control),
                            estimate=float(r.incremental_orders),
                            low=float(r.incremental_orders_low),
                            high=float(r.incremental_orders_high),
                            truth=int(truth[str(r.campaign_id)]["true_incremental_orders_test"]),
                            srm_p_value=float(r.srm_p_value),
                            srm_flag=bool(r.srm_flag),
                        )
                    )
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_seed(args: tuple[int, StudyConfig]) -> list[CampaignOutcome]:
    return run_world(*args)


def run_study(config: StudyConfig, say: Say | None = None) -> list[CampaignOutcome]:
    """Run every world of ``config`` (``workers`` processes; 1 runs in this process) and return
    all campaign outcomes in seed order."""
    seeds = range(config.first_seed, config.first_seed + config.worlds)
    jobs = [(s, config) for s in seeds]
    results: list[list[CampaignOutcome]] = []
    began = time.perf_counter()

    def tick(done: int) -> None:
        if say is not None and (done % 10 == 0 or done == len(jobs)):
            say(f"  {done}/{len(jobs)} worlds, {time.perf_counter() - began:.0f} s")

    if config.workers <= 1:
        for job in jobs:
            results.append(_run_seed(job))
            tick(len(results))
    else:
        # spawn: each worker starts clean (no DuckDB or thread state inherited from the parent)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(config.workers, mp_context=ctx) as pool:
            for part in pool.map(_run_seed, jobs):
                results.append(part)
                tick(len(results))
    return [o for part in results for o in part]


def wilson(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial share ``hits``/``n`` (NaN, NaN for n = 0)."""
    if n == 0:
        return math.nan, math.nan
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _coverage(label: str, outcomes: Sequence[CampaignOutcome]) -> Coverage:
    hits = sum(o.covered for o in outcomes)
    low, high = wilson(hits, len(outcomes))
    return Coverage(label, len(outcomes), hits, low, high)


def relative_bias(outcomes: Sequence[CampaignOutcome]) -> tuple[float, float]:
    """Return Σ(estimate − truth) ÷ Σ truth and its standard error, treating worlds as independent
    clusters (campaigns of one world share users): the linearized ratio-estimator variance
    W/(W−1) Σ_w (d_w − bias·t_w)² / (Σ t)² with d_w, t_w the world's sums. NaN when Σ truth = 0."""
    diff: dict[int, float] = {}
    true: dict[int, float] = {}
    for o in outcomes:
        diff[o.seed] = diff.get(o.seed, 0.0) + o.estimate - o.truth
        true[o.seed] = true.get(o.seed, 0.0) + o.truth
    d_w = np.array(list(diff.values()))
    t_w = np.array([true[s] for s in diff])
    total = float(t_w.sum())
    if total == 0.0:
        return math.nan, math.nan
    bias = float(d_w.sum()) / total
    w = len(d_w)
    if w < 2:
        return bias, math.nan
    resid = d_w - bias * t_w
    return bias, math.sqrt(w / (w - 1) * float((resid * resid).sum())) / total


def summarize(
    outcomes: Sequence[CampaignOutcome], config: StudyConfig, seconds: float = math.nan
) -> StudySummary:
    """Return the study's figures over ``outcomes`` (see :class:`StudySummary`)."""
    strata = tuple(
        _coverage(label, [o for o in outcomes if lo <= o.orders_control <= hi])
        for label, lo, hi in CONTROL_STRATA
    )
    bias, bias_se = relative_bias(outcomes)
    n = len(outcomes)
    return StudySummary(
        config=config,
        worlds=len({o.seed for o in outcomes}),
        overall=_coverage("all campaigns", outcomes),
        strata=strata,
        bias=bias,
        bias_se=bias_se,
        mean_width=float(np.mean([o.high - o.low for o in outcomes])) if n else math.nan,
        mean_truth=float(np.mean([o.truth for o in outcomes])) if n else math.nan,
        mean_estimate=float(np.mean([o.estimate for o in outcomes])) if n else math.nan,
        srm_flagged=float(np.mean([o.srm_flag for o in outcomes])) if n else math.nan,
        seconds=seconds,
    )


def title(summary: StudySummary) -> str:
    """One line naming the study."""
    c = summary.config
    return (
        f"Campaign lift on the simulator — {summary.worlds} worlds × {c.users:,} users × "
        f"{c.days} days, window +{c.window} d, {1 - c.alpha:.0%} intervals"
    )


def rows(summary: StudySummary) -> list[tuple[str, str, str]]:
    """The study's table as (figure, value, target) text rows."""
    o = summary.overall
    out = [
        ("campaigns", f"{o.campaigns:,}", "—"),
        (
            "coverage of true incremental orders",
            f"{o.share:.1%} ({o.hits}/{o.campaigns}; band {o.low:.1%}–{o.high:.1%})",
            "93–97%",
        ),
    ]
    for s in summary.strata:
        value = f"{s.share:.1%} ({s.hits}/{s.campaigns})" if s.campaigns else "– (no campaigns)"
        out.append((f"  coverage, {s.label}", value, "—"))
    out += [
        (
            "bias: Σ(estimate − truth) ÷ Σ truth",
            f"{summary.bias:+.2%} ± {summary.bias_se:.2%} (MC s.e.)",
            "within ±2%",
        ),
        (
            "mean true / estimated incremental orders",
            f"{summary.mean_truth:.2f} / {summary.mean_estimate:.2f}",
            "—",
        ),
        ("mean 95% interval width (orders)", f"{summary.mean_width:.2f}", "—"),
        ("campaigns flagged for SRM", f"{summary.srm_flagged:.1%}", "≈ 0.1% (alpha)"),
        ("wall time", f"{summary.seconds:.0f} s ({summary.config.workers} processes)", "—"),
    ]
    return out


def rich_table(summary: StudySummary) -> Table:
    """The study's table for the terminal."""
    table = Table(title=title(summary))
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    for row in rows(summary):
        table.add_row(*row)
    return table


def markdown(summary: StudySummary) -> str:
    """The study's table as Markdown (for bench/RESULTS.md)."""
    lines = [f"### {title(summary)}", "", "| figure | value | target |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(summary)]
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> StudyConfig:
    """Parse the command line into a :class:`StudyConfig`."""
    p = argparse.ArgumentParser(
        prog="python -m bench.lift_coverage", description=__doc__.splitlines()[0]
    )
    p.add_argument("--worlds", type=int, default=200, help="simulated worlds (default 200)")
    p.add_argument("--users", type=int, default=100_000, help="people per world (default 100k)")
    p.add_argument("--days", type=int, default=30, help="days per world (default 30)")
    p.add_argument("--first-seed", type=int, default=0, help="seed of the first world")
    p.add_argument("--window", type=int, help="outcome window in days (default: --days)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    p.add_argument("--workdir", type=Path, help="parent folder for temporary worlds")
    a = p.parse_args(argv)
    return StudyConfig(
        worlds=a.worlds,
        users=a.users,
        first_seed=a.first_seed,
        days=a.days,
        window_days=a.window,
        workers=a.workers,
        workdir=a.workdir,
    )


def study(config: StudyConfig, console: Console) -> StudySummary:
    """Run the study, print its table and return its summary."""
    console.print(f"[bold]Lift coverage[/]: {config.worlds} worlds of {config.users:,} users")
    began = time.perf_counter()
    outcomes = run_study(config, say=console.print)
    summary = summarize(outcomes, config, time.perf_counter() - began)
    console.print(rich_table(summary))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study from the command line, print the Rich table and its Markdown; return 0."""
    config = parse(argv)
    console = Console() if sys.stdout.isatty() else Console(width=120)
    summary = study(config, console)
    console.print(markdown(summary), markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
