"""Curve operations: X25519 known answer, commutativity on hashed inputs, batching, match_key."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.match.keys import (
    Blinder,
    PointError,
    hash_to_u,
    match_key,
    new_secret,
    x25519,
)


def test_x25519_rfc7748_vector() -> None:
    scalar = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    expected = "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    assert x25519(scalar, u).hex() == expected


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32), st.text())
def test_blinding_commutes_on_hashed_identifiers(a: bytes, b: bytes, identifier: str) -> None:
    u = hash_to_u("email", identifier)
    assert x25519(a, x25519(b, u)) == x25519(b, x25519(a, u))


def test_commutativity_holds_on_curve_and_twist_points() -> None:
    # Raw 32-byte u values: about half lie on the twist; over 200 both kinds occur (p ~ 2^-200).
    # hash_to_u never returns a twist point (test_hash_to_curve.py), but X25519 commutes on both.
    p = 2**255 - 19
    on_curve = set()
    a, b = new_secret(), new_secret()
    for i in range(200):
        u = hashlib.sha256(b"raw u %d" % i).digest()[:31] + b"\x00"
        x = int.from_bytes(u, "little")
        on_curve.add(pow((x**3 + 486662 * x * x + x) % p, (p - 1) // 2, p) == 1)
        assert x25519(a, x25519(b, u)) == x25519(b, x25519(a, u))
    assert on_curve == {True, False}


def test_hash_to_u_is_deterministic_type_separated_and_top_bit_clear() -> None:
    u = hash_to_u("email", "a@b.com")
    assert u == hash_to_u("email", "a@b.com")
    assert u != hash_to_u("device_id", "a@b.com")
    assert len(u) == 32 and u[31] & 0x80 == 0
    assert u != hashlib.sha256(b"a@b.com").digest()


def test_low_order_point_is_a_point_error() -> None:
    with pytest.raises(PointError):
        x25519(new_secret(), bytes(32))
    with Blinder(new_secret(), workers=1) as blinder, pytest.raises(PointError, match="value 1"):
        blinder.blind([hash_to_u("phone", "x"), bytes(32)])
    # the same from a worker process
    with Blinder(new_secret(), workers=2, parallel_min=2) as pool, pytest.raises(PointError):
        pool.blind([hash_to_u("phone", "x"), bytes(32)])


def test_parallel_batches_equal_serial() -> None:
    secret = new_secret()
    ids = [f"id{i}" for i in range(300)]
    with Blinder(secret, workers=1) as serial:
        expected = serial.hash_and_blind("user_key", ids)
        again = serial.blind(expected)
    with Blinder(secret, workers=2, parallel_min=10, chunk=64) as parallel:
        assert parallel.hash_and_blind("user_key", ids) == expected
        assert parallel.blind(expected) == again
    assert expected == [x25519(secret, hash_to_u("user_key", s)) for s in ids]


def test_match_key_is_keyed_128_bit_hex() -> None:
    z = x25519(new_secret(), hash_to_u("phone", "+8613812345678"))
    key = match_key(z)
    assert len(key) == 32 and int(key, 16) >= 0
    assert key == match_key(z)
    assert key not in {
        hashlib.sha256(z).hexdigest()[:32],
        hashlib.blake2b(z, digest_size=16).hexdigest(),
    }
