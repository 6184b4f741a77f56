"""Shipping: after PSI each party sends the clean room only its matched users' rows, pseudonymized.

Party side. :class:`PartyExport` validates a party's export folder (the ingest contract: notes,
content_events, spend, holdouts for the content platform; commerce_events, shops, brand_terms for
a retailer) into a private in-memory store; invalid rows are quarantined there and never leave.
Its distinct ``user_key`` s are the PSI input. :func:`ship` then writes a *shipment* folder:

- content platform (the alliance hub, :mod:`redcat.match.alliance`): ``content_events`` and
  ``holdouts`` of users shared in this run, keyed by ``person_key``; ``links`` (``retailer_id``,
  ``match_key``, ``person_key``); ``notes`` and ``spend`` as they are; and two aggregates over
  all its users (:mod:`redcat.match.aggregates`: ``platform_metrics``, ``holdout_design``);
- retailer: ``commerce_events`` of shared users keyed by the run's ``match_key``; ``shops`` and
  ``brand_terms`` as they are;
- both: ``manifest.json``, the run's figures the parties agreed to reveal (:class:`RunFigures`)
  and the rows shipped per table.

``user_key`` is never written. Every input row is accounted for in the :class:`ShipReport` the
party keeps: rows = shipped + unmatched + quarantined + duplicates (per table).

Clean-room side. :func:`load_shipments` checks that the shipments pair up (one content and one
retailer shipment per retailer, from the same run), maps retailer rows to ``person_key``, and
rebuilds ``cr_content_events``, ``cr_commerce_events``, ``cr_holdouts`` (``person_key`` in the
engine's ``match_key`` column), ``notes``, ``spend``, ``shops``, ``brand_terms``,
``platform_metrics``, ``holdout_design`` and the runs' rows of ``match_runs``, in one transaction.
The raw ``content_events``, ``commerce_events`` and ``holdouts`` stay empty there: the engine's
measurements over matched people run unchanged; the content platform's whole-population figures
(reach, impressions, the holdout design) come from the shipped aggregates.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from redcat.engine.store import has_table
from redcat.errors import MatchError
from redcat.ingest.contract import Party
from redcat.ingest.load import FileReport, ingest_party
from redcat.match.aggregates import (
    HOLDOUT_DESIGN_DDL,
    PLATFORM_METRICS_DDL,
    holdout_design,
    platform_metrics,
)
from redcat.match.alliance import person_key, person_links
from redcat.match.keys import confirmation
from redcat.match.psi import PsiParty, PsiResult, Role, Transcript, TypeCount, run_in_process
from redcat.settings import IngestSettings

SHIPMENT_FORMAT = "redcat-shipment/1"
MANIFEST = "manifest.json"

# Per party: shipped table -> (SQL over the party store and the key table _keys, whether it holds
# users). _keys(user_key, key) holds this run's shared users only; the inner join is what keeps
# everyone else out.
_CONTENT_SQL: dict[str, tuple[str, bool]] = {
    "content_events": (
        "SELECT e.event_id, k.key AS person_key, e.note_id, e.ts, e.event, e.surface "
        "FROM content_events e JOIN _keys k USING (user_key) ORDER BY e.ts, e.event_id",
        True,
    ),
    "holdouts": (
        "SELECT k.key AS person_key, h.campaign_id, h.arm "
        "FROM holdouts h JOIN _keys k USING (user_key) ORDER BY h.campaign_id, person_key",
        True,
    ),
    "notes": ("SELECT * FROM notes ORDER BY note_id", False),
    "spend": ("SELECT * FROM spend ORDER BY date, note_id, campaign_id, kind", False),
}
_RETAILER_SQL: dict[str, tuple[str, bool]] = {
    "commerce_events": (
        "SELECT e.retailer_id, e.event_id, k.key AS match_key, e.shop_id, e.ts, e.event, "
        "e.query, e.product_id, e.order_id, e.amount "
        "FROM commerce_events e JOIN _keys k USING (user_key) ORDER BY e.ts, e.event_id",
        True,
    ),
    "shops": ("SELECT * FROM shops ORDER BY shop_id", False),
    "brand_terms": ("SELECT * FROM brand_terms ORDER BY brand_id, term", False),
}
USER_TABLES: dict[Party, tuple[str, ...]] = {
    "content": ("content_events", "holdouts"),
    "retailer": ("commerce_events",),
}


@dataclass(frozen=True)
class RunFigures:
    """One PSI run as the parties agreed to reveal it: ``run_id`` (equal on both sides: a keyed
    hash of the shared match_keys), protocol name/version, start (UTC) and duration (seconds),
    this side's and the peer's distinct people (identifiers of the first waterfall stage for the
    peer), the shared people, and the waterfall stages (:class:`TypeCount`, this side's view)."""

    run_id: str
    protocol: str
    ran_at: str
    seconds: float
    people: int
    peer_people: int
    matched: int
    stages: tuple[TypeCount, ...]

    def shares(self) -> dict[str, float]:
        """Each identifier type's share (0-1) of the shared people, in waterfall order."""
        total = sum(s.people_matched for s in self.stages)
        return {s.id_type: (s.people_matched / total if total else 0.0) for s in self.stages}


def run_figures(result: PsiResult, *, ran_at: datetime, seconds: float) -> RunFigures:
    """Return the revealable figures of a finished PSI ``result`` (``ran_at`` in UTC)."""
    return RunFigures(
        run_id=confirmation(result.match_keys).hex()[:32],
        protocol=result.protocol,
        ran_at=ran_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        seconds=round(seconds, 3),
        people=result.people,
        peer_people=result.stages[0].peer_identifiers if result.stages else 0,
        matched=len(result.matches),
        stages=result.stages,
    )


@dataclass(frozen=True)
class Manifest:
    """A shipment's ``manifest.json``: which party, which retailer's run, the run's figures and
    the rows shipped per table."""

    party: Party
    retailer_id: str
    run: RunFigures
    shipped: Mapping[str, int]

    def to_json(self) -> str:
        """Return the manifest as JSON text."""
        body = {"format": SHIPMENT_FORMAT, **asdict(self)}
        body["shipped"] = dict(self.shipped)
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """Read ``directory``'s manifest. Raises :class:`MatchError` if it is missing or not a
        shipment of this format."""
        path = Path(directory) / MANIFEST
        try:
            body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if body.get("format") != SHIPMENT_FORMAT:
                raise MatchError(
                    f"{path}: shipment format {body.get('format')!r}, expected {SHIPMENT_FORMAT!r}"
                )
            run = dict(body["run"])
            run["stages"] = tuple(TypeCount(**s) for s in run["stages"])
            party = body["party"]
            if party not in ("content", "retailer"):
                raise MatchError(f"{path}: unknown party {party!r}")
            return cls(
                party=party,
                retailer_id=str(body["retailer_id"]),
                run=RunFigures(**run),
                shipped={str(k): int(v) for k, v in body["shipped"].items()},
            )
        except FileNotFoundError:
            raise MatchError(f"{directory} is not a shipment (no {MANIFEST})") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise MatchError(f"{path}: malformed shipment manifest ({exc})") from None


@dataclass(frozen=True)
class TableCount:
    """One input table's rows through export, validation and shipping: ``rows`` in the party's
    files = ``shipped`` + ``unmatched`` (valid rows of users not shared in this run) +
    ``quarantined`` + ``duplicates``."""

    table: str
    rows: int
    quarantined: int
    duplicates: int
    unmatched: int
    shipped: int


@dataclass(frozen=True)
class ShipReport:
    """What one party shipped: the shipment folder, its manifest and the party-only row
    accounting per table (kept by the party, not shipped)."""

    directory: Path
    manifest: Manifest
    tables: tuple[TableCount, ...]


class PartyExport:
    """A party's export folder, validated into a private in-memory DuckDB store.

    ``files`` holds ingest's per-file reports (quarantined rows stay in this store, with their
    ``user_key`` s, and are never shipped). Close it (or use ``with``) when done.
    """

    def __init__(
        self,
        party: Party,
        directory: Path,
        retailer_id: str | None = None,
        *,
        settings: IngestSettings | None = None,
    ) -> None:
        self.party: Party = party
        self.directory = Path(directory)
        self.retailer_id = retailer_id
        self.con = duckdb.connect(":memory:")
        try:
            self.files: tuple[FileReport, ...] = tuple(
                ingest_party(self.con, party, self.directory, retailer_id, settings=settings)
            )
        except BaseException:
            self.con.close()
            raise

    def __enter__(self) -> PartyExport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the private store."""
        self.con.close()

    def user_keys(self) -> list[str]:
        """Return this party's distinct ``user_key`` s, sorted: the PSI input. The content
        platform's users are those with content events *or* a holdout assignment (an unexposed
        control-arm user is exactly whom lift needs)."""
        union = " UNION ".join(f"SELECT user_key FROM {t}" for t in USER_TABLES[self.party])
        rows = self.con.execute(f"SELECT DISTINCT user_key FROM ({union}) ORDER BY 1").fetchall()
        return [str(r[0]) for r in rows]

    def people(
        self,
        identifiers: Mapping[str, Mapping[str, object]] | None = None,
        types: Sequence[str] = ("user_key",),
    ) -> tuple[dict[str, Mapping[str, object]], tuple[str, ...]]:
        """Return the PSI input over this export's users (:meth:`user_keys`): ``user_key`` ->
        identifiers by type, and the types in waterfall order.

        Without ``identifiers`` each user is matched on its ``user_key``. With them (``user_key``
        -> identifier type -> raw value, e.g. read from an ids file) users are matched on
        ``types`` in waterfall order; a user the mapping lacks still counts among the people
        but cannot match, and the mapping's people outside the export are left out (they have
        no rows to ship)."""
        users = self.user_keys()
        if identifiers is None:
            return {u: {"user_key": u} for u in users}, ("user_key",)
        return {u: identifiers.get(u, {}) for u in users}, tuple(types)

    def psi_party(
        self,
        role: Role,
        *,
        identifiers: Mapping[str, Mapping[str, object]] | None = None,
        types: Sequence[str] = ("user_key",),
        workers: int | None = None,
        parallel_min: int = 20_000,
    ) -> PsiParty:
        """Return a built-in PSI party over :meth:`people` (same arguments)."""
        people, types = self.people(identifiers, types)
        return PsiParty(role, people, types=types, workers=workers, parallel_min=parallel_min)

    def _loaded(self, table: str) -> int:
        return _scalar(self.con, f"SELECT count(*) FROM {table}")

    def _file_counts(self, table: str) -> tuple[int, int, int]:
        reports = [f for f in self.files if f.table == table]
        return (
            sum(f.rows for f in reports),
            sum(f.quarantined for f in reports),
            sum(f.duplicates for f in reports),
        )


def ship(
    export: PartyExport,
    result: PsiResult,
    out: Path,
    *,
    ran_at: datetime,
    seconds: float,
    peer_retailer_id: str | None = None,
    person_secret: bytes | None = None,
) -> ShipReport:
    """Write ``export``'s shipment for a finished PSI run to the folder ``out``; return the
    party's report.

    The content platform gives the run's retailer (``peer_retailer_id``) and its
    ``person_secret`` (:func:`redcat.match.alliance.load_person_secret`); a retailer gives
    neither. ``out`` must not exist or be empty; the shipment appears there whole or not at all.
    Raises :class:`MatchError` for a wrong combination of arguments or a non-empty ``out``.
    """
    if export.party == "content":
        if peer_retailer_id is None or person_secret is None:
            raise MatchError(
                "the content platform ships with the peer retailer's id and its person secret"
            )
        retailer_id = peer_retailer_id
        keys = {m.user_key: person_key(person_secret, m.user_key) for m in result.matches}
        queries = _CONTENT_SQL
    else:
        if peer_retailer_id is not None or person_secret is not None:
            raise MatchError("a retailer ships under its own id and holds no person secret")
        assert export.retailer_id is not None
        retailer_id = export.retailer_id
        keys = {m.user_key: m.match_key for m in result.matches}
        queries = _RETAILER_SQL
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MatchError(f"shipment folder {out} exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    con = export.con
    try:
        con.register(
            "_keys",
            # typed: with no shared person an untyped empty column would ship as type NULL
            pa.table(
                {"user_key": list(keys), "key": list(keys.values())},
                schema=pa.schema([("user_key", pa.string()), ("key", pa.string())]),
            ),
        )
        counts = []
        shipped: dict[str, int] = {}
        for table, (sql, has_users) in queries.items():
            n = _copy_parquet(con, sql, staging / f"{table}.parquet")
            loaded = export._loaded(table)
            rows, quarantined, duplicates = export._file_counts(table)
            unmatched = loaded - n if has_users else 0
            if not has_users and n != loaded:
                raise AssertionError(f"{table}: {loaded} rows stored, {n} shipped")
            counts.append(TableCount(table, rows, quarantined, duplicates, unmatched, n))
            shipped[table] = n
        if export.party == "content":
            assert person_secret is not None
            extras = {
                "links": person_links(person_secret, retailer_id, result.matches),
                "platform_metrics": platform_metrics(con),
                "holdout_design": holdout_design(con),
            }
            for name, table in extras.items():
                con.register("_extra", table)
                try:
                    shipped[name] = _copy_parquet(
                        con, "SELECT * FROM _extra", staging / f"{name}.parquet"
                    )
                finally:
                    con.unregister("_extra")
        manifest = Manifest(
            export.party, retailer_id, run_figures(result, ran_at=ran_at, seconds=seconds), shipped
        )
        (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        con.unregister("_keys")
    return ShipReport(out, manifest, tuple(counts))


def _copy_parquet(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    """Write the rows of ``sql`` to a Parquet file; return how many."""
    literal = str(path).replace("'", "''")
    return _scalar(con, f"COPY ({sql}) TO '{literal}' (FORMAT parquet, COMPRESSION zstd)")


@dataclass(frozen=True)
class PairResult:
    """An in-process run between the content platform and one retailer: both parties' shipping
    reports and the PSI transcript (every byte each side received)."""

    content: ShipReport
    retailer: ShipReport
    transcript: Transcript


def match_and_ship_in_process(
    content: PartyExport,
    retailer: PartyExport,
    content_out: Path,
    retailer_out: Path,
    *,
    person_secret: bytes,
    workers: int | None = None,
    parallel_min: int = 20_000,
) -> PairResult:
    """Run PSI between ``content`` (initiator) and ``retailer`` in this process and write both
    shipments. Returns both reports and the transcript. Raises :class:`MatchError` as PSI does."""
    if content.party != "content" or retailer.party != "retailer":
        raise MatchError("match the content platform's export with a retailer's")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    with (
        content.psi_party("initiator", workers=workers, parallel_min=parallel_min) as a,
        retailer.psi_party("responder", workers=workers, parallel_min=parallel_min) as b,
    ):
        transcript = run_in_process(a, b)
        seconds = time.perf_counter() - clock
        res_a, res_b = a.result(), b.result()
    content_report = ship(
        content,
        res_a,
        content_out,
        ran_at=started,
        seconds=seconds,
        peer_retailer_id=retailer.retailer_id,
        person_secret=person_secret,
    )
    try:
        retailer_report = ship(retailer, res_b, retailer_out, ran_at=started, seconds=seconds)
    except BaseException:
        # a one-sided shipment would never pair: the run leaves both or neither
        shutil.rmtree(content_out, ignore_errors=True)
        raise
    return PairResult(content=content_report, retailer=retailer_report, transcript=transcript)


# -- clean room ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadReport:
    """What loading shipments built: one match-report row per retailer run (as stored in
    ``match_runs``), distinct people, and the rows of each clean-room table."""

    runs: tuple[Mapping[str, object], ...]
    people: int
    content_rows: int
    commerce_rows: int
    holdout_rows: int


def _files(dirs: Sequence[Path], table: str) -> list[str]:
    return [str(Path(d) / f"{table}.parquet") for d in dirs]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    # fetchall: DuckDB refuses further work on a connection with a result left unread
    rows = con.execute(sql, list(params)).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def pair_shipments(directories: Sequence[Path]) -> dict[str, tuple[Path, Manifest, Path, Manifest]]:
    """Return, per retailer id, its (content folder, manifest, retailer folder, manifest).

    Raises :class:`MatchError` unless every retailer has exactly one content and one retailer
    shipment from the same run (equal ``run_id``)."""
    found: dict[tuple[str, str], tuple[Path, Manifest]] = {}
    for d in directories:
        m = Manifest.read(Path(d))
        slot = (m.retailer_id, m.party)
        if slot in found:
            raise MatchError(
                f"two {m.party} shipments for retailer {m.retailer_id!r} ({found[slot][0]}, {d}); "
                "load one run per retailer"
            )
        found[slot] = (Path(d), m)
    pairs = {}
    for rid in sorted({r for r, _ in found}):
        if (rid, "content") not in found or (rid, "retailer") not in found:
            missing = "content" if (rid, "content") not in found else "retailer"
            raise MatchError(f"retailer {rid!r}: the {missing} side's shipment is missing")
        (cdir, cm), (rdir, rm) = found[(rid, "content")], found[(rid, "retailer")]
        # run_id hashes the run's distinct match_keys, equal on both sides; the people matched
        # may differ (two users of one side sharing an identifier share one match_key)
        if cm.run.run_id != rm.run.run_id:
            raise MatchError(
                f"retailer {rid!r}: the two shipments come from different PSI runs "
                f"({cm.run.run_id} vs {rm.run.run_id})"
            )
        pairs[rid] = (cdir, cm, rdir, rm)
    if not pairs:
        raise MatchError("no shipments to load")
    return pairs


def load_shipments(con: duckdb.DuckDBPyConnection, directories: Sequence[Path]) -> LoadReport:
    """Rebuild the clean room's tables in the store ``con`` from every retailer's pair of
    shipments (see the module docstring); return what was built.

    Raises :class:`MatchError` (and changes nothing) when the store holds raw party rows,
    shipments do not pair up, a retailer
    row has no link to a person, or two runs give one content event different people (the
    content platform changed its person secret between runs).
    """
    from redcat.match.report import insert_runs  # the report module owns match_runs' layout

    pairs = pair_shipments(directories)
    for raw in ("content_events", "commerce_events", "holdouts"):
        if has_table(con, raw) and _scalar(con, f"SELECT count(*) FROM {raw}"):
            raise MatchError(
                f"this store holds raw {raw} rows (with user_key): load shipments into a "
                "clean-room store of its own, never into a party's"
            )
    content_dirs = [p[0] for p in pairs.values()]
    retailer_dirs = [p[2] for p in pairs.values()]
    content_tables = (
        "content_events",
        "holdouts",
        "links",
        "notes",
        "spend",
        "platform_metrics",
        "holdout_design",
    )
    src = {t: _files(content_dirs, t) for t in content_tables}
    src.update({t: _files(retailer_dirs, t) for t in ("commerce_events", "shops", "brand_terms")})
    con.execute("BEGIN TRANSACTION")
    try:
        _check_links(con, src["links"], pairs)
        split = con.execute(
            "SELECT event_id FROM (SELECT DISTINCT event_id, person_key FROM read_parquet(?)) "
            "GROUP BY event_id HAVING count(*) > 1 LIMIT 1",
            [src["content_events"]],
        ).fetchall()
        if split:
            raise MatchError(
                f"content event {split[0][0]!r} comes with two different people in two runs: "
                "the content platform must use one person secret for every run"
            )
        con.execute(
            "CREATE OR REPLACE TABLE cr_content_events AS "
            "SELECT DISTINCT event_id, person_key AS match_key, note_id, ts, event, surface "
            "FROM read_parquet(?) ORDER BY ts, event_id",
            [src["content_events"]],
        )
        con.execute(
            "CREATE OR REPLACE TABLE cr_holdouts AS "
            "SELECT DISTINCT person_key AS match_key, campaign_id, arm "
            "FROM read_parquet(?) ORDER BY campaign_id, match_key",
            [src["holdouts"]],
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _links AS SELECT * FROM read_parquet(?)", [src["links"]]
        )
        shipped_commerce = _scalar(
            con, "SELECT count(*) FROM read_parquet(?)", [src["commerce_events"]]
        )
        con.execute(
            "CREATE OR REPLACE TABLE cr_commerce_events AS "
            "SELECT c.retailer_id, c.event_id, l.person_key AS match_key, c.shop_id, c.ts, "
            "c.event, c.query, c.product_id, c.order_id, c.amount "
            "FROM read_parquet(?) c JOIN _links l USING (retailer_id, match_key) "
            "ORDER BY c.ts, c.retailer_id, c.event_id",
            [src["commerce_events"]],
        )
        commerce_rows = _scalar(con, "SELECT count(*) FROM cr_commerce_events")
        if commerce_rows != shipped_commerce:
            raise MatchError(
                f"{shipped_commerce - commerce_rows} retailer row(s) carry a match_key the "
                "content platform's links do not hold"
            )
        con.execute("DROP TABLE _links")
        for table in ("notes", "spend", "shops", "brand_terms"):
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} SELECT DISTINCT * FROM read_parquet(?)", [src[table]])
        _load_aggregates(con, src)
        runs = insert_runs(con, [(cm, rm) for (_, cm, _, rm) in pairs.values()])
        report = LoadReport(
            runs=tuple(runs),
            people=_scalar(
                con,
                "SELECT count(DISTINCT match_key) FROM (SELECT match_key FROM cr_content_events "
                "UNION ALL SELECT match_key FROM cr_holdouts "
                "UNION ALL SELECT match_key FROM cr_commerce_events)",
            ),
            content_rows=_scalar(con, "SELECT count(*) FROM cr_content_events"),
            commerce_rows=commerce_rows,
            holdout_rows=_scalar(con, "SELECT count(*) FROM cr_holdouts"),
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def _load_aggregates(con: duckdb.DuckDBPyConnection, src: Mapping[str, list[str]]) -> None:
    """Replace the content platform's aggregates with the shipped ones; every run ships the
    same (they describe the whole export), so two runs disagreeing is an error."""
    for table, ddl, key in (
        ("platform_metrics", PLATFORM_METRICS_DDL, "level, brand_id, key"),
        ("holdout_design", HOLDOUT_DESIGN_DDL, "campaign_id"),
    ):
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(ddl)
        con.execute(
            f"INSERT INTO {table} SELECT DISTINCT * FROM read_parquet(?) ORDER BY {key}",
            [src[table]],
        )
        clash = con.execute(
            f"SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
        ).fetchall()
        if clash:
            raise MatchError(
                f"the content shipments disagree on {table} {clash[0]}: load runs of one export"
            )


def _check_links(
    con: duckdb.DuckDBPyConnection,
    files: list[str],
    pairs: Mapping[str, tuple[Path, Manifest, Path, Manifest]],
) -> None:
    """Each run's links hold one row per match_key (at most one per shared person), under that
    run's retailer."""
    counts = dict(
        con.execute(
            "SELECT retailer_id, count(DISTINCT match_key) FROM read_parquet(?) GROUP BY 1",
            [files],
        ).fetchall()
    )
    for rid, (_, cm, _, _) in pairs.items():
        links = counts.get(rid, 0)
        if (
            links != cm.shipped.get("links")
            or links > cm.run.matched
            or (cm.run.matched and not links)
        ):
            raise MatchError(
                f"retailer {rid!r}: the content shipment links {links} match_key(s) in "
                f"{cm.shipped.get('links')} row(s), its run shared {cm.run.matched} people"
            )


@dataclass(frozen=True)
class CleanRoomRun:
    """An in-process alliance: each retailer's :class:`PairResult` and the clean room's load."""

    pairs: Mapping[str, PairResult]
    load: LoadReport
    store: Path


def clean_room_in_process(
    content_dir: Path,
    retailer_dirs: Mapping[str, Path],
    clean_room: Path,
    *,
    person_secret: bytes,
    store: Path | None = None,
    workers: int | None = None,
    parallel_min: int = 20_000,
) -> CleanRoomRun:
    """Run the whole alliance on this machine: validate the content platform's export folder and
    each retailer's (``retailer_dirs``: retailer id -> folder), run one PSI per retailer, write
    the shipments under ``clean_room/shipments/<retailer>/{content,retailer}`` and load them into
    the clean-room store (``store``, default ``clean_room/clean_room.duckdb``), which then holds
    only pseudonymous rows of matched people and the match report. Returns every run's reports.
    Raises :class:`MatchError` or :class:`redcat.errors.InputError` as the steps do; shipments
    already on disk are replaced."""
    from redcat.engine.store import connect

    clean_room = Path(clean_room)
    store = store or clean_room / "clean_room.duckdb"
    pairs: dict[str, PairResult] = {}
    dirs: list[Path] = []
    with PartyExport("content", content_dir) as content:
        for rid, rdir in sorted(retailer_dirs.items()):
            base = clean_room / "shipments" / rid
            shutil.rmtree(base, ignore_errors=True)
            with PartyExport("retailer", rdir, rid) as retailer:
                pairs[rid] = match_and_ship_in_process(
                    content,
                    retailer,
                    base / "content",
                    base / "retailer",
                    person_secret=person_secret,
                    workers=workers,
                    parallel_min=parallel_min,
                )
            dirs += [base / "content", base / "retailer"]
    con = connect(store)
    try:
        load = load_shipments(con, dirs)
    finally:
        con.close()
    return CleanRoomRun(pairs, load, store)
