"""``redcat attribute events``: attribution over user-level touches and conversions;
``redcat attribute calibrated``: a brand's per-note credits calibrated to its holdout lift
(:mod:`redcat.attribution.calibrate`).

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
from typing import Annotated, cast

import pandas as pd
import typer

from redcat.attribution.calibrate import (
    POOLINGS,
    Pooling,
    Uncalibrated,
    calibrate_brand,
    calibration_scores,
    model_credits,
)
from redcat.attribution.events import (
    ad_totals,
    conversion_credits,
    journeys_from_events,
    parse_window,
    read_conversions,
    read_touches,
)
from redcat.attribution.models import MODELS, attribute
from redcat.attribution.pipeline import journey_rows, journey_table
from redcat.cli.common import (
    DEFAULT_STORE_PATH,
    StoreOption,
    TableFormat,
    console,
    frame_records,
    rich_table,
)
from redcat.cli.paths import (
    FormatOption,
    HalfLifeOption,
    Model,
    ModelOption,
    OrderOption,
    note,
)
from redcat.engine import open_engine
from redcat.errors import ConfigError
from redcat.match.accounts import authorize
from redcat.report.assemble import load_truth
from redcat.settings import AttributionSettings, Settings, Windows

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


@attribute_app.command("calibrated")
def calibrated_cmd(
    brand: Annotated[
        str, typer.Option("--brand", help="The brand to measure.", show_default=False)
    ],
    model: Annotated[
        Model | None,
        typer.Option("--model", help="One model (default: every model).", show_default=False),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="A simulator's truth/note_truth.csv: adds each model's WAPE, raw vs calibrated.",
            show_default=False,
        ),
    ] = None,
    pooling: Annotated[
        str | None,
        typer.Option(
            "--pooling",
            help="none: each campaign's own holdout estimate; spend: estimates shrunk toward "
            "the brand's incremental orders per spend (default: settings).",
            show_default=False,
        ),
    ] = None,
    uncalibrated: Annotated[
        str,
        typer.Option(
            "--uncalibrated",
            help="Notes outside any holdout campaign: raw (left as credited) or brand (the "
            "brand's pooled factor).",
        ),
    ] = "raw",
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            help="Holdout outcome window: days after each campaign's last spend date "
            "(default: settings).",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Each model's per-note credits scaled per campaign to the holdout's incremental orders.

    Prints one row per model, note and campaign part (raw, calibrated, interval, factor,
    status) and, with --truth, each model's WAPE against true incremental orders, raw vs
    calibrated. As csv the two tables are separated by a blank line; as json one object
    {"credits": [...], "scores": [...]}."""
    if pooling is not None and pooling not in POOLINGS:
        raise ConfigError(f"--pooling must be one of {', '.join(POOLINGS)}")
    if uncalibrated not in ("raw", "brand"):
        raise ConfigError("--uncalibrated must be raw or brand")
    if days is not None and days < 0:
        raise ConfigError("--days must be 0 or more")
    settings = Settings(store=store)
    models = (model.value,) if model is not None else MODELS
    with open_engine(store, read_only=True) as engine:
        authorize(engine, brand)  # the brand's three-party account scopes what it sees
        table = journey_table(journey_rows(engine, brand, settings.windows))
        credits, model_notes = model_credits(table, models, settings.attribution)
        result = calibrate_brand(
            engine,
            brand,
            credits,
            settings,
            window_days=days,
            pooling=cast(Pooling | None, pooling),
            uncalibrated=cast(Uncalibrated, uncalibrated),
        )
        notes_table = engine.table("notes")
        brand_notes = set(
            engine.execute(notes_table.filter(notes_table.brand_id == brand).select("note_id"))[
                "note_id"
            ]
        )
    for message in (*model_notes, *result.notes):
        note(message)
    scores = None
    if truth is not None:
        frame = load_truth(truth)
        per_note_truth = frame[frame["note_id"].isin(brand_notes)]
        scores = calibration_scores(
            result.credits, per_note_truth.set_index("note_id")["true_incremental_orders"]
        )
    if fmt is TableFormat.json:
        payload: dict[str, object] = {"credits": frame_records(result.credits)}
        if scores is not None:
            payload["scores"] = frame_records(scores)
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    elif fmt is TableFormat.csv:
        typer.echo(result.credits.to_csv(index=False), nl=scores is not None)
        if scores is not None:
            typer.echo(scores.to_csv(index=False), nl=False)
    else:
        console.print(rich_table(_targets_view(result.targets), title=f"{brand}: holdout targets"))
        console.print(rich_table(result.credits, title=f"{brand}: calibrated credits"))
        if scores is not None:
            console.print(rich_table(scores, title="WAPE against truth: raw vs calibrated"))


def _targets_view(targets: pd.DataFrame) -> pd.DataFrame:
    """The campaign targets with the measured interval and the target interval folded."""
    return pd.DataFrame(
        {
            "campaign": targets["campaign_id"],
            "measured": targets["measured"],
            "measured CI": [
                f"{lo:.4g} … {hi:.4g}"
                for lo, hi in zip(targets["measured_low"], targets["measured_high"], strict=True)
            ],
            "target": targets["target"],
            "target CI": [
                f"{lo:.4g} … {hi:.4g}"
                for lo, hi in zip(targets["target_low"], targets["target_high"], strict=True)
            ],
            "clipped": ["yes" if c else "–" for c in targets["clipped"]],
        }
    )
