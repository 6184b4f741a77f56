"""Aggregates the content platform ships beside its matched rows: figures over *all* its users.

The clean room holds rows of matched people only, but two measurements need the content
platform's whole population, which it may release in aggregate (its own data):

- ``platform_metrics``: per brand and level (``brand_id``, ``note_id``, ``creator_id``,
  ``campaign_id``, ``day``) and key, impression events, reach (distinct users with an
  impression), read events and interaction events — what the funnel's ``content_metrics``
  computes from the raw ``content_events`` (``day`` keys are ISO dates; a note without a campaign
  has a null ``campaign_id`` key, as in the funnel);
- ``holdout_design``: per campaign, the users of its randomized list and how many are control —
  what lift's ``_design_shares`` reads from the raw ``holdouts`` for the sample-ratio check.

Both are computed here, on the party's private store, with the engine's own note dimension
(:func:`redcat.engine.derived.notes_dim`), so they agree with the funnel's definitions.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from redcat.engine.core import Engine
from redcat.engine.derived import notes_dim
from redcat.settings import INTERACTION_EVENTS

LEVELS: tuple[str, ...] = ("brand_id", "note_id", "creator_id", "campaign_id", "day")

PLATFORM_METRICS_DDL = """
CREATE TABLE IF NOT EXISTS platform_metrics (
    level VARCHAR NOT NULL,
    brand_id VARCHAR NOT NULL,
    key VARCHAR,
    impressions BIGINT NOT NULL,
    reach BIGINT NOT NULL,
    reads BIGINT NOT NULL,
    interactions BIGINT NOT NULL
)
"""
HOLDOUT_DESIGN_DDL = """
CREATE TABLE IF NOT EXISTS holdout_design (
    campaign_id VARCHAR NOT NULL,
    users BIGINT NOT NULL,
    control BIGINT NOT NULL
)
"""


def _engine(con: duckdb.DuckDBPyConnection) -> Engine:
    return Engine(ibis=ibis.duckdb.from_connection(con), duck=con, path=Path(":memory:"))


def platform_metrics(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Return the content platform's own figures per brand, level and key (see the module
    docstring) from a store holding its raw ``notes``, ``spend`` and ``content_events``. Counts
    are events, except ``reach`` (distinct users)."""
    engine = _engine(con)
    events = engine.table("content_events")
    ev = events.join(notes_dim(engine), "note_id")
    ev = ev.mutate(day=ev.ts.date().cast("string"))
    parts: list[ir.Table] = []
    for level in LEVELS:
        agg = ev.group_by(list(dict.fromkeys(["brand_id", level]))).agg(
            impressions=ev.count(where=ev.event == "impression"),
            reach=ev.user_key.nunique(where=ev.event == "impression"),
            reads=ev.count(where=ev.event == "read"),
            interactions=ev.count(where=ev.event.isin(INTERACTION_EVENTS)),
        )
        parts.append(
            agg.select(
                level=ibis.literal(level),
                brand_id=agg.brand_id,
                key=agg[level].cast("string"),
                impressions=agg.impressions.cast("int64"),
                reach=agg.reach.cast("int64"),
                reads=agg.reads.cast("int64"),
                interactions=agg.interactions.cast("int64"),
            )
        )
    union = ibis.union(*parts).order_by(["level", "brand_id", "key"])
    return engine.ibis.to_pyarrow(union)


def holdout_design(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Return each campaign's randomized list size and its control users (distinct users as
    exported in ``holdouts``), sorted by campaign."""
    return con.sql(
        "SELECT campaign_id, count(*)::BIGINT AS users, "
        "count(*) FILTER (WHERE arm = 'control')::BIGINT AS control "
        "FROM holdouts GROUP BY campaign_id ORDER BY campaign_id"
    ).to_arrow_table()
