"""``redcat lift table``: test − control lift (增量) per arm and outcome of a CSV or Parquet file;
``redcat lift campaigns``: the holdout lift of a brand's boosted campaigns in the store
(:mod:`redcat.lift.campaign`).

One row per test arm and outcome with unit counts, per-unit means, absolute lift (Welch interval),
relative lift (delta-method interval), p-value, incremental total, minimum detectable effect,
underpowered and sample-ratio-mismatch flags, and optional bootstrap intervals. See
:mod:`redcat.lift.table` for the columns and :mod:`redcat.lift.stats` for the estimators.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from redcat.cli.common import (
    DEFAULT_STORE_PATH,
    StoreOption,
    TableFormat,
    console,
    print_frame,
    rich_table,
)
from redcat.engine import open_engine
from redcat.errors import ConfigError
from redcat.lift.campaign import campaign_lift, campaign_lift_by
from redcat.lift.table import LiftOptions, lift_table, parse_ratio, read_table
from redcat.match.accounts import authorize
from redcat.settings import LiftSettings, Windows

lift_app = typer.Typer(
    help="Incremental lift (增量) of randomized test arms over a control arm.",
    no_args_is_help=True,
)

_DEFAULTS = LiftSettings()
_WINDOWS = Windows()


@lift_app.command("table")
def table_cmd(
    input_path: Annotated[
        Path,
        typer.Option("--input", help="CSV or Parquet file, one row per unit.", show_default=False),
    ],
    arm_col: Annotated[
        str, typer.Option("--arm-col", help="Column naming each unit's arm.", show_default=False)
    ],
    control: Annotated[
        str,
        typer.Option("--control", help="Value of the arm column for control.", show_default=False),
    ],
    outcome: Annotated[
        list[str],
        typer.Option("--outcome", help="Numeric outcome column (repeatable).", show_default=False),
    ],
    test: Annotated[
        list[str] | None,
        typer.Option(
            "--test", help="Test arm value (repeatable; default every non-control value)."
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for percentile CIs (0: none).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Two-sided level: 0.05 gives 95% intervals.")
    ] = _DEFAULTS.alpha,
    expected_ratio: Annotated[
        str,
        typer.Option(
            "--expected-ratio", help="Expected test:control split of units for the SRM check."
        ),
    ] = "1:1",
    fmt: Annotated[
        TableFormat, typer.Option("--format", help="Output format.")
    ] = TableFormat.table,
) -> None:
    """Lift of each test arm over control, per outcome, with intervals, power and SRM checks."""
    options = LiftOptions(
        alpha=alpha, bootstrap=bootstrap, seed=seed, expected_ratio=parse_ratio(expected_ratio)
    )
    frame = read_table(input_path)
    result = lift_table(
        frame,
        arm_col=arm_col,
        control=control,
        outcomes=outcome,
        tests=test or None,
        options=options,
        source=str(input_path),
    )
    title = f"lift over {control!r} ({1 - alpha:.0%} intervals)"
    if fmt is TableFormat.table:
        console.print(rich_table(compact(result), title=title))
    else:
        print_frame(result, fmt)


class Breakdown(StrEnum):
    """What ``redcat lift campaigns --by`` breaks campaigns down by."""

    retailer = "retailer"
    note_type = "note_type"
    creator = "creator"


@lift_app.command("campaigns")
def campaigns_cmd(
    brand: Annotated[str, typer.Option("--brand", help="The brand whose campaigns to measure.")],
    days: Annotated[
        int,
        typer.Option("--days", help="Outcome window: days after a campaign's last spend date."),
    ] = _WINDOWS.funnel_days,
    by: Annotated[
        Breakdown | None,
        typer.Option(
            "--by",
            help="Break down by retailer (per campaign), note type or creator (campaign groups).",
        ),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option("--bootstrap", help="Bootstrap resamples for percentile CIs (0: none)."),
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    exposure_adjusted: Annotated[
        bool,
        typer.Option(
            "--exposure-adjusted",
            help="Show the lift per reached test user (ITT ÷ reach; csv/json always carry it).",
        ),
    ] = False,
    control_share: Annotated[
        float | None,
        typer.Option(
            "--control-share",
            help="Design share of control for the SRM check "
            "(default: each campaign's split in the randomized holdouts list).",
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Two-sided level: 0.05 gives 95% intervals.")
    ] = _DEFAULTS.alpha,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: Annotated[
        TableFormat, typer.Option("--format", help="Output format.")
    ] = TableFormat.table,
) -> None:
    """Holdout lift of each boosted campaign of a brand: incremental orders, GMV and iROAS."""
    if days < 0:
        raise ConfigError("--days must be 0 or more")
    if control_share is not None and not 0.0 < control_share < 1.0:
        raise ConfigError("--control-share must be between 0 and 1")
    if not 0.0 < alpha < 1.0:
        raise ConfigError("--alpha must lie strictly between 0 and 1")
    if bootstrap < 0:
        raise ConfigError("--bootstrap must be 0 or more")
    if by is not None and bootstrap:
        raise ConfigError("--bootstrap applies to the per-campaign table, not to --by")
    with open_engine(store, read_only=True) as engine:
        authorize(engine, brand)  # the brand's three-party account scopes what it sees
        if by is None:
            result = campaign_lift(
                engine,
                brand,
                window_days=days,
                alpha=alpha,
                control_share=control_share,
                bootstrap=bootstrap,
                seed=seed,
            )
        else:
            result = campaign_lift_by(
                engine,
                brand,
                by.value,
                window_days=days,
                alpha=alpha,
                control_share=control_share,
            )
    if fmt is not TableFormat.table:
        print_frame(result, fmt)
        return
    level = f"{1 - alpha:.0%} intervals, +{days} d"
    if by is None:
        title = f"{brand}: holdout lift per campaign ({level})"
        view = compact_campaigns(result, exposure_adjusted=exposure_adjusted)
    elif by is Breakdown.retailer:
        title = f"{brand}: holdout lift per campaign and retailer ({level})"
        view = compact_campaigns(result, key="retailer_id")
    else:
        title = f"{brand}: holdout lift per {by.value.replace('_', ' ')} ({level})"
        view = compact_groups(result, "note_type" if by is Breakdown.note_type else "creator_id")
    console.print(rich_table(view, title=title))


def _flags(under: pd.Series, srm: pd.Series) -> list[str]:
    return [
        ", ".join(w for w, on in (("underpowered", u), ("SRM", m)) if on) or "–"
        for u, m in zip(under, srm, strict=True)
    ]


def _intervals(result: pd.DataFrame, name: str) -> list[str]:
    return [
        _interval(lo, hi)
        for lo, hi in zip(result[f"{name}_low"], result[f"{name}_high"], strict=True)
    ]


def compact_campaigns(
    result: pd.DataFrame, *, key: str | None = None, exposure_adjusted: bool = False
) -> pd.DataFrame:
    """Return the campaign lift in a terminal-sized form: intervals folded into text cells,
    relative lift in percent, flags as words (csv and json keep every column). ``key`` adds a
    second id column (``retailer_id`` for the retailer breakdown); ``exposure_adjusted`` adds
    reach and the lift per reached test user; bootstrap intervals appear when present."""
    out = pd.DataFrame({"campaign": result["campaign_id"]})
    if key is not None:
        out[key.removesuffix("_id")] = result[key]
    out["n_test"] = result["n_test"]
    out["n_control"] = result["n_control"]
    out["orders/user test"] = [_num(v) for v in result["mean_orders_test"]]
    out["orders/user control"] = [_num(v) for v in result["mean_orders_control"]]
    out["rel_lift"] = [f"{v:+.1%}" for v in result["rel_lift_orders"]]
    out["p_value"] = [f"{p:.3g}" for p in result["p_value_orders"]]
    out["incr. orders"] = [_num(v) for v in result["incremental_orders"]]
    out["incr. orders CI"] = _intervals(result, "incremental_orders")
    if "incremental_orders_boot_low" in result.columns:
        out["boot CI"] = _intervals(result, "incremental_orders_boot")
    out["incr. GMV"] = [_num(v) for v in result["incremental_gmv"]]
    out["spend"] = result["spend"]
    out["iROAS"] = [_num(v) for v in result["iroas"]]
    out["iROAS CI"] = _intervals(result, "iroas")
    if "iroas_boot_low" in result.columns:
        out["iROAS boot CI"] = _intervals(result, "iroas_boot")
    out["flags"] = _flags(result["underpowered"], result["srm_flag"])
    if exposure_adjusted and "reach_test" in result.columns:
        # a focused view: the ITT figures the adjustment starts from, reach, and the result
        keep = ["campaign", "n_test", "n_control", "rel_lift", "incr. orders", "incr. orders CI"]
        flags = out["flags"]
        out = out[keep].copy()
        out["reach test"] = [f"{v:.1%}" for v in result["reach_test"]]
        out["reach control"] = [f"{v:.1%}" for v in result["reach_control"]]
        out["orders lift/reached user"] = [_num(v) for v in result["exposed_lift_orders"]]
        out["CI"] = _intervals(result, "exposed_lift_orders")
        out["GMV lift/reached user"] = [_num(v) for v in result["exposed_lift_gmv"]]
        out["flags"] = flags
    return out


def compact_groups(result: pd.DataFrame, key: str) -> pd.DataFrame:
    """Return the note-type or creator breakdown in a terminal-sized form."""
    return pd.DataFrame(
        {
            key.removesuffix("_id"): result[key],
            "campaigns": result["campaigns"],
            "n_test": result["n_test"],
            "n_control": result["n_control"],
            "incr. orders": [_num(v) for v in result["incremental_orders"]],
            "incr. orders CI": _intervals(result, "incremental_orders"),
            "p_value": [f"{p:.3g}" for p in result["p_value_orders"]],
            "incr. GMV": [_num(v) for v in result["incremental_gmv"]],
            "spend": result["spend"],
            "iROAS": [_num(v) for v in result["iroas"]],
            "iROAS CI": _intervals(result, "iroas"),
            "flags": _flags(result["underpowered"], result["srm_flag"]),
        }
    )


def _interval(low: float, high: float, *, percent: bool = False) -> str:
    if percent:
        return f"{low:+.1%} … {high:+.1%}"
    return f"{_num(low)} … {_num(high)}"


def _num(value: float) -> str:
    # five significant digits: per-unit rates such as 0.18276 keep the precision they are quoted at
    return f"{float(value):.5g}"


def compact(result: pd.DataFrame) -> pd.DataFrame:
    """Return the lift table in a terminal-sized form: each interval folded into one text cell,
    relative lift in percent, and the two flags as words (csv and json keep every column)."""
    out = pd.DataFrame(
        {
            "arm": result["arm"],
            "outcome": result["outcome"],
            "n_test": result["n_test"],
            "n_control": result["n_control"],
            "mean_test": [_num(v) for v in result["mean_test"]],
            "mean_control": [_num(v) for v in result["mean_control"]],
            "abs_lift": [_num(v) for v in result["abs_lift"]],
            "abs_lift CI": [
                _interval(lo, hi)
                for lo, hi in zip(result["abs_lift_low"], result["abs_lift_high"], strict=True)
            ],
            "rel_lift": [f"{v:+.1%}" for v in result["rel_lift"]],
            "rel_lift CI": [
                _interval(lo, hi, percent=True)
                for lo, hi in zip(result["rel_lift_low"], result["rel_lift_high"], strict=True)
            ],
            "p_value": [f"{p:.3g}" for p in result["p_value"]],
            "incremental": result["incremental_total"],
            "mde": [_num(v) for v in result["mde"]],
            "flags": [
                ", ".join(w for w, on in (("underpowered", u), ("SRM", m)) if on) or "–"
                for u, m in zip(result["underpowered"], result["srm"], strict=True)
            ],
        }
    )
    if "abs_lift_boot_low" in result.columns:
        out["abs_lift boot CI"] = [
            _interval(lo, hi)
            for lo, hi in zip(
                result["abs_lift_boot_low"], result["abs_lift_boot_high"], strict=True
            )
        ]
    return out
