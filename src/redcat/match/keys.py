"""Curve operations of the built-in PSI: hash identifiers onto Curve25519's u-line, blind them
with a party's secret scalar (X25519), derive ``match_key`` from a doubly blinded value.

X25519(k, u) multiplies the point with Montgomery u-coordinate ``u`` by the clamped scalar ``k``.
Clamping makes ``k`` a multiple of the cofactor 8, and scalar multiplication commutes, so for any
``u``: ``X25519(a, X25519(b, u)) == X25519(b, X25519(a, u))`` — the identity ECDH-PSI rests on
(tests check it on hashed inputs).

Hash-to-curve caveat. ``hash_to_u`` takes SHA-512 of the tagged identifier, keeps 32 bytes and
clears bit 255 (X25519 ignores it anyway). Every 32-byte string is a valid X25519 input, but about
half of them are u-coordinates of points on the quadratic *twist*, not on Curve25519 itself.
Curve25519 was chosen to be twist-secure (the twist's large prime subgroup has about 2^253
elements), so Diffie-Hellman on either stays hard; but whether a point lies on the curve or the
twist survives blinding and anyone can test it. So the peer learns, for each of our blinded
identifiers, one public bit of its hash — it can rule out half of a dictionary of guesses per
identifier, never confirm one. An exact random-oracle hash into a prime-order group
(ristretto255 via libsodium, RFC 9380) removes that bit; it was not used because no maintained
Python binding offers it, and a pure-Python map (one modular exponentiation, ~110 µs here) would
cost more than the X25519 operation itself (~31 µs).
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

POINT_BYTES = 32
_HASH_TAG = b"redcat/psi/hash-to-u/v1\x00"
_MATCH_KEY_TAG = b"redcat/psi/match-key/v1"
_CONFIRM_TAG = b"redcat/psi/confirm/v1"


class PointError(ValueError):
    """A blinded value a peer sent is a low-order point (X25519 output all zeros)."""


def new_secret() -> bytes:
    """Return a fresh 32-byte X25519 secret scalar (from the OS's random source)."""
    return os.urandom(POINT_BYTES)


def hash_to_u(id_type: str, identifier: str) -> bytes:
    """Return the 32-byte u-coordinate an identifier of ``id_type`` hashes to (module caveat)."""
    digest = hashlib.sha512(
        _HASH_TAG + id_type.encode() + b"\x00" + identifier.encode("utf-8")
    ).digest()
    return digest[:31] + bytes([digest[31] & 0x7F])


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
