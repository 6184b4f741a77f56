"""AIPS audience assets (人群资产) of a brand: stage sizes per day, flows between two dates (流转),
the I→P conversion rate, and the assets each note added.

Every figure counts distinct matched people. The population is every matched person (anyone in
the clean room's content events, commerce events or holdouts); on each day each of them sits in
exactly one stage (see :mod:`redcat.assets.stages`), so the stage sizes of a day sum to the
population and the rows and columns of a flow matrix sum to the stage sizes of its two dates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from redcat.assets.stages import (
    ALL_STAGES,
    RANK,
    STAGES,
    day_date,
    day_number,
    stage_events,
    stage_intervals,
    stage_segments,
)
from redcat.engine.core import Engine
from redcat.errors import ConfigError, StoreError
from redcat.settings import AssetSettings


@dataclass(frozen=True)
class Conversion:
    """I→P over a period: ``interest_users`` sat in stage I on at least one day of it;
    ``converted_users`` of them ordered the brand on a later day of the period; ``rate`` is their
    ratio (None when no one was in I)."""

    start: date
    end: date
    interest_users: int
    converted_users: int
    rate: float | None


@dataclass(frozen=True, eq=False)
class AudienceAssets:
    """One brand's audience assets, with its stage pieces materialized once in the engine.

    Build with :func:`audience_assets`. ``population`` is the number of matched people;
    ``first_day`` / ``last_day`` bound the default period: the day the brand's first note was
    published and the last day of matched data."""

    engine: Engine
    brand_id: str
    settings: AssetSettings
    events: ir.Table
    segments: ir.Table
    population: int
    first_day: date | None
    last_day: date | None

    def period(self, start: date | None = None, end: date | None = None) -> tuple[date, date]:
        """Return ``(start, end)`` with missing bounds taken from the brand's data; raises
        :class:`ConfigError` when start is after end or the brand has no data to default to."""
        start = start or self.first_day
        end = end or self.last_day
        if start is None or end is None:
            raise ConfigError(f"brand {self.brand_id!r} has no audience events; give --from/--to")
        if start > end:
            raise ConfigError(f"the period starts ({start}) after it ends ({end})")
        return start, end

    def stage_on(self, day: date) -> ir.Table:
        """Return ``match_key``, ``rank`` of every user in a stage above none on ``day``."""
        n = day_number(day)
        s = self.segments
        return s.filter((s.start <= n) & (n < s.end)).select("match_key", "rank")

    def stage_sizes(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Return users per stage and day over [start, end] (inclusive; default: the brand's data
        period): columns ``date``, ``stage`` (none, A, I, P, S) and ``users``, one row per day and
        stage, days in order, stages in :data:`ALL_STAGES` order."""
        start, end = self.period(start, end)
        lo, hi = day_number(start), day_number(end)
        s = self.segments
        live = s.filter((s.start <= hi) & (s.end > lo))
        enter = live.select("rank", day=ibis.greatest(live.start, lo), delta=ibis.literal(1))
        leave = live.filter(live.end <= hi).select("rank", day=live.end, delta=ibis.literal(-1))
        deltas = enter.union(leave)
        per = deltas.group_by(["rank", "day"]).agg(delta=deltas.delta.sum())
        frame = self.engine.execute(per)
        n_days = hi - lo + 1
        grid = np.zeros((n_days, len(ALL_STAGES)), dtype=np.int64)
        np.add.at(
            grid,
            (frame["day"].to_numpy(np.int64) - lo, frame["rank"].to_numpy(np.int64)),
            frame["delta"].to_numpy(np.int64),
        )
        grid = grid.cumsum(axis=0)
        grid[:, 0] = self.population - grid[:, 1:].sum(axis=1)
        rows = [
            {"date": day_date(lo + i), "stage": ALL_STAGES[r], "users": int(grid[i, r])}
            for i in range(n_days)
            for r in range(len(ALL_STAGES))
        ]
        return pd.DataFrame(rows, columns=["date", "stage", "users"])

    def flows(self, start: date, end: date) -> pd.DataFrame:
        """Return the flow matrix (流转) from ``start`` to ``end``: one row per (``from_stage``,
        ``to_stage``) pair of :data:`ALL_STAGES` (25 rows, zeros included) with ``users``, the
        people in ``from_stage`` on ``start`` and in ``to_stage`` on ``end``."""
        a = self.stage_on(start).rename(from_rank="rank")
        b = self.stage_on(end).rename(to_rank="rank")
        j = a.outer_join(b, "match_key")
        j = j.select(from_rank=j.from_rank.fill_null(0), to_rank=j.to_rank.fill_null(0))
        counts = self.engine.execute(j.group_by(["from_rank", "to_rank"]).agg(users=j.count()))
        got = {
            (int(f), int(t)): int(n)
            for f, t, n in zip(
                counts["from_rank"].to_numpy(np.int64),
                counts["to_rank"].to_numpy(np.int64),
                counts["users"].to_numpy(np.int64),
                strict=True,
            )
        }
        got[(0, 0)] = self.population - sum(got.values())
        rows = [
            {"from_stage": f, "to_stage": t, "users": got.get((i, k), 0)}
            for i, f in enumerate(ALL_STAGES)
            for k, t in enumerate(ALL_STAGES)
        ]
        return pd.DataFrame(rows, columns=["from_stage", "to_stage", "users"])

    def conversion(self, start: date | None = None, end: date | None = None) -> Conversion:
        """Return the I→P conversion over [start, end] (see :class:`Conversion`)."""
        start, end = self.period(start, end)
        lo, hi = day_number(start), day_number(end)
        s = self.segments
        interest = s.filter((s["rank"] == RANK["I"]) & (s.start <= hi) & (s.end > lo))
        first = interest.group_by("match_key").agg(
            first_day=ibis.greatest(interest.start, lo).min()
        )
        ev = self.events
        orders = ev.filter((ev["rank"] == RANK["P"]) & (ev.day <= hi)).select("match_key", "day")
        won = first.join(
            orders, [first.match_key == orders.match_key, orders.day > first.first_day]
        )
        n_interest = _count(self.engine, first)
        n_won = _count(self.engine, won.select(first.match_key).distinct())
        rate = n_won / n_interest if n_interest else None
        return Conversion(start, end, n_interest, n_won, rate)

    def note_assets(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Return the assets each note added over [start, end]: one row per (``note_id``,
        ``stage``) with ``users``, the people whose first entry into that stage in the period
        came via the note.

        An entry into A, I or S comes via the note of the earliest event that day that put the
        user in the stage (retailer searches and shop visits come via no note); an entry into P
        via the last brand note the buyer touched (saw or engaged with) in the
        ``purchase_credit_days`` before the order. Rows with zero users are absent."""
        start, end = self.period(start, end)
        lo, hi = day_number(start), day_number(end)
        s = self.segments
        entries = s.filter(s.entered & (s.start >= lo) & (s.start <= hi))
        entries = entries.group_by(["match_key", "rank"]).agg(day=entries.start.min())
        ev = self.events
        cause = entries.join(ev, ["match_key", "rank", "day"]).select(
            entries.match_key, entries["rank"], ev.ts, ev.note_id
        )
        first = ibis.row_number().over(
            group_by=[cause.match_key, cause["rank"]], order_by=[cause.ts, cause.note_id]
        )
        cause = cause.mutate(n=first).filter(lambda t: t.n == 0)
        via_note = cause.filter((cause["rank"] != RANK["P"]) & cause.note_id.notnull()).select(
            "match_key", "rank", "note_id"
        )
        bought = cause.filter(cause["rank"] == RANK["P"])
        touched = ev.filter((ev["rank"] <= RANK["I"]) & ev.note_id.notnull() & (ev.event != "post"))
        window = ibis.interval(days=self.settings.purchase_credit_days)
        pairs = bought.join(
            touched,
            [
                bought.match_key == touched.match_key,
                touched.ts < bought.ts,
                touched.ts >= bought.ts - window,
            ],
        ).select(
            match_key=bought.match_key,
            rank=bought["rank"],
            note_id=touched.note_id,
            touch_ts=touched.ts,
        )
        last = ibis.row_number().over(
            group_by=[pairs.match_key],
            order_by=[ibis.desc(pairs.touch_ts), ibis.desc(pairs.note_id)],
        )
        credited = pairs.mutate(n=last).filter(lambda t: t.n == 0)
        credited = credited.select("match_key", "rank", "note_id")
        both = via_note.union(credited)
        per = both.group_by(["note_id", "rank"]).agg(users=both.match_key.nunique())
        frame = self.engine.execute(per)
        frame["stage"] = [ALL_STAGES[int(r)] for r in frame["rank"]]
        frame = frame.sort_values(["note_id", "rank"], kind="stable")
        return frame[["note_id", "stage", "users"]].reset_index(drop=True)

    def note_assets_wide(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Return :meth:`note_assets` with one row per note: ``note_id``, one users column per
        stage (A, I, P, S; 0 when none) and ``total``, most assets first (ties by note_id)."""
        long = self.note_assets(start, end)
        wide = long.pivot_table(
            index="note_id", columns="stage", values="users", aggfunc="sum", fill_value=0
        )
        wide = wide.reindex(columns=list(STAGES), fill_value=0).astype("int64")
        wide["total"] = wide.sum(axis=1)
        wide = wide.reset_index()
        wide.columns.name = None
        notes = self.engine.table("notes")
        notes = notes.filter(notes.brand_id == self.brand_id).select("note_id", "title")
        wide = wide.merge(self.engine.execute(notes), on="note_id", how="left")
        wide = wide[["note_id", "title", *STAGES, "total"]]
        return wide.sort_values(["total", "note_id"], ascending=[False, True]).reset_index(
            drop=True
        )

    def summary(self, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Return one row per stage (none, A, I, P, S): ``users_start`` and ``users_end`` (people
        in the stage on the period's first and last day), ``change`` (end − start) and
        ``share_end`` (users_end ÷ population, a fraction)."""
        start, end = self.period(start, end)
        sizes = self.stage_sizes(start, start), self.stage_sizes(end, end)
        first, last = (dict(zip(f["stage"], f["users"], strict=True)) for f in sizes)
        rows = [
            {
                "stage": stage,
                "users_start": first[stage],
                "users_end": last[stage],
                "change": last[stage] - first[stage],
                "share_end": last[stage] / self.population if self.population else None,
            }
            for stage in ALL_STAGES
        ]
        return pd.DataFrame(rows)


def _count(engine: Engine, table: ir.Table) -> int:
    return int(engine.execute(table.count())["value"][0])


def _scalar_day(engine: Engine, expr: ir.Scalar) -> date | None:
    value = engine.execute(expr)["value"][0]
    if value is None or value != value:
        return None
    return day_date(int(value))


def audience_assets(
    engine: Engine, brand_id: str, settings: AssetSettings | None = None
) -> AudienceAssets:
    """Build ``brand_id``'s audience assets over the clean room's tables (``cr_content_events``,
    ``cr_commerce_events``, ``notes``, ``shops``, ``brand_terms``), caching its stage events and
    pieces in the engine. Raises :class:`StoreError` when the brand has no notes in the store."""
    settings = settings or AssetSettings()
    notes = engine.table("notes")
    known = engine.execute(notes.filter(notes.brand_id == brand_id).count())
    if int(known["value"][0]) == 0:
        raise StoreError(f"brand {brand_id!r} has no notes in the store")
    # Temp tables rather than Ibis caches: they live exactly as long as the connection.
    # One pair of tables per brand and settings, so two builds with other windows never clash.
    tag = hashlib.sha256(f"{brand_id}\x00{settings!r}".encode()).hexdigest()[:12]
    events = engine.scratch_table(f"_assets_events_{tag}", stage_events(engine, brand_id))
    segments = engine.scratch_table(
        f"_assets_segments_{tag}", stage_segments(stage_intervals(events, settings))
    )
    content = engine.table("cr_content_events")
    commerce = engine.table("cr_commerce_events")
    people = content.select("match_key").union(commerce.select("match_key"), distinct=True)
    if engine.has_table("cr_holdouts"):  # randomized people may have no events at all
        people = people.union(engine.table("cr_holdouts").select("match_key"), distinct=True)
    population = _count(engine, people)
    brand_notes = notes.filter(notes.brand_id == brand_id)
    first_day = _scalar_day(
        engine, (brand_notes.published_at.min().epoch_seconds() // 86_400).cast("int64")
    )
    day = (content.ts.max().epoch_seconds() // 86_400).cast("int64")
    cday = (commerce.ts.max().epoch_seconds() // 86_400).cast("int64")
    last_c = _scalar_day(engine, day)
    last_r = _scalar_day(engine, cday)
    known_last = [d for d in (last_c, last_r) if d is not None]
    return AudienceAssets(
        engine=engine,
        brand_id=brand_id,
        settings=settings,
        events=events,
        segments=segments,
        population=population,
        first_day=first_day,
        last_day=max(known_last) if known_last else None,
    )
