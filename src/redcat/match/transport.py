"""PSI between two party processes over TCP with mutual TLS: framing, timeouts, a closing ack.

One side serves (:func:`serve_psi`, one accepted connection per run), the other connects
(:func:`connect_psi`); either may hold either PSI role. Both require TLS 1.3 and a peer
certificate signed by their ``--ca``; the client also checks that the server's certificate names
the host it dialled (or ``expect_peer``), and a server given ``expect_peer`` checks the client's.

Every frame is ``u8 kind | u32 payload length | payload`` (big-endian):

- ``HELLO``: JSON ``{transport, protocol, party, role, types, max_message_bytes}``, sent by both
  sides first; each checks the other's transport version, PSI protocol, identifier types and that
  the roles differ, and learns the largest frame the peer accepts;
- ``PSI``: one message of the party's protocol (:mod:`redcat.match.psi`, or the control
  messages of :mod:`redcat.match.spu`), verbatim;
- ``ERROR``: UTF-8 reason; the sender ends the run, the receiver raises :class:`PeerError`;
- ``ACK``: closing acknowledgement (empty). When the PSI is done (the initiator has checked the
  responder's confirmation), the initiator sends ACK and the responder answers ACK: only then does
  either side hand its result out, so a run that fails before that leaves neither side a result.
  (If the last ACK is lost, the responder has a result and the initiator none: no two-party
  protocol can rule that out; it fails closed on one side, never with different keys.)
- ``KEEPALIVE``: empty, every ``keepalive_s`` while a side computes, so the waiting side can tell
  a peer that computes (a 1M-identifier step takes tens of seconds) from one that stalls.

Every failure (TLS refused, incompatible hello, oversized or malformed frame, a PSI message the
party rejects, silence beyond ``idle_timeout_s``, a dropped connection) raises
:class:`redcat.errors.MatchError` naming the cause; where the connection still works, the peer is
sent an ERROR frame with the same reason first, so both sides fail with a clear message. Frames
over ``max_message_bytes`` are refused from their header, before their body is read.

Bytes sent and received count frames (headers included), not TLS record overhead.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redcat.errors import ConfigError, MatchError
from redcat.match.psi import MatchParty, PsiResult
from redcat.settings import MatchSettings

TRANSPORT = "redcat-match-tls/1"
HELLO, PSI, ERROR, ACK, KEEPALIVE = 1, 2, 3, 4, 5
FRAME_NAMES = {HELLO: "HELLO", PSI: "PSI", ERROR: "ERROR", ACK: "ACK", KEEPALIVE: "KEEPALIVE"}
HEADER = struct.Struct(">BI")
# HELLO and ERROR payloads are small JSON / text; anything larger is not a redcat peer.
MAX_CONTROL_BYTES = 64 * 1024
# How long a failing side lingers to let its ERROR frame reach the peer before closing (seconds).
_LINGER_S = 1.0

Progress = Callable[[str], None]


class PeerError(MatchError):
    """The peer reported an error (an ERROR frame) and ended the run."""


class TlsError(MatchError):
    """TLS failed: a certificate was refused (by either side) or the peer speaks no TLS 1.3."""


@dataclass(frozen=True)
class TlsFiles:
    """This side's certificate and private key (PEM), and the CA (PEM) that signs its peers."""

    cert: Path
    key: Path
    ca: Path


@dataclass(frozen=True)
class NetMatch:
    """One finished run on this side: the PSI ``result``, this side's and the peer's party names
    (the peer's as its hello declared it; ``peer_certificate``: the names its verified certificate
    carries), the peer's address, the transport, wall ``seconds`` from start (listening or dialling)
    to the closing ack, and frame bytes sent and received."""

    result: PsiResult
    party: str
    peer_party: str
    peer_certificate: tuple[str, ...]
    peer_address: str
    transport: str
    seconds: float
    bytes_sent: int
    bytes_received: int


# -- TLS -----------------------------------------------------------------------------------------


def _context(tls: TlsFiles, purpose: ssl.Purpose) -> ssl.SSLContext:
    side = (
        ssl.PROTOCOL_TLS_SERVER if purpose is ssl.Purpose.CLIENT_AUTH else ssl.PROTOCOL_TLS_CLIENT
    )
    ctx = ssl.SSLContext(side)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    for what, path in (("certificate", tls.cert), ("key", tls.key), ("CA", tls.ca)):
        if not Path(path).is_file():
            raise ConfigError(f"TLS {what} file {path} does not exist")
    try:
        ctx.load_cert_chain(str(tls.cert), str(tls.key))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"cannot load TLS certificate {tls.cert} with key {tls.key}: {_reason(exc)}"
        ) from None
    try:
        ctx.load_verify_locations(cafile=str(tls.ca))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot load TLS CA {tls.ca}: {_reason(exc)}") from None
    return ctx


def server_context(tls: TlsFiles) -> ssl.SSLContext:
    """Return a TLS 1.3 server context that presents ``tls.cert`` and requires a client
    certificate signed by ``tls.ca``. Raises :class:`ConfigError` for unreadable files."""
    return _context(tls, ssl.Purpose.CLIENT_AUTH)


def client_context(tls: TlsFiles) -> ssl.SSLContext:
    """Return a TLS 1.3 client context that presents ``tls.cert`` and requires a server
    certificate signed by ``tls.ca`` naming the expected host. Raises :class:`ConfigError`."""
    return _context(tls, ssl.Purpose.SERVER_AUTH)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _tls_error(exc: ssl.SSLError, peer: str) -> MatchError:
    """A clear MatchError (a :class:`TlsError` unless the peer merely closed) for a TLS failure
    with ``peer``."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TlsError(
            f"TLS: this side refused the certificate of peer {peer}: {exc.verify_message} "
            "(it must be signed by this side's --ca and name the expected peer)"
        )
    reason = _reason(exc)
    if "alert" in reason:
        return TlsError(
            f"TLS: peer {peer} refused the connection ({reason}): it does not accept this side's "
            "certificate (signed by a CA it does not trust?) or TLS version"
        )
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return MatchError(f"peer {peer} closed the TLS connection")
    if "wrong version" in reason or "unsupported protocol" in reason:
        return TlsError(f"peer {peer} does not speak TLS 1.3 ({reason})")
    return TlsError(f"TLS with peer {peer} failed: {reason}")


def _cert_names(cert: dict[str, Any] | None) -> tuple[str, ...]:
    """Names a verified peer certificate carries: subjectAltNames, then subject common names."""
    if not cert:
        return ()
    names = [str(v) for k, v in cert.get("subjectAltName", ()) if k in ("DNS", "IP Address")]
    for rdn in cert.get("subject", ()):
        names += [str(v) for k, v in rdn if k == "commonName"]
    return tuple(dict.fromkeys(names))


# -- framing -------------------------------------------------------------------------------------


class Channel:
    """Frames over one TLS socket, with the run's timeouts and byte counts.

    ``peer`` labels the peer in error messages; ``peer_max`` is the largest frame the peer accepts
    (from its hello). Reads happen on the caller's thread only; sends take a lock, since the
    keepalive thread sends while the caller computes.
    """

    def __init__(self, sock: ssl.SSLSocket, settings: MatchSettings, peer: str) -> None:
        self.sock = sock
        self.settings = settings
        self.peer = peer
        self.peer_max = settings.max_message_bytes
        self.sent = 0
        self.received = 0
        self.waiting_for = "the peer's hello"
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + settings.run_timeout_s

    def send(
        self, kind: int, payload: bytes = b"", *, timeout: float | None = None, explain: bool = True
    ) -> None:
        """Send one frame. Raises :class:`MatchError` when the connection fails or the peer
        takes nothing for ``timeout`` (default: the idle timeout) seconds; with ``explain``, a
        send that fails because the peer closed first reports the peer's ERROR frame or TLS
        alert when one arrived (the reason it closed)."""
        try:
            self._send(kind, payload, timeout)
        except _Closed as exc:
            if not explain:
                raise MatchError(str(exc)) from None
            raise self._explain(MatchError(str(exc))) from None

    def _explain(self, fallback: MatchError) -> MatchError:
        try:
            self.recv(ERROR, timeout=_LINGER_S)
        except (PeerError, TlsError) as exc:
            return exc
        except MatchError:
            pass
        return fallback

    def _send(self, kind: int, payload: bytes, timeout: float | None) -> None:
        header = HEADER.pack(kind, len(payload))
        wait = self.settings.idle_timeout_s if timeout is None else timeout
        with self._lock:
            try:
                self.sock.settimeout(wait)
                self.sock.sendall(header)
                if payload:
                    self.sock.sendall(payload)
            except TimeoutError:
                raise MatchError(
                    f"peer {self.peer} stopped reading: sending made no progress for {wait:g} s "
                    "(settings match.idle_timeout_s)"
                ) from None
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError, BrokenPipeError, ConnectionResetError):
                raise _Closed(
                    f"peer {self.peer} closed the connection while this side was sending"
                ) from None
            except ssl.SSLError as exc:
                raise _tls_error(exc, self.peer) from None
            except OSError as exc:
                raise MatchError(
                    f"connection to peer {self.peer} lost while sending: {_reason(exc)}"
                ) from None
            self.sent += len(header) + len(payload)

    def _read_exact(self, n: int, timeout: float | None) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        idle = self.settings.idle_timeout_s if timeout is None else timeout
        while got < n:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise MatchError(
                    f"the run took longer than {self.settings.run_timeout_s:g} s "
                    "(settings match.run_timeout_s)"
                )
            self.sock.settimeout(min(idle, remaining))
            try:
                k = self.sock.recv_into(view[got:], n - got)
            except TimeoutError:
                if self._deadline - time.monotonic() <= 0:
                    continue  # reported as a run timeout above
                raise MatchError(
                    f"peer {self.peer} sent nothing for {idle:g} s while this side waited for "
                    f"{self.waiting_for} (the peer stalled or the link is down; "
                    "settings match.idle_timeout_s)"
                ) from None
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
                k = 0  # the peer closed: reported below with what this side waited for
            except ssl.SSLError as exc:
                raise _tls_error(exc, self.peer) from None
            except OSError as exc:
                raise MatchError(
                    f"connection to peer {self.peer} lost while this side waited for "
                    f"{self.waiting_for}: {_reason(exc)}"
                ) from None
            if k == 0:
                raise MatchError(
                    f"peer {self.peer} closed the connection while this side waited for "
                    f"{self.waiting_for}"
                )
            got += k
        self.received += n
        return buf

    def recv(self, expect: int, *, timeout: float | None = None) -> bytes:
        """Return the payload of the next frame, which must be of kind ``expect`` (keepalives are
        skipped). Raises :class:`PeerError` for an ERROR frame and :class:`MatchError` for an
        unknown, unexpected or oversized frame, silence beyond ``timeout`` (default: the idle
        timeout) seconds, or a lost connection."""
        while True:
            kind, length = HEADER.unpack(self._read_exact(HEADER.size, timeout))
            name = FRAME_NAMES.get(kind)
            if name is None:
                raise MatchError(
                    f"peer {self.peer} sent a frame of unknown kind {kind} (not a redcat match "
                    "peer, or an incompatible version)"
                )
            limit = {PSI: self.settings.max_message_bytes, KEEPALIVE: 0, ACK: 0}.get(
                kind, MAX_CONTROL_BYTES
            )
            if length > limit:
                raise MatchError(
                    f"peer {self.peer} sent a {name} frame of {length:,} bytes, over this side's "
                    f"limit of {limit:,} bytes"
                    + (" (settings match.max_message_bytes)" if kind == PSI else "")
                )
            payload = bytes(self._read_exact(length, timeout)) if length else b""
            if kind == KEEPALIVE:
                continue
            if kind == ERROR:
                reason = payload.decode("utf-8", "replace")
                raise PeerError(f"peer {self.peer} ended the run: {reason}")
            if kind != expect:
                raise MatchError(
                    f"peer {self.peer} sent {name} while this side waited for {self.waiting_for}"
                )
            return payload

    def abort(self, reason: str) -> None:
        """Tell the peer why this side ends the run (best effort), then close."""
        with suppress(MatchError):
            self.send(
                ERROR, reason.encode("utf-8")[:MAX_CONTROL_BYTES], timeout=_LINGER_S, explain=False
            )
        self.close(linger=_LINGER_S)

    def close(self, linger: float = 0.0) -> None:
        """Close the connection; with ``linger`` > 0, first stop sending and read whatever the
        peer still sends for up to ``linger`` seconds (until its close), so that our last frame
        is not destroyed by a reset for unread data."""
        try:
            if linger > 0:
                self.sock.shutdown(socket.SHUT_WR)
                end = time.monotonic() + linger
                while (left := end - time.monotonic()) > 0:
                    self.sock.settimeout(left)
                    if not self.sock.recv(65536):
                        break
        except (OSError, ValueError):
            pass
        finally:
            with suppress(OSError):
                self.sock.close()


class _Closed(Exception):
    """The peer closed the connection under a send (internal: :meth:`Channel.send` explains)."""


@contextmanager
def _keepalive(channel: Channel) -> Iterator[None]:
    """Send KEEPALIVE frames every ``keepalive_s`` while the body computes."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(channel.settings.keepalive_s):
            try:
                channel.send(KEEPALIVE, explain=False)
            except MatchError:
                return  # the caller's next send or read reports the broken connection

    thread = threading.Thread(target=beat, name="redcat-match-keepalive", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# -- hello ---------------------------------------------------------------------------------------


def _hello(party: MatchParty, name: str, settings: MatchSettings) -> bytes:
    return json.dumps(
        {
            "transport": TRANSPORT,
            "protocol": party.protocol,
            "party": name,
            "role": party.role,
            "types": list(party.types),
            "max_message_bytes": settings.max_message_bytes,
        }
    ).encode()


def _check_hello(payload: bytes, party: MatchParty) -> tuple[str, int]:
    """Return the peer's party name and frame limit; raise MatchError if it cannot run with us."""
    try:
        hello = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        hello = None
    if not isinstance(hello, dict):
        raise MatchError("the peer's hello is not a JSON object: not a redcat match peer")
    if hello.get("transport") != TRANSPORT:
        raise MatchError(
            f"protocol version mismatch: peer speaks {str(hello.get('transport'))[:64]!r}, "
            f"this side {TRANSPORT!r}; both parties must run compatible redcat versions"
        )
    if hello.get("protocol") != party.protocol:
        raise MatchError(
            f"protocol version mismatch: peer runs PSI {str(hello.get('protocol'))[:64]!r}, "
            f"this side {party.protocol!r} (both sides must run the same --backend and "
            "compatible redcat versions)"
        )
    other = "responder" if party.role == "initiator" else "initiator"
    if hello.get("role") != other:
        raise MatchError(
            f"both sides are PSI {party.role}s; one side must be the initiator, the other "
            "the responder"
        )
    types = hello.get("types")
    if types != list(party.types):
        raise MatchError(
            f"parties disagree on identifier types: peer {str(types)[:200]}, "
            f"this side {list(party.types)} (same types, same order on both sides)"
        )
    peer, limit = hello.get("party"), hello.get("max_message_bytes")
    if not isinstance(peer, str) or not 0 < len(peer) <= 128:
        raise MatchError("the peer's hello names no party")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise MatchError("the peer's hello gives no valid max_message_bytes")
    return peer, limit


# -- a run ---------------------------------------------------------------------------------------


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress(text)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _send_psi(channel: Channel, message: bytes, progress: Progress | None) -> None:
    if len(message) > channel.peer_max:
        raise MatchError(
            f"this side's next PSI message is {len(message):,} bytes, over the peer's limit of "
            f"{channel.peer_max:,} bytes (its max_message_bytes setting)"
        )
    _say(progress, f"sending {_mb(len(message))} to {channel.peer}")
    channel.send(PSI, message)


def _drive(channel: Channel, party: MatchParty, progress: Progress | None) -> None:
    """Run the PSI messages and the closing ack; on return ``party`` holds its result."""
    if party.role == "initiator":
        _say(progress, "hashing and blinding this side's identifiers")
        with _keepalive(channel):
            first = party.first_message()
        _send_psi(channel, first, progress)
    count = 0
    while not party.done:
        channel.waiting_for = "the peer's next PSI message"
        _say(progress, f"waiting for {channel.peer}")
        message = channel.recv(PSI)
        count += 1
        _say(progress, f"computing on message {count} from the peer ({_mb(len(message))})")
        with _keepalive(channel):
            reply = party.receive(message)
        if reply is not None:
            _send_psi(channel, reply, progress)
    channel.waiting_for = "the closing ACK"
    _say(progress, "closing: exchanging acknowledgements")
    if party.role == "initiator":
        channel.send(ACK)
        channel.recv(ACK)
    else:
        channel.recv(ACK)
        channel.send(ACK)


def _session(
    sock: ssl.SSLSocket,
    party: MatchParty,
    name: str,
    settings: MatchSettings,
    address: str,
    expect_peer: str | None,
    started: float,
    progress: Progress | None,
    *,
    server_side: bool,
) -> NetMatch:
    channel = Channel(sock, settings, address)
    try:
        names = _cert_names(sock.getpeercert())
        if expect_peer is not None and expect_peer not in names:
            raise MatchError(
                f"the certificate of peer {address} names {', '.join(names) or 'nobody'}, "
                f"not the expected peer {expect_peer!r}"
            )
        # The server speaks first: the client's first act is a read, which is where TLS 1.3
        # delivers the server's verdict on the client's certificate (an alert) if it refused it.
        hello, wait = _hello(party, name, settings), settings.handshake_timeout_s
        if server_side:
            channel.send(HELLO, hello, timeout=wait)
        peer, channel.peer_max = _check_hello(channel.recv(HELLO, timeout=wait), party)
        if not server_side:
            channel.send(HELLO, hello, timeout=wait)
        channel.peer = f"{peer!r} ({address})"
        _say(progress, f"connected to {channel.peer}, certificate {', '.join(names)}")
        # A backend with a link of its own (SPU) dials the peer at the address it connected from.
        party.attach_network(str(sock.getsockname()[0]), str(sock.getpeername()[0]))
        _drive(channel, party, progress)
        result = party.result()
    except PeerError:
        channel.close()
        raise
    except MatchError as exc:
        channel.abort(str(exc))
        raise
    except BaseException as exc:  # interrupted or a bug: the peer still learns the run is over
        channel.abort(f"the peer stopped ({type(exc).__name__})")
        raise
    # The initiator received the last ACK: close now. The responder sent it: wait for the
    # initiator's close so the ACK is not lost to a reset.
    channel.close(linger=0.0 if party.role == "initiator" else settings.handshake_timeout_s)
    return NetMatch(
        result=result,
        party=name,
        peer_party=peer,
        peer_certificate=names,
        peer_address=address,
        transport=TRANSPORT,
        seconds=time.monotonic() - started,
        bytes_sent=channel.sent,
        bytes_received=channel.received,
    )


def _wrap(
    ctx: ssl.SSLContext, raw: socket.socket, address: str, settings: MatchSettings, **kw: Any
) -> ssl.SSLSocket:
    raw.settimeout(settings.handshake_timeout_s)
    try:
        return ctx.wrap_socket(raw, **kw)
    except ssl.SSLError as exc:
        raw.close()
        raise _tls_error(exc, address) from None
    except TimeoutError:
        raw.close()
        raise MatchError(
            f"peer {address} did not complete the TLS handshake within "
            f"{settings.handshake_timeout_s:g} s (settings match.handshake_timeout_s)"
        ) from None
    except OSError as exc:
        raw.close()
        raise MatchError(f"TLS handshake with peer {address} failed: {_reason(exc)}") from None


def serve_psi(
    party: MatchParty,
    listen: tuple[str, int],
    tls: TlsFiles,
    *,
    name: str,
    settings: MatchSettings | None = None,
    expect_peer: str | None = None,
    on_listening: Callable[[tuple[str, int]], None] | None = None,
    progress: Progress | None = None,
) -> NetMatch:
    """Listen on ``listen`` (host, port; port 0 picks a free one, reported to ``on_listening``),
    accept ONE connection, and run ``party`` (either role) against it under mutual TLS; return
    this side's :class:`NetMatch` after the closing ack. With ``expect_peer``, the client's
    certificate must name it. ``progress`` receives one-line status texts. Raises
    :class:`MatchError` (the peer is told why where the connection allows) or
    :class:`ConfigError` for unreadable TLS files; ``party`` is closed either way."""
    settings = settings or MatchSettings()
    try:
        ctx = server_context(tls)
        started = time.monotonic()
        host, port = listen
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            listener = socket.create_server((host, port), family=family, backlog=1)
        except OSError as exc:
            raise MatchError(f"cannot listen on {host}:{port}: {_reason(exc)}") from None
        with listener:
            bound = listener.getsockname()
            if on_listening is not None:
                on_listening((str(bound[0]), int(bound[1])))
            _say(progress, f"listening on {bound[0]}:{bound[1]}, waiting for the peer")
            listener.settimeout(settings.accept_timeout_s)
            try:
                raw, addr = listener.accept()
            except TimeoutError:
                raise MatchError(
                    f"no peer connected to {bound[0]}:{bound[1]} within "
                    f"{settings.accept_timeout_s:g} s (settings match.accept_timeout_s)"
                ) from None
        address = f"{addr[0]}:{addr[1]}"
        sock = _wrap(ctx, raw, address, settings, server_side=True)
        return _session(
            sock, party, name, settings, address, expect_peer, started, progress, server_side=True
        )
    finally:
        party.close()


def connect_psi(
    party: MatchParty,
    peer: tuple[str, int],
    tls: TlsFiles,
    *,
    name: str,
    settings: MatchSettings | None = None,
    expect_peer: str | None = None,
    progress: Progress | None = None,
) -> NetMatch:
    """Connect to a serving peer at ``peer`` (host, port; retried while refused, up to
    ``connect_timeout_s``) and run ``party`` (either role) under mutual TLS; the server's
    certificate must name ``expect_peer`` (default: the host dialled). Returns this side's
    :class:`NetMatch` after the closing ack. Raises :class:`MatchError` (the peer is told why
    where the connection allows) or :class:`ConfigError`; ``party`` is closed either way."""
    settings = settings or MatchSettings()
    try:
        ctx = client_context(tls)
        started = time.monotonic()
        host, port = peer
        address = f"{host}:{port}"
        deadline = started + settings.connect_timeout_s
        _say(progress, f"connecting to {address}")
        while True:
            try:
                raw = socket.create_connection(
                    (host, port), timeout=max(0.1, deadline - time.monotonic())
                )
                break
            except ConnectionRefusedError:
                if time.monotonic() >= deadline:
                    raise MatchError(
                        f"nobody accepted a connection at {address} within "
                        f"{settings.connect_timeout_s:g} s (settings match.connect_timeout_s)"
                    ) from None
                time.sleep(0.1)
            except TimeoutError:
                raise MatchError(
                    f"could not connect to {address} within {settings.connect_timeout_s:g} s"
                ) from None
            except OSError as exc:
                raise MatchError(f"cannot connect to {address}: {_reason(exc)}") from None
        sock = _wrap(ctx, raw, address, settings, server_hostname=expect_peer or host)
        # The TLS client already checked that the certificate names expect_peer (or the host).
        return _session(
            sock, party, name, settings, address, None, started, progress, server_side=False
        )
    finally:
        party.close()


def parse_address(text: str, *, what: str = "address") -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``[v6]:PORT`` for IPv6) into (host, port). Raises ConfigError."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} must be HOST:PORT, got {text!r}")
    return host, int(port)
