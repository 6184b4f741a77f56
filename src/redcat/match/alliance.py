"""Alliance keys: one person across several retailers' PSI runs, without raw identifiers.

The content platform is the hub of the alliance: it runs one PSI with each retailer, and each run
gives every shared person a *different* ``match_key`` (it depends on both runs' secrets). A
person who buys at two retailers would be two people to the clean room if it joined on
``match_key`` alone. So the hub, which knows which of *its* users matched in each run, also
ships, per run, a link table ``match_key -> person_key`` where

    person_key = BLAKE2b-128(key = the content platform's person secret, "v1" || user_key)

The secret is the hub's alone and stays the same across runs, so a user has one ``person_key`` in
every run's links. The retailer ships its rows keyed by ``match_key``; the clean room joins them
to ``person_key`` and stores it in the engine's user column (``match_key`` in the ``cr_*``
tables), so distinct users, new customers and audience assets count a person once across the
alliance with no change to the engine.

What each party learns (assumptions: semi-honest parties; the clean room is run by neither
platform, and neither platform reads its row-level tables):

- a retailer: what PSI tells it (its users shared with the hub, set sizes); nothing about the
  other retailers and no ``person_key``;
- the content platform: its users shared with each retailer (PSI's output in each run);
- the clean room: per person a pseudonym and the retailers the person was matched at (the point
  of the alliance), and the shipped rows. It cannot compute a ``person_key`` or a
  ``match_key`` from an identifier (one needs the hub's secret, the other both PSI secrets). Its
  store does not keep the per-run ``match_key`` s (the link tables are consumed while loading);
  the shipment folders still hold them until the operator deletes them after the load.

Collusion caveat: a platform that reads the clean room's rows can re-identify them (the hub holds
``user_key -> person_key``, a retailer ``user_key -> match_key`` and its own event ids); keeping
the clean room a separate trust domain is what the design relies on.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from redcat.errors import ConfigError
from redcat.match.psi import MatchedPerson

PERSON_KEY_TAG = b"redcat/alliance/person-key/v1\x00"
SECRET_BYTES = 32

LINK_SCHEMA = pa.schema(
    [
        pa.field("retailer_id", pa.string(), nullable=False),
        pa.field("match_key", pa.string(), nullable=False),
        pa.field("person_key", pa.string(), nullable=False),
    ]
)


def new_person_secret() -> bytes:
    """Return a fresh 32-byte person secret (from the OS's random source)."""
    return secrets.token_bytes(SECRET_BYTES)


def load_person_secret(path: Path, *, create: bool = True) -> bytes:
    """Return the content platform's person secret kept (hex) in ``path``.

    With ``create`` a missing file is made (readable by its owner only) holding a new secret.
    The same secret must serve every run: a new one splits every person in two across runs.
    Raises :class:`ConfigError` for a missing file (``create=False``) or one not holding 64 hex
    characters.
    """
    path = Path(path)
    if not path.exists():
        if not create:
            raise ConfigError(f"person secret {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = new_person_secret()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secret.hex() + "\n")
        return secret
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise ConfigError(f"person secret {path} must hold {2 * SECRET_BYTES} hex characters")
    return secret


def person_key(secret: bytes, user_key: str) -> str:
    """Return the hub's pseudonym of one of its users: 32 hex characters (128 bits), a keyed
    BLAKE2b of ``user_key`` as the hub holds it. Needs ``secret`` to compute."""
    if len(secret) != SECRET_BYTES:
        raise ConfigError(f"a person secret has {SECRET_BYTES} bytes, not {len(secret)}")
    return hashlib.blake2b(
        PERSON_KEY_TAG + user_key.encode("utf-8"), key=secret, digest_size=16
    ).hexdigest()


def person_links(secret: bytes, retailer_id: str, matches: Iterable[MatchedPerson]) -> pa.Table:
    """Return one run's link table (``retailer_id``, ``match_key``, ``person_key``): one row per
    distinct ``match_key`` of the hub's PSI result with ``retailer_id``, sorted by ``match_key``
    (so row order says nothing about ``user_key``).

    Hub users sharing an identifier (e.g. one phone) share a match_key; it links to the smallest
    of their person_keys, so the retailer's rows under it join one person, not one per user."""
    best: dict[str, str] = {}
    for m in matches:
        pk = person_key(secret, m.user_key)
        if m.match_key not in best or pk < best[m.match_key]:
            best[m.match_key] = pk
    rows = sorted(best.items())
    return pa.table(
        {
            "retailer_id": [retailer_id] * len(rows),
            "match_key": [r[0] for r in rows],
            "person_key": [r[1] for r in rows],
        },
        schema=LINK_SCHEMA,
    )
