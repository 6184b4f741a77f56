"""PSI over mutual TLS on loopback: exact results, and every failure clear on both sides.

The serving side runs in a thread; the other side is either a real party or a hand-driven peer
(TLS plus raw frames) that misbehaves on purpose and reads what the real side tells it.
"""

from __future__ import annotations

import json
import queue
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from redcat.errors import ConfigError, MatchError
from redcat.match.certs import make_certs
from redcat.match.psi import PROTOCOL, PsiParty
from redcat.match.transport import (
    ACK,
    HEADER,
    HELLO,
    KEEPALIVE,
    PSI,
    TRANSPORT,
    Channel,
    NetMatch,
    PeerError,
    TlsFiles,
    client_context,
    connect_psi,
    parse_address,
    serve_psi,
)
from redcat.settings import MatchSettings

FAST = MatchSettings(
    connect_timeout_s=5.0,
    handshake_timeout_s=5.0,
    accept_timeout_s=10.0,
    idle_timeout_s=5.0,
    keepalive_s=0.5,
    run_timeout_s=30.0,
)
LOCAL = ("127.0.0.1", 0)

A_ONLY = [f"a-{i}" for i in range(40)]
B_ONLY = [f"b-{i}" for i in range(30)]
SHARED = [f"s-{i}" for i in range(25)]


@dataclass(frozen=True)
class Pki:
    content: TlsFiles
    tmall: TlsFiles
    stranger: TlsFiles  # a certificate named "content", signed by another CA


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    good = make_certs(root / "good", ["content", "tmall"])
    evil = make_certs(root / "evil", ["content"])

    def files(cs: Any, name: str) -> TlsFiles:
        return TlsFiles(cs.parties[name].cert, cs.parties[name].key, cs.ca)

    return Pki(files(good, "content"), files(good, "tmall"), files(evil, "content"))


class Server:
    """serve_psi in a thread; ``port`` once listening, ``outcome`` a NetMatch or the exception."""

    def __init__(
        self,
        party: PsiParty,
        tls: TlsFiles,
        settings: MatchSettings = FAST,
        expect_peer: str | None = None,
    ) -> None:
        self._ports: queue.Queue[int] = queue.Queue()
        self.outcome: NetMatch | BaseException | None = None

        def run() -> None:
            try:
                self.outcome = serve_psi(
                    party,
                    LOCAL,
                    tls,
                    name="tmall",
                    settings=settings,
                    expect_peer=expect_peer,
                    on_listening=lambda a: self._ports.put(a[1]),
                )
            except BaseException as exc:
                self.outcome = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.port = self._ports.get(timeout=10)

    def join(self) -> NetMatch | BaseException | None:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "server did not finish"
        return self.outcome


def _party(role: str, ids: list[str]) -> PsiParty:
    return PsiParty.from_identifiers(role, ids)  # type: ignore[arg-type]


def _server_error(server: Server) -> MatchError:
    outcome = server.join()
    assert isinstance(outcome, MatchError), outcome
    return outcome


# -- the happy path ------------------------------------------------------------------------------


def test_two_parties_over_tls_hold_exactly_the_intersection_with_the_same_keys(pki: Pki) -> None:
    server = Server(_party("responder", SHARED + B_ONLY), pki.tmall, expect_peer="content")
    a = connect_psi(
        _party("initiator", A_ONLY + SHARED),
        ("127.0.0.1", server.port),
        pki.content,
        name="content",
        settings=FAST,
        expect_peer="tmall",
    )
    b = server.join()
    assert isinstance(b, NetMatch)
    keys_a = {m.user_key: m.match_key for m in a.result.matches}
    keys_b = {m.user_key: m.match_key for m in b.result.matches}
    assert set(keys_a) == set(keys_b) == set(SHARED)
    assert keys_a == keys_b
    assert len(set(keys_a.values())) == len(SHARED)
    assert (a.party, a.peer_party, b.party, b.peer_party) == (
        "content",
        "tmall",
        "tmall",
        "content",
    )
    assert "tmall" in a.peer_certificate and "content" in b.peer_certificate
    assert a.result.role == "initiator" and b.result.role == "responder"
    # every frame one side sent, the other received; A sends its 65 values and B's 55 blinded
    # again, B the reverse: 32 bytes each, plus headers and the hello
    assert a.bytes_sent == b.bytes_received and b.bytes_sent == a.bytes_received
    assert 32 * 120 < a.bytes_sent < 32 * 120 + 600
    assert 32 * 120 < b.bytes_sent < 32 * 120 + 600
    assert a.transport == TRANSPORT


def test_a_slow_peer_that_sends_keepalives_is_not_a_stalled_one(pki: Pki) -> None:
    slow = replace(FAST, idle_timeout_s=0.3, keepalive_s=0.05)

    class SlowParty(PsiParty):
        def receive(self, data: bytes) -> bytes | None:
            time.sleep(0.8)  # longer than the peer's idle timeout
            return super().receive(data)

    server = Server(SlowParty.from_identifiers("responder", SHARED + B_ONLY), pki.tmall, slow)
    a = connect_psi(
        _party("initiator", A_ONLY + SHARED),
        ("127.0.0.1", server.port),
        pki.content,
        name="content",
        settings=slow,
        expect_peer="tmall",
    )
    assert isinstance(server.join(), NetMatch)
    assert {m.user_key for m in a.result.matches} == set(SHARED)


# -- certificates --------------------------------------------------------------------------------


def test_a_client_certificate_from_another_ca_is_refused_on_both_sides(pki: Pki) -> None:
    server = Server(_party("responder", SHARED), pki.tmall)
    with pytest.raises(MatchError, match="refused the connection"):
        connect_psi(
            _party("initiator", SHARED),
            ("127.0.0.1", server.port),
            replace(pki.stranger, ca=pki.content.ca),  # trusts the server, is not trusted
            name="content",
            settings=FAST,
            expect_peer="tmall",
        )
    assert "refused the certificate" in str(_server_error(server))


def test_a_server_certificate_from_another_ca_is_refused_on_both_sides(pki: Pki) -> None:
    # the client trusts only the other CA: the server's genuine certificate is unknown to it
    server = Server(_party("responder", SHARED), pki.tmall)
    distrustful = replace(pki.content, ca=pki.stranger.ca)
    with pytest.raises(MatchError, match="refused the certificate"):
        connect_psi(
            _party("initiator", SHARED),
            ("127.0.0.1", server.port),
            distrustful,
            name="content",
            settings=FAST,
            expect_peer="tmall",
        )
    assert "refused the connection" in str(_server_error(server))


def test_a_server_certificate_naming_another_party_is_refused(pki: Pki) -> None:
    server = Server(_party("responder", SHARED), pki.tmall)
    with pytest.raises(MatchError, match=r"refused the certificate.*Hostname mismatch"):
        connect_psi(
            _party("initiator", SHARED),
            ("127.0.0.1", server.port),
            pki.content,
            name="content",
            settings=FAST,
            expect_peer="jd",
        )
    assert isinstance(server.join(), MatchError)


def test_a_server_expecting_another_client_tells_it_why(pki: Pki) -> None:
    server = Server(_party("responder", SHARED), pki.tmall, expect_peer="jd")
    with pytest.raises(PeerError, match="not the expected peer 'jd'"):
        connect_psi(
            _party("initiator", SHARED),
            ("127.0.0.1", server.port),
            pki.content,
            name="content",
            settings=FAST,
            expect_peer="tmall",
        )
    assert "not the expected peer 'jd'" in str(_server_error(server))


# -- a hand-driven peer --------------------------------------------------------------------------


@pytest.fixture
def fake_client(pki: Pki) -> Iterator[Callable[[int], ssl.SSLSocket]]:
    socks: list[ssl.SSLSocket] = []

    def dial(port: int) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock = client_context(pki.content).wrap_socket(raw, server_hostname="tmall")
        socks.append(sock)
        return sock

    yield dial
    for s in socks:
        s.close()


def _frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def _hello(**override: Any) -> bytes:
    hello = {
        "transport": TRANSPORT,
        "protocol": PROTOCOL,
        "party": "content",
        "role": "initiator",
        "types": ["user_key"],
        "max_message_bytes": 1 << 20,
    }
    return json.dumps(hello | override).encode()


def _told(sock: ssl.SSLSocket) -> str:
    """Read the real side's frames (its HELLO first) until its ERROR; return the reason."""
    channel = Channel(sock, FAST, "server")
    with pytest.raises(PeerError) as info:
        for _ in range(3):
            channel.recv(HELLO)
    sock.close()  # as a real peer does on an ERROR: the real side stops lingering
    return str(info.value)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"transport": "redcat-match-tls/2"}, "protocol version mismatch.*redcat-match-tls/2"),
        ({"protocol": "redcat-ecdh-psi-x25519/9"}, "protocol version mismatch.*x25519/9"),
        ({"role": "responder"}, "both sides are PSI responders"),
        ({"types": ["phone"]}, "disagree on identifier types"),
    ],
)
def test_an_incompatible_hello_fails_both_sides(
    pki: Pki, fake_client: Callable[[int], ssl.SSLSocket], override: dict[str, Any], expected: str
) -> None:
    server = Server(_party("responder", SHARED), pki.tmall)
    sock = fake_client(server.port)
    sock.sendall(_frame(HELLO, _hello(**override)))
    told = _told(sock)
    error = _server_error(server)
    assert re.search(expected, str(error))
    assert re.search(expected, told)


def test_a_real_client_refuses_a_server_of_another_version(pki: Pki) -> None:
    ports: queue.Queue[int] = queue.Queue()
    seen: queue.Queue[str] = queue.Queue()

    def fake_server() -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.tmall.cert, pki.tmall.key)
        ctx.load_verify_locations(pki.tmall.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        with socket.create_server(LOCAL) as listener:
            ports.put(listener.getsockname()[1])
            raw, _ = listener.accept()
            with ctx.wrap_socket(raw, server_side=True) as sock:
                sock.sendall(
                    _frame(HELLO, _hello(transport="redcat-match-tls/0", role="responder"))
                )
                seen.put(_told(sock))

    thread = threading.Thread(target=fake_server, daemon=True)
    thread.start()
    with pytest.raises(MatchError, match=r"protocol version mismatch.*redcat-match-tls/0"):
        connect_psi(
            _party("initiator", SHARED),
            ("127.0.0.1", ports.get(timeout=10)),
            pki.content,
            name="content",
            settings=FAST,
            expect_peer="tmall",
        )
    assert "protocol version mismatch" in seen.get(timeout=10)


def test_an_oversized_frame_is_refused_from_its_header(
    pki: Pki, fake_client: Callable[[int], ssl.SSLSocket]
) -> None:
    small = replace(FAST, max_message_bytes=10_000)
    server = Server(_party("responder", SHARED), pki.tmall, small)
    sock = fake_client(server.port)
    sock.sendall(_frame(HELLO, _hello()))
    sock.sendall(HEADER.pack(PSI, 10_001))  # the body never comes: the header alone must fail
    told = _told(sock)
    assert "10,001 bytes, over this side's limit of 10,000" in str(_server_error(server))
    assert "over this side's limit" in told


def test_a_sender_will_not_exceed_the_limit_its_peer_announced(pki: Pki) -> None:
    small = replace(FAST, max_message_bytes=1_000)  # the opening message is 4 KB
    server = Server(_party("responder", SHARED + B_ONLY), pki.tmall, small)
    with pytest.raises(MatchError, match="over the peer's limit of 1,000"):
        connect_psi(
            _party("initiator", A_ONLY + SHARED),
            ("127.0.0.1", server.port),
            pki.content,
            name="content",
            settings=FAST,
            expect_peer="tmall",
        )
    assert "over the peer's limit" in str(_server_error(server))


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([_frame(PSI, b"\x00\x00\x00\x05hello")], "cut short"),
        ([_frame(PSI, b"garbage")], "length prefix"),
        ([_frame(99, b"")], "unknown kind 99"),
        ([_frame(ACK)], "sent ACK while this side waited"),
        ([_frame(KEEPALIVE, b"x")], "KEEPALIVE frame of 1 bytes"),
    ],
    ids=["cut", "garbage", "unknown-kind", "out-of-turn", "bad-keepalive"],
)
def test_malformed_frames_fail_both_sides(
    pki: Pki, fake_client: Callable[[int], ssl.SSLSocket], frames: list[bytes], expected: str
) -> None:
    server = Server(_party("responder", SHARED), pki.tmall)
    sock = fake_client(server.port)
    sock.sendall(_frame(HELLO, _hello()))
    for f in frames:
        sock.sendall(f)
    told = _told(sock)
    assert expected in str(_server_error(server))
    assert expected in told


def test_a_stalled_peer_times_out_and_is_told(
    pki: Pki, fake_client: Callable[[int], ssl.SSLSocket]
) -> None:
    server = Server(
        _party("responder", SHARED), pki.tmall, replace(FAST, idle_timeout_s=0.5, keepalive_s=0.1)
    )
    sock = fake_client(server.port)
    sock.sendall(_frame(HELLO, _hello()))  # ...and then nothing: no message, no keepalive
    t0 = time.monotonic()
    told = _told(sock)
    assert time.monotonic() - t0 < 4
    assert "sent nothing for 0.5 s" in str(_server_error(server))
    assert "sent nothing" in told


def test_a_peer_that_drops_mid_run_is_reported(
    pki: Pki, fake_client: Callable[[int], ssl.SSLSocket]
) -> None:
    server = Server(_party("responder", SHARED), pki.tmall)
    sock = fake_client(server.port)
    sock.sendall(_frame(HELLO, _hello()))
    channel = Channel(sock, FAST, "server")
    channel.recv(HELLO)
    a = _party("initiator", SHARED)
    sock.sendall(_frame(PSI, a.first_message()))
    a.close()
    sock.close()  # gone before the reply
    assert re.search(r"'content' .* closed the connection", str(_server_error(server)))


def test_a_server_that_drops_after_the_first_message_is_reported(pki: Pki) -> None:
    ports: queue.Queue[int] = queue.Queue()

    def fake_server() -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.tmall.cert, pki.tmall.key)
        ctx.load_verify_locations(pki.tmall.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        with socket.create_server(LOCAL) as listener:
            ports.put(listener.getsockname()[1])
            raw, _ = listener.accept()
            with ctx.wrap_socket(raw, server_side=True) as sock:
                sock.sendall(_frame(HELLO, _hello(role="responder", party="tmall")))
                channel = Channel(sock, FAST, "client")
                channel.recv(HELLO)
                channel.recv(PSI)  # read the opening message, then vanish

    threading.Thread(target=fake_server, daemon=True).start()
    with pytest.raises(MatchError, match="closed the connection while this side waited"):
        connect_psi(
            _party("initiator", SHARED),
            ("127.0.0.1", ports.get(timeout=10)),
            pki.content,
            name="content",
            settings=FAST,
            expect_peer="tmall",
        )


def test_a_peer_that_never_acknowledges_leaves_no_result(
    pki: Pki, fake_client: Callable[[int], ssl.SSLSocket]
) -> None:
    # the fake client runs the whole PSI but drops instead of sending the closing ACK
    server = Server(_party("responder", SHARED + B_ONLY), pki.tmall)
    sock = fake_client(server.port)
    sock.sendall(_frame(HELLO, _hello()))
    channel = Channel(sock, FAST, "server")
    channel.recv(HELLO)
    a = _party("initiator", A_ONLY + SHARED)
    channel.send(PSI, a.first_message())
    while not a.done:
        reply = a.receive(channel.recv(PSI))
        if reply is not None:
            channel.send(PSI, reply)
    assert {m.user_key for m in a.result().matches} == set(SHARED)
    sock.close()
    assert "waited for the closing ACK" in str(_server_error(server))


def test_nobody_listening_is_a_clear_error(pki: Pki) -> None:
    with socket.create_server(LOCAL) as probe:
        port = probe.getsockname()[1]  # free now, closed below: nobody listens there
    with pytest.raises(MatchError, match="nobody accepted a connection"):
        connect_psi(
            _party("initiator", SHARED),
            ("127.0.0.1", port),
            pki.content,
            name="content",
            settings=replace(FAST, connect_timeout_s=0.3),
        )


def test_serve_gives_up_when_no_peer_connects(pki: Pki) -> None:
    with pytest.raises(MatchError, match="no peer connected"):
        serve_psi(
            _party("responder", SHARED),
            LOCAL,
            pki.tmall,
            name="tmall",
            settings=replace(FAST, accept_timeout_s=0.2),
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:7000", ("127.0.0.1", 7000)), ("[::1]:80", ("::1", 80)), ("h:0", ("h", 0))],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["7000", "host:", ":80", "h:x", "h:70000"])
def test_parse_address_refuses_bad_text(text: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_address(text)


# -- framing properties (a plain socket pair: framing does not depend on TLS) -------------------


def _pair(settings: MatchSettings = FAST) -> tuple[Channel, Channel]:
    left, right = socket.socketpair()
    return Channel(left, settings, "left"), Channel(right, settings, "right")  # type: ignore[arg-type]


@hsettings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([HELLO, PSI, ACK]), st.binary(max_size=3000)),
        max_size=8,
    )
)
def test_frames_arrive_whole_and_in_order_and_bytes_are_counted(
    frames: list[tuple[int, bytes]],
) -> None:
    frames = [(k, b"" if k == ACK else p) for k, p in frames]
    tx, rx = _pair()
    try:
        sender = threading.Thread(target=lambda: [tx.send(k, p) for k, p in frames])
        sender.start()
        got = []
        for kind, _ in frames:
            rx.waiting_for = "a frame"
            got.append((kind, rx.recv(kind)))
        sender.join()
        assert got == frames
        assert tx.sent == rx.received == sum(HEADER.size + len(p) for _, p in frames)
    finally:
        tx.close()
        rx.close()


@hsettings(max_examples=80, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_arbitrary_bytes_from_a_peer_raise_match_error_or_parse(junk: bytes) -> None:
    tx, rx = _pair(replace(FAST, idle_timeout_s=0.2, keepalive_s=0.05, max_message_bytes=100))
    try:
        tx.sock.sendall(junk)
        tx.sock.shutdown(socket.SHUT_WR)
        for _ in range(len(junk)):
            try:
                rx.recv(PSI)
            except MatchError:
                return  # a clear refusal (cut, unknown kind, oversized, out of turn, closed...)
        pytest.fail("more frames than bytes")
    finally:
        tx.close()
        rx.close()
