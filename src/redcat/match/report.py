"""The match report: per retailer run, what the parties agreed to reveal, kept in ``match_runs``.

A row holds both sides' distinct people, the shared people, the match rate (shared ÷ content
platform's people, as the spine's direct match defines it), each identifier type's share of the
shared people (the waterfall), when the run started (UTC), the protocol (name/version) and its
duration in seconds. Nothing else about a run is stored: not the match_keys, not the per-stage
identifier counts beyond the shares.

``match_runs`` was created by the spine's direct match; this module adds ``run_id``,
``type_shares`` (JSON: type -> share 0-1) and ``seconds`` with ``ADD COLUMN IF NOT EXISTS``, so
older stores and direct-match rows (which leave them NULL) keep working.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from redcat.engine.store import has_table
from redcat.match.direct import MATCH_RUNS_DDL

if TYPE_CHECKING:
    from redcat.match.ship import Manifest

EXTRA_COLUMNS: dict[str, str] = {"run_id": "VARCHAR", "type_shares": "VARCHAR", "seconds": "DOUBLE"}
REPORT_COLUMNS: tuple[str, ...] = (
    "retailer_id",
    "content_users",
    "retailer_users",
    "matched_users",
    "match_rate",
    "ran_at",
    "protocol",
    "protocol_version",
    "seconds",
)


def ensure_match_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``match_runs`` if missing and add the PSI columns if it lacks them."""
    con.execute(MATCH_RUNS_DDL)
    for name, kind in EXTRA_COLUMNS.items():
        con.execute(f"ALTER TABLE match_runs ADD COLUMN IF NOT EXISTS {name} {kind}")


def insert_runs(
    con: duckdb.DuckDBPyConnection, pairs: Sequence[tuple[Manifest, Manifest]]
) -> list[dict[str, object]]:
    """Record one row per (content, retailer) manifest pair of a run, replacing an earlier row of
    the same ``run_id`` and retailer; return the rows as dicts (``match_runs`` columns). The
    time, duration and waterfall are the content platform's (the hub's) view of the run."""
    ensure_match_runs(con)
    rows: list[dict[str, object]] = []
    for content, retailer in pairs:
        run = content.run
        rate = run.matched / run.people if run.people else 0.0
        row: dict[str, object] = {
            "retailer_id": content.retailer_id,
            "content_users": run.people,
            "retailer_users": retailer.run.people,
            "matched_users": run.matched,
            "match_rate": rate,
            "protocol": run.protocol,
            "ran_at": datetime.fromisoformat(run.ran_at),
            "run_id": run.run_id,
            "type_shares": json.dumps(run.shares()),
            "seconds": run.seconds,
        }
        # run_id alone is no run's identity: every run sharing nobody hashes the empty key set
        con.execute(
            "DELETE FROM match_runs WHERE run_id = ? AND retailer_id = ?",
            [run.run_id, content.retailer_id],
        )
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"INSERT INTO match_runs ({cols}) VALUES ({marks})", list(row.values()))
        rows.append(row)
    return rows


def split_protocol(protocol: str) -> tuple[str, str]:
    """Return (name, version) of a protocol id such as ``redcat-ecdh-psi-x25519/1``; the
    version is empty when the id carries none."""
    name, sep, version = protocol.rpartition("/")
    if sep and version.isdigit():
        return name, version
    return protocol, ""


def match_report_frame(con: duckdb.DuckDBPyConnection, *, history: bool = False) -> pd.DataFrame:
    """Return the match report: the latest run per retailer (every run with ``history``),
    sorted by retailer and time. Columns: :data:`REPORT_COLUMNS`, then ``share_<type>`` (0-1)
    per identifier type seen. Users are distinct people; ``seconds`` is the run's wall time.
    An empty frame with those columns when no run is recorded."""
    if not has_table(con, "match_runs"):
        return pd.DataFrame(columns=list(REPORT_COLUMNS))
    frame = con.execute("SELECT * FROM match_runs").df()
    for name in EXTRA_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    frame = frame.sort_values(["retailer_id", "ran_at"], kind="stable")
    if not history:
        frame = frame.groupby("retailer_id", sort=True).tail(1)
    split = [split_protocol(str(p)) for p in frame["protocol"]]
    frame["protocol"] = [s[0] for s in split]
    frame["protocol_version"] = [s[1] for s in split]
    shares = [json.loads(s) if isinstance(s, str) else {} for s in frame["type_shares"]]
    types = list(dict.fromkeys(t for s in shares for t in s))
    out = frame[list(REPORT_COLUMNS)].reset_index(drop=True)
    for t in types:
        out[f"share_{t}"] = [s.get(t) for s in shares]
    return out
