"""The ``spu`` PSI backend (SecretFlow SPU's RR22 in its own interpreter, redcat.match.spu).

The error-path tests always run. The tests that run SPU need an interpreter with ``spu``
(``REDCAT_SPU_PYTHON``, the ``match.spu_python`` setting, or this one) and skip cleanly without
it: CI has none. Locally: ``REDCAT_SPU_PYTHON=.../bin/python pytest tests/match/test_spu.py``.
"""

from __future__ import annotations

import csv
import importlib.util
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from tests.match.test_leaks import (
    KEYS,
    find,
    forbidden_forms,
    values_of_files,
    values_of_store,
)
from tests.match.world_files import loopback_alliance, write_world

from redcat.cli.main import main
from redcat.errors import MatchError
from redcat.match.certs import make_certs
from redcat.match.psi import PROTOCOL as BUILTIN
from redcat.match.psi import MatchParty, PsiParty, PsiResult, Role, run_in_process
from redcat.match.spu import PROTOCOL, SPU_PYTHON_ENV, SpuParty, spu_python
from redcat.match.transport import NetMatch, TlsFiles, connect_psi, serve_psi
from redcat.settings import MatchSettings

FAST = MatchSettings(
    connect_timeout_s=10.0,
    handshake_timeout_s=20.0,
    accept_timeout_s=30.0,
    idle_timeout_s=20.0,
    keepalive_s=0.5,
    run_timeout_s=60.0,
)
TYPES = ("phone", "email")

# Content platform (A) and retailer (B). Shared on phone: a0-a29 ~ b0-b29 (B writes some with
# +86 and spaces); on e-mail only (case differs): a30-a44 ~ b30-b44 (B lacks their phones);
# a0-a4 also share their e-mail with other B people (b90-b94), who must stay unmatched since
# a0-a4 matched on phone first. a45/a46 share one phone (two owners, one identifier), with b45.
# Junk: an invalid phone on each side, an empty e-mail.
A: dict[str, dict[str, str | None]] = {
    **{f"a{i}": {"phone": f"1380000{i:04d}", "email": f"p{i}@x.com"} for i in range(45)},
    "a45": {"phone": "13900000000", "email": None},
    "a46": {"phone": "139 0000 0000", "email": "only-a@x.com"},
    **{f"a{i}": {"phone": f"1370000{i:04d}", "email": f"a-only{i}@x.com"} for i in range(47, 80)},
    "a80": {"phone": "12345", "email": ""},
}
B: dict[str, dict[str, str | None]] = {
    **{
        f"b{i}": {"phone": (f"+86 138 0000 {i:04d}" if i % 3 else f"1380000{i:04d}"), "email": None}
        for i in range(30)
    },
    **{f"b{i}": {"phone": None, "email": f"P{i}@X.com"} for i in range(30, 45)},
    "b45": {"phone": "13900000000", "email": None},
    **{f"b{i}": {"phone": f"1360000{i:04d}", "email": f"p{i - 90}@x.com"} for i in range(90, 95)},
    **{f"b{i}": {"phone": f"1360000{i:04d}", "email": f"b-only{i}@x.com"} for i in range(100, 140)},
    "b140": {"phone": "not a phone", "email": None},
}


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def _probe() -> str | None:
    try:
        python = spu_python()
    except MatchError:
        return None
    try:
        done = subprocess.run(
            [python, "-c", "import spu.psi, spu.libspu.link"], capture_output=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return python if done.returncode == 0 else None


@pytest.fixture(scope="module")
def spu() -> str:
    python = _probe()
    if python is None:
        pytest.skip(f"no SPU interpreter ({SPU_PYTHON_ENV} unset or cannot import spu)")
    return python


def _pair(python: str, a: Mapping[str, Mapping[str, object]] = A, b: Mapping = B) -> tuple:
    pa = SpuParty("initiator", a, types=TYPES, python=python, settings=FAST)
    pb = SpuParty("responder", b, types=TYPES, python=python, settings=FAST)
    pa.attach_network("127.0.0.1", "127.0.0.1")
    pb.attach_network("127.0.0.1", "127.0.0.1")
    return pa, pb


def _builtin(
    a: Mapping[str, Mapping[str, object]] = A, b: Mapping = B
) -> tuple[PsiResult, PsiResult]:
    pa = PsiParty("initiator", a, types=TYPES, workers=1)
    pb = PsiParty("responder", b, types=TYPES, workers=1)
    run_in_process(pa, pb)
    return pa.result(), pb.result()


def _view(r: PsiResult) -> tuple[object, ...]:
    """Everything but the keys themselves: who matched on which type, the stage counts."""
    return (
        r.people,
        sorted((m.user_key, m.id_type) for m in r.matches),
        r.stages,
        sorted((x.user_key, x.id_type) for x in r.rejected),
        r.duplicates,
    )


# -- without SPU -----------------------------------------------------------------------------


def test_no_configured_interpreter_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPU_PYTHON_ENV, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(MatchError, match=r"none is configured.*pip install.*REDCAT_SPU_PYTHON="):
        spu_python(MatchSettings())
    assert spu_python(MatchSettings(spu_python="/opt/spu/bin/python")) == "/opt/spu/bin/python"
    monkeypatch.setenv(SPU_PYTHON_ENV, "/env/python")
    assert spu_python(MatchSettings(spu_python="/opt/spu/bin/python")) == "/env/python"


def test_a_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MatchError, match=r"cannot run the SPU interpreter .*nope.*pip install"):
        SpuParty.from_identifiers("initiator", ["x"], python=str(tmp_path / "nope"))


def test_an_interpreter_without_spu_is_a_clear_error() -> None:
    if importlib.util.find_spec("spu") is not None:
        pytest.skip("spu imports in this interpreter")
    with pytest.raises(MatchError, match=r"cannot import spu.*numpy < 2"):
        SpuParty.from_identifiers("initiator", ["x"], python=sys.executable)


def test_cli_without_spu_fails_before_the_network_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SPU_PYTHON_ENV, str(tmp_path / "no-python"))
    ids = tmp_path / "ids.csv"
    ids.write_text("user_key\nu1\nu2\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    certs = make_certs(tmp_path / "pki", ["content"])
    code = main(
        [
            "match", "connect", "--party", "content", "--ids", str(ids),
            "--peer", "127.0.0.1:9", "--cert", str(certs.parties["content"].cert),
            "--key", str(certs.parties["content"].key), "--ca", str(certs.ca),
            "--out", str(out), "--backend", "spu",
        ]
    )  # fmt: skip
    assert code == 2
    assert "cannot run the SPU interpreter" in capsys.readouterr().err
    assert not out.exists() and not Path(str(out) + ".partial").exists()


# -- with SPU --------------------------------------------------------------------------------


def test_spu_matches_the_same_people_per_type_as_the_builtin_protocol(spu: str) -> None:
    a, b = _pair(spu)
    with a, b:
        transcript = run_in_process(a, b)
        ra, rb = a.result(), b.result()
    qa, qb = _builtin()
    assert _view(ra) == _view(qa) and _view(rb) == _view(qb)
    # the hand-built truth: 30 on phone + a45/a46 (one identifier, two owners) ~ b45; 15 on e-mail
    matched_a = {m.user_key for m in ra.matches}
    assert matched_a == {f"a{i}" for i in range(47)}
    assert {m.user_key for m in rb.matches} == {f"b{i}" for i in range(46)}
    assert [(s.id_type, s.shared_identifiers) for s in ra.stages] == [("phone", 31), ("email", 15)]
    assert ra.protocol == rb.protocol == PROTOCOL
    # both sides hold the same keys; a shared person has one key on both sides
    assert ra.match_keys == rb.match_keys and len(ra.match_keys) == 46
    key_a = {m.user_key: m.match_key for m in ra.matches}
    key_b = {m.user_key: m.match_key for m in rb.matches}
    assert all(key_a[f"a{i}"] == key_b[f"b{i}"] for i in range(46))
    assert key_a["a45"] == key_a["a46"] == key_b["b45"]
    # control messages only: OPEN, READY, SETTLED, NEXT, SETTLED, DONE, each under 400 bytes
    assert len(transcript.messages) == 6
    assert max(len(m) for m in transcript.messages) < 400
    # every raw identifier stayed home; the private folders are gone
    blob = b"".join(transcript.messages)
    assert b"13800000001" not in blob and b"p1@x.com" not in blob
    assert not a._folder.exists() and not b._folder.exists()


def test_match_keys_are_fresh_per_run_and_not_the_builtin_ones(spu: str) -> None:
    ids = {f"u{i}": {"phone": f"1380000{i:04d}"} for i in range(20)}
    runs = []
    for _ in range(2):
        a = SpuParty("initiator", ids, types=("phone",), python=spu, settings=FAST)
        b = SpuParty("responder", ids, types=("phone",), python=spu, settings=FAST)
        a.attach_network("127.0.0.1", "127.0.0.1")
        b.attach_network("127.0.0.1", "127.0.0.1")
        run_in_process(a, b)
        runs.append(a.result().match_keys)
        assert b.result().match_keys == runs[-1]
    assert len(runs[0]) == 20 and not runs[0] & runs[1]


def test_a_stage_where_one_side_has_nothing_skips_spu_on_both_sides(spu: str) -> None:
    a_people = {f"a{i}": {"phone": f"1380000{i:04d}", "email": None} for i in range(10)}
    b_people = {f"b{i}": {"phone": f"1380000{i:04d}", "email": f"b{i}@x.com"} for i in range(5)}
    a, b = _pair(spu, a_people, b_people)
    with a, b:
        run_in_process(a, b)
        ra, rb = a.result(), b.result()
    assert [(s.own_identifiers, s.peer_identifiers, s.shared_identifiers) for s in ra.stages] == [
        (10, 5, 5),
        (0, 0, 0),  # B's five matched on phone; A has no e-mail at all
    ]
    assert ra.match_keys == rb.match_keys and len(ra.match_keys) == 5


def test_a_tampered_confirmation_voids_the_run(spu: str) -> None:
    a, b = _pair(spu)
    with a, b:
        msg = b.receive(a.first_message())
        msg = b.receive(a.receive(msg))  # NEXT (e-mail stage)
        assert msg is not None
        done = b.receive(a.receive(msg))
        assert done is not None
        forged = done.replace(b'"confirmation": "', b'"confirmation": "00')
        with pytest.raises(MatchError, match="different match_keys"):
            a.receive(forged)
        with pytest.raises(MatchError, match="failed earlier"):
            a.receive(done)
        with pytest.raises(MatchError, match="not finished"):
            a.result()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    make_certs(root, ["content", "tmall"])
    make_certs(root / "evil", ["tmall"])
    return root


def test_an_spu_link_peer_signed_by_another_ca_is_refused(spu: str, pki: Path) -> None:
    quick = replace(FAST, handshake_timeout_s=3.0)
    kw = {"types": TYPES, "python": spu, "settings": quick}
    a = SpuParty("initiator", A, link_tls=_tls(pki, "content"), **kw)  # type: ignore[arg-type]
    b = SpuParty("responder", B, link_tls=_tls(pki / "evil", "tmall"), **kw)  # type: ignore[arg-type]
    a.attach_network("127.0.0.1", "127.0.0.1")
    b.attach_network("127.0.0.1", "127.0.0.1")
    with a, b:
        ready = b.receive(a.first_message())
        assert ready is not None
        refused = r"SPU's link to the peer at 127\.0\.0\.1:\d+ did not come up"
        with pytest.raises(MatchError, match=refused):
            a.receive(ready)
    assert not a._folder.exists() and not b._folder.exists()


def _tls(pki: Path, name: str) -> TlsFiles:
    return TlsFiles(pki / f"{name}.pem", pki / f"{name}.key", pki / "ca.pem")


class Server:
    """serve_psi with ``party`` in a thread; ``outcome`` a NetMatch or the exception."""

    def __init__(self, party: MatchParty, pki: Path) -> None:
        ports: queue.Queue[int] = queue.Queue()
        self.outcome: NetMatch | BaseException | None = None

        def run() -> None:
            try:
                self.outcome = serve_psi(
                    party,
                    ("127.0.0.1", 0),
                    _tls(pki, "tmall"),
                    name="tmall",
                    settings=FAST,
                    on_listening=lambda addr: ports.put(addr[1]),
                )
            except BaseException as exc:
                self.outcome = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.port = ports.get(timeout=30)

    def join(self) -> NetMatch | BaseException | None:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        return self.outcome


def _connect(party: MatchParty, pki: Path, port: int) -> NetMatch:
    return connect_psi(
        party,
        ("127.0.0.1", port),
        _tls(pki, "content"),
        name="content",
        settings=FAST,
        expect_peer="tmall",
    )


def test_two_spu_parties_over_mutual_tls_with_a_tls_link(spu: str, pki: Path) -> None:
    def party(role: Role, people: Mapping[str, Mapping[str, object]], name: str) -> SpuParty:
        tls = _tls(pki, name)
        return SpuParty(role, people, types=TYPES, python=spu, settings=FAST, link_tls=tls)

    server = Server(party("responder", B, "tmall"), pki)
    a = _connect(party("initiator", A, "content"), pki, server.port)
    b = server.join()
    assert isinstance(b, NetMatch), b
    assert a.result.match_keys == b.result.match_keys and len(a.result.matches) == 47
    assert a.result.protocol == b.result.protocol == PROTOCOL != BUILTIN
    assert a.bytes_sent == b.bytes_received and a.bytes_sent < 4000


def test_a_builtin_peer_is_refused_on_both_sides(spu: str, pki: Path) -> None:
    server = Server(PsiParty("responder", B, types=TYPES, workers=1), pki)
    spu_side = SpuParty("initiator", A, types=TYPES, python=spu, settings=FAST)
    with pytest.raises(MatchError, match=r"protocol version mismatch.*same --backend"):
        _connect(spu_side, pki, server.port)
    told = server.join()
    assert isinstance(told, MatchError) and "protocol" in str(told)
    assert not spu_side._folder.exists()  # the failed side cleaned up


def _write_ids(path: Path, people: Mapping[str, Mapping[str, str | None]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["user_key", "phone", "email"])
        for key, ids in people.items():
            w.writerow([key, ids.get("phone") or "", ids.get("email") or ""])
    return path


@pytest.fixture
def spu_env(spu: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(SPU_PYTHON_ENV, spu)
    yield spu


def test_cli_serve_and_connect_with_the_spu_backend(
    spu_env: str, pki: Path, tmp_path: Path
) -> None:
    port = _free_port()
    common = ["--id-type", "phone", "--id-type", "email", "--idle-timeout", "20"]
    common += ["--backend", "spu", "--cert"]

    def argv(side: str, name: str, ids: Path, out: Path, where: list[str]) -> list[str]:
        return [
            "match", side, "--party", name, "--ids", str(ids), *where, *common,
            str(pki / f"{name}.pem"), "--key", str(pki / f"{name}.key"),
            "--ca", str(pki / "ca.pem"), "--out", str(out),
        ]  # fmt: skip

    out_a, out_b = tmp_path / "a.csv", tmp_path / "b.csv"
    codes: list[int] = []
    server = threading.Thread(
        target=lambda: codes.append(
            main(
                argv(
                    "serve", "tmall", _write_ids(tmp_path / "b.ids.csv", B), out_b,
                    ["--listen", f"127.0.0.1:{port}"],
                )
            )
        ),
        daemon=True,
    )  # fmt: skip
    server.start()
    code_a = main(
        argv(
            "connect", "content", _write_ids(tmp_path / "a.ids.csv", A), out_a,
            ["--peer", f"127.0.0.1:{port}", "--peer-name", "tmall"],
        )
    )  # fmt: skip
    server.join(timeout=60)
    assert code_a == 0 and codes == [0]
    rows_a = list(csv.DictReader(out_a.open(encoding="utf-8")))
    rows_b = list(csv.DictReader(out_b.open(encoding="utf-8")))
    assert {r["user_key"] for r in rows_a} == {f"a{i}" for i in range(47)}
    assert {r["user_key"] for r in rows_b} == {f"b{i}" for i in range(46)}
    assert {r["match_key"] for r in rows_a} == {r["match_key"] for r in rows_b}
    assert list(rows_a[0]) == ["user_key", "match_key"]


def test_an_alliance_over_spu_fills_the_same_clean_room_with_no_raw_key(
    spu_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content_dir, retailers = write_world(tmp_path / "in", KEYS)
    extra = {name: ["--backend", "spu"] for name in ("content", *retailers)}
    clean_room = loopback_alliance(tmp_path, content_dir, retailers, extra)
    capsys.readouterr()
    forms = forbidden_forms(KEYS.values())
    assert find(values_of_files(clean_room), forms) == []
    assert find(values_of_store(clean_room / "clean_room.duckdb"), forms) == []
    con = duckdb.connect(str(clean_room / "clean_room.duckdb"), read_only=True)
    try:  # as with the built-in protocol: 4 people, u2 once across tmall and jd
        assert con.execute(
            "SELECT count(DISTINCT match_key) FROM (SELECT match_key FROM cr_content_events "
            "UNION ALL SELECT match_key FROM cr_commerce_events "
            "UNION ALL SELECT match_key FROM cr_holdouts)"
        ).fetchall() == [(4,)]
        assert con.execute(
            "SELECT retailer_id, content_users, retailer_users, matched_users, protocol "
            "FROM match_runs ORDER BY 1"
        ).fetchall() == [
            ("jd", 4, 3, 2, PROTOCOL),
            ("tmall", 4, 4, 3, PROTOCOL),
        ]
    finally:
        con.close()


def test_an_unreachable_spu_port_fails_both_sides_clearly(spu: str, pki: Path) -> None:
    quick = replace(FAST, handshake_timeout_s=2.0)
    server = Server(SpuParty("responder", B, types=TYPES, python=spu, settings=quick), pki)
    closed = _free_port()  # nobody listens there: the responder dials it in vain
    client = SpuParty(
        "initiator", A, types=TYPES, python=spu, settings=quick, advertise_port=closed
    )
    with pytest.raises(MatchError, match=r"SPU's link to the peer at 127\.0\.0\.1:\d+ failed"):
        _connect(client, pki, server.port)
    told = server.join()
    assert isinstance(told, MatchError) and "SPU's link" in str(told)
    assert not client._folder.exists()
