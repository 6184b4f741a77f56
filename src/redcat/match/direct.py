"""The spine's direct match: both parties' rows sit in one store and join on ``user_key``.

``match_key`` is ``sha256(salt || user_key)``; the same person gets the same key at every retailer
(so reach-based metrics can count a person once across the alliance), and the clean-room tables
hold ``match_key`` only, never ``user_key``. Rows of users who are not on both sides are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from redcat.engine.store import require_tables
from redcat.errors import MatchError

PROTOCOL = "direct-sha256 (spine; single store)"

MATCH_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS match_runs (
    retailer_id VARCHAR NOT NULL,
    content_users BIGINT NOT NULL,
    retailer_users BIGINT NOT NULL,
    matched_users BIGINT NOT NULL,
    match_rate DOUBLE NOT NULL,
    protocol VARCHAR NOT NULL,
    ran_at TIMESTAMP NOT NULL
)
"""


@dataclass(frozen=True)
class RetailerMatch:
    """One retailer's match: distinct users on each side, the intersection and its share.

    ``match_rate`` is matched users ÷ content-platform users (0–1)."""

    retailer_id: str
    content_users: int
    retailer_users: int
    matched_users: int
    match_rate: float


@dataclass(frozen=True)
class MatchReport:
    """The outcome of one match run: per-retailer figures, distinct matched people overall, and
    the rows shipped into the clean-room tables."""

    protocol: str
    retailers: tuple[RetailerMatch, ...]
    matched_people: int
    content_rows: int
    commerce_rows: int
    holdout_rows: int


def run_direct_match(con: duckdb.DuckDBPyConnection, salt: str) -> MatchReport:
    """Rebuild the clean-room tables from the ingested party tables, keyed by ``match_key``.

    Returns the per-retailer match figures (users are distinct ``user_key`` values). Raises
    :class:`MatchError` if either side has no users.
    """
    require_tables(con, "content_events", "commerce_events", "holdouts")
    retailer_ids = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT retailer_id FROM commerce_events ORDER BY retailer_id"
        ).fetchall()
    ]
    # The content party's users are those its export shows: any content event, or a place in a
    # randomized holdout list (as in the PSI shipping path). Requiring a content event made
    # holdout matching arm-dependent: a test user was kept whenever the campaign reached them,
    # a control user only if something else showed them a note (SRM p < 0.01 in a third of
    # simulated campaigns, see bench/RESULTS.md).
    n_content = _scalar(
        con,
        "SELECT count(*) FROM (SELECT user_key FROM content_events UNION "
        "SELECT user_key FROM holdouts)",
    )
    if n_content == 0:
        raise MatchError("the content platform has no users; ingest its content_events first")
    if not retailer_ids:
        raise MatchError("no retailer has users; ingest a retailer's commerce_events first")

    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _matched AS
            SELECT c.user_key, sha256(? || c.user_key) AS match_key
            FROM (SELECT user_key FROM content_events UNION SELECT user_key FROM holdouts) c
            SEMI JOIN (SELECT DISTINCT user_key FROM commerce_events) r USING (user_key)
            """,
            [salt],
        )
        con.execute(
            """
            CREATE OR REPLACE TABLE cr_content_events AS
            SELECT e.event_id, m.match_key, e.note_id, e.ts, e.event, e.surface
            FROM content_events e JOIN _matched m USING (user_key)
            ORDER BY e.ts, e.event_id
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TABLE cr_commerce_events AS
            SELECT e.retailer_id, e.event_id, m.match_key, e.shop_id, e.ts, e.event, e.query,
                   e.product_id, e.order_id, e.amount
            FROM commerce_events e JOIN _matched m USING (user_key)
            ORDER BY e.ts, e.retailer_id, e.event_id
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TABLE cr_holdouts AS
            SELECT m.match_key, h.campaign_id, h.arm
            FROM holdouts h JOIN _matched m USING (user_key)
            ORDER BY h.campaign_id, m.match_key
            """
        )
        con.execute(MATCH_RUNS_DDL)
        now = datetime.now(UTC).replace(tzinfo=None)
        per_retailer = []
        for rid in retailer_ids:
            n_retailer = _scalar(
                con,
                "SELECT count(DISTINCT user_key) FROM commerce_events WHERE retailer_id = ?",
                [rid],
            )
            n_matched = _scalar(
                con,
                """SELECT count(*) FROM _matched m SEMI JOIN
                   (SELECT DISTINCT user_key FROM commerce_events WHERE retailer_id = ?) r
                   USING (user_key)""",
                [rid],
            )
            result = RetailerMatch(rid, n_content, n_retailer, n_matched, n_matched / n_content)
            per_retailer.append(result)
            con.execute(
                "INSERT INTO match_runs (retailer_id, content_users, retailer_users, "
                "matched_users, match_rate, protocol, ran_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [rid, n_content, n_retailer, n_matched, result.match_rate, PROTOCOL, now],
            )
        con.execute("DROP TABLE _matched")
        report = MatchReport(
            protocol=PROTOCOL,
            retailers=tuple(per_retailer),
            matched_people=_scalar(con, "SELECT count(DISTINCT match_key) FROM cr_content_events"),
            content_rows=_scalar(con, "SELECT count(*) FROM cr_content_events"),
            commerce_rows=_scalar(con, "SELECT count(*) FROM cr_commerce_events"),
            holdout_rows=_scalar(con, "SELECT count(*) FROM cr_holdouts"),
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
