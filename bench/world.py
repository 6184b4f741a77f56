"""World pipeline at scale: simulate → ingest → match → funnel → journeys → every model, timed.

The stages are those of ``redcat demo`` (:mod:`redcat.cli.demo`), called one by one so each gets
its own clock. Every stage runs once; seconds are wall-clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb
import pandas as pd

from bench.records import Stage, cold, timed
from redcat.attribution.journeys import JourneyTable
from redcat.attribution.models import MODELS
from redcat.attribution.pipeline import journey_rows, journey_table, note_credits
from redcat.engine import open_engine
from redcat.funnel import brand_funnel
from redcat.ingest.load import FileReport, ingest_party
from redcat.match import run_direct_match
from redcat.settings import AttributionSettings, Settings
from redcat.simulate import WorldConfig, simulate_world

Say = Callable[[str], None]


@dataclass(frozen=True)
class WorldBench:
    """The world to build: ``users`` people over ``days`` days, ``brands`` brands each publishing
    ``notes_per_day`` notes a day, ``retailers`` retailers; written as Parquet."""

    users: int = 1_000_000
    days: int = 30
    brands: int = 3
    retailers: int = 2
    notes_per_day: float = 2.0
    seed: int = 7
    repeat: int = 3

    def config(self) -> WorldConfig:
        """The simulator's configuration for this world."""
        return WorldConfig(
            users=self.users,
            days=self.days,
            brands=self.brands,
            retailers=self.retailers,
            seed=self.seed,
            notes_per_brand_per_day=self.notes_per_day,
        )


def run_world(bench: WorldBench, workdir: Path, say: Say) -> list[Stage]:
    """Build the world under ``workdir``, run the pipeline on it and return one :class:`Stage`
    per step (per brand for funnel, journeys and each model)."""
    stages: list[Stage] = []

    def add(stage: Stage) -> None:
        stages.append(stage)
        rate = f"{stage.per_second:,.0f} {stage.unit}/s" if stage.per_second else ""
        who = f" [{stage.brand}]" if stage.brand else ""
        say(f"  {stage.stage}{who}: {stage.rows:,} {stage.unit} in {stage.seconds:.2f} s {rate}")

    world_dir = workdir / "world"
    settings = Settings(store=workdir / "bench.duckdb")
    summary, secs = timed(lambda: simulate_world(bench.config(), world_dir, fmt="parquet"))
    written = sum(f.rows for f in summary.files)
    add(
        Stage(
            "simulate",
            written,
            "rows",
            secs,
            detail=f"{summary.content_events:,} content events, "
            f"{summary.commerce_events:,} commerce events, {summary.notes} notes, "
            f"{summary.orders:,} orders (all files, Parquet)",
        )
    )

    retailer_dirs = sorted(p for p in (world_dir / "retailers").iterdir() if p.is_dir())
    with open_engine(settings.store) as engine:
        reports, secs = timed(lambda: ingest_party(engine.duck, "content", world_dir / "content"))
        add(
            Stage(
                "ingest content",
                sum(r.rows for r in reports),
                "rows",
                secs,
                detail=_loaded(reports),
            )
        )
        for rdir in retailer_dirs:
            reports, secs = timed(
                partial(ingest_party, engine.duck, "retailer", rdir, retailer_id=rdir.name)
            )
            add(
                Stage(
                    f"ingest {rdir.name}",
                    sum(r.rows for r in reports),
                    "rows",
                    secs,
                    detail=_loaded(reports),
                )
            )

        match, secs = timed(lambda: run_direct_match(engine.duck, settings.match_salt))
        add(
            Stage(
                "match",
                match.content_rows + match.commerce_rows + match.holdout_rows,
                "rows",
                secs,
                detail=f"{match.matched_people:,} people matched; rows shipped to the clean room",
            )
        )

        brand_ids = [
            str(r[0])
            for r in engine.duck.execute(
                "SELECT DISTINCT brand_id FROM notes ORDER BY 1"
            ).fetchall()
        ]
        windows = settings.windows
        for brand in brand_ids:
            events = _brand_events(engine.duck, brand)
            _, secs = timed(partial(brand_funnel, engine, brand, windows), bench.repeat)
            add(
                Stage(
                    "funnel",
                    events,
                    "events",
                    secs,
                    brand=brand,
                    detail="brand_funnel: all tables; rows = the brand's clean-room content events",
                )
            )

            rows, secs_rows = timed(partial(journey_rows, engine, brand, windows), bench.repeat)
            table, secs_table = timed(partial(journey_table, rows), bench.repeat)
            add(
                Stage(
                    "journeys",
                    len(rows),
                    "touches",
                    secs_rows + secs_table,
                    brand=brand,
                    detail=f"{table.n_journeys:,} journeys, {int(table.conversions.sum()):,} "
                    f"converting; journey_rows {secs_rows:.2f} s + journey_table "
                    f"{secs_table:.2f} s",
                )
            )
            for model in MODELS:
                (_, notes), secs = timed(
                    partial(_cold_credits, table, model, settings.attribution), bench.repeat
                )
                add(
                    Stage(
                        f"model {model}",
                        table.n_journeys,
                        "journeys",
                        secs,
                        brand=brand,
                        detail="; ".join(notes),
                    )
                )
    return stages


def _cold_credits(
    table: JourneyTable, model: str, settings: AttributionSettings
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    # A fresh table each run: cached per-touch arrays would make later repeats faster.
    return note_credits(cold(table), model, settings)


def _loaded(reports: list[FileReport]) -> str:
    files = ", ".join(f"{r.table} {r.rows:,}" for r in reports)
    bad = sum(r.quarantined + r.duplicates for r in reports)
    return f"rows per file: {files}; {bad:,} quarantined or duplicate"


def _brand_events(con: duckdb.DuckDBPyConnection, brand: str) -> int:
    row = con.execute(
        "SELECT count(*) FROM cr_content_events e JOIN notes n USING (note_id) "
        "WHERE n.brand_id = ?",
        [brand],
    ).fetchone()
    return int(row[0]) if row else 0
