"""Curve operations of the built-in PSI: hash identifiers onto Curve25519's u-line, blind them
with a party's secret scalar (X25519), derive ``match_key`` from a doubly blinded value.

X25519(k, u) multiplies the point with Montgomery u-coordinate ``u`` by the clamped scalar ``k``.
Clamping makes ``k`` a multiple of the cofactor 8, and scalar multiplication commutes, so for any
``u``: ``X25519(a, X25519(b, u)) == X25519(b, X25519(a, u))`` — the identity ECDH-PSI rests on
(tests check it on hashed inputs).

Hashing onto the curve proper. Every 32-byte string is a valid X25519 input, but about half of
all u-coordinates belong to points of the quadratic *twist*, not of Curve25519; X25519 keeps a
twist point on the twist, and anyone can tell which (is u^3 + A*u^2 + u a square mod p?). A hash
that lands on the twist half the time would therefore hand the peer one bit of every blinded
identifier we send, including identifiers the peer does not hold. :func:`hash_to_u` avoids that
with deterministic *try-and-increment*: it hashes the tagged ``(id_type, identifier)`` with a
counter byte 0, 1, 2, ... (BLAKE2b-256, personalised) and returns the first candidate ``u`` below
p whose right-hand side is a nonzero square and that is not one of Curve25519's three low-order
u values (1 and the two of order 8). Each try succeeds with probability ~1/2, so it takes 2 tries
on average and more than 64 with probability 2^-64; the result is uniform over the curve's
u-coordinates, which is what the random-oracle argument of ECDH-PSI wants (Elligator 2 needs one
square test but reaches only about half of those u values, and with its modular inverse measured
~37 µs per identifier here against ~46 µs, too little gain for a non-uniform map). The point may
still carry a component of order 2, 4 or 8; X25519's clamping makes every scalar a multiple of 8,
which removes it, so every blinded value the peer sees, ``X25519(k, u)``, lies in the prime-order
subgroup of the curve and its curve-or-twist test always answers "curve".

The square test is the Jacobi symbol by the binary algorithm (~20 µs of CPU in CPython here,
against ~89 µs for Euler's criterion with ``pow``), so hashing costs ~45 µs of CPU per identifier
on average (two tries), next to ~30 µs for one X25519 — a PSI run does one hash and two X25519 per
identifier. It runs in the same worker processes as the blinding (:meth:`Blinder.hash_and_blind`).
The number of tries depends on the identifier, so a local observer timing one hash learns
something about it; the peer sees only whole sorted batches.
Changing this map changed the wire protocol (:data:`redcat.match.psi.PROTOCOL`, version 2).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from redcat.errors import MatchError

try:  # GMP's Jacobi symbol is ~14x faster than the pure-Python one (1.6 vs 22 µs here)
    from gmpy2 import jacobi as _gmp_jacobi
except ImportError:  # pragma: no cover - gmpy2 is a dependency; keep working without it
    _gmp_jacobi = None

POINT_BYTES = 32
_HASH_TAG = b"redcat/psi/hash-to-u/v2\x00"
# BLAKE2b personalisation (16 bytes max): separates these hashes from every other BLAKE2b use.
_HASH_PERSON = b"redcat-h2u-v2"
_P = 2**255 - 19
_A = 486662
# u of Curve25519's points of order 1 < k <= 8 with a square right-hand side (0 has RHS 0 and is
# rejected anyway): X25519 maps them to the all-zero output, which a peer would reject.
_LOW_ORDER_U = frozenset(
    {
        1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
    }
)
_MAX_TRIES = 256
_MATCH_KEY_TAG = b"redcat/psi/match-key/v1"
_CONFIRM_TAG = b"redcat/psi/confirm/v1"


class PointError(ValueError):
    """A blinded value a peer sent is a low-order point (X25519 output all zeros)."""


def new_secret() -> bytes:
    """Return a fresh 32-byte X25519 secret scalar (from the OS's random source)."""
    return os.urandom(POINT_BYTES)


def jacobi(a: int, n: int) -> int:
    """Return the Jacobi symbol (a/n) for odd n > 0: 1, -1 or 0. For prime n it is the Legendre
    symbol: 1 exactly when ``a`` is a nonzero square mod n (equal to Euler's criterion)."""
    a %= n
    sign = 1
    while a:
        twos = (a & -a).bit_length() - 1
        if twos:
            a >>= twos
            # (2/n) = -1 exactly when n = 3 or 5 mod 8
            if twos & 1 and n & 7 in (3, 5):
                sign = -sign
        # quadratic reciprocity: the sign flips when both are 3 mod 4
        if a & n & 3 == 3:
            sign = -sign
        a, n = n % a, a
    return sign if n == 1 else 0


def _legendre_rhs(x: int) -> int:
    # (u^3 + A*u^2 + u / p): 1 on the curve, -1 on the twist, 0 for u = 0
    rhs = x * (x * (x + _A) + 1)
    if _gmp_jacobi is not None:
        return int(_gmp_jacobi(rhs, _P))
    return jacobi(rhs, _P)


def on_curve(u: bytes) -> bool:
    """Return whether the 32-byte u-coordinate (bit 255 ignored, as X25519 does) is that of a
    point of Curve25519 rather than of its quadratic twist: u^3 + A*u^2 + u is a square mod p
    (0 counts: u = 0 is the curve's point of order 2)."""
    x = (int.from_bytes(u, "little") & ((1 << 255) - 1)) % _P
    return _legendre_rhs(x) >= 0


def hash_to_u(id_type: str, identifier: str) -> bytes:
    """Return the 32-byte little-endian u-coordinate (canonical, below p = 2^255 - 19) of the
    Curve25519 point an identifier of ``id_type`` hashes to, never a twist point (module docstring:
    try-and-increment over BLAKE2b-256 with a counter byte)."""
    base = hashlib.blake2b(digest_size=POINT_BYTES, person=_HASH_PERSON)
    base.update(_HASH_TAG + id_type.encode() + b"\x00" + identifier.encode("utf-8") + b"\x00")
    for counter in range(_MAX_TRIES):
        h = base.copy()
        h.update(bytes((counter,)))
        digest = h.digest()
        x = int.from_bytes(digest, "little") & ((1 << 255) - 1)
        if x >= _P or x in _LOW_ORDER_U:
            continue
        if _legendre_rhs(x) == 1:
            return x.to_bytes(POINT_BYTES, "little")
    # 256 tries all failing has probability 2^-256: a broken hash, not bad luck.
    raise MatchError(f"no curve point for a {id_type} identifier after {_MAX_TRIES} tries")


def x25519(secret: bytes, u: bytes) -> bytes:
    """Return X25519(secret, u), 32 bytes. Raises :class:`PointError` for a low-order ``u``."""
    try:
        return X25519PrivateKey.from_private_bytes(secret).exchange(
            X25519PublicKey.from_public_bytes(u)
        )
    except ValueError as exc:
        raise PointError(str(exc)) from None


def _blind_blob(secret: bytes, blob: bytes) -> bytes:
    """X25519 each 32-byte value of ``blob`` with ``secret``; concatenated results, same order."""
    key = X25519PrivateKey.from_private_bytes(secret)
    load = X25519PublicKey.from_public_bytes
    out = bytearray()
    try:
        for i in range(0, len(blob), POINT_BYTES):
            out += key.exchange(load(blob[i : i + POINT_BYTES]))
    except ValueError:
        raise PointError(
            f"value {i // POINT_BYTES} of a batch is a low-order point, not a blinded identifier"
        ) from None
    return bytes(out)


def _hash_blind_chunk(secret: bytes, id_type: str, identifiers: Sequence[str]) -> bytes:
    return _blind_blob(secret, b"".join(hash_to_u(id_type, s) for s in identifiers))


class Blinder:
    """Batched X25519 with one party's secret, spread over ``workers`` processes.

    Batches of fewer than ``parallel_min`` values run in this process (a pool costs ~0.1 s to
    start); larger ones are cut into chunks of ``chunk`` values. Use as a context manager or call
    :meth:`close`: the pool is started on first need and kept for the run.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        workers: int | None = None,
        parallel_min: int = 20_000,
        chunk: int = 8_192,
    ) -> None:
        self._secret = secret
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.parallel_min = parallel_min
        self.chunk = chunk
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Blinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the worker pool down (if one was started)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _parallel(self, n: int) -> bool:
        return self.workers > 1 and n >= self.parallel_min

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # fork: workers need nothing re-imported (forkserver/spawn re-run __main__, which
            # breaks under some launchers) and touch only hashlib and cryptography after forking.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork") if "fork" in methods else None
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool

    def hash_and_blind(self, id_type: str, identifiers: Sequence[str]) -> list[bytes]:
        """Return X25519(secret, hash_to_u(id_type, s)) for each identifier, in input order."""
        n = len(identifiers)
        if not self._parallel(n):
            blob = _hash_blind_chunk(self._secret, id_type, identifiers)
        else:
            pool = self._get_pool()
            parts = [
                pool.submit(_hash_blind_chunk, self._secret, id_type, identifiers[i:j])
                for i, j in _chunks(n, self.chunk)
            ]
            blob = _gather(parts)
        return split_points(blob)

    def blind(self, points: Sequence[bytes]) -> list[bytes]:
        """Return X25519(secret, u) for each 32-byte ``u``, in input order. Raises
        :class:`PointError` if one is a low-order point."""
        n = len(points)
        if not self._parallel(n):
            blob = _blind_blob(self._secret, b"".join(points))
        else:
            pool = self._get_pool()
            parts = [
                pool.submit(_blind_blob, self._secret, b"".join(points[i:j]))
                for i, j in _chunks(n, self.chunk)
            ]
            blob = _gather(parts)
        return split_points(blob)


def _gather(parts: list[Future[bytes]]) -> bytes:
    try:
        return b"".join(p.result() for p in parts)
    except BrokenProcessPool:
        raise MatchError("a PSI worker process died (out of memory or killed?)") from None
    finally:
        for p in parts:
            p.cancel()


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def split_points(blob: bytes) -> list[bytes]:
    """Cut a concatenation of 32-byte values into a list."""
    return [blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES)]


def match_key(double_blinded: bytes) -> str:
    """Return the pseudonymous ``match_key`` (32 hex characters, 128 bits) of a shared person.

    It is a keyed BLAKE2b of X25519(a, X25519(b, H(x))): computing it needs both parties' secrets
    (or a run's transcript plus one secret), never just the identifier and public data.
    """
    return hashlib.blake2b(double_blinded, key=_MATCH_KEY_TAG, digest_size=16).hexdigest()


def confirmation(match_keys: Iterable[str]) -> bytes:
    """Return a 32-byte keyed hash of the distinct ``match_keys``, sorted: equal on both sides of a
    run exactly when both hold the same keys (it reveals nothing the other side lacks)."""
    h = hashlib.blake2b(key=_CONFIRM_TAG, digest_size=POINT_BYTES)
    for key in sorted(set(match_keys)):
        h.update(key.encode("ascii"))
    return h.digest()
