"""Proof that nothing leaks: after a whole match and shipping, no file and no table of the clean
room holds a raw ``user_key`` or its plain SHA-256; and what one party receives during PSI holds
nothing about the other side's users (matched or not) but blinded curve values.

Every scanner is first shown to find what it looks for (positive controls), so a scan that
finds nothing means something.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from tests.match.world_files import CONTENT_USERS, loopback_alliance, write_world

from redcat.engine.store import connect
from redcat.ingest.load import ingest_party
from redcat.match.alliance import person_key
from redcat.match.keys import hash_to_u
from redcat.match.ship import (
    PartyExport,
    clean_room_in_process,
    match_and_ship_in_process,
)
from redcat.simulate import WorldConfig, simulate_world

SECRET = bytes(range(32))
# Distinctive raw keys (a hashed-phone-like key, an e-mail-like key...) for the hand world.
KEYS = {
    "u1": "uk-13800138001",
    "u2": "alice.liu@example.com",
    "u3": "uk-device-4f1c2a9e",
    "u4": "uk-holdout-only-0004",
    "u5": "uk-quarantined-0005",
    "u8": "uk-jd-only-0008",
    "u9": "uk-tmall-only-0009",
}


def forbidden_forms(keys: Iterable[str]) -> dict[bytes, str]:
    """Every form of a raw key the clean room must not hold: the key, its SHA-256 in lower and
    upper hex and as 32 raw bytes."""
    forms: dict[bytes, str] = {}
    for key in keys:
        digest = hashlib.sha256(key.encode()).digest()
        for form in (key.encode(), digest.hex().encode(), digest.hex().upper().encode(), digest):
            forms[form] = key
    return forms


def values_of_files(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (where, bytes) for every file under ``folder`` as stored, and for Parquet files
    every cell as text too (compression could hide a value from the byte scan)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        yield str(path), path.read_bytes()
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                cells = "\x00".join(str(v) for v in table.column(name).to_pylist())
                yield f"{path}:{name}", cells.encode()


def values_of_store(store: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (table.column, text) for every column of every table in the DuckDB store, each
    cell cast to text (lists and all)."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "ORDER BY table_name, column_name"
        ).fetchall()
        for table, column in columns:
            cells = con.execute(f'SELECT CAST("{column}" AS VARCHAR) FROM "{table}"').fetchall()
            yield f"{table}.{column}", "\x00".join(str(c) for (c,) in cells).encode()
    finally:
        con.close()


def find(blobs: Iterable[tuple[str, bytes]], forms: dict[bytes, str]) -> list[tuple[str, str]]:
    """Return (where, raw key) for every forbidden form found in a blob. Forms that are 64 hex
    characters are looked up by window (fast for thousands of keys); others by substring."""
    hex64 = {f: k for f, k in forms.items() if re.fullmatch(rb"[0-9a-fA-F]{64}", f)}
    other = {f: k for f, k in forms.items() if f not in hex64}
    hits = []
    for where, blob in blobs:
        for run in re.finditer(rb"[0-9a-fA-F]{64,}", blob):
            text = run.group()
            for i in range(len(text) - 63):
                if text[i : i + 64] in hex64:
                    hits.append((where, hex64[text[i : i + 64]]))
        hits += [(where, key) for form, key in other.items() if form in blob]
    return hits


def test_scanners_find_raw_keys_where_they_are(tmp_path):
    """Positive controls: the same scans find the keys in the parties' exports, in a store that
    ingested them, and SHA-256 forms planted in a Parquet file."""
    content_dir, _ = write_world(tmp_path / "in", KEYS)
    forms = forbidden_forms(KEYS.values())
    assert {k for _, k in find(values_of_files(tmp_path / "in"), forms)} == set(KEYS.values())
    store = tmp_path / "raw.duckdb"
    con = connect(store)
    ingest_party(con, "content", content_dir)
    con.close()
    found = {k for _, k in find(values_of_store(store), forms)}
    assert found == {KEYS[u] for u in ("u1", "u2", "u3", "u4", "u5")}  # u5 via the quarantine
    planted = tmp_path / "planted"
    planted.mkdir()
    con = duckdb.connect()
    sha = hashlib.sha256(KEYS["u2"].encode()).hexdigest()
    con.execute(f"COPY (SELECT '{sha}' AS x) TO '{planted / 'p.parquet'}' (FORMAT parquet)")
    con.close()
    assert {k for _, k in find(values_of_files(planted), forms)} == {KEYS["u2"]}


def test_clean_room_holds_no_raw_key_nor_its_sha256(tmp_path):
    content_dir, retailers = write_world(tmp_path / "in", KEYS)
    clean_room = tmp_path / "clean-room"
    run = clean_room_in_process(content_dir, retailers, clean_room, person_secret=SECRET, workers=1)
    forms = forbidden_forms(KEYS.values())
    assert find(values_of_files(clean_room), forms) == []
    assert find(values_of_store(run.store), forms) == []
    assert run.load.people == 4  # the scan ran over a real clean room


def test_clean_room_of_a_simulated_world_holds_no_raw_key(tmp_path):
    world = tmp_path / "world"
    simulate_world(WorldConfig(users=1_500, days=10, brands=2, retailers=2, seed=3), world)
    retailers = {p.name: p for p in sorted((world / "retailers").iterdir())}
    clean_room = tmp_path / "clean-room"
    run = clean_room_in_process(
        world / "content", retailers, clean_room, person_secret=SECRET, workers=1
    )
    keys: set[str] = set()
    for party in [world / "content", *retailers.values()]:
        for path in party.glob("*.csv"):
            table = duckdb.read_csv(str(path))
            if "user_key" in table.columns:
                keys.update(str(r[0]) for r in table.select("user_key").fetchall())
    assert len(keys) > 1_000 and run.load.people > 100
    forms = forbidden_forms(keys)
    assert find(values_of_files(world), forms)  # positive control on this world's exports
    assert find(values_of_files(clean_room), forms) == []
    assert find(values_of_store(run.store), forms) == []


@pytest.mark.parametrize("retailer", ["tmall", "jd"])
def test_what_each_side_receives_holds_nothing_of_the_other_sides_users(tmp_path, retailer):
    content_dir, retailers = write_world(tmp_path / "in", KEYS)
    with (
        PartyExport("content", content_dir) as content,
        PartyExport("retailer", retailers[retailer], retailer) as shop,
    ):
        content_users = content.user_keys()
        retailer_users = shop.user_keys()
        pair = match_and_ship_in_process(
            content, shop, tmp_path / "c", tmp_path / "r", person_secret=SECRET, workers=1
        )
    shared = set(content_users) & set(retailer_users)
    messages = pair.transcript.messages
    to_retailer, to_content = b"".join(messages[0::2]), b"".join(messages[1::2])

    def traces(users: Iterable[str]) -> dict[bytes, str]:
        # the raw key, its SHA-256, and its unblinded curve point
        forms = forbidden_forms(users)
        forms.update({hash_to_u("user_key", u): u for u in users})
        return forms

    # the peer never receives any form of the other side's identifiers, shared or not
    assert find([("to retailer", to_retailer)], traces(content_users)) == []
    assert find([("to content", to_content)], traces(retailer_users)) == []
    # it receives one blinded value per identifier of the other side, no more
    assert pair.retailer.manifest.run.peer_people == len(content_users)
    assert pair.content.manifest.run.peer_people == len(retailer_users)
    # and ends with the shared users only, the same match_keys on both sides
    assert pair.retailer.manifest.run.matched == len(shared)
    commerce = pq.read_table(tmp_path / "r" / "commerce_events.parquet")
    links = pq.read_table(tmp_path / "c" / "links.parquet")
    assert set(commerce.column("match_key").to_pylist()) <= set(
        links.column("match_key").to_pylist()
    )
    assert len(set(links.column("match_key").to_pylist())) == len(shared)
    # the content shipment carries no person outside the intersection
    unshared = [u for u in content_users if u not in shared]
    shipped = set(
        pq.read_table(tmp_path / "c" / "content_events.parquet")["person_key"].to_pylist()
    )
    shipped |= set(pq.read_table(tmp_path / "c" / "holdouts.parquet")["person_key"].to_pylist())
    assert shipped == {person_key(SECRET, u) for u in shared}
    assert not shipped & {person_key(SECRET, u) for u in unshared}
    assert {KEYS[u] for u in CONTENT_USERS} == set(content_users)


def test_loopback_alliance_leaves_no_raw_key_in_the_clean_room(tmp_path, capsys):
    content_dir, retailers = write_world(tmp_path / "in", KEYS)
    clean_room = loopback_alliance(tmp_path, content_dir, retailers)
    capsys.readouterr()
    forms = forbidden_forms(KEYS.values())
    assert find(values_of_files(clean_room), forms) == []
    assert find(values_of_store(clean_room / "clean_room.duckdb"), forms) == []
    con = duckdb.connect(str(clean_room / "clean_room.duckdb"), read_only=True)
    try:  # the same clean room as in process: 4 people, u2 once across tmall and jd
        assert con.execute(
            "SELECT count(DISTINCT match_key) FROM (SELECT match_key FROM cr_content_events "
            "UNION ALL SELECT match_key FROM cr_commerce_events "
            "UNION ALL SELECT match_key FROM cr_holdouts)"
        ).fetchall() == [(4,)]
        assert con.execute(
            "SELECT count(DISTINCT match_key) FROM cr_commerce_events WHERE event_id IN ('x4','y1')"
        ).fetchall() == [(1,)]
        assert con.execute(
            "SELECT retailer_id, content_users, retailer_users, matched_users FROM match_runs "
            "ORDER BY 1"
        ).fetchall() == [("jd", 4, 3, 2), ("tmall", 4, 4, 3)]
    finally:
        con.close()
