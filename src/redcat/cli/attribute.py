"""``redcat attribute events``: attribution over user-level touches and conversions.

Prints two tables: each conversion's credited touches (user_id, conversion_ts, ad_id, touch_ts,
is_click, credit, value), then per-ad totals (ad_id, conversions, value) ending with an
``(unattributed)`` row for conversions that had no eligible touch. As csv the two tables are
separated by one blank line, each with its header; as json one object
``{"conversions": [...], "totals": [...]}``. With ``--output-dir`` they are written to
``conversions.<csv|json>`` and ``totals.<csv|json>`` there instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from redcat.attribution.events import (
    ad_totals,
    conversion_credits,
    journeys_from_events,
    parse_window,
    read_conversions,
    read_touches,
)
from redcat.attribution.models import attribute
from redcat.cli.common import TableFormat, console, frame_records, rich_table
from redcat.cli.paths import FormatOption, HalfLifeOption, ModelOption, OrderOption, note
from redcat.errors import ConfigError
from redcat.settings import AttributionSettings, Windows

attribute_app = typer.Typer(
    help="Attribution over user-level touches and conversions (click and view windows).",
    no_args_is_help=True,
)

_DEFAULT_WINDOWS = Windows()


def _integral_times(frame: pd.DataFrame) -> pd.DataFrame:
    """Show epoch seconds without a trailing .0 when every time is a whole second."""
    out = frame.copy()
    for col in ("conversion_ts", "touch_ts"):
        values = out[col].dropna()
        if len(values) and (values % 1 == 0).all():
            out[col] = out[col].astype("Int64")
    return out


@attribute_app.command("events")
def events_cmd(
    touches: Annotated[
        Path,
        typer.Option(
            "--touches",
            help="CSV: user_id, ts (epoch seconds), ad_id, is_click (0/1/true/false).",
            show_default=False,
        ),
    ],
    conversions: Annotated[
        Path,
        typer.Option(
            "--conversions",
            help="CSV: user_id, ts (epoch seconds), value.",
            show_default=False,
        ),
    ],
    model: ModelOption,
    click_window: Annotated[
        str,
        typer.Option("--click-window", help="How long a click stays creditable (s, m, h, d)."),
    ] = f"{_DEFAULT_WINDOWS.click_days}d",
    view_window: Annotated[
        str,
        typer.Option("--view-window", help="How long a view stays creditable (s, m, h, d)."),
    ] = f"{_DEFAULT_WINDOWS.view_days}d",
    order: OrderOption = None,
    half_life: HalfLifeOption = None,
    fmt: FormatOption = TableFormat.csv,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            help="Write conversions.<fmt> and totals.<fmt> here instead of printing.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Credit each conversion to the touches in its click and view windows, with one model."""
    if order is not None and model.value != "markov":
        raise ConfigError("--order applies only to --model markov")
    if half_life is not None and not half_life > 0:
        raise ConfigError("--half-life must be a positive number of days")
    if output_dir is not None and fmt is TableFormat.table:
        raise ConfigError("--output-dir writes csv or json; choose --format csv or json")
    events = journeys_from_events(
        read_touches(touches),
        read_conversions(conversions),
        click_window_s=parse_window(click_window),
        view_window_s=parse_window(view_window),
    )
    result = attribute(
        events.table,
        model.value,
        order=order,
        half_life_days=half_life,
        settings=AttributionSettings(),
    )
    notes = list(result.notes)
    if model.value == "markov":
        notes.append(
            "markov credits globally: each conversion's rows split it by its ads' removal "
            "effects; the totals are the model's own split"
        )
    for message in notes:
        note(message)
    per_conversion = _integral_times(conversion_credits(events, result))
    totals = ad_totals(events, result)
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        for name, frame in (("conversions", per_conversion), ("totals", totals)):
            target = output_dir / f"{name}.{fmt.value}"
            if fmt is TableFormat.csv:
                frame.to_csv(target, index=False)
            else:
                target.write_text(json.dumps(frame_records(frame), ensure_ascii=False, indent=2))
            note(f"wrote {target}")
        return
    if fmt is TableFormat.json:
        payload = {"conversions": frame_records(per_conversion), "totals": frame_records(totals)}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    elif fmt is TableFormat.csv:
        typer.echo(per_conversion.to_csv(index=False))
        typer.echo(totals.to_csv(index=False), nl=False)
    else:
        console.print(rich_table(per_conversion, title="credited touches"))
        console.print(rich_table(totals, title=f"{model.value} totals by ad"))
