"""The match report: rows kept in match_runs (extended compatibly) and the frame it prints."""

from __future__ import annotations

import json

import duckdb
import pytest
from tests.match.world_files import write_world
from tests.tiny_world import build

from redcat.engine.store import ensure_schema
from redcat.match import run_direct_match
from redcat.match.psi import PROTOCOL
from redcat.match.report import ensure_match_runs, match_report_frame, split_protocol
from redcat.match.ship import clean_room_in_process

SECRET = bytes(range(32))


def test_report_of_an_alliance_run_by_hand(tmp_path):
    content_dir, retailers = write_world(tmp_path / "in")
    run = clean_room_in_process(content_dir, retailers, tmp_path / "cr", person_secret=SECRET)
    con = duckdb.connect(str(run.store), read_only=True)
    try:
        frame = match_report_frame(con)
        stored = con.execute("SELECT run_id, type_shares FROM match_runs ORDER BY 1").fetchall()
    finally:
        con.close()
    assert list(frame.columns) == [
        "retailer_id",
        "content_users",
        "retailer_users",
        "matched_users",
        "match_rate",
        "ran_at",
        "protocol",
        "protocol_version",
        "seconds",
        "share_user_key",
    ]
    rows = frame[["retailer_id", "content_users", "retailer_users", "matched_users", "match_rate"]]
    assert rows.values.tolist() == [["jd", 4, 3, 2, 0.5], ["tmall", 4, 4, 3, 0.75]]
    name, version = PROTOCOL.rsplit("/", 1)  # e.g. redcat-ecdh-psi-x25519/2
    assert set(frame["protocol"]) == {name} and name == "redcat-ecdh-psi-x25519"
    assert set(frame["protocol_version"]) == {version} and version.isdigit()
    assert frame["share_user_key"].tolist() == [1.0, 1.0]
    assert (frame["seconds"] >= 0).all() and (frame["seconds"] < 60).all()
    run_ids = sorted(p.content.manifest.run.run_id for p in run.pairs.values())
    assert sorted(r[0] for r in stored) == run_ids
    assert all(json.loads(r[1]) == {"user_key": 1.0} for r in stored)


def test_direct_rows_and_psi_columns_coexist(tmp_path):
    engine = build(tmp_path / "s.duckdb")
    con = engine.duck
    run_direct_match(con, "salt")
    ensure_match_runs(con)  # an older store gains the PSI columns ...
    ensure_match_runs(con)  # ... once
    run_direct_match(con, "salt")  # and the direct match still records its runs
    assert len(match_report_frame(con, history=True)) == 2
    latest = match_report_frame(con)
    assert latest[["retailer_id", "matched_users"]].values.tolist() == [["tmall", 2]]
    assert latest["protocol_version"].tolist() == [""]
    assert latest["seconds"].isna().all()
    assert not any(c.startswith("share_") for c in latest.columns)
    engine.close()


def test_a_store_without_runs_gives_an_empty_report():
    con = duckdb.connect()
    ensure_schema(con)
    assert match_report_frame(con).empty


@pytest.mark.parametrize(
    ("protocol", "parts"),
    [
        ("redcat-ecdh-psi-x25519/1", ("redcat-ecdh-psi-x25519", "1")),
        ("direct-sha256 (spine; single store)", ("direct-sha256 (spine; single store)", "")),
        ("a/b", ("a/b", "")),
    ],
)
def test_split_protocol(protocol, parts):
    assert split_protocol(protocol) == parts


def test_two_retailers_sharing_nobody_keep_a_row_each():
    # With no shared person both runs' run_id is the hash of the empty key set: equal. Recording
    # the second run must not replace the first retailer's row.
    from redcat.match.keys import confirmation
    from redcat.match.ship import Manifest, RunFigures

    empty_id = confirmation([]).hex()[:32]

    def pair(rid: str, people: int, peer: int) -> tuple[Manifest, Manifest]:
        def side(party, own, other):
            run = RunFigures(empty_id, PROTOCOL, "2026-11-25T10:00:00", 1.0, own, other, 0, ())
            return Manifest(party, rid, run, {})

        return side("content", people, peer), side("retailer", peer, people)

    con = duckdb.connect()
    ensure_schema(con)
    from redcat.match.report import insert_runs

    insert_runs(con, [pair("jd", 5, 3), pair("tmall", 5, 4)])
    frame = match_report_frame(con)
    got = frame[["retailer_id", "content_users", "retailer_users", "matched_users"]]
    assert got.values.tolist() == [["jd", 5, 3, 0], ["tmall", 5, 4, 0]]
