"""SecretFlow SPU's RR22 PSI as a match backend (``redcat match serve/connect --backend spu``).

:class:`SpuParty` is driven exactly like the built-in :class:`redcat.match.psi.PsiParty` (it is a
:class:`~redcat.match.psi.MatchParty`): same people, normalization, duplicate collapsing,
waterfall over identifier types, :class:`~redcat.match.psi.PsiResult`, and the same transport,
outputs and guarantees around it. Only the set intersection itself is computed by SPU's RR22
(a VOLE-based OPRF PSI, far fewer public-key operations than ECDH), in a worker process
(:mod:`redcat.match.spu_worker`) run by a separate interpreter: SPU pins numpy < 2, redcat uses
numpy 2, so SPU lives in its own environment, named by ``REDCAT_SPU_PYTHON`` (or the setting
``match.spu_python``; or this interpreter, if ``spu`` happens to import here).

Control messages (the PSI frames of :mod:`redcat.match.transport`, over mutual TLS; JSON)::

    A (initiator, connect)                      B (responder, serve)
    OPEN    {types, pub_A, port_A, size_A[0]} →
                                              ← READY {pub_B, port_B, size_B[0]}   B starts SPU
    A runs SPU stage 0 with B, settles it
    SETTLED {stage 0, shared, size_A[1]}      →
                                              ← NEXT  {stage 1, size_B[1]}  B settles 0, starts 1
    ...                                         (after the last stage:)
                                              ← DONE  {confirmation}

``pub_*`` are fresh X25519 public keys: both sides derive the run key K from the X25519 shared
secret and both public keys; nobody else can. K_token and K_match are HMAC-SHA256 subkeys of K.
Per waterfall stage, each side feeds SPU the tokens PRF(K_token, type, identifier) (keyed
BLAKE2b, 128 bits) of its still-unmatched people's identifiers (raw identifiers never reach SPU
or the disk), SPU reveals the intersection of the tokens to both sides (``broadcast_result``),
each side maps them back to its people, and a shared person's ``match_key`` is
PRF(K_match, type, identifier). Each side announces its stage size before the stage (the
built-in protocol's message lengths reveal it too); a stage where either side has nothing to
send is skipped by both without SPU. After the last stage B sends a keyed hash of its sorted
match_keys, which A checks, so both end with the same keys or fail.

Trade-off against the built-in protocol: the built-in ``match_key`` is a hash of H(x)^ab, so a
party needs the *other* party (a protocol run) to compute it for any identifier. Here, once K
is agreed, **each party can compute by itself the match_key any identifier would have in this
run**, including identifiers the peer does not hold (only the PSI tells which are shared).
Someone holding only identifiers and public information (the clean room, an eavesdropper, a
party of another run) still cannot: K comes from both sides' fresh secrets. Both backends reveal
to each side the intersection and the peer's per-stage set sizes, nothing else, against a
semi-honest peer.

SPU's link is its own brpc connection, not redcat's TLS channel: each side listens on its
``link_port`` (``--spu-port``; 0 picks a free one) at the IP address of the redcat connection,
and dials the peer's port at the address it sees the peer at, so both parties must be able to
reach each other's SPU port (as well as the served one). Before SPU's link starts, the two
workers meet on those ports with a plain TCP rendezvous (one byte each way), so that both start
it together: brpc, when it dials a peer not yet listening, retries only every ~3 s. With
``link_tls`` (what the CLI does,
with the parties' ``--cert/--key/--ca``) the link runs mutual TLS too: each side accepts only a
peer certificate signed by its CA (brpc checks the chain, not the names; the names were checked
on redcat's channel). Either way everything on the link is a function of the keyed tokens
(sorted, so positions carry nothing), never of raw identifiers: someone who got onto the link
lacks K, so matches nothing, and any tampering that changes the result fails the confirmation
exchanged over redcat's channel.

Nothing stays on disk: tokens and SPU's scratch files live in a private temporary folder (mode
0700) removed when the party closes, and the timing traces SPU writes to /tmp regardless are
deleted.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import importlib.util
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from redcat.errors import MatchError
from redcat.match.keys import confirmation
from redcat.match.normalize import WATERFALL
from redcat.match.psi import (
    MAX_SET_SIZE,
    MatchedPerson,
    PsiResult,
    Role,
    TypeCount,
    check_types,
    index_people,
    pending_identifiers,
)
from redcat.match.transport import TlsFiles
from redcat.settings import MatchSettings

PROTOCOL = "redcat-spu-rr22/1"
SPU_PYTHON_ENV = "REDCAT_SPU_PYTHON"
INSTALL_HINT = (
    "install SecretFlow SPU in an environment of its own (it needs Python 3.9-3.11 and numpy < 2), "
    "e.g. `python3.11 -m venv ~/.redcat-spu && ~/.redcat-spu/bin/pip install 'spu>=0.9.5'` "
    "(or `pip install 'redcat[spu]'` there), then set "
    f"{SPU_PYTHON_ENV}=~/.redcat-spu/bin/python"
)
OPEN, READY, SETTLED, NEXT, DONE = "open", "ready", "settled", "next", "done"
_WORKER = Path(__file__).with_name("spu_worker.py")
_TRACE = re.compile(r"Trace has been written to (/[\w./-]*/psi_[\w-]+\.trace)")
# The interpreter's environment must not leak into the SPU one (e.g. a PYTHONPATH holding numpy 2).
_DROP_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


def spu_python(settings: MatchSettings | None = None) -> str:
    """Return the interpreter that runs SPU: ``$REDCAT_SPU_PYTHON``, else the setting
    ``match.spu_python``, else this interpreter when ``spu`` imports here. Raises
    :class:`MatchError` (saying how to install it) when none is configured."""
    env = os.environ.get(SPU_PYTHON_ENV, "").strip()
    if env:
        return os.path.expanduser(env)
    configured = (settings or MatchSettings()).spu_python
    if configured:
        return os.path.expanduser(configured)
    if importlib.util.find_spec("spu") is not None:
        return sys.executable
    raise MatchError(
        f"the spu backend needs a Python interpreter with SecretFlow SPU and none is configured: "
        f"{INSTALL_HINT}"
    )


class SpuWorker:
    """One :mod:`redcat.match.spu_worker` process under ``python``, working in ``folder``.

    Starting it raises :class:`MatchError` when the interpreter cannot run; :meth:`wait_ready`
    then checks that ``spu`` imports. ``peak_rss_kib``: the worker's peak resident memory (KiB,
    Linux), read when it closes.
    """

    def __init__(self, python: str, folder: Path) -> None:
        self.python = python
        self.folder = folder
        self.version = "?"
        self.peak_rss_kib: int | None = None
        script = folder / "redcat_spu_worker.py"
        shutil.copyfile(_WORKER, script)
        self.log_path = folder / "spu.log"
        env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
        env["TMPDIR"] = str(folder)  # SPU's scratch files go to the private folder
        self._buffer = b""
        with self.log_path.open("wb") as log:
            try:
                self.proc = subprocess.Popen(
                    [python, str(script)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    cwd=folder,
                    env=env,
                    bufsize=0,
                )
            except OSError as exc:
                raise MatchError(
                    f"cannot run the SPU interpreter {python!r} ({exc.strerror or exc}); "
                    f"{INSTALL_HINT}"
                ) from None

    def wait_ready(self, timeout: float) -> None:
        """Wait (up to ``timeout`` seconds) until ``spu`` has imported. Raises
        :class:`MatchError` naming the cause when the interpreter lacks SPU."""
        try:
            ready = self.read(timeout, "to import spu")
        except MatchError as exc:
            raise MatchError(f"the SPU interpreter {self.python!r} is not usable: {exc}") from None
        if not ready.get("ok"):
            raise MatchError(
                f"the SPU interpreter {self.python!r} cannot run the spu backend "
                f"({ready.get('error')}); {INSTALL_HINT}"
            )
        self.version = str(ready.get("spu", "?"))

    def send(self, command: Mapping[str, Any]) -> None:
        """Send one command line. Raises :class:`MatchError` if the worker is gone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(command) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise MatchError(f"the SPU worker stopped{self._log_tail()}") from None

    def read(self, timeout: float, waiting: str) -> dict[str, Any]:
        """Return the worker's next answer (a JSON object). Raises :class:`MatchError` when it
        exits without one or none comes within ``timeout`` seconds."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MatchError(f"the SPU worker took over {timeout:g} s {waiting}")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self.proc.wait(timeout=5)
                raise MatchError(
                    f"the SPU worker exited (status {self.proc.returncode}){self._log_tail()}"
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise MatchError(f"the SPU worker answered garbage: {line[:200]!r}")
        return answer

    def remove_traces(self) -> None:
        """Delete the trace files SPU writes to /tmp whatever TMPDIR says (timings, no data)
        and names in its log: a run leaves nothing behind."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        for name in _TRACE.findall(text):
            Path(name).unlink(missing_ok=True)

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        errors = [ln for ln in lines if "error" in ln.lower()]
        tail = (errors or lines)[-3:]
        return (": " + " | ".join(t.strip()[:300] for t in tail)) if tail else ""

    def close(self) -> None:
        """Ask the worker to quit; kill it if it does not within 1 s (it exits at once unless
        stuck in SPU, e.g. on a link that never came up)."""
        self.peak_rss_kib = _peak_rss_kib(self.proc.pid) or self.peak_rss_kib
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.remove_traces()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def _peak_rss_kib(pid: int) -> int | None:
    """A live process's peak resident memory (VmHWM, KiB) on Linux; None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class _Stage:
    id_type: str
    pending: list[str]  # normalized identifiers of still-unmatched people
    peer_size: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # token -> identifier
    running: bool = False
    shared: int = 0


@dataclass(frozen=True)
class _RunKeys:
    token: bytes
    match: bytes
    link_id: str


def _derive(shared: bytes, pub_initiator: bytes, pub_responder: bytes) -> _RunKeys:
    base = hashlib.sha256(PROTOCOL.encode() + shared + pub_initiator + pub_responder).digest()

    def sub(label: bytes) -> bytes:
        return hmac.new(base, label, hashlib.sha256).digest()

    return _RunKeys(sub(b"token"), sub(b"match_key"), sub(b"link").hex()[:16])


def _tag(key: bytes, id_type: str, value: str) -> str:
    """32 hex characters (128 bits) of keyed BLAKE2b(type NUL identifier): a PRF of the
    identifier under ``key`` (as the built-in protocol's match_key is a keyed BLAKE2b too)."""
    msg = id_type.encode("ascii") + b"\0" + value.encode("utf-8")
    return hashlib.blake2b(msg, key=key, digest_size=16).hexdigest()


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SpuParty:
    """One side of a PSI run whose intersections SecretFlow SPU's RR22 computes.

    Same arguments and driving as :class:`redcat.match.psi.PsiParty`, plus: ``python``, the
    SPU interpreter (default :func:`spu_python`); ``link_port``, this side's SPU link port (0: a
    free one); ``advertise_port``, the port the peer is told to dial instead (a forwarded port,
    e.g. behind NAT; 0: ``link_port``); ``link_tls``, this side's certificate, key and CA to run
    SPU's link under mutual TLS as well (the CLI passes its ``--cert/--key/--ca``; None: a plain
    link); ``settings`` for the link's timeouts (connect:
    ``handshake_timeout_s``; silence: ``idle_timeout_s``; a stage: ``run_timeout_s``). Creating
    it starts the worker, so a missing or broken SPU fails here, before any network.
    :meth:`attach_network` must run before the first message (the transport does it). Close it
    (or use ``with``).
    """

    protocol = PROTOCOL

    def __init__(
        self,
        role: Role,
        people: Mapping[str, Mapping[str, object]],
        *,
        types: Sequence[str] = WATERFALL,
        python: str | None = None,
        link_port: int = 0,
        advertise_port: int = 0,
        link_tls: TlsFiles | None = None,
        settings: MatchSettings | None = None,
        max_set_size: int = MAX_SET_SIZE,
    ) -> None:
        if role not in ("initiator", "responder"):
            raise MatchError(f"PSI role must be 'initiator' or 'responder', not {role!r}")
        if not (0 <= link_port <= 65535 and 0 <= advertise_port <= 65535):
            raise MatchError(f"SPU link ports must be 0-65535, not {link_port}/{advertise_port}")
        self.role: Role = role
        self.types = check_types(types)
        self.settings = settings or MatchSettings()
        self.max_set_size = max_set_size
        self._people = len(people)
        # The worker imports SPU (about half a second) while this side normalizes.
        python = python or spu_python(self.settings)
        self._folder = Path(tempfile.mkdtemp(prefix="redcat-spu-"))
        try:
            self._worker = SpuWorker(python, self._folder)
            index = index_people(people, self.types)
            self._worker.wait_ready(self.settings.handshake_timeout_s)
        except BaseException:
            if hasattr(self, "_worker"):
                self._worker.close()
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self._owners = index.owners
        self._rejected = index.rejected
        self._duplicates = index.duplicates
        self._matched: dict[str, MatchedPerson] = {}
        self._stages: list[_Stage] = []
        self._secret = X25519PrivateKey.generate()
        self._keys: _RunKeys | None = None
        self._link_port = link_port
        self._advertise_port = advertise_port
        self._link_tls = link_tls
        self._linked = False
        self._local_host: str | None = None
        self._peer_host: str | None = None
        self._peer_port = 0
        self._expect: str | None = OPEN if role == "responder" else None
        self._failed = False
        self._closed = False
        self.done = False
        self.spu_seconds = 0.0  # SPU's own time in psi_execute, summed over stages
        self.link_seconds = 0.0  # setting up SPU's link (both sides must be up)

    @classmethod
    def from_identifiers(
        cls,
        role: Role,
        identifiers: Sequence[str],
        id_type: str = "user_key",
        **kw: Any,
    ) -> SpuParty:
        """A party whose people are its identifiers of one type (each its own ``user_key``)."""
        return cls(role, {raw: {id_type: raw} for raw in identifiers}, types=(id_type,), **kw)

    @property
    def spu_version(self) -> str:
        """The SPU version the worker imported."""
        return self._worker.version

    @property
    def spu_peak_rss_kib(self) -> int | None:
        """The SPU worker's peak resident memory (KiB; Linux, once closed), else None."""
        return self._worker.peak_rss_kib

    # -- network -------------------------------------------------------------------------------

    def attach_network(self, local_host: str, peer_host: str) -> None:
        """Learn this side's and the peer's IP address on the redcat connection: SPU's link
        listens on ``local_host`` and dials ``peer_host``. Picks the link port if it is 0."""
        self._local_host, self._peer_host = local_host, peer_host
        if self._link_port == 0:
            try:
                self._link_port = _free_port(local_host)
            except OSError as exc:
                raise MatchError(f"no free SPU link port on {local_host}: {exc}") from None

    def _link_spec(self) -> dict[str, Any]:
        assert self._keys is not None and self._local_host and self._peer_host
        own = _host_port(self._local_host, self._link_port)
        peer = _host_port(self._peer_host, self._peer_port)
        # rank 0 is the initiator (RR22's receiver), rank 1 the responder, on both sides
        a, b = (own, peer) if self.role == "initiator" else (peer, own)
        parties = [["initiator", a], ["responder", b]]
        interval_ms = 100
        return {
            "id": f"redcat-{self._keys.link_id}",
            "rank": 0 if self.role == "initiator" else 1,
            "parties": parties,
            "connect_retry_times": max(
                1, int(self.settings.handshake_timeout_s * 1000 / interval_ms)
            ),
            "connect_retry_interval_ms": interval_ms,
            "recv_timeout_ms": int(self.settings.idle_timeout_s * 1000),
            "rendezvous_timeout_s": self.settings.handshake_timeout_s,
            "tls": None
            if self._link_tls is None
            else {
                "cert": str(Path(self._link_tls.cert).resolve()),
                "key": str(Path(self._link_tls.key).resolve()),
                "ca": str(Path(self._link_tls.ca).resolve()),
            },
        }

    # -- messages ------------------------------------------------------------------------------

    def _encode(self, kind: str, stage: int, **fields: Any) -> bytes:
        return json.dumps(
            {"protocol": PROTOCOL, "kind": kind, "stage": stage, **fields}, sort_keys=True
        ).encode()

    def _decode(self, data: bytes) -> dict[str, Any]:
        try:
            msg = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, TypeError):
            msg = None
        if not isinstance(msg, dict):
            raise MatchError("SPU control message is not a JSON object")
        if msg.get("protocol") != PROTOCOL:
            raise MatchError(
                f"peer speaks protocol {str(msg.get('protocol'))[:64]!r}, this side {PROTOCOL!r}"
            )
        if msg.get("kind") != self._expect:
            raise MatchError(
                f"unexpected SPU control message {str(msg.get('kind'))[:32]!r}; "
                f"expected {self._expect or 'nothing'}"
            )
        return msg

    @staticmethod
    def _int(msg: Mapping[str, Any], name: str, low: int, high: int) -> int:
        value = msg.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise MatchError(f"SPU control message field {name!r} must be an integer {low}-{high}")
        return value

    def _peer_size(self, msg: Mapping[str, Any], name: str = "size") -> int:
        return self._int(msg, name, 0, self.max_set_size)

    def _stage_of(self, msg: Mapping[str, Any]) -> int:
        stage = self._int(msg, "stage", 0, len(self.types) - 1)
        if stage != len(self._stages) - 1:
            raise MatchError(f"SPU control message for stage {stage} arrived out of turn")
        return stage

    def _agree(self, msg: Mapping[str, Any]) -> None:
        """Derive the run keys from the peer's public key and learn its link port."""
        raw = msg.get("pub")
        try:
            peer_pub = bytes.fromhex(raw) if isinstance(raw, str) else b""
            if len(peer_pub) != 32:
                raise ValueError
            shared = self._secret.exchange(X25519PublicKey.from_public_bytes(peer_pub))
        except ValueError:
            raise MatchError("peer sent an invalid X25519 public key") from None
        own = self._public()
        pubs = (own, peer_pub) if self.role == "initiator" else (peer_pub, own)
        self._keys = _derive(shared, *pubs)
        self._peer_port = self._int(msg, "port", 1, 65535)

    def _advertised(self) -> int:
        return self._advertise_port or self._link_port

    def _public(self) -> bytes:
        return self._secret.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    # -- protocol steps ------------------------------------------------------------------------

    def first_message(self) -> bytes:
        """Return the initiator's OPEN. Raises :class:`MatchError` for a responder, when called
        twice or before :meth:`attach_network`."""
        self._check_usable()
        if self.role != "initiator" or self._stages:
            raise MatchError("only the initiator sends the first message, once")
        try:
            self._need_network()
            stage = self._open(0)
            self._expect = READY
            return self._encode(
                OPEN,
                0,
                types=list(self.types),
                pub=self._public().hex(),
                port=self._advertised(),
                size=len(stage.pending),
            )
        except BaseException:
            self._fail()
            raise

    def receive(self, data: bytes) -> bytes | None:
        """Take the peer's next control message; return the reply or None when finished. Runs
        or waits for this side's SPU stage as the flow requires. Raises :class:`MatchError` on
        anything wrong (the party is then unusable; no partial result)."""
        self._check_usable()
        try:
            msg = self._decode(data)
            kind = msg["kind"]
            if kind == OPEN:
                return self._on_open(msg)
            if kind in (READY, NEXT):
                return self._on_size(msg)
            if kind == SETTLED:
                return self._on_settled(msg)
            self._on_done(msg)
            return None
        except BaseException:
            self._fail()
            raise

    def _on_open(self, msg: Mapping[str, Any]) -> bytes:
        self._need_network()
        if msg.get("stage") != 0:
            raise MatchError("SPU OPEN must open stage 0")
        if msg.get("types") != list(self.types):
            raise MatchError(
                f"parties disagree on identifier types: peer {str(msg.get('types'))[:200]}, "
                f"this side {list(self.types)}"
            )
        self._agree(msg)
        stage = self._open(0)
        stage.peer_size = self._peer_size(msg)
        self._launch(stage)
        self._expect = SETTLED
        return self._encode(
            READY, 0, pub=self._public().hex(), port=self._advertised(), size=len(stage.pending)
        )

    def _on_size(self, msg: Mapping[str, Any]) -> bytes:
        """Initiator: the responder's size for the current stage (READY also carries its key):
        run the stage, settle it, and tell the responder (with the next stage's size)."""
        index = self._stage_of(msg)
        if msg["kind"] == READY:
            self._agree(msg)
        stage = self._stages[index]
        stage.peer_size = self._peer_size(msg)
        self._launch(stage)
        self._settle(stage)
        nxt: int | None = None
        if len(self._stages) < len(self.types):
            nxt = len(self._open(len(self._stages)).pending)
            self._expect = NEXT
        else:
            self._expect = DONE
        return self._encode(SETTLED, index, shared=stage.shared, next_size=nxt)

    def _on_settled(self, msg: Mapping[str, Any]) -> bytes:
        index = self._stage_of(msg)
        stage = self._stages[index]
        self._settle(stage)
        if self._int(msg, "shared", 0, self.max_set_size) != stage.shared:
            raise MatchError(
                f"the parties found different intersections in stage {stage.id_type} "
                f"(peer {msg.get('shared')}, this side {stage.shared}); the run is void"
            )
        last = index == len(self.types) - 1
        if last != (msg.get("next_size") is None):
            raise MatchError("SPU SETTLED disagrees with this side on the number of stages")
        if last:
            self._finish()
            return self._encode(DONE, index, confirmation=self._confirmation())
        nxt = self._open(index + 1)
        nxt.peer_size = self._peer_size(msg, "next_size")
        self._launch(nxt)
        self._expect = SETTLED
        return self._encode(NEXT, index + 1, size=len(nxt.pending))

    def _on_done(self, msg: Mapping[str, Any]) -> None:
        self._stage_of(msg)
        if msg.get("confirmation") != self._confirmation():
            raise MatchError(
                "the parties ended with different match_keys; the run is void (peer misbehaved "
                "or messages were altered)"
            )
        self._finish()

    def _confirmation(self) -> str:
        return confirmation(m.match_key for m in self._matched.values()).hex()

    # -- stages --------------------------------------------------------------------------------

    def _open(self, index: int) -> _Stage:
        id_type = self.types[index]
        pending = pending_identifiers(self._owners[id_type], self._matched)
        if len(pending) > self.max_set_size:
            raise MatchError(
                f"{len(pending)} {id_type} identifiers exceed the limit of {self.max_set_size}"
            )
        stage = _Stage(id_type, pending)
        self._stages.append(stage)
        return stage

    def _launch(self, stage: _Stage) -> None:
        """Start SPU on ``stage`` (without waiting) unless either side has nothing to send."""
        if not stage.pending or not stage.peer_size:
            return
        assert self._keys is not None
        index = len(self._stages) - 1
        tokens = {_tag(self._keys.token, stage.id_type, v): v for v in stage.pending}
        stage.tokens = tokens
        path = self._folder / f"stage{index}.in.csv"
        with path.open("w", encoding="ascii", newline="") as fh:
            fh.write("t\n")
            # sorted: the link's clear-text result indices then say nothing about input order
            fh.writelines(t + "\n" for t in sorted(tokens))
        self._worker.send(
            {
                "op": "psi",
                "input": str(path),
                "output": str(self._folder / f"stage{index}.out.csv"),
                "receiver_rank": 0,
                "link": self._link_spec(),
            }
        )
        stage.running = True

    def _settle(self, stage: _Stage) -> None:
        """Wait for SPU's intersection of ``stage`` (if it ran) and mark its people matched."""
        if not stage.running:
            return
        assert self._keys is not None
        if not self._linked:
            self._wait_link()
        answer = self._worker.read(self.settings.run_timeout_s, f"on the {stage.id_type} stage")
        if not answer.get("ok"):
            raise MatchError(f"SPU RR22 failed on the {stage.id_type} stage: {answer.get('error')}")
        self.spu_seconds += float(answer.get("seconds", 0.0))
        index = self._stages.index(stage)
        out = self._folder / f"stage{index}.out.csv"
        owners = self._owners[stage.id_type]
        with out.open(encoding="ascii", newline="") as fh:
            rows = csv.reader(fh)
            header = next(rows, None)
            if header != ["t"]:
                raise MatchError(f"SPU wrote an unexpected intersection header {header!r}")
            for row in rows:
                value = stage.tokens.get(row[0]) if len(row) == 1 else None
                if value is None:
                    raise MatchError("SPU returned a value this side never sent")
                stage.shared += 1
                key = _tag(self._keys.match, stage.id_type, value)
                for user_key in owners[value]:
                    if user_key not in self._matched:
                        self._matched[user_key] = MatchedPerson(user_key, stage.id_type, key)
        if stage.shared != answer.get("intersection"):
            raise MatchError("SPU's intersection file and its report disagree")
        stage.tokens = {}
        stage.running = False
        for path in (out, self._folder / f"stage{index}.in.csv"):
            path.unlink(missing_ok=True)

    # -- life cycle ----------------------------------------------------------------------------

    def _wait_link(self) -> None:
        """Wait for SPU's link to come up: brpc retries a refused TLS handshake forever, so the
        wait is bounded here (``handshake_timeout_s`` plus 5 s)."""
        wait = self.settings.handshake_timeout_s + 5.0
        peer = _host_port(self._peer_host or "?", self._peer_port)
        try:
            answer = self._worker.read(wait, "to connect")
        except MatchError as exc:
            raise MatchError(
                f"SPU's link to the peer at {peer} did not come up ({exc}): is that port "
                "reachable from here, and are both sides' certificates signed by each other's CA?"
            ) from None
        if not answer.get("ok") or not answer.get("linked"):
            raise MatchError(f"SPU's link to the peer at {peer} failed: {answer.get('error')}")
        self._linked = True
        self.link_seconds = float(answer.get("seconds", 0.0))

    def _need_network(self) -> None:
        if self._local_host is None:
            raise MatchError("the SPU backend needs attach_network() before the first message")

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

    def close(self) -> None:
        """Stop the SPU worker and remove the private folder (a finished or failed run does
        this itself)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._worker.close()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> SpuParty:
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
                TypeCount(s.id_type, len(s.pending), s.peer_size, s.shared, per_type[s.id_type])
                for s in self._stages
            ),
            rejected=self._rejected,
            duplicates=self._duplicates,
        )
