"""Shipping after PSI: exact row accounting on the hand-made world (tests/match/world_files.py),
the clean-room tables the engine reads, and refusals that leave nothing half-done."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.match.world_files import write_world

from redcat.engine import open_engine
from redcat.engine.store import connect
from redcat.errors import MatchError
from redcat.funnel.metrics import brand_funnel, content_metrics, funnel_sources
from redcat.ingest.load import ingest_party
from redcat.match import run_direct_match
from redcat.match.alliance import new_person_secret, person_key
from redcat.match.psi import run_in_process
from redcat.match.ship import (
    Manifest,
    PartyExport,
    clean_room_in_process,
    load_shipments,
    match_and_ship_in_process,
    ship,
)
from redcat.settings import Windows

SECRET = bytes(range(32))


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    return write_world(tmp_path / "in")


def _counts(report) -> dict[str, tuple[int, int, int, int, int]]:  # type: ignore[no-untyped-def]
    return {
        t.table: (t.rows, t.quarantined, t.duplicates, t.unmatched, t.shipped)
        for t in report.tables
    }


def test_each_party_ships_only_shared_users_and_accounts_for_every_row(world, tmp_path):
    content_dir, retailers = world
    with (
        PartyExport("content", content_dir) as content,
        PartyExport("retailer", retailers["tmall"], "tmall") as tmall,
    ):
        assert content.user_keys() == ["u1", "u2", "u3", "u4"]  # u4: holdout only; u5 quarantined
        assert tmall.user_keys() == ["u1", "u2", "u4", "u9"]
        pair = match_and_ship_in_process(
            content, tmall, tmp_path / "c", tmp_path / "r", person_secret=SECRET, workers=1
        )
    # rows = shipped + unmatched + quarantined + duplicates, by hand:
    assert _counts(pair.content) == {
        "content_events": (8, 1, 1, 1, 5),  # e7 bad, e1 twice, u3's e5 unmatched
        "holdouts": (3, 0, 0, 1, 2),  # u3 unmatched
        "notes": (3, 0, 0, 0, 3),
        "spend": (2, 0, 0, 0, 2),
    }
    assert _counts(pair.retailer) == {
        "commerce_events": (7, 0, 0, 1, 6),  # u9's x5 unmatched
        "shops": (2, 0, 0, 0, 2),
        "brand_terms": (2, 0, 0, 0, 2),
    }
    for t in pair.content.tables + pair.retailer.tables:
        assert t.rows == t.shipped + t.unmatched + t.quarantined + t.duplicates
    run = pair.content.manifest.run
    assert (run.people, run.peer_people, run.matched) == (4, 4, 3)
    assert pair.retailer.manifest.run.run_id == run.run_id
    assert pair.content.manifest.shipped["links"] == 3

    events = pq.read_table(tmp_path / "c" / "content_events.parquet")
    assert "user_key" not in events.column_names
    assert events.column("event_id").to_pylist() == ["e1", "e2", "e3", "e4", "e6"]
    assert set(events.column("person_key").to_pylist()) == {
        person_key(SECRET, "u1"),
        person_key(SECRET, "u2"),
    }
    commerce = pq.read_table(tmp_path / "r" / "commerce_events.parquet")
    assert "user_key" not in commerce.column_names
    assert sorted(commerce.column("event_id").to_pylist()) == ["x1", "x2", "x3", "x4", "x6", "x7"]
    links = pq.read_table(tmp_path / "c" / "links.parquet").to_pylist()
    assert {r["match_key"] for r in links} == set(commerce.column("match_key").to_pylist())
    for path in (tmp_path / "c").iterdir():  # no file holds a raw key, even uncompressed
        if path.suffix == ".json":
            assert "u1" not in path.read_text()


def test_clean_room_holds_matched_people_once_across_retailers(world, tmp_path):
    content_dir, retailers = world
    run = clean_room_in_process(
        content_dir, retailers, tmp_path / "cr", person_secret=SECRET, workers=1
    )
    load = run.load
    assert (load.people, load.content_rows, load.commerce_rows, load.holdout_rows) == (4, 6, 8, 3)
    by_retailer = {r["retailer_id"]: r for r in load.runs}
    assert {
        rid: (r["content_users"], r["retailer_users"], r["matched_users"], r["match_rate"])
        for rid, r in by_retailer.items()
    } == {"jd": (4, 3, 2, 0.5), "tmall": (4, 4, 3, 0.75)}
    con = duckdb.connect(str(run.store), read_only=True)
    try:
        keys = dict(
            con.execute(
                "SELECT event_id, match_key FROM cr_commerce_events WHERE event_id IN ('x4', 'y1')"
            ).fetchall()
        )
        # u2 bought at tmall (x4) and at jd (y1): two runs, two match_keys, one person
        assert keys == {"x4": person_key(SECRET, "u2"), "y1": person_key(SECRET, "u2")}
        content_keys = {
            r[0] for r in con.execute("SELECT match_key FROM cr_content_events").fetchall()
        }
        assert content_keys == {person_key(SECRET, u) for u in ("u1", "u2", "u3")}
        assert con.execute(
            "SELECT match_key, arm FROM cr_holdouts ORDER BY arm, match_key"
        ).fetchall() == sorted(
            [
                (person_key(SECRET, "u3"), "control"),
                (person_key(SECRET, "u4"), "control"),
                (person_key(SECRET, "u1"), "test"),
            ],
            key=lambda r: (r[1], r[0]),
        )
        assert con.execute("SELECT count(*) FROM notes").fetchall() == [(3,)]
        assert con.execute("SELECT retailer_id, shop_id FROM shops ORDER BY 1, 2").fetchall() == [
            ("jd", "s2"),
            ("tmall", "s1"),
            ("tmall", "s9"),
        ]
        for table in ("content_events", "commerce_events", "holdouts"):  # raw tables stay empty
            assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]
    finally:
        con.close()


def test_engine_outcomes_on_the_clean_room_equal_the_direct_match(world, tmp_path):
    content_dir, retailers = world
    run = clean_room_in_process(
        content_dir, retailers, tmp_path / "cr", person_secret=SECRET, workers=1
    )
    direct = tmp_path / "direct.duckdb"
    with open_engine(direct) as engine:
        ingest_party(engine.duck, "content", content_dir)
        for rid, folder in retailers.items():
            ingest_party(engine.duck, "retailer", folder, rid)
        run_direct_match(engine.duck, "salt")
        expected = brand_funnel(engine, "B1").kpis
        own: dict[tuple[str, str | None], tuple[int, ...]] = {}
        for level in ("brand_id", "note_id", "creator_id", "campaign_id", "day"):
            frame = engine.execute(content_metrics(funnel_sources(engine, "B1", Windows()), level))
            for row in frame.itertuples(index=False):
                key = getattr(row, level)
                if pd.isna(key):
                    key = None
                else:
                    key = pd.Timestamp(key).date().isoformat() if level == "day" else str(key)
                own[(level, key)] = (row.impressions, row.reach, row.reads, row.interactions)
    with open_engine(run.store, read_only=True) as engine:
        got = brand_funnel(engine, "B1").kpis
    con = duckdb.connect(str(run.store), read_only=True)
    try:
        shipped = {
            (level, key): tuple(rest)
            for level, key, *rest in con.execute(
                "SELECT level, key, impressions, reach, reads, interactions "
                "FROM platform_metrics WHERE brand_id = 'B1'"
            ).fetchall()
        }
        design = con.execute("SELECT * FROM holdout_design").fetchall()
    finally:
        con.close()
    # the platform's own figures over all its users, as the funnel computes them from raw rows
    assert shipped == own
    assert shipped[("brand_id", "B1")] == (4, 3, 1, 0)  # by hand: e1 e2 e4 e5; u1 u2 u3; e3
    assert design == [("C1", 3, 2)]
    # the funnel reads the shipped aggregates for the platform's own figures: every KPI agrees
    assert dict(got) == dict(expected)
    assert (got["reach"], got["impressions"]) == (3.0, 4.0)  # the hand-counted figures above
    # by hand: u1 (o1), u2 (o2 at tmall, o6 at jd) within 30 days; o4 is 19 days after n1
    assert (got["orders"], got["gmv"], got["visitors"]) == (3.0, 139.5, 2.0)


def test_ship_refuses_a_non_empty_folder_and_leaves_no_partial_shipment(world, tmp_path):
    content_dir, retailers = world
    out = tmp_path / "taken"
    out.mkdir()
    (out / "x").write_text("x")
    with (
        PartyExport("content", content_dir) as content,
        PartyExport("retailer", retailers["jd"], "jd") as jd,
    ):
        with pytest.raises(MatchError, match="not empty"):
            match_and_ship_in_process(
                content, jd, out, tmp_path / "r", person_secret=SECRET, workers=1
            )
        with content.psi_party("initiator", workers=1) as a, jd.psi_party("responder") as b:
            from redcat.match.psi import run_in_process

            run_in_process(a, b)
            res = a.result()
        with pytest.raises(MatchError, match="peer retailer"):
            ship(content, res, tmp_path / "c", ran_at=datetime.now(UTC), seconds=0.0)
    assert not (tmp_path / "c").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "taken"]  # no staging left


def test_load_refuses_shipments_of_different_runs_and_changes_nothing(world, tmp_path):
    content_dir, retailers = world
    one = clean_room_in_process(
        content_dir, {"jd": retailers["jd"]}, tmp_path / "a", person_secret=SECRET, workers=1
    )
    two = clean_room_in_process(
        content_dir, {"jd": retailers["jd"]}, tmp_path / "b", person_secret=SECRET, workers=1
    )
    ship_a, ship_b = tmp_path / "a" / "shipments" / "jd", tmp_path / "b" / "shipments" / "jd"
    con = connect(one.store)
    try:
        before = con.execute("SELECT * FROM cr_commerce_events ORDER BY event_id").fetchall()
        with pytest.raises(MatchError, match="different PSI runs"):
            load_shipments(con, [ship_a / "content", ship_b / "retailer"])
        with pytest.raises(MatchError, match="retailer side's shipment is missing"):
            load_shipments(con, [ship_a / "content"])
        with pytest.raises(MatchError, match="two content shipments"):
            load_shipments(con, [ship_a / "content", ship_b / "content", ship_a / "retailer"])
        assert (
            con.execute("SELECT * FROM cr_commerce_events ORDER BY event_id").fetchall() == before
        )
    finally:
        con.close()
    assert two.load.commerce_rows == one.load.commerce_rows == 2


def test_load_catches_a_changed_person_secret_and_foreign_match_keys(world, tmp_path):
    content_dir, retailers = world
    base = tmp_path / "s"
    with PartyExport("content", content_dir) as content:
        for rid, secret in (("tmall", SECRET), ("jd", new_person_secret())):
            with PartyExport("retailer", retailers[rid], rid) as r:
                match_and_ship_in_process(
                    content, r, base / rid / "c", base / rid / "r", person_secret=secret, workers=1
                )
    dirs = [base / rid / side for rid in ("tmall", "jd") for side in ("c", "r")]
    con = duckdb.connect()
    try:
        from redcat.engine.store import ensure_schema

        ensure_schema(con)
        with pytest.raises(MatchError, match="one person secret"):
            load_shipments(con, dirs)
        # retailer rows of another run (jd's match_keys, relabelled tmall) are refused
        jd_rows = pq.read_table(base / "jd" / "r" / "commerce_events.parquet")
        relabelled = jd_rows.set_column(0, "retailer_id", pa.array(["tmall"] * jd_rows.num_rows))
        pq.write_table(relabelled, base / "tmall" / "r" / "commerce_events.parquet")
        with pytest.raises(MatchError, match="links do not hold"):
            load_shipments(con, dirs[:2])
        assert not con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'cr_commerce_events'"
        ).fetchall()
    finally:
        con.close()


def test_manifest_round_trips_and_rejects_other_formats(world, tmp_path):
    content_dir, retailers = world
    run = clean_room_in_process(
        content_dir, {"jd": retailers["jd"]}, tmp_path / "cr", person_secret=SECRET, workers=1
    )
    folder = tmp_path / "cr" / "shipments" / "jd" / "content"
    manifest = Manifest.read(folder)
    assert manifest == run.pairs["jd"].content.manifest
    body = json.loads((folder / "manifest.json").read_text())
    assert set(body) == {"format", "party", "retailer_id", "run", "shipped"}
    body["format"] = "redcat-shipment/9"
    (folder / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(MatchError, match="shipment format"):
        Manifest.read(folder)
    with pytest.raises(MatchError, match="not a shipment"):
        Manifest.read(tmp_path)


def test_a_waterfall_of_identifier_types_ships_and_reports_each_types_share(world, tmp_path):
    """Parties key people differently (own user_keys) and share phones, e-mails, devices:
    u1 matches on phone, u2 on e-mail (its phone differs), u4 on device; u9 has no peer."""
    content_ids = {
        "u1": {"phone": "13800138001", "email": "one@example.com"},
        "u2": {"phone": "13800138002", "email": "Two@Example.com"},
        "u3": {"email": "three@example.com"},
        "u4": {"device_id": "AAAA-0004"},
        "u7": {"phone": "13800138007"},  # not in the export: left out of the match
    }
    tmall_ids = {
        "u1": {"phone": "+86 138 0013 8001"},
        "u2": {"phone": "13900000002", "email": "two@example.com"},
        "u4": {"device_id": "aaaa-0004"},
        "u9": {"phone": "13800138007"},
    }
    types = ("phone", "email", "device_id")
    ran_at = datetime.now(UTC)
    with (
        PartyExport("content", world[0]) as content,
        PartyExport("retailer", world[1]["tmall"], "tmall") as tmall,
    ):
        a = content.psi_party("initiator", identifiers=content_ids, types=types, workers=1)
        b = tmall.psi_party("responder", identifiers=tmall_ids, types=types, workers=1)
        with a, b:
            run_in_process(a, b)
            res_a, res_b = a.result(), b.result()
        assert res_a.people == 4 and res_b.people == 4  # export users, with or without ids
        assert {m.user_key: m.id_type for m in res_a.matches} == {
            "u1": "phone",
            "u2": "email",
            "u4": "device_id",
        }
        c = ship(
            content,
            res_a,
            tmp_path / "c",
            ran_at=ran_at,
            seconds=0.5,
            peer_retailer_id="tmall",
            person_secret=SECRET,
        )
        r = ship(tmall, res_b, tmp_path / "r", ran_at=ran_at, seconds=0.5)
    assert c.manifest.run.shares() == {"phone": 1 / 3, "email": 1 / 3, "device_id": 1 / 3}
    con = duckdb.connect()
    try:
        from redcat.engine.store import ensure_schema
        from redcat.match.report import match_report_frame

        ensure_schema(con)
        load = load_shipments(con, [tmp_path / "c", tmp_path / "r"])
        frame = match_report_frame(con)
    finally:
        con.close()
    assert load.commerce_rows == 6 and r.manifest.run.matched == 3
    assert frame[["share_phone", "share_email", "share_device_id"]].values.tolist() == [
        [1 / 3, 1 / 3, 1 / 3]
    ]


_USERS = st.sets(st.sampled_from([f"p{i}" for i in range(8)]), max_size=6)


@settings(max_examples=8, deadline=None)
@given(content=_USERS, holdout_only=_USERS, tmall=_USERS, jd=_USERS)
def test_clean_room_equals_the_direct_match_up_to_renaming_people(
    tmp_path_factory, content, holdout_only, tmall, jd
):
    """On random small worlds the PSI clean room holds exactly the direct match's rows, with
    one person_key per direct match_key (a bijection, consistent across tables)."""
    root = tmp_path_factory.mktemp("w")
    folders = {"content": root / "content", "tmall": root / "tmall", "jd": root / "jd"}
    for f in folders.values():
        f.mkdir()
    (folders["content"] / "notes.csv").write_text(
        "note_id,brand_id,creator_id,note_type,product_ids,published_at,title\n"
        "n1,B1,c1,ad,,2026-05-01,t\n"
    )
    (folders["content"] / "content_events.csv").write_text(
        "event_id,user_key,note_id,ts,event,surface\n"
        + "".join(f"e{u},{u},n1,2026-05-01 10:00,impression,feed\n" for u in sorted(content))
    )
    (folders["content"] / "holdouts.csv").write_text(
        "user_key,campaign_id,arm\n"
        + "".join(f"{u},C1,control\n" for u in sorted(holdout_only | content))
    )
    for rid, users in (("tmall", tmall), ("jd", jd)):
        (folders[rid] / "commerce_events.csv").write_text(
            "event_id,user_key,shop_id,ts,event,query,product_id,order_id,amount\n"
            + "".join(
                f"{rid}-{u},{u},s1,2026-05-02 10:00,order,,p1,o{rid}{u},1\n" for u in sorted(users)
            )
        )
        (folders[rid] / "shops.csv").write_text("shop_id,brand_id\ns1,B1\n")
    if not (content | holdout_only) or not (tmall | jd):
        return  # the direct match refuses a side without users; PSI runs are covered elsewhere
    direct = root / "direct.duckdb"
    con = connect(direct)
    ingest_party(con, "content", folders["content"])
    for rid in ("tmall", "jd"):
        ingest_party(con, "retailer", folders[rid], rid)
    run_direct_match(con, "salt")
    rows = {}
    for path, c in (("direct", con), ("psi", None)):
        if c is None:
            run = clean_room_in_process(
                folders["content"],
                {"tmall": folders["tmall"], "jd": folders["jd"]},
                root / "cr",
                person_secret=SECRET,
                workers=1,
            )
            c = duckdb.connect(str(run.store), read_only=True)
        rows[path] = {
            t: c.execute(f"SELECT {cols} FROM {t} ORDER BY ALL").fetchall()
            for t, cols in (
                ("cr_content_events", "event_id, match_key"),
                ("cr_commerce_events", "event_id, match_key"),
                ("cr_holdouts", "campaign_id, arm, match_key"),
            )
        }
        c.close()
    rename: dict[str, str] = {}
    for table in ("cr_content_events", "cr_commerce_events"):  # rows named by event_id
        psi_keys = dict(rows["psi"][table])
        assert sorted(psi_keys) == [event_id for event_id, _ in rows["direct"][table]], table
        for event_id, key in rows["direct"][table]:
            assert rename.setdefault(key, psi_keys[event_id]) == psi_keys[event_id]
    # every matched person has commerce rows, so the renaming covers the holdouts too
    renamed = sorted((c, a, rename[k]) for c, a, k in rows["direct"]["cr_holdouts"])
    assert renamed == sorted(rows["psi"]["cr_holdouts"])
    assert len(set(rename.values())) == len(rename)  # one person per direct key and back


def test_load_refuses_a_store_holding_raw_party_rows(world, tmp_path):
    content_dir, retailers = world
    clean_room_in_process(
        content_dir, {"jd": retailers["jd"]}, tmp_path / "cr", person_secret=SECRET, workers=1
    )
    party_store = connect(tmp_path / "party.duckdb")
    try:
        ingest_party(party_store, "retailer", retailers["jd"], "jd")
        shipments = tmp_path / "cr" / "shipments" / "jd"
        with pytest.raises(MatchError, match="raw commerce_events rows"):
            load_shipments(party_store, [shipments / "content", shipments / "retailer"])
    finally:
        party_store.close()


def test_two_retailer_users_sharing_a_phone_load_as_one_person(world, tmp_path):
    """tmall's u1 and u9 share one phone (a household), which the content platform's u1 holds:
    both match under one match_key (tmall: 2 people matched, content: 1). The run's key sets are
    equal, so its shipments pair and load: u9's order o3 (x5) goes to content u1's person."""
    content_ids = {"u1": {"phone": "13800138001"}, "u2": {"phone": "13800138002"}}
    tmall_ids = {"u1": {"phone": "13800138001"}, "u9": {"phone": "+86 138 0013 8001"}}
    ran_at = datetime.now(UTC)
    with (
        PartyExport("content", world[0]) as content,
        PartyExport("retailer", world[1]["tmall"], "tmall") as tmall,
    ):
        a = content.psi_party("initiator", identifiers=content_ids, types=("phone",), workers=1)
        b = tmall.psi_party("responder", identifiers=tmall_ids, types=("phone",), workers=1)
        with a, b:
            run_in_process(a, b)
            res_a, res_b = a.result(), b.result()
        assert len(res_a.matches) == 1 and len(res_b.matches) == 2
        assert res_a.match_keys == res_b.match_keys
        kw = {"ran_at": ran_at, "seconds": 0.5}
        ship(content, res_a, tmp_path / "c", peer_retailer_id="tmall", person_secret=SECRET, **kw)
        ship(tmall, res_b, tmp_path / "r", **kw)
    con = duckdb.connect()
    try:
        from redcat.engine.store import ensure_schema

        ensure_schema(con)
        load = load_shipments(con, [tmp_path / "c", tmp_path / "r"])
        rows = con.execute(
            "SELECT DISTINCT match_key FROM cr_commerce_events ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert load.commerce_rows == 5  # u1: x1 x2 x3 x6, u9: x5
    assert rows == [(person_key(SECRET, "u1"),)]


def test_two_content_users_sharing_a_phone_link_the_key_to_one_person(world, tmp_path):
    """The content platform's u1 and u2 share one phone, which tmall's u1 holds: one match_key,
    two hub users. The links name one person for it (the smaller person_key), so tmall's four
    rows of u1 load once each; u1's and u2's content events keep their own persons."""
    content_ids = {"u1": {"phone": "13800138001"}, "u2": {"phone": "138-0013-8001"}}
    tmall_ids = {"u1": {"phone": "13800138001"}}
    ran_at = datetime.now(UTC)
    with (
        PartyExport("content", world[0]) as content,
        PartyExport("retailer", world[1]["tmall"], "tmall") as tmall,
    ):
        a = content.psi_party("initiator", identifiers=content_ids, types=("phone",), workers=1)
        b = tmall.psi_party("responder", identifiers=tmall_ids, types=("phone",), workers=1)
        with a, b:
            run_in_process(a, b)
            res_a, res_b = a.result(), b.result()
        assert len(res_a.matches) == 2 and len(res_b.matches) == 1
        kw = {"ran_at": ran_at, "seconds": 0.5}
        ship(content, res_a, tmp_path / "c", peer_retailer_id="tmall", person_secret=SECRET, **kw)
        ship(tmall, res_b, tmp_path / "r", **kw)
    con = duckdb.connect()
    try:
        from redcat.engine.store import ensure_schema

        ensure_schema(con)
        load = load_shipments(con, [tmp_path / "c", tmp_path / "r"])
        buyers = con.execute("SELECT DISTINCT match_key FROM cr_commerce_events").fetchall()
    finally:
        con.close()
    assert load.commerce_rows == 4  # x1 x2 x3 x6, none doubled
    assert buyers == [(min(person_key(SECRET, "u1"), person_key(SECRET, "u2")),)]


def test_a_failed_retailer_shipment_takes_the_content_one_with_it(world, tmp_path):
    # The content side ships first; when the retailer's shipment then fails, the pair's run
    # must leave no one-sided shipment behind.
    content_dir, retailers = world
    taken = tmp_path / "r"
    taken.mkdir()
    (taken / "x").write_text("x")
    with (
        PartyExport("content", content_dir) as content,
        PartyExport("retailer", retailers["jd"], "jd") as jd,
        pytest.raises(MatchError, match="not empty"),
    ):
        match_and_ship_in_process(content, jd, tmp_path / "c", taken, person_secret=SECRET)
    assert not (tmp_path / "c").exists()
