"""Build a world and write it: the simulator's public entry points.

:func:`simulate_world` = :func:`build_world` (in memory, with internal truth) then
:func:`write_world` (the parties' files in the data contract, plus ``truth/``).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from redcat import __version__
from redcat.errors import ConfigError
from redcat.ingest.contract import (
    BRAND_TERMS,
    COMMERCE_EVENTS_TABLE,
    CONTENT_EVENTS_TABLE,
    HOLDOUTS,
    NOTE_TYPES,
    NOTES,
    SHOPS,
    SPEND,
    Field,
    TableSpec,
)
from redcat.simulate import tables
from redcat.simulate.catalog import Catalog, build_catalog
from redcat.simulate.commerce import (
    CE,
    CommerceEvents,
    Journeys,
    baseline_journeys,
    caused_journeys,
    concat_journeys,
    retailer_events,
)
from redcat.simulate.config import CATEGORIES, FORMATS, Timeline, WorldConfig
from redcat.simulate.content import (
    EV,
    ContentWorld,
    build_campaigns,
    build_events,
    build_impressions,
    build_notes,
    build_spend,
)
from redcat.simulate.population import Population, build_population
from redcat.simulate.shares import Shares, build_shares
from redcat.simulate.truth import campaign_truth, note_truth
from redcat.simulate.writer import TableSink, id_width

Progress = Callable[[str, int, int], None]
"""Progress callback: ``(step description, steps done, steps in all)``."""

NOTE_TRUTH = TableSpec(
    name="note_truth",
    party="content",
    fields=(
        Field("note_id", "str"),
        Field("brand_id", "str"),
        Field("retailer_id", "str"),
        Field("true_incremental_orders", "int"),
        Field("true_incremental_gmv", "float"),
    ),
    key=("note_id", "retailer_id"),
)


@dataclass(frozen=True, eq=False)
class World:
    """A built world in memory, including the internal truth that is never written to a
    party's file (paid flags, causing notes)."""

    config: WorldConfig
    timeline: Timeline
    population: Population
    catalog: Catalog
    content: ContentWorld
    commerce: tuple[CommerceEvents, ...]
    shares: Shares


@dataclass(frozen=True)
class FileSummary:
    """One written file: path relative to the output directory (``/``-separated), the table it
    holds and its data rows."""

    path: str
    table: str
    rows: int


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`simulate_world` wrote. ``caused_orders`` / ``caused_gmv`` (yuan) are the true
    incremental orders of all notes on all retailers; ``orders`` counts every order written."""

    out: Path
    fmt: str
    config: WorldConfig
    files: tuple[FileSummary, ...]
    seconds: float
    notes: int
    campaigns: int
    content_events: int
    commerce_events: int
    orders: int
    caused_orders: int
    caused_gmv: float
    shares: int = 0

    def rows(self, path: str) -> int:
        """Rows written to ``path`` (relative, e.g. ``content/notes.csv``)."""
        for f in self.files:
            if f.path == path:
                return f.rows
        raise KeyError(path)


def _build_steps(config: WorldConfig) -> list[str]:
    return [
        "people",
        "brands and shops",
        "notes, campaigns and spend",
        "impressions",
        "engagement",
        "caused journeys",
        *(f"{rid} commerce" for rid in config.retailer_ids),
    ]


def _write_steps(config: WorldConfig) -> list[str]:
    return ["content files", *(f"{rid} files" for rid in config.retailer_ids), "truth"]


def _ticker(
    progress: Progress | None, steps: list[str], offset: int, total: int
) -> Callable[[int], None]:
    def tick(i: int) -> None:
        if progress is not None:
            label = steps[i] if i < len(steps) else "done"
            progress(label, offset + i, total)

    return tick


def build_world(config: WorldConfig, progress: Progress | None = None) -> World:
    """Build ``config``'s world in memory (deterministic in ``config``, seed included)."""
    steps = _build_steps(config)
    return _build(config, _ticker(progress, steps, 0, len(steps)))


def _build(config: WorldConfig, tick: Callable[[int], None]) -> World:
    tl = Timeline.of(config)
    tick(0)
    population = build_population(config)
    tick(1)
    catalog = build_catalog(config)
    tick(2)
    notes = build_notes(config, catalog, population, tl)
    campaigns = build_campaigns(config, catalog, population, notes)
    spend = build_spend(config, notes, campaigns, tl)
    tick(3)
    imps = build_impressions(config, catalog, population, notes, campaigns, spend, tl)
    tick(4)
    events = build_events(config, catalog, population, notes, imps, tl)
    content = ContentWorld(notes=notes, campaigns=campaigns, spend=spend, events=events)
    tick(5)
    caused = caused_journeys(config, catalog, population, content, tl)
    commerce: list[CommerceEvents] = []
    for r in range(config.retailers):
        tick(6 + r)
        journeys: Journeys = concat_journeys(
            [
                baseline_journeys(config, catalog, population, r, tl),
                caused.take(np.flatnonzero(caused.retailer == r)),
            ]
        )
        commerce.append(retailer_events(config, catalog, population, content, journeys, r, tl))
    shares = build_shares(config, catalog, population, tuple(commerce), tl)
    return World(config, tl, population, catalog, content, tuple(commerce), shares)


def _prepare_out(out: Path) -> None:
    """Create ``out``; clear a previous world there, but never touch anything else."""
    ours = [out / "content", out / "retailers", out / "truth"]
    if any(p.exists() for p in ours):
        if not (out / "truth" / "world.json").is_file():
            raise ConfigError(
                f"{out} holds content/, retailers/ or truth/ that redcat simulate did not write; "
                "choose an empty directory"
            )
        for p in ours:
            if p.exists():
                shutil.rmtree(p)
    out.mkdir(parents=True, exist_ok=True)


def _write(path: Path, spec: TableSpec, fmt: str, chunks: Iterable[pa.Table]) -> int:
    with TableSink(path, spec, fmt) as sink:
        for chunk in chunks:
            sink.write(chunk)
    return sink.rows


def write_world(
    world: World, out: Path, fmt: str = "csv", progress: Progress | None = None
) -> tuple[FileSummary, ...]:
    """Write ``world`` under ``out`` (see :mod:`redcat.simulate` for the layout) and return the
    files written with their row counts. A previous world in ``out`` is replaced."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    steps = _write_steps(world.config)
    tick = _ticker(progress, steps, 0, len(steps))
    return _write_all(world, Path(out), fmt, tick)


def _write_all(
    world: World, out: Path, fmt: str, tick: Callable[[int], None]
) -> tuple[FileSummary, ...]:
    _prepare_out(out)
    files: list[FileSummary] = []

    def put(rel: str, spec: TableSpec, chunks: Iterable[pa.Table], file_fmt: str = fmt) -> None:
        files.append(FileSummary(rel, spec.name, _write(out / rel, spec, file_fmt, chunks)))

    c, pop, cat = world.content, world.population, world.catalog
    tick(0)
    sh = world.shares
    put(f"content/notes.{fmt}", NOTES, [tables.notes_table(c, cat, sh)])
    put(
        f"content/content_events.{fmt}",
        CONTENT_EVENTS_TABLE,
        tables.content_event_chunks(c, pop, sh),
    )
    put(f"content/spend.{fmt}", SPEND, [tables.spend_table(c, world.timeline)])
    put(f"content/holdouts.{fmt}", HOLDOUTS, tables.holdout_chunks(c, pop))
    for r, events in enumerate(world.commerce):
        tick(1 + r)
        base = f"retailers/{events.retailer_id}"
        put(
            f"{base}/commerce_events.{fmt}",
            COMMERCE_EVENTS_TABLE,
            tables.commerce_event_chunks(events, cat, pop, r),
        )
        put(f"{base}/shops.{fmt}", SHOPS, [tables.shops_table(cat, r)])
        put(f"{base}/brand_terms.{fmt}", BRAND_TERMS, [tables.brand_terms_table(cat)])
    tick(1 + len(world.commerce))
    put("truth/note_truth.csv", NOTE_TRUTH, [note_truth_table(world)], "csv")
    (out / "truth" / "world.json").write_text(
        json.dumps(world_json(world, fmt, files), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    tick(2 + len(world.commerce))
    return tuple(files)


def simulate_world(
    config: WorldConfig, out: Path, fmt: str = "csv", progress: Progress | None = None
) -> WorldSummary:
    """Build ``config``'s world and write it under ``out`` in ``fmt`` (csv, parquet or jsonl).

    ``progress(step, done, total)`` is called before each step and once at the end
    (``done == total``). Returns what was written, with row counts and the true incremental
    orders and GMV (yuan) the notes caused.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    began = time.perf_counter()
    build_steps, write_steps = _build_steps(config), _write_steps(config)
    total = len(build_steps) + len(write_steps)
    world = _build(config, _ticker(progress, build_steps, 0, total))
    files = _write_all(
        world, Path(out), fmt, _ticker(progress, write_steps, len(build_steps), total)
    )
    truth = note_truth(world.content, world.commerce)
    return WorldSummary(
        out=Path(out),
        fmt=fmt,
        config=config,
        files=files,
        seconds=time.perf_counter() - began,
        notes=len(world.content.notes.note_ids),
        campaigns=len(world.content.campaigns.campaign_ids),
        content_events=len(world.content.events),
        commerce_events=sum(len(e) for e in world.commerce),
        orders=sum(int((e.event == CE["order"]).sum()) for e in world.commerce),
        caused_orders=int(truth.orders.sum()),
        caused_gmv=round(float(truth.gmv.sum()), 2),
        shares=len(world.shares),
    )


def note_truth_table(world: World) -> pa.Table:
    """``truth/note_truth``: one row per note and retailer (zeros included)."""
    truth = note_truth(world.content, world.commerce)
    notes = world.content.notes
    n_notes, n_ret = truth.orders.shape
    brand_ids = [b.brand_id for b in world.catalog.brands]
    return pa.table(
        {
            "note_id": pa.array(np.repeat(notes.note_ids, n_ret).tolist(), pa.string()),
            "brand_id": pa.array(
                [brand_ids[b] for b in np.repeat(notes.brand, n_ret)], pa.string()
            ),
            "retailer_id": pa.array(list(world.config.retailer_ids) * n_notes, pa.string()),
            "true_incremental_orders": pa.array(truth.orders.ravel(), pa.int64()),
            "true_incremental_gmv": pa.array(truth.gmv.ravel(), pa.float64()),
        },
        schema=pa.schema(
            [
                pa.field(f.name, t, nullable=False)
                for f, t in zip(NOTE_TRUTH.fields, _TRUTH_TYPES, strict=True)
            ]
        ),
    )


_TRUTH_TYPES = (pa.string(), pa.string(), pa.string(), pa.int64(), pa.float64())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%S")


def world_json(world: World, fmt: str, files: list[FileSummary]) -> dict[str, Any]:
    """Return ``truth/world.json``: every parameter, the maps the truth needs, per-note and
    per-campaign truth, and the rows written per file."""
    cfg, tl, cat, content = world.config, world.timeline, world.catalog, world.content
    notes, camps, pop = content.notes, content.campaigns, world.population
    truth = note_truth(content, world.commerce)
    ctruth = campaign_truth(content, world.commerce)
    rids = cfg.retailer_ids
    config = asdict(cfg)
    config["start_date"] = cfg.start_date.isoformat()
    spend_by_campaign = np.bincount(
        content.spend.campaign, weights=content.spend.amount, minlength=len(camps.campaign_ids)
    )
    ev = content.events
    paid_imps = (ev.event == EV["impression"]) & ev.paid
    paid_by_campaign = np.bincount(
        notes.campaign[ev.note[paid_imps]], minlength=len(camps.campaign_ids)
    )
    campaigns: dict[str, Any] = {}
    for c, t in enumerate(ctruth):
        test_orders = sum(t.test_orders)
        test_gmv = round(sum(t.test_gmv), 2)
        campaigns[t.campaign_id] = {
            "brand_id": cat.brands[camps.brand[c]].brand_id,
            "notes": [notes.note_ids[n] for n in camps.notes[c]],
            "control_share_target": round(float(camps.control_share[c]), 6),
            "test_users": t.test_users,
            "control_users": t.control_users,
            "cpm": round(float(camps.cpm[c]), 4),
            "spend": round(float(spend_by_campaign[c]), 2),
            "paid_impressions": int(paid_by_campaign[c]),
            "true_incremental_orders_test": test_orders,
            "true_incremental_gmv_test": test_gmv,
            "true_incremental_orders_per_test_user": test_orders / max(t.test_users, 1),
            "true_incremental_gmv_per_test_user": test_gmv / max(t.test_users, 1),
            "by_retailer": {
                rid: {
                    "true_incremental_orders_test": t.test_orders[r],
                    "true_incremental_gmv_test": t.test_gmv[r],
                    "caused_orders_all_exposures": t.all_orders[r],
                }
                for r, rid in enumerate(rids)
            },
            "caused_orders_all_exposures": sum(t.all_orders),
        }
    return {
        "generator": f"redcat.simulate {__version__}",
        "format": fmt,
        "config": config,
        "timeline": {
            "history_start": _iso(tl.history),
            "start": _iso(tl.start),
            "end_exclusive": _iso(tl.end),
        },
        "categories": list(CATEGORIES),
        "brand_category": {b.brand_id: b.category for b in cat.brands},
        "brands": {
            b.brand_id: {
                "name": b.name,
                "pinyin": b.pinyin,
                "category": b.category,
                "terms": list(b.terms),
                "products": {
                    cat.product_ids[p]: float(cat.product_price[p]) for p in cat.brand_products[i]
                },
            }
            for i, b in enumerate(cat.brands)
        },
        "population": {
            "people": pop.n,
            "content_users": int(pop.content.sum()),
            "retailer_customers": {rid: int(pop.member[:, r].sum()) for r, rid in enumerate(rids)},
            "retailer_coverage": {
                rid: round(float(pop.retailer_coverage[r]), 6) for r, rid in enumerate(rids)
            },
        },
        "retailers": {
            rid: {
                "shops": {
                    s: cat.brands[cat.shops[r].shop_brand[i]].brand_id
                    for i, s in enumerate(cat.shops[r].shop_ids)
                },
                "orders": int((world.commerce[r].event == CE["order"]).sum()),
                "caused_orders": int(truth.orders[:, r].sum()),
                "caused_gmv": round(float(truth.gmv[:, r].sum()), 2),
            }
            for r, rid in enumerate(rids)
        },
        "campaigns": campaigns,
        "notes": {
            nid: {
                "brand_id": cat.brands[notes.brand[n]].brand_id,
                "creator_id": notes.creator_ids[notes.creator[n]],
                "creator_reach": round(float(notes.creator_reach[notes.creator[n]]), 6),
                "note_type": NOTE_TYPES[notes.note_type[n]],
                "quality": round(float(notes.quality[n]), 6),
                "campaign_id": camps.campaign_ids[notes.campaign[n]]
                if notes.campaign[n] >= 0
                else None,
                "link_retailer": rids[notes.link_retailer[n]]
                if notes.link_retailer[n] >= 0
                else None,
                "published_at": _iso(notes.published[n]),
                "true_incremental_orders": int(truth.orders[n].sum()),
                "true_incremental_gmv": round(float(truth.gmv[n].sum()), 2),
            }
            for n, nid in enumerate(notes.note_ids)
        },
        "shares": shares_json(world),
        "totals": {
            "caused_orders": int(truth.orders.sum()),
            "caused_gmv": round(float(truth.gmv.sum()), 2),
            "orders": sum(int((e.event == CE["order"]).sum()) for e in world.commerce),
        },
        "rows": {f.path: f.rows for f in files},
    }


def shares_json(world: World) -> dict[str, Any]:
    """Return the truth about buyers' notes: the behaviour behind them, per brand the notes and
    distinct authors, and per note its brand, publish time and the order that led to it."""
    sh, cat, rids = world.shares, world.catalog, world.config.retailer_ids
    widths = [id_width(int(e.order_no.max()) if len(e) else 0) for e in world.commerce]
    by_brand: dict[str, Any] = {}
    for b, brand in enumerate(cat.brands):
        mine = sh.brand == b
        by_brand[brand.brand_id] = {
            "notes": int(mine.sum()),
            "authors": len(np.unique(sh.user[mine])),
        }
    return {
        "notes": len(sh),
        "authors": len(sh.author_ids),
        "by_brand": by_brand,
        "by_note": {
            nid: {
                "brand_id": cat.brands[sh.brand[i]].brand_id,
                "author_id": sh.author_ids[sh.author[i]],
                "published_at": _iso(sh.published[i]),
                "order_id": _order_id(rids[sh.retailer[i]], sh.order_no[i], widths[sh.retailer[i]]),
            }
            for i, nid in enumerate(sh.note_ids)
        },
    }


def _order_id(retailer_id: str, order_no: int, width: int) -> str:
    return f"{retailer_id}-o{int(order_no):0{width}d}"
