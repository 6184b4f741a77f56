"""Two-party ECDH-PSI runs in process: exact intersections, shared keys, no leaks, bad messages."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.errors import MatchError
from redcat.match.keys import hash_to_u
from redcat.match.psi import (
    DONE,
    OPEN,
    PROTOCOL,
    PROTOCOL_ID,
    PsiParty,
    decode_message,
    encode_message,
    run_in_process,
)


def _pair(a_ids: list[str], b_ids: list[str]) -> tuple[PsiParty, PsiParty]:
    return (
        PsiParty.from_identifiers("initiator", a_ids),
        PsiParty.from_identifiers("responder", b_ids),
    )


def _keys(party: PsiParty) -> dict[str, str]:
    return {m.user_key: m.match_key for m in party.result().matches}


A_ONLY = [f"a-only-{i}" for i in range(30)]
B_ONLY = [f"b-only-{i}" for i in range(40)]
SHARED = [f"shared-{i}" for i in range(25)]


def test_both_sides_get_exactly_the_shared_people_with_identical_keys() -> None:
    a, b = _pair(A_ONLY + SHARED, SHARED + B_ONLY)
    transcript = run_in_process(a, b)
    ka, kb = _keys(a), _keys(b)
    assert set(ka) == set(kb) == set(SHARED)
    assert all(ka[p] == kb[p] for p in SHARED)
    assert len(set(ka.values())) == len(SHARED)
    assert a.result().match_keys == b.result().match_keys
    (stage,) = a.result().stages
    assert (stage.own_identifiers, stage.peer_identifiers, stage.shared_identifiers) == (55, 65, 25)
    assert len(transcript.messages) == 4
    assert transcript.initiator_bytes == sum(len(m) for m in transcript.messages[0::2])


def test_nothing_raw_or_plainly_hashed_crosses_and_keys_are_not_public_hashes() -> None:
    a, b = _pair(A_ONLY + SHARED, SHARED + B_ONLY)
    transcript = run_in_process(a, b)
    wire = b"".join(transcript.messages)
    for ident in A_ONLY + B_ONLY + SHARED:
        raw = ident.encode()
        for needle in (
            raw,
            hashlib.sha256(raw).digest(),
            hashlib.sha256(raw).hexdigest().encode(),
            hash_to_u("user_key", ident),
        ):
            assert needle not in wire
    for party in (a, b):
        assert party._blinder._secret not in wire  # each side's scalar stays with it
    public = {hashlib.sha256(s.encode()).hexdigest()[:32] for s in SHARED}
    assert not public & a.result().match_keys
    # B received 55 values from A and learnt nothing that names A's own people: every value it
    # got is either in the intersection (once blinded by both) or a fresh-looking 32 bytes.
    assert len(decode_message(transcript.messages[0]).sections[0]) == len(A_ONLY) + len(SHARED)


def test_keys_differ_between_runs_with_fresh_secrets() -> None:
    a1, b1 = _pair(SHARED, SHARED)
    a2, b2 = _pair(SHARED, SHARED)
    run_in_process(a1, b1)
    run_in_process(a2, b2)
    assert a1.result().match_keys == b1.result().match_keys
    assert not a1.result().match_keys & a2.result().match_keys


def test_empty_and_disjoint_sets_finish_with_no_matches() -> None:
    for a_ids, b_ids in (([], []), (A_ONLY, []), (A_ONLY, B_ONLY)):
        a, b = _pair(a_ids, b_ids)
        run_in_process(a, b)
        assert a.result().matches == b.result().matches == ()


@settings(max_examples=15, deadline=None)
@given(
    st.sets(st.integers(0, 60), max_size=25),
    st.sets(st.integers(0, 60), max_size=25),
)
def test_intersection_is_exact_for_any_sets(xs: set[int], ys: set[int]) -> None:
    a, b = _pair([f"p{x}" for x in xs], [f"p{y}" for y in ys])
    run_in_process(a, b)
    expected = {f"p{v}" for v in xs & ys}
    assert set(_keys(a)) == set(_keys(b)) == expected
    assert all(_keys(a)[p] == _keys(b)[p] for p in expected)


PEOPLE_A = {
    # matched on phone (different formats on the two sides)
    "a1": {"phone": "138 0000 0001", "email": "one@example.com"},
    # phone differs, e-mail matches (gmail dots and case differ)
    "a2": {"phone": "13800000002", "email": "Two.Person@gmail.com"},
    # only a device id, matches
    "a3": {"device_id": "ABCDEF-0003"},
    # e-mail would match b5, but a1's phone already matched... a4 shares nothing else
    "a4": {"email": "four@example.com", "device_id": "dev-4"},
    # invalid phone and duplicate e-mail of a4's (collapsed: same identifier, two owners)
    "a5": {"phone": "12345", "email": "FOUR@example.com"},
    "a6": {"phone": None, "email": "not-an-email"},
}
PEOPLE_B = {
    "b1": {"phone": "+86 138-0000-0001", "email": "someone-else@example.com"},
    "b2": {"phone": "13900000002", "email": "twoperson@gmail.com"},
    "b3": {"device_id": "abcdef-0003"},
    # b4 holds a1's e-mail: a1 was matched on phone, so this must not match again
    "b4": {"email": "one@example.com"},
    "b5": {"email": "four@example.com"},
    "b6": {"phone": "0086 138 0000 0001"},  # same phone as b1: both own it
}


def test_waterfall_matches_each_person_once_on_their_first_shared_type() -> None:
    a = PsiParty("initiator", PEOPLE_A)
    b = PsiParty("responder", PEOPLE_B)
    transcript = run_in_process(a, b)
    assert len(transcript.messages) == 8  # 3 stages + confirmation
    ra, rb = a.result(), b.result()
    got_a = {m.user_key: m.id_type for m in ra.matches}
    got_b = {m.user_key: m.id_type for m in rb.matches}
    assert got_a == {"a1": "phone", "a2": "email", "a3": "device_id", "a4": "email", "a5": "email"}
    assert got_b == {"b1": "phone", "b6": "phone", "b2": "email", "b5": "email", "b3": "device_id"}
    assert ra.match_keys == rb.match_keys and len(ra.match_keys) == 4
    ka, kb = _keys(a), _keys(b)
    assert ka["a1"] == kb["b1"] == kb["b6"]
    assert ka["a2"] == kb["b2"] and ka["a3"] == kb["b3"] and ka["a4"] == ka["a5"] == kb["b5"]
    counts = {s.id_type: s.people_matched for s in ra.stages}
    assert counts == {"phone": 1, "email": 3, "device_id": 1}
    assert ra.shares() == {"phone": 0.2, "email": 0.6, "device_id": 0.2}
    # stage sizes: e-mail leaves out a1 (matched on phone); device ids leave out a4 (on e-mail)
    assert [(s.own_identifiers, s.peer_identifiers) for s in ra.stages] == [(2, 2), (2, 3), (1, 1)]
    assert [s.shared_identifiers for s in ra.stages] == [1, 2, 1]
    reasons = {(r.user_key, r.id_type) for r in ra.rejected}
    assert reasons == {("a5", "phone"), ("a6", "email")}
    assert ra.duplicates == 1 and rb.duplicates == 1
    assert ra.people == 6


def test_duplicates_and_invalid_identifiers_never_crash() -> None:
    ids = ["13800000001", " 13800000001", "138-0000-0001", "bad", "", "13800000002"]
    a = PsiParty.from_identifiers("initiator", ids, "phone")
    b = PsiParty.from_identifiers("responder", ["+8613800000001"], "phone")
    run_in_process(a, b)
    ra = a.result()
    assert {m.user_key for m in ra.matches} == {"13800000001", " 13800000001", "138-0000-0001"}
    assert len(ra.match_keys) == 1
    assert ra.duplicates == 2
    assert sorted(r.user_key for r in ra.rejected) == ["", "bad"]
    assert ra.stages[0].own_identifiers == 2


def test_parallel_workers_give_the_same_intersection() -> None:
    a = PsiParty.from_identifiers("initiator", A_ONLY + SHARED, workers=2, parallel_min=10)
    b = PsiParty.from_identifiers("responder", SHARED + B_ONLY, workers=2, parallel_min=10)
    run_in_process(a, b)
    assert set(_keys(a)) == set(_keys(b)) == set(SHARED)


# -- malformed messages ------------------------------------------------------------------------


def _open_message() -> bytes:
    a, _ = _pair(SHARED, SHARED)
    return a.first_message()


def _responder() -> PsiParty:
    return PsiParty.from_identifiers("responder", SHARED)


def _reframe(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda m: m[:-5], "length prefix says"),
        (lambda m: m[:3], "cut short"),
        (lambda m: b"", "cut short"),
        (lambda m: _reframe(m[4:] + b"\x00\x00"), "cut short"),
        (lambda m: _reframe(m[4:] + b"\x00\x00\x00\x05"), "cut short"),
        (
            lambda m: _reframe(m[4:].replace(PROTOCOL_ID, b"redcat-ecdh-psi-x25519/1")),
            "speaks protocol",
        ),
        (lambda m: _reframe(b"\x03foo" + m[4 + 1 + len(PROTOCOL_ID) :]), "speaks protocol"),
        (
            lambda m: _reframe(m[4 : 5 + len(PROTOCOL_ID)] + b"\x09" + m[6 + len(PROTOCOL_ID) :]),
            "unknown PSI message kind 9",
        ),
        (
            lambda m: _reframe(m[4 : 5 + len(PROTOCOL_ID)] + b"\x02" + m[6 + len(PROTOCOL_ID) :]),
            "unexpected PSI message REPLY",
        ),
        (lambda m: encode_message(OPEN, 0, [[bytes(32)] * 2], ("user_key",)), "repeats a value"),
        (lambda m: encode_message(OPEN, 0, [[bytes(32)]], ("user_key",)), "invalid curve value"),
        (lambda m: encode_message(OPEN, 0, [[]], ("phone",)), "disagree on identifier types"),
        (lambda m: encode_message(OPEN, 1, [[]], ("user_key",)), "out of turn"),
        (lambda m: encode_message(OPEN, 0, [[], []], ("user_key",)), "has 2 sections, expected 1"),
        (lambda m: "text", "must be bytes"),
    ],
)
def test_malformed_messages_raise_match_error(mangle, match: str) -> None:  # type: ignore[no-untyped-def]
    b = _responder()
    with pytest.raises(MatchError, match=match):
        b.receive(mangle(_open_message()))
    with pytest.raises(MatchError, match="failed earlier"):
        b.receive(_open_message())
    with pytest.raises(MatchError, match="not finished"):
        b.result()


def test_oversized_section_is_refused_before_reading_it() -> None:
    b = PsiParty.from_identifiers("responder", SHARED, max_set_size=10)
    with pytest.raises(MatchError, match="over the limit of 10"):
        b.receive(_open_message())


def test_reply_with_wrong_count_and_out_of_order_calls() -> None:
    a, b = _pair(SHARED, SHARED)
    opening = a.first_message()
    with pytest.raises(MatchError, match="once"):
        a.first_message()
    with pytest.raises(MatchError, match="only the initiator"):
        _responder().first_message()
    reply = decode_message(b.receive(opening))
    short = encode_message(2, 0, [reply.sections[0][:-1], reply.sections[1]])
    with pytest.raises(MatchError, match="returned 24 values for the 25 sent"):
        a.receive(short)


def test_roles_and_types_are_checked() -> None:
    with pytest.raises(MatchError, match="role"):
        PsiParty.from_identifiers("middle", SHARED)  # type: ignore[arg-type]
    with pytest.raises(MatchError, match="distinct names"):
        PsiParty("initiator", {}, types=("phone", "phone"))
    assert PROTOCOL == "redcat-ecdh-psi-x25519/2"


def test_a_confirmation_that_disagrees_voids_the_run() -> None:
    a, b = _pair(SHARED, SHARED)
    reply = b.receive(a.first_message())
    assert reply is not None
    last = a.receive(reply)
    assert last is not None
    done = b.receive(last)
    assert done is not None and b.done
    forged = encode_message(DONE, 0, [[bytes(range(32))]])
    with pytest.raises(MatchError, match="different match_keys"):
        a.receive(forged)
    with pytest.raises(MatchError, match="not finished"):
        a.result()
    assert not a.done


def _reference_waterfall(
    a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """Plain sequential waterfall on already-normal values: person -> (type, shared value)."""
    got_a: dict[str, tuple[str, str]] = {}
    got_b: dict[str, tuple[str, str]] = {}
    for t in ("phone", "email", "device_id"):
        va = {ids[t] for p, ids in a.items() if t in ids and p not in got_a}
        vb = {ids[t] for p, ids in b.items() if t in ids and p not in got_b}
        shared = va & vb
        for side, got in ((a, got_a), (b, got_b)):
            for p, ids in side.items():
                if p not in got and ids.get(t) in shared:
                    got[p] = (t, ids[t])
    return got_a, got_b


_person = st.fixed_dictionaries(
    {},
    optional={
        "phone": st.integers(0, 6).map(lambda i: f"+861380000000{i}"),
        "email": st.integers(0, 6).map(lambda i: f"u{i}@example.com"),
        "device_id": st.integers(0, 6).map(lambda i: f"dev-{i}"),
    },
)


@settings(max_examples=20, deadline=None)
@given(
    st.dictionaries(st.text("abc", min_size=1, max_size=3), _person, max_size=8),
    st.dictionaries(st.text("xyz", min_size=1, max_size=3), _person, max_size=8),
)
def test_waterfall_agrees_with_a_plain_reference(
    people_a: dict[str, dict[str, str]], people_b: dict[str, dict[str, str]]
) -> None:
    a = PsiParty("initiator", people_a)
    b = PsiParty("responder", people_b)
    run_in_process(a, b)
    ref_a, ref_b = _reference_waterfall(people_a, people_b)
    ra, rb = a.result(), b.result()
    assert {m.user_key: m.id_type for m in ra.matches} == {p: t for p, (t, _) in ref_a.items()}
    assert {m.user_key: m.id_type for m in rb.matches} == {p: t for p, (t, _) in ref_b.items()}
    assert ra.match_keys == rb.match_keys
    key_of_value = {ref_a[m.user_key]: m.match_key for m in ra.matches}
    for m in rb.matches:
        assert key_of_value[ref_b[m.user_key]] == m.match_key
