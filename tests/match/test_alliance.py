"""Alliance keys: one person_key per content-platform user across every retailer's PSI run."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.errors import ConfigError
from redcat.match.alliance import (
    load_person_secret,
    new_person_secret,
    person_key,
    person_links,
)
from redcat.match.psi import PsiParty, run_in_process

SECRET = bytes(range(32))


def test_person_key_is_keyed_and_stable():
    key = person_key(SECRET, "u1")
    assert key == person_key(SECRET, "u1")
    assert len(key) == 32 and int(key, 16) >= 0
    assert key != person_key(SECRET, "u2")
    assert key != person_key(bytes(32), "u1")  # another secret, another pseudonym
    assert key not in hashlib.sha256(b"u1").hexdigest()
    with pytest.raises(ConfigError, match="32 bytes"):
        person_key(b"short", "u1")


def test_person_secret_file_is_created_once_private_and_checked(tmp_path: Path):
    path = tmp_path / "keys" / "person.key"
    with pytest.raises(ConfigError, match="does not exist"):
        load_person_secret(path, create=False)
    first = load_person_secret(path)
    assert len(first) == 32
    assert load_person_secret(path) == first
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("not hex")
    with pytest.raises(ConfigError, match="64 hex characters"):
        load_person_secret(path)
    assert new_person_secret() != new_person_secret()


def _run(content: list[str], retailer: list[str]) -> tuple[list, list]:  # type: ignore[type-arg]
    a = PsiParty.from_identifiers("initiator", content, workers=1)
    b = PsiParty.from_identifiers("responder", retailer, workers=1)
    run_in_process(a, b)
    return list(a.result().matches), list(b.result().matches)


def test_links_map_each_run_match_key_to_the_person():
    content_side, retailer_side = _run(["u1", "u2", "u3"], ["u2", "u3", "u4"])
    links = person_links(SECRET, "jd", content_side).to_pylist()
    assert [r["match_key"] for r in links] == sorted(r["match_key"] for r in links)
    assert {r["retailer_id"] for r in links} == {"jd"}
    by_user = {m.user_key: m.match_key for m in retailer_side}
    assert {r["match_key"]: r["person_key"] for r in links} == {
        by_user[u]: person_key(SECRET, u) for u in ("u2", "u3")
    }


users = st.sets(st.sampled_from([f"u{i}" for i in range(12)]))


@settings(max_examples=15, deadline=None)
@given(content=users, retailers=st.lists(users, min_size=1, max_size=3))
def test_one_person_per_shared_user_across_the_alliance(content, retailers):
    """Joining each retailer's match_keys to the links gives exactly the content users shared
    with any retailer, each once, and a retailer's rows of one user one person_key."""
    people: dict[tuple[int, str], str] = {}  # (retailer, its user) -> person_key via the links
    for i, retailer in enumerate(retailers):
        content_side, retailer_side = _run(sorted(content), sorted(retailer))
        links = {
            r["match_key"]: r["person_key"]
            for r in person_links(SECRET, f"r{i}", content_side).to_pylist()
        }
        assert len(links) == len(content & retailer)
        for m in retailer_side:
            people[(i, m.user_key)] = links[m.match_key]
    shared = set().union(*(content & r for r in retailers))
    assert set(people.values()) == {person_key(SECRET, u) for u in shared}
    for (_, user), key in people.items():
        assert key == person_key(SECRET, user)
