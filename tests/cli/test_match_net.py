"""``redcat match serve`` / ``connect`` / ``certs`` as two processes on loopback.

In the first test the serving party is a subprocess (its own interpreter, as a real party would
be); elsewhere both parties run ``main`` in this process, one in a thread, to keep the tests fast.
"""

from __future__ import annotations

import csv
import json
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from redcat.cli.main import main
from redcat.match.psi import PROTOCOL
from redcat.match.transport import HELLO, PSI, TRANSPORT, Channel, TlsFiles, server_context
from redcat.settings import MatchSettings


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    assert main(["match", "certs", "--out", str(root / "good"), "--names", "content,tmall"]) == 0
    assert main(["match", "certs", "--out", str(root / "evil"), "--names", "content"]) == 0
    return root


class InThread:
    """``main(argv)`` in a thread (a second party in this process); ``wait()`` gives its code."""

    def __init__(self, argv: list[str]) -> None:
        self.code: int | None = None
        self._thread = threading.Thread(target=self._run, args=(argv,), daemon=True)
        self._thread.start()

    def _run(self, argv: list[str]) -> None:
        self.code = main(argv)

    def wait(self) -> int | None:
        self._thread.join(timeout=60)
        return self.code


def _serve_in_thread(pki: Path, ids: Path, out: Path, port: int, *extra: str) -> InThread:
    return InThread(_serve_argv(pki, ids, out, port, *extra)[3:])


def _serve(pki: Path, ids: Path, out: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _serve_argv(pki, ids, out, port, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _serve_argv(pki: Path, ids: Path, out: Path, port: int, *extra: str) -> list[str]:
    good = pki / "good"
    return [
        sys.executable,
        "-m",
        "redcat.cli.main",
        "match",
        "serve",
        "--party",
        "tmall",
        "--ids",
        str(ids),
        "--listen",
        f"127.0.0.1:{port}",
        "--cert",
        str(good / "tmall.pem"),
        "--key",
        str(good / "tmall.key"),
        "--ca",
        str(good / "ca.pem"),
        "--out",
        str(out),
        "--idle-timeout",
        "10",
        *extra,
    ]


def _connect(
    certs: Path, ids: Path, out: Path, port: int, *extra: str, ca: Path | None = None
) -> int:
    return main(
        [
            "match",
            "connect",
            "--party",
            "content",
            "--ids",
            str(ids),
            "--peer",
            f"127.0.0.1:{port}",
            "--peer-name",
            "tmall",
            "--cert",
            str(certs / "content.pem"),
            "--key",
            str(certs / "content.key"),
            "--ca",
            str(ca or certs / "ca.pem"),
            "--out",
            str(out),
            "--idle-timeout",
            "10",
            *extra,
        ]
    )


# The same 20 mobiles written differently on each side; each side also has people of its own.
SHARED = [f"139{i:08d}" for i in range(20)]
CONTENT = [f"{m[:3]}-{m[3:7]}-{m[7:]}" for m in SHARED] + [f"137{i:08d}" for i in range(30)]
TMALL = [f"+86 {m}" for m in SHARED] + [f"136{i:08d}" for i in range(25)]


def test_serve_and_connect_write_the_same_match_keys_for_exactly_the_shared_people(
    pki: Path, tmp_path: Path
) -> None:
    a_ids, b_ids = tmp_path / "content.csv", tmp_path / "tmall.parquet"
    pd.DataFrame({"uid": CONTENT}).to_csv(a_ids, index=False)
    pd.DataFrame({"user_key": TMALL, "other": range(len(TMALL))}).to_parquet(b_ids)
    a_out, b_out = tmp_path / "a.csv", tmp_path / "b.csv"
    port = _free_port()
    server = _serve(pki, b_ids, b_out, port, "--id-type", "phone", "--peer-name", "content")
    code = _connect(pki / "good", a_ids, a_out, port, "--id-col", "uid", "--id-type", "phone")
    stdout, stderr = server.communicate(timeout=60)
    assert (code, server.returncode) == (0, 0), stderr
    a, b = _rows(a_out), _rows(b_out)
    assert list(a[0]) == list(b[0]) == ["user_key", "match_key"]
    # each side's user_key column holds its own identifiers of the shared people, as given
    assert sorted(r["user_key"] for r in a) == sorted(CONTENT[:20])
    assert sorted(r["user_key"] for r in b) == sorted(TMALL[:20])
    # one key per shared person, the same on both sides
    by_mobile_a = {r["user_key"].replace("-", ""): r["match_key"] for r in a}
    by_mobile_b = {r["user_key"][4:]: r["match_key"] for r in b}
    assert by_mobile_a == by_mobile_b
    assert len(set(by_mobile_a.values())) == 20
    assert "20 shared people" in stdout and "match rate" in stdout
    assert not list(tmp_path.glob("*.partial"))


def test_a_waterfall_of_identifier_types_over_the_network(pki: Path, tmp_path: Path) -> None:
    # p1 shares a phone, p2 only an e-mail, p3 both (matched once, on the phone), p4 nothing
    a_ids, b_ids = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame(
        {
            "user_key": ["a1", "a2", "a3", "a4"],
            "phone": ["13900000001", "", "13900000003", "13900000004"],
            "email": ["x@a.com", "p2@b.com", "P3@B.com", "p4@b.com"],
        }
    ).to_csv(a_ids, index=False)
    pd.DataFrame(
        {
            "user_key": ["b1", "b2", "b3", "b5"],
            "phone": ["+8613900000001", "13900000002", "13900000003", "13900000005"],
            "email": ["y@a.com", "p2@b.com", "p3@b.com", "p5@b.com"],
        }
    ).to_csv(b_ids, index=False)
    a_out, b_out = tmp_path / "a.out.csv", tmp_path / "b.out.csv"
    port = _free_port()
    types = ["--id-type", "phone", "--id-type", "email"]
    server = _serve_in_thread(pki, b_ids, b_out, port, *types)
    code = _connect(pki / "good", a_ids, a_out, port, *types)
    assert (code, server.wait()) == (0, 0)
    a = {r["user_key"]: r["match_key"] for r in _rows(a_out)}
    b = {r["user_key"]: r["match_key"] for r in _rows(b_out)}
    assert sorted(a) == ["a1", "a2", "a3"] and sorted(b) == ["b1", "b2", "b3"]
    assert [a["a1"], a["a2"], a["a3"]] == [b["b1"], b["b2"], b["b3"]]


def test_a_refused_certificate_fails_both_processes_and_leaves_no_match_file(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_ids, b_ids = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame({"user_key": CONTENT}).to_csv(a_ids, index=False)
    pd.DataFrame({"user_key": TMALL}).to_csv(b_ids, index=False)
    a_out, b_out = tmp_path / "a.out.csv", tmp_path / "b.out.csv"
    # leftovers of earlier runs must not pass for this run's result
    for stale in (a_out, b_out, tmp_path / "a.out.csv.partial"):
        stale.write_text("user_key,match_key\nold,0\n")
    port = _free_port()
    server = _serve_in_thread(pki, b_ids, b_out, port)
    # a certificate from another CA, while trusting the server's CA
    code = _connect(pki / "evil", a_ids, a_out, port, ca=pki / "good" / "ca.pem")
    assert (code, server.wait()) == (2, 2)
    err = " ".join(capsys.readouterr().err.split())
    assert "refused the connection" in err  # the client's line
    assert "refused the certificate" in err  # the server's line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


def test_a_missing_id_column_is_an_input_error_before_any_network(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = tmp_path / "a.csv"
    pd.DataFrame({"uid": ["1"]}).to_csv(ids, index=False)
    code = _connect(pki / "good", ids, tmp_path / "out.csv", _free_port())
    assert code == 2
    assert "field 'user_key'" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [("drop", "closed the connection"), ("stall", "sent nothing for 0.5 s")],
)
def test_a_peer_that_drops_or_stalls_mid_run_leaves_no_match_file(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], behaviour: str, expected: str
) -> None:
    good = pki / "good"
    ports: queue.Queue[int] = queue.Queue()
    release = threading.Event()

    def fake_server() -> None:
        # a server that speaks the hello, takes the opening message, then vanishes or goes quiet
        ctx = server_context(TlsFiles(good / "tmall.pem", good / "tmall.key", good / "ca.pem"))
        with socket.create_server(("127.0.0.1", 0)) as listener:
            ports.put(listener.getsockname()[1])
            raw, _ = listener.accept()
            with ctx.wrap_socket(raw, server_side=True) as sock:
                channel = Channel(sock, MatchSettings(), "client")
                hello = {
                    "transport": TRANSPORT,
                    "protocol": PROTOCOL,
                    "party": "tmall",
                    "role": "responder",
                    "types": ["user_key"],
                    "max_message_bytes": 1 << 24,
                }
                channel.send(HELLO, json.dumps(hello).encode())
                channel.recv(HELLO)
                channel.recv(PSI)
                if behaviour == "stall":
                    release.wait(10)

    thread = threading.Thread(target=fake_server, daemon=True)
    thread.start()
    ids, out = tmp_path / "a.csv", tmp_path / "a.out.csv"
    pd.DataFrame({"user_key": CONTENT}).to_csv(ids, index=False)
    code = _connect(good, ids, out, ports.get(timeout=10), "--idle-timeout", "0.5")
    release.set()
    thread.join(timeout=10)
    assert code == 2
    assert expected in " ".join(capsys.readouterr().err.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]
