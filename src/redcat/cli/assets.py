"""``redcat assets``: a brand's AIPS audience assets (人群资产) from the store — stage sizes on
the period's first and last day, the daily stage sizes, the flow matrix between the two days
(流转), the I→P conversion rate and the assets each note added (:mod:`redcat.assets`)."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
import typer

from redcat.assets import STAGES, AudienceAssets, audience_assets
from redcat.cli.common import (
    DEFAULT_STORE_PATH,
    StoreOption,
    TableFormat,
    console,
    frame_records,
    print_frame,
    rich_table,
)
from redcat.engine import open_engine
from redcat.errors import ConfigError
from redcat.match.accounts import authorize
from redcat.settings import Settings


class View(StrEnum):
    """Which table to show."""

    all = "all"
    summary = "summary"
    daily = "daily"
    flows = "flows"
    notes = "notes"


def parse_day(value: str | None, option: str) -> date | None:
    """Return ``value`` (YYYY-MM-DD) as a date, None when absent; raises :class:`ConfigError`."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option} must be a date as YYYY-MM-DD, not {value!r}") from None


def daily_wide(sizes: pd.DataFrame) -> pd.DataFrame:
    """Return :meth:`AudienceAssets.stage_sizes` as one row per date, one column per stage."""
    wide = sizes.pivot(index="date", columns="stage", values="users")
    wide = wide[["none", *STAGES]].reset_index()
    wide.columns.name = None
    return wide


def flow_matrix(flows: pd.DataFrame) -> pd.DataFrame:
    """Return the long flow frame as a matrix: one row per ``from_stage``, one column per
    ``to_stage`` (stage order none, A, I, P, S)."""
    order = ["none", *STAGES]
    wide = flows.pivot(index="from_stage", columns="to_stage", values="users")
    wide = wide.reindex(index=order, columns=order).reset_index()
    wide.columns.name = None
    return wide


def _views(assets: AudienceAssets, start: date, end: date, view: View) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    if view in (View.all, View.summary):
        frames["summary"] = assets.summary(start, end)
    if view in (View.all, View.daily):
        frames["daily"] = daily_wide(assets.stage_sizes(start, end))
    if view in (View.all, View.flows):
        frames["flows"] = assets.flows(start, end)
    if view in (View.all, View.notes):
        frames["notes"] = assets.note_assets_wide(start, end)
    return frames


def assets_cmd(
    brand: Annotated[str, typer.Option("--brand", help="The brand whose audience to measure.")],
    start_day: Annotated[
        str | None,
        typer.Option("--from", help="First day, YYYY-MM-DD (default: the brand's first note)."),
    ] = None,
    end_day: Annotated[
        str | None,
        typer.Option("--to", help="Last day, YYYY-MM-DD (default: the last day of data)."),
    ] = None,
    view: Annotated[
        View, typer.Option("--view", help="Which table; csv needs one (not all).")
    ] = View.all,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: Annotated[
        TableFormat, typer.Option("--format", help="Output format.")
    ] = TableFormat.table,
) -> None:
    """AIPS audience assets of a brand: stage sizes, flows (流转), I→P rate, assets per note."""
    if fmt is TableFormat.csv and view is View.all:
        raise ConfigError("--format csv prints one table: choose --view summary|daily|flows|notes")
    settings = Settings()
    with open_engine(store, read_only=True) as engine:
        authorize(engine, brand)  # the brand's three-party account scopes what it sees
        assets = audience_assets(engine, brand, settings.assets)
        start, end = assets.period(parse_day(start_day, "--from"), parse_day(end_day, "--to"))
        frames = _views(assets, start, end, view)
        conversion = assets.conversion(start, end)
        population = assets.population
    if fmt is TableFormat.csv:
        (frame,) = frames.values()
        print_frame(frame, fmt)
        return
    if fmt is TableFormat.json:
        doc: dict[str, Any] = {
            "brand_id": brand,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "population": population,
            "i_to_p": {
                "interest_users": conversion.interest_users,
                "converted_users": conversion.converted_users,
                "rate": conversion.rate,
            },
        }
        doc.update({name: frame_records(frame) for name, frame in frames.items()})
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    titles = {
        "summary": f"{brand}: audience stages on {start} and {end} ({population:,} matched people)",
        "daily": f"{brand}: people per stage and day",
        "flows": f"{brand}: flows (流转) from {start} to {end}, from_stage → to_stage",
        "notes": f"{brand}: assets each note added, {start} – {end} (people entering a stage)",
    }
    for name, frame in frames.items():
        shown = flow_matrix(frame) if name == "flows" else frame
        console.print(rich_table(shown, title=titles[name]))
    rate = "–" if conversion.rate is None else f"{conversion.rate:.2%}"
    console.print(
        f"I→P: {conversion.converted_users:,} of {conversion.interest_users:,} people in I "
        f"ordered later in the period ({rate})."
    )
