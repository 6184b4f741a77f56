"""hash_to_u lands on Curve25519 itself, never its twist: blinded values carry no curve/twist bit.

The curve test used here is written out independently of :mod:`redcat.match.keys`: Euler's
criterion with ``pow`` (u^3 + A*u^2 + u is a square mod p = 2^255 - 19 exactly when raising it to
(p - 1) / 2 gives 1), which is the test a curious peer would run on what it receives.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.errors import MatchError
from redcat.match.keys import Blinder, hash_to_u, jacobi, new_secret, on_curve, x25519
from redcat.match.psi import (
    DONE,
    PROTOCOL,
    PROTOCOL_ID,
    PsiParty,
    decode_message,
    run_in_process,
)

P = 2**255 - 19
A = 486662


def euler_square(x: int) -> bool:
    """Whether x is a nonzero square mod P (Euler's criterion)."""
    return pow(x % P, (P - 1) // 2, P) == 1


def peer_twist_test(value: bytes) -> bool:
    """The test a peer can run on a received 32-byte value: True = curve point, False = twist."""
    x = (int.from_bytes(value, "little") & ((1 << 255) - 1)) % P
    return x == 0 or euler_square(x**3 + A * x * x + x)


def reference_hash_to_u(id_type: str, identifier: str) -> tuple[bytes, int]:
    """Straight-line restatement of the documented map, returning the u and the counter used."""
    prefix = b"redcat/psi/hash-to-u/v2\x00" + id_type.encode() + b"\x00"
    prefix += identifier.encode("utf-8") + b"\x00"
    for counter in range(256):
        digest = hashlib.blake2b(
            prefix + bytes([counter]), digest_size=32, person=b"redcat-h2u-v2"
        ).digest()
        x = int.from_bytes(digest, "little") % 2**255
        if x < P and x != 1 and euler_square(x**3 + A * x * x + x):
            # the two order-8 u values are never hit in practice (probability 2^-250)
            return x.to_bytes(32, "little"), counter
    raise AssertionError("no point")


def test_known_answer_vector() -> None:
    # Pinned once from reference_hash_to_u above (BLAKE2b-256, personalisation b"redcat-h2u-v2",
    # input tag || "email" || 0 || "alice@example.com" || 0 || counter): counters 0 and 1 give
    # twist points (checked below), counter 2 the first curve point. X25519 with the scalar
    # 00 01 02 ... 1f of that u pins the blinding on top.
    u = hash_to_u("email", "alice@example.com")
    assert u.hex() == "70f4212638fcc14b6aa58ac5e6716f7f7f34546bfa00a028f5b9f4275768b744"
    assert reference_hash_to_u("email", "alice@example.com") == (u, 2)
    prefix = b"redcat/psi/hash-to-u/v2\x00email\x00alice@example.com\x00"
    for counter in (0, 1):
        raw = hashlib.blake2b(prefix + bytes([counter]), digest_size=32, person=b"redcat-h2u-v2")
        assert not peer_twist_test(raw.digest())
    blinded = x25519(bytes(range(32)), u)
    assert blinded.hex() == "d4537f65d722f36a01d01693b4c25033823d9595714785e59e5f78a54ed7ec3c"


def test_every_hashed_point_is_on_the_curve_and_canonical() -> None:
    counters = []
    for i in range(3_000):
        ident = f"138{i:08d}" if i % 2 else f"user{i}@example.com"
        u, counter = reference_hash_to_u("phone", ident)
        assert hash_to_u("phone", ident) == u
        assert peer_twist_test(u) and on_curve(u)
        assert int.from_bytes(u, "little") < P
        counters.append(counter)
    # about half the first tries land on the twist: the increment really is exercised
    assert 0.4 < counters.count(0) / len(counters) < 0.6
    assert max(counters) >= 3


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["phone", "email", "device_id", "user_key"]), st.text(max_size=80))
def test_hash_to_u_is_on_the_curve_for_any_text(id_type: str, identifier: str) -> None:
    u = hash_to_u(id_type, identifier)
    assert peer_twist_test(u)
    assert u == reference_hash_to_u(id_type, identifier)[0]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2**300))
def test_jacobi_equals_eulers_criterion_mod_p(a: int) -> None:
    expected = 0 if a % P == 0 else (1 if euler_square(a) else -1)
    assert jacobi(a, P) == expected


@pytest.mark.parametrize("n", [3, 5, 7, 11, 13, 97, 101])
def test_jacobi_on_small_primes_matches_the_squares(n: int) -> None:
    squares = {x * x % n for x in range(1, n)}
    assert [jacobi(a, n) for a in range(n)] == [
        0 if a == 0 else (1 if a in squares else -1) for a in range(n)
    ]


def test_on_curve_tells_twist_points_apart() -> None:
    # the known twist candidate from the vector above, and u = 2 (RHS = 2A + 10; checked by pow)
    assert on_curve(hash_to_u("email", "x"))
    two = (2).to_bytes(32, "little")
    assert on_curve(two) == euler_square(8 + 4 * A + 2)
    outcomes = {on_curve(hashlib.sha256(b"%d" % i).digest()) for i in range(64)}
    assert outcomes == {True, False}


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32), st.text())
def test_blinding_commutes_and_stays_on_the_curve(a: bytes, b: bytes, identifier: str) -> None:
    u = hash_to_u("email", identifier)
    ua, ub = x25519(a, u), x25519(b, u)
    assert peer_twist_test(ua) and peer_twist_test(ub)
    assert x25519(a, ub) == x25519(b, ua)
    assert peer_twist_test(x25519(a, ub))


def _transcript_values(people_a: list[str], people_b: list[str]) -> list[bytes]:
    with (
        PsiParty.from_identifiers("initiator", people_a, workers=1) as a,
        PsiParty.from_identifiers("responder", people_b, workers=1) as b,
    ):
        transcript = run_in_process(a, b)
        assert len(a.result().matches) == len(set(people_a) & set(people_b))
    values: list[bytes] = []
    for raw in transcript.messages:
        msg = decode_message(raw)
        if msg.kind != DONE:  # DONE carries a hash, not a curve value
            for section in msg.sections:
                values.extend(section)
    return values


def test_peer_twist_test_on_a_real_run_learns_nothing() -> None:
    a_ids = [f"a-only-{i}" for i in range(300)] + [f"both-{i}" for i in range(100)]
    b_ids = [f"b-only-{i}" for i in range(200)] + [f"both-{i}" for i in range(100)]
    values = _transcript_values(a_ids, b_ids)
    # OPEN 400 + REPLY (400 + 300) + RETURN 300 curve values
    assert len(values) == 1_400
    assert {peer_twist_test(v) for v in values} == {True}


def test_the_twist_test_does_see_the_old_hash() -> None:
    # Protocol /1 hashed by truncating SHA-512; the same test over its blinded values splits them
    # about in half, which is the bit /2 removes (so the test above could fail).
    secret = new_secret()
    old = [
        hashlib.sha512(b"redcat/psi/hash-to-u/v1\x00user_key\x00" + b"%d" % i).digest()[:32]
        for i in range(400)
    ]
    with Blinder(secret, workers=1) as blinder:
        seen = [
            peer_twist_test(v) for v in blinder.blind([u[:31] + bytes([u[31] & 0x7F]) for u in old])
        ]
    assert 0.35 < sum(seen) / len(seen) < 0.65


def test_old_protocol_peers_are_refused() -> None:
    assert PROTOCOL == "redcat-ecdh-psi-x25519/2" and PROTOCOL.encode() == PROTOCOL_ID
    with PsiParty.from_identifiers("initiator", ["x"], workers=1) as a:
        first = a.first_message()
    old = first[4:].replace(PROTOCOL_ID, b"redcat-ecdh-psi-x25519/1")
    data = len(old).to_bytes(4, "big") + old
    with pytest.raises(MatchError, match="peer speaks protocol 'redcat-ecdh-psi-x25519/1'"):
        decode_message(data)


ELL = 2**252 + 27742317777372353535851937790883648493  # order of Curve25519's prime subgroup


def ladder_is_identity(k: int, value: bytes) -> bool:
    """Whether k * P is the point at infinity, P the point with u-coordinate ``value`` (on the
    curve or its twist): RFC 7748's x-only Montgomery ladder, unclamped, in projective X:Z."""
    x1 = (int.from_bytes(value, "little") & ((1 << 255) - 1)) % P
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(k.bit_length())):
        bit = (k >> t) & 1
        if swap ^ bit:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb, da, cb = a * a % P, b * b % P, d * a % P, c * b % P
        e = aa - bb
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        z2 = z3
    return z2 % P == 0


def test_blinded_values_lie_in_the_prime_order_subgroup() -> None:
    secret = new_secret()
    hashed = [hash_to_u("phone", f"1380000{i:04d}") for i in range(6)]
    for u in hashed:
        # on the curve: the order divides 8 * ELL (a twist point's would not)
        assert ladder_is_identity(8 * ELL, u)
        assert ladder_is_identity(ELL, x25519(secret, u))
    # the hashed points themselves mostly carry a small-order part; clamping removes it
    assert not all(ladder_is_identity(ELL, u) for u in hashed)
    twist = hashlib.blake2b(b"redcat-h2u-v2", digest_size=32).digest()[:31] + b"\x00"
    twist_points = [
        t
        for t in (twist, *(hashlib.sha256(b"%d" % i).digest() for i in range(8)))
        if not peer_twist_test(t)
    ]
    assert twist_points and not any(ladder_is_identity(8 * ELL, t) for t in twist_points)


def test_the_fast_square_test_agrees_with_the_pure_one() -> None:
    import random

    from redcat.match import keys

    rng = random.Random(5)
    p = 2**255 - 19
    for _ in range(2000):
        x = rng.randrange(p)
        rhs = x * (x * (x + 486662) + 1)
        assert keys._legendre_rhs(x) == keys.jacobi(rhs, p)
    assert keys._gmp_jacobi is not None  # gmpy2 is a dependency: the fast path is the one in use
