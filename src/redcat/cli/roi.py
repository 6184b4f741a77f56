"""``redcat roi``: decision-cycle ROI(T+x) of a brand beside fixed windows
(:mod:`redcat.attribution.roi`).

As a table: one table per level (brand, campaign, and note with ``--level note``), one row per id
with spend and GMV and ROI per window. As csv or json: the long frame, one row per level, id
and window (level, id, window, days, decision_cycle, orders, gmv, spend, roi).
"""

from __future__ import annotations

from typing import Annotated

import typer

from redcat.attribution.roi import LEVELS, roi_plan, roi_wide, roi_windows
from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, TableFormat, console, print_frame
from redcat.cli.paths import FormatOption, Model, note
from redcat.engine import open_engine
from redcat.errors import ConfigError
from redcat.match.accounts import authorize
from redcat.settings import Settings


def roi_cmd(
    brand: Annotated[
        str, typer.Option("--brand", help="The brand to measure.", show_default=False)
    ],
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="The brand's category, whose decision cycle is x in ROI(T+x) (settings: "
            "skincare 29, makeup 15, baby_food 70, ...). Default: the funnel window.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        Model | None,
        typer.Option(
            "--model",
            help="Attribution model (default: settings' report model).",
            show_default=False,
        ),
    ] = None,
    level: Annotated[
        list[str] | None,
        typer.Option(
            "--level",
            help="brand, campaign or note (repeatable; default: brand and campaign).",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """ROI(T+x): attributed GMV ÷ spend, orders counted up to x days after the touch, x the
    category's decision cycle, beside the fixed windows (settings roi_fixed_days)."""
    levels = tuple(level or ("brand", "campaign"))
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        raise ConfigError(f"--level must be one of {', '.join(LEVELS)} (got {', '.join(unknown)})")
    settings = Settings(store=store)
    plan = roi_plan(settings, category)
    if category is None:
        note(f"no --category: the decision-cycle window is the funnel window, {plan[0].label}")
    with open_engine(store, read_only=True) as engine:
        authorize(engine, brand)  # the brand's three-party account scopes what it sees
        long = roi_windows(
            engine,
            brand,
            settings,
            model=model.value if model is not None else None,
            windows=plan,
        )
    long = long[long["level"].isin(levels)].reset_index(drop=True)
    used = model.value if model is not None else settings.attribution.report_model
    if fmt is not TableFormat.table:
        print_frame(long, fmt)
        return
    cycle = f"{plan[0].label} = {category} decision cycle" if category else plan[0].label
    for lv in levels:
        title = f"{brand}: ROI per {lv} ({used} touch; {cycle})"
        print_frame(roi_wide(long, lv), TableFormat.table, title=title)
    console.print(
        "ROI = attributed GMV ÷ spend; T+x counts orders up to x days after the touch.",
        highlight=False,
    )
