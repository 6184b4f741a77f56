"""``redcat paths export``: the per-journey table users feed to their own models."""

from __future__ import annotations

from pathlib import Path

import typer

from redcat.attribution.pipeline import aggregate_paths, journey_frame, journey_rows
from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, console
from redcat.engine import open_engine
from redcat.errors import ConfigError
from redcat.match.accounts import authorize
from redcat.settings import Windows


def export_cmd(
    brand: str = typer.Option(..., "--brand", help="Brand whose journeys to export."),
    out: Path = typer.Option(..., "--out", help="Output file (.csv, .parquet or .jsonl)."),
    aggregate: bool = typer.Option(
        False,
        "--aggregate",
        help="Write distinct paths with total_conversions, total_conversion_value and "
        "total_null (the form `redcat paths attribute` reads) instead of one row per journey.",
    ),
    click_days: int = typer.Option(Windows.click_days, help="Click-through window (days)."),
    view_days: int = typer.Option(Windows.view_days, help="View-through window (days)."),
    store: StoreOption = DEFAULT_STORE_PATH,
) -> None:
    """Write one row per user journey of a brand (converting or not) with its touches in order."""
    windows = Windows(click_days=click_days, view_days=view_days)
    with open_engine(store, read_only=True) as engine:
        authorize(engine, brand)  # the brand's three-party account scopes what it sees
        frame = journey_frame(journey_rows(engine, brand, windows), brand)
    if aggregate:
        frame = aggregate_paths(frame)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(out, index=False, sep=";" if aggregate else ",")
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".jsonl":
        frame.to_json(out, orient="records", lines=True, date_format="iso", force_ascii=False)
    else:
        raise ConfigError(f"--out {out}: use a .csv, .parquet or .jsonl file name")
    console.print(
        f"wrote {len(frame):,} {'paths' if aggregate else 'journeys'} to {out}", soft_wrap=True
    )
