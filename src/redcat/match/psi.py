"""ECDH private set intersection over Curve25519 (X25519), as two in-process party objects.

Each party draws a secret scalar that never leaves it. Per identifier type, in waterfall order
(:data:`redcat.match.normalize.WATERFALL`), one *stage* runs:

1. the initiator A sends ``H(x)^a`` for its identifiers, sorted by value (order carries nothing);
2. the responder B returns ``H(x)^ab`` in A's order, plus ``H(y)^b`` for its own, sorted;
3. A computes ``H(y)^ba``, learns which of its ``x`` are shared, and sends ``H(y)^ba`` back in B's
   order, so B learns which of its ``y`` are shared — both sides end with the intersection;
   A's message 3 also carries stage k+1's ``H(x)^a``;
4. after the last stage B sends a confirmation (a keyed hash of its sorted match_keys), which A
   checks against its own, so a run either ends with both sides holding the same keys or fails.
   T stages take 2T + 2 messages.

A person matched in a stage is left out of the later stages on both sides, so each person is
matched on their highest-priority shared type and the two sides stay consistent. A shared person's
``match_key`` is a keyed hash of ``H(x)^ab`` (:func:`redcat.match.keys.match_key`), identical on
both sides and computable by neither side alone.

What each side learns about the other: the number of identifiers it sends in each stage (so also
how many of its people were left after earlier stages) and the intersection; identifiers hash to
points of the curve proper, never its twist, so a blinded value tells nothing about an identifier
the peer lacks (:mod:`redcat.match.keys`). Security holds against a semi-honest peer; a peer that
lies about its messages can bias its own output, not learn raw ids.

Message format (all integers big-endian)::

    u32 length of the rest | u8 n | protocol id (n ASCII bytes, PROTOCOL_ID) | u8 kind | u8 stage
    | [kind OPEN only: u8 T, then T times (u8 n, n ASCII bytes of an identifier type)]
    | sections: u32 count, then count 32-byte values

``OPEN`` (A→B, stage 0): one section, A's blinded identifiers. ``REPLY`` (B→A): two sections,
A's values blinded again (A's order) and B's blinded identifiers. ``RETURN`` (A→B): B's values
blinded again (B's order), then, unless stage is the last, a section of A's blinded identifiers
for the next stage. ``DONE`` (B→A, last stage): one section holding one 32-byte confirmation.
Anything else raises :class:`redcat.errors.MatchError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from redcat.errors import MatchError
from redcat.match.keys import (
    POINT_BYTES,
    Blinder,
    PointError,
    confirmation,
    match_key,
    new_secret,
)
from redcat.match.normalize import ID_TYPES, WATERFALL, Rejected, normalize

# /2: identifiers hash onto Curve25519 itself (/1 hashed half of them onto the twist).
PROTOCOL_ID = b"redcat-ecdh-psi-x25519/2"
PROTOCOL = PROTOCOL_ID.decode()
OPEN, REPLY, RETURN, DONE = 1, 2, 3, 4
_KIND_NAMES = {OPEN: "OPEN", REPLY: "REPLY", RETURN: "RETURN", DONE: "DONE"}
# Defaults for the receiving side's limits: 10M identifiers per type and side, which bounds one
# message at 2 sections x 320 MB; a transport may set tighter ones.
MAX_SET_SIZE = 10_000_000

Role = Literal["initiator", "responder"]


@dataclass(frozen=True)
class Message:
    """A parsed protocol message: its kind, stage, type list (OPEN only) and 32-byte value lists."""

    kind: int
    stage: int
    types: tuple[str, ...]
    sections: tuple[tuple[bytes, ...], ...]


def encode_message(
    kind: int, stage: int, sections: Sequence[Sequence[bytes]], types: Sequence[str] = ()
) -> bytes:
    """Return the wire bytes of one message (see the module docstring for the layout)."""
    body = bytearray()
    body += struct.pack(">B", len(PROTOCOL_ID)) + PROTOCOL_ID + struct.pack(">BB", kind, stage)
    if kind == OPEN:
        body += struct.pack(">B", len(types))
        for t in types:
            raw = t.encode("ascii")
            body += struct.pack(">B", len(raw)) + raw
    for section in sections:
        body += struct.pack(">I", len(section))
        body += b"".join(section)
    return struct.pack(">I", len(body)) + bytes(body)


def decode_message(
    data: bytes, *, max_set_size: int = MAX_SET_SIZE, expect: int | None = None
) -> Message:
    """Parse and check one message (of kind ``expect``, when given). Raises :class:`MatchError`
    naming what is wrong if it is cut, oversized, of another protocol or version, of an unknown or
    unexpected kind, or has bad section counts."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MatchError(f"PSI message must be bytes, got {type(data).__name__}")
    view = memoryview(data)
    pos = 0

    def take(n: int, what: str) -> memoryview:
        nonlocal pos
        if pos + n > len(view):
            raise MatchError(f"PSI message is cut short: {what} missing at byte {pos}")
        chunk = view[pos : pos + n]
        pos += n
        return chunk

    (length,) = struct.unpack(">I", take(4, "length prefix"))
    if length != len(view) - 4:
        raise MatchError(
            f"PSI message length prefix says {length} bytes, but {len(view) - 4} follow"
        )
    (n,) = take(1, "protocol id length")
    proto = bytes(take(n, "protocol id"))
    if proto != PROTOCOL_ID:
        shown = proto.decode("ascii", "replace")[:64]
        raise MatchError(f"peer speaks protocol {shown!r}, this side speaks {PROTOCOL!r}")
    kind, stage = take(2, "kind and stage")
    if kind not in _KIND_NAMES:
        raise MatchError(f"unknown PSI message kind {kind}")
    if expect is not None and kind != expect:
        expected = _KIND_NAMES.get(expect, "nothing")
        raise MatchError(f"unexpected PSI message {_KIND_NAMES[kind]}; expected {expected}")
    types: tuple[str, ...] = ()
    if kind == OPEN:
        (count,) = take(1, "type count")
        names = []
        for _ in range(count):
            (tn,) = take(1, "type name length")
            names.append(bytes(take(tn, "type name")).decode("ascii", "replace"))
        types = tuple(names)
    sections = []
    while pos < len(view):
        (count,) = struct.unpack(">I", take(4, "section count"))
        if count > max_set_size:
            raise MatchError(
                f"PSI message section holds {count} values, over the limit of {max_set_size}"
            )
        blob = bytes(take(count * POINT_BYTES, f"{count} values of a section"))
        values = tuple(blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES))
        if len(set(values)) != len(values):
            raise MatchError("PSI message section repeats a value; a peer never sends duplicates")
        sections.append(values)
    return Message(kind, stage, types, tuple(sections))


@dataclass(frozen=True)
class Rejection:
    """An identifier left out of matching: whose (``user_key``), which type, why."""

    user_key: str
    id_type: str
    reason: str


@dataclass(frozen=True)
class MatchedPerson:
    """One shared person on this side: own ``user_key``, the type it matched on, its match_key."""

    user_key: str
    id_type: str
    match_key: str


@dataclass(frozen=True)
class TypeCount:
    """One waterfall stage: distinct identifiers this side and the peer sent (after earlier stages
    removed matched people), distinct identifiers shared, and this side's people matched on it."""

    id_type: str
    own_identifiers: int
    peer_identifiers: int
    shared_identifiers: int
    people_matched: int


@dataclass(frozen=True)
class PsiResult:
    """What one party ends with. ``people`` counts this side's input people; ``duplicates`` counts
    identifier entries collapsed into one already present (same type and normalized value)."""

    protocol: str
    role: Role
    people: int
    matches: tuple[MatchedPerson, ...]
    stages: tuple[TypeCount, ...]
    rejected: tuple[Rejection, ...]
    duplicates: int

    @property
    def match_keys(self) -> frozenset[str]:
        """The distinct match_keys of shared people (identical on both sides)."""
        return frozenset(m.match_key for m in self.matches)

    def shares(self) -> dict[str, float]:
        """Each type's share (0-1) of this side's matched people, in waterfall order."""
        total = sum(s.people_matched for s in self.stages)
        return {s.id_type: (s.people_matched / total if total else 0.0) for s in self.stages}


@dataclass(frozen=True)
class PeopleIndex:
    """A side's identifiers after normalization: per type (waterfall order), each normalized
    identifier -> its owners (``user_key`` s, first-seen order); what was rejected; and how many
    entries were duplicates of an identifier already present (same type and normalized value)."""

    owners: dict[str, dict[str, list[str]]]
    rejected: tuple[Rejection, ...]
    duplicates: int


def check_types(types: Sequence[str]) -> tuple[str, ...]:
    """Return ``types`` as a tuple; raise :class:`MatchError` unless they are distinct names
    among :data:`redcat.match.normalize.ID_TYPES` (at least one)."""
    bad = [t for t in types if t not in ID_TYPES]
    if bad or not types or len(set(types)) != len(types):
        raise MatchError(
            f"identifier types must be distinct names among {', '.join(ID_TYPES)}; got {types}"
        )
    return tuple(types)


def index_people(people: Mapping[str, Mapping[str, object]], types: Sequence[str]) -> PeopleIndex:
    """Normalize every person's identifiers of ``types`` (None = absent) and collapse duplicates;
    an identifier of another type or one :func:`redcat.match.normalize.normalize` rejects is
    recorded as a :class:`Rejection`, never an error."""
    owners: dict[str, dict[str, list[str]]] = {t: {} for t in types}
    rejected: list[Rejection] = []
    duplicates = 0
    for user_key, ids in people.items():
        for id_type, raw in ids.items():
            if raw is None:
                continue
            if id_type not in owners:
                rejected.append(
                    Rejection(str(user_key), str(id_type), "type not in this run's waterfall")
                )
                continue
            try:
                value = normalize(id_type, raw)
            except Rejected as exc:
                rejected.append(Rejection(str(user_key), id_type, exc.reason))
                continue
            found = owners[id_type].setdefault(value, [])
            if found:
                duplicates += 1
            if user_key not in found:
                found.append(user_key)
    return PeopleIndex(owners, tuple(rejected), duplicates)


def pending_identifiers(
    owners: Mapping[str, Sequence[str]], matched: Mapping[str, object]
) -> list[str]:
    """Return the identifiers (keys of ``owners``) of which some owner is not yet in
    ``matched``: what a waterfall stage sends after the earlier stages."""
    return [value for value, who in owners.items() if any(o not in matched for o in who)]


class MatchParty(Protocol):
    """What the network transport (:mod:`redcat.match.transport`) drives: one side of a PSI run,
    fed and read through byte messages. :class:`PsiParty` (the built-in protocol) and
    :class:`redcat.match.spu.SpuParty` (SecretFlow SPU's RR22) implement it."""

    role: Role
    types: tuple[str, ...]
    protocol: str
    done: bool

    def first_message(self) -> bytes:
        """The initiator's opening message."""
        ...

    def receive(self, data: bytes) -> bytes | None:
        """Take the peer's message; return the reply, or None when this side is finished."""
        ...

    def result(self) -> PsiResult:
        """This side's outcome once :attr:`done`."""
        ...

    def attach_network(self, local_host: str, peer_host: str) -> None:
        """Learn this side's and the peer's IP address on the connection (before any message)."""
        ...

    def close(self) -> None:
        """Release workers and temporary files."""
        ...


# Builds one side of a run from (role, people, types): how the CLI picks a backend.
PartyFactory = Callable[[Role, Mapping[str, Mapping[str, object]], Sequence[str]], MatchParty]


@dataclass
class _Stage:
    id_type: str
    identifiers: list[str]  # normalized, in the order of the values sent
    sent: list[bytes]  # own blinded values, sorted
    peer_size: int = 0
    shared: int = 0


class PsiParty:
    """One side of a PSI run, fed and read through plain byte messages.

    ``people`` maps each of this side's ``user_key`` to its raw identifiers by type (a value of
    None means absent). Both sides must pass the same ``types`` (waterfall order). Drive it with
    :meth:`first_message` (initiator) and :meth:`receive` until :attr:`done`, then read
    :meth:`result`. ``workers`` processes share the curve operations of batches of at least
    ``parallel_min`` values. Close it (or use ``with``) to stop the worker pool early.
    """

    protocol = PROTOCOL

    def __init__(
        self,
        role: Role,
        people: Mapping[str, Mapping[str, object]],
        *,
        types: Sequence[str] = WATERFALL,
        workers: int | None = None,
        parallel_min: int = 20_000,
        max_set_size: int = MAX_SET_SIZE,
    ) -> None:
        if role not in ("initiator", "responder"):
            raise MatchError(f"PSI role must be 'initiator' or 'responder', not {role!r}")
        self.role: Role = role
        self.types = check_types(types)
        self.max_set_size = max_set_size
        self._people = len(people)
        index = index_people(people, self.types)
        self._rejected = list(index.rejected)
        self._duplicates = index.duplicates
        # per type: normalized identifier -> its owners (user_keys), in first-seen order
        self._owners = index.owners
        self._blinder = Blinder(new_secret(), workers=workers, parallel_min=parallel_min)
        self._matched: dict[str, MatchedPerson] = {}
        self._stages: list[_Stage] = []
        self._peer_doubled: set[bytes] = set()  # the peer's current-stage values, blinded again
        self._expect: int | None = OPEN if role == "responder" else None
        self._failed = False
        self.done = False

    @classmethod
    def from_identifiers(
        cls,
        role: Role,
        identifiers: Iterable[str],
        id_type: str = "user_key",
        *,
        workers: int | None = None,
        parallel_min: int = 20_000,
        max_set_size: int = MAX_SET_SIZE,
    ) -> PsiParty:
        """A party whose people are its identifiers of one type: each raw value is its own
        ``user_key`` (as the ``--ids`` file gives it) and its only identifier."""
        return cls(
            role,
            {raw: {id_type: raw} for raw in identifiers},
            types=(id_type,),
            workers=workers,
            parallel_min=parallel_min,
            max_set_size=max_set_size,
        )

    # -- protocol steps ------------------------------------------------------------------------

    def first_message(self) -> bytes:
        """Return the initiator's opening message (stage 0). Raises MatchError for a responder
        or when called twice."""
        self._check_usable()
        if self.role != "initiator" or self._stages:
            raise MatchError("only the initiator sends the first message, once")
        try:
            sent = self._open_stage(0)
            self._expect = REPLY
            return encode_message(OPEN, 0, [sent], self.types)
        except BaseException:
            self._fail()
            raise

    def receive(self, data: bytes) -> bytes | None:
        """Take the peer's next message; return the message to send back, or None when this side
        has nothing more to send. Raises :class:`MatchError` on any malformed, unexpected or
        wrong-version message; the party is then unusable (no partial result)."""
        self._check_usable()
        try:
            msg = decode_message(data, max_set_size=self.max_set_size, expect=self._expect or 0)
            if msg.stage != len(self._stages) - (msg.kind != OPEN):
                raise MatchError(f"PSI message for stage {msg.stage} arrived out of turn")
            if msg.kind == OPEN:
                return self._on_open(msg)
            if msg.kind == REPLY:
                return self._on_reply(msg)
            if msg.kind == RETURN:
                return self._on_return(msg)
            self._on_done(msg)
            return None
        except PointError as exc:
            self._fail()
            raise MatchError(f"peer sent an invalid curve value: {exc}") from None
        except BaseException:
            self._fail()
            raise

    def _on_open(self, msg: Message) -> bytes:
        if msg.types != self.types:
            raise MatchError(
                f"parties disagree on identifier types: peer {list(msg.types)}, "
                f"this side {list(self.types)}"
            )
        self._sections(msg, 1)
        return self._reply(msg.sections[0])

    def _reply(self, peer_values: tuple[bytes, ...]) -> bytes:
        stage = len(self._stages)
        doubled = self._blinder.blind(peer_values)
        self._peer_doubled = set(doubled)
        sent = self._open_stage(stage)
        self._stages[-1].peer_size = len(peer_values)
        self._expect = RETURN
        return encode_message(REPLY, stage, [doubled, sent])

    def _on_reply(self, msg: Message) -> bytes:
        self._sections(msg, 2)
        stage = self._stages[-1]
        mine_doubled, peer_values = msg.sections
        if len(mine_doubled) != len(stage.sent):
            raise MatchError(
                f"peer returned {len(mine_doubled)} values for the {len(stage.sent)} sent"
            )
        stage.peer_size = len(peer_values)
        peer_doubled = self._blinder.blind(peer_values)
        self._settle(stage, mine_doubled, set(peer_doubled))
        sections = [peer_doubled]
        nxt = len(self._stages)
        if nxt < len(self.types):
            sections.append(self._open_stage(nxt))
            self._expect = REPLY
        else:
            self._expect = DONE
        return encode_message(RETURN, nxt - 1, sections)

    def _on_return(self, msg: Message) -> bytes:
        last = len(self._stages) == len(self.types)
        self._sections(msg, 1 if last else 2)
        stage = self._stages[-1]
        mine_doubled = msg.sections[0]
        if len(mine_doubled) != len(stage.sent):
            raise MatchError(
                f"peer returned {len(mine_doubled)} values for the {len(stage.sent)} sent"
            )
        self._settle(stage, mine_doubled, self._peer_doubled)
        if last:
            self._finish()
            return encode_message(DONE, msg.stage, [[self._confirmation()]])
        return self._reply(msg.sections[1])

    def _on_done(self, msg: Message) -> None:
        self._sections(msg, 1)
        if msg.sections[0] != (self._confirmation(),):
            raise MatchError(
                "the parties ended with different match_keys; the run is void (peer misbehaved "
                "or messages were altered)"
            )
        self._finish()

    def _confirmation(self) -> bytes:
        return confirmation(m.match_key for m in self._matched.values())

    # -- helpers -------------------------------------------------------------------------------

    def _open_stage(self, index: int) -> list[bytes]:
        """Blind this side's identifiers of stage ``index`` (people still unmatched), sorted."""
        id_type = self.types[index]
        pending = pending_identifiers(self._owners[id_type], self._matched)
        if len(pending) > self.max_set_size:
            raise MatchError(
                f"{len(pending)} {id_type} identifiers exceed the limit of {self.max_set_size}"
            )
        blinded = self._blinder.hash_and_blind(id_type, pending)
        order = sorted(range(len(pending)), key=blinded.__getitem__)
        stage = _Stage(id_type, [pending[i] for i in order], [blinded[i] for i in order])
        self._stages.append(stage)
        return stage.sent

    def _settle(
        self, stage: _Stage, mine_doubled: Sequence[bytes], peer_doubled: set[bytes]
    ) -> None:
        """Mark the people owning shared identifiers of ``stage`` as matched."""
        if len(set(mine_doubled)) != len(mine_doubled):
            raise MatchError("peer returned repeated values")
        owners = self._owners[stage.id_type]
        for value, z in zip(stage.identifiers, mine_doubled, strict=True):
            if z not in peer_doubled:
                continue
            stage.shared += 1
            key = match_key(z)
            for user_key in owners[value]:
                if user_key not in self._matched:
                    self._matched[user_key] = MatchedPerson(user_key, stage.id_type, key)

    def _sections(self, msg: Message, n: int) -> None:
        if len(msg.sections) != n:
            raise MatchError(
                f"PSI message {_KIND_NAMES[msg.kind]} has {len(msg.sections)} sections, "
                f"expected {n}"
            )

    def _check_usable(self) -> None:
        if self._failed:
            raise MatchError("this PSI party failed earlier; start a new run")
        if self.done:
            raise MatchError("this PSI run is already finished")

    def _fail(self) -> None:
        self._failed = True
        self._matched.clear()
        self.close()

    def _finish(self) -> None:
        self.done = True
        self._expect = None
        self.close()

    def attach_network(self, local_host: str, peer_host: str) -> None:
        """Nothing to do: every message of this protocol goes over the transport itself."""

    def close(self) -> None:
        """Stop the worker processes (a finished or failed run does this itself)."""
        self._blinder.close()

    def __enter__(self) -> PsiParty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def result(self) -> PsiResult:
        """Return this side's outcome. Raises :class:`MatchError` before the run has finished."""
        if not self.done:
            raise MatchError("the PSI run has not finished; no result yet")
        per_type = {t: 0 for t in self.types}
        for m in self._matched.values():
            per_type[m.id_type] += 1
        return PsiResult(
            protocol=PROTOCOL,
            role=self.role,
            people=self._people,
            matches=tuple(sorted(self._matched.values(), key=lambda m: m.user_key)),
            stages=tuple(
                TypeCount(s.id_type, len(s.sent), s.peer_size, s.shared, per_type[s.id_type])
                for s in self._stages
            ),
            rejected=tuple(self._rejected),
            duplicates=self._duplicates,
        )


@dataclass(frozen=True)
class Transcript:
    """Every message of an in-process run, in order, and the bytes each side sent."""

    messages: tuple[bytes, ...]
    initiator_bytes: int
    responder_bytes: int


def run_in_process(initiator: MatchParty, responder: MatchParty) -> Transcript:
    """Run a whole PSI between two local parties; return the transcript (results: each party's
    :meth:`PsiParty.result`). Raises :class:`MatchError` as the parties do."""
    messages = [initiator.first_message()]
    parties = (responder, initiator)
    turn = 0
    while True:
        nxt = parties[turn].receive(messages[-1])
        if nxt is None:
            break
        messages.append(nxt)
        turn ^= 1
    if not (initiator.done and responder.done):
        raise MatchError("PSI run ended before both parties finished")
    return Transcript(
        tuple(messages),
        sum(len(m) for m in messages[0::2]),
        sum(len(m) for m in messages[1::2]),
    )
