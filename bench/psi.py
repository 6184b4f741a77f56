"""``python -m bench.psi``: time the built-in ECDH-PSI with both parties on this machine.

    python -m bench.psi                       # 100k x 100k, 50% overlap, 2 workers per party
    python -m bench.psi --n 1000000           # 1M x 1M
    python -m bench.psi --n 20000 --json      # one JSON line
    python -m bench.psi --tls --n 1000000     # two party processes over mutual TLS on loopback
    python -m bench.psi --tls --backend spu   # the same with SPU's RR22 (REDCAT_SPU_PYTHON)

With ``--tls`` (:func:`run_tls`, what ``python -m bench --only psi`` runs) each party is its own
process (``--party-process``, started twice by the parent) running
:func:`redcat.match.transport.serve_psi` / :func:`~redcat.match.transport.connect_psi` over
TLS 1.3 on 127.0.0.1, exactly as ``redcat match serve`` / ``connect`` do minus the file I/O; the
parent checks that both ended with the same keys and reports wall time from launching both
processes to both exiting, bytes each sent, and peak RSS of each party process and of its
largest curve worker.

Without it:

The two parties run in one process and take turns (as over a network, each waits for the other's
message), each spreading its curve operations over ``--workers`` processes. Reports wall time per
step and in total, bytes each side sent, peak resident memory (this process and, separately, the
largest worker), X25519 operations and their cost, and a linear extrapolation to 1M x 1M (the
protocol does 2(n + m) X25519 operations and O(n + m) hashing; nothing grows faster).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.table import Rendered
from redcat.errors import MatchError
from redcat.match.certs import make_certs
from redcat.match.psi import PROTOCOL, MatchParty, PsiParty, Role
from redcat.match.spu import PROTOCOL as SPU_PROTOCOL
from redcat.match.spu import SpuParty, spu_python
from redcat.match.transport import TRANSPORT, TlsFiles, connect_psi, serve_psi
from redcat.settings import MatchSettings

ROOT = Path(__file__).resolve().parent.parent
# A loaded machine can slow a party's start (1M identifiers to normalize) well past the default
# connect timeout; the bench waits longer rather than fail.
BENCH_SETTINGS = replace(MatchSettings(), connect_timeout_s=300.0, idle_timeout_s=300.0)


def identifiers(n: int, overlap: float) -> tuple[list[str], list[str]]:
    """Two sets of ``n`` mainland mobile numbers each, sharing ``round(n * overlap)``."""
    shared = round(n * overlap)
    a = [f"138{i:08d}" for i in range(n)]
    b = [f"138{i:08d}" for i in range(n - shared, 2 * n - shared)]
    return a, b


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run(n: int, overlap: float, workers: int) -> dict[str, Any]:
    """Run one PSI of ``n`` x ``n`` phone numbers; return the measurements (seconds, bytes, KiB)."""
    a_ids, b_ids = identifiers(n, overlap)
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine slows the run
    cpu0 = (_cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN))
    t0 = time.perf_counter()
    a = PsiParty.from_identifiers("initiator", a_ids, "phone", workers=workers)
    b = PsiParty.from_identifiers("responder", b_ids, "phone", workers=workers)
    steps: dict[str, float] = {"normalize": time.perf_counter() - t0}
    sent = {"initiator": 0, "responder": 0}

    t = time.perf_counter()
    msg: bytes | None = a.first_message()
    steps["A: hash+blind own (OPEN)"] = time.perf_counter() - t
    sent["initiator"] += len(msg)
    order = [
        (b, "responder", "B: blind A's + hash+blind own (REPLY)"),
        (a, "initiator", "A: blind B's, intersect (RETURN)"),
        (b, "responder", "B: intersect (DONE)"),
        (a, "initiator", "A: check confirmation"),
    ]
    for party, role, label in order:
        assert msg is not None
        t = time.perf_counter()
        msg = party.receive(msg)
        steps[label] = time.perf_counter() - t
        if msg is not None:
            sent[role] += len(msg)
    total = time.perf_counter() - t0
    ra, rb = a.result(), b.result()
    assert ra.match_keys == rb.match_keys and len(ra.matches) == round(n * overlap)
    ops = 4 * n
    curve_time = sum(
        v for k, v in steps.items() if k.startswith(("A: hash", "B: blind", "A: blind"))
    )
    out: dict[str, Any] = {
        "protocol": PROTOCOL,
        "n_per_side": n,
        "overlap": overlap,
        "matched": len(ra.matches),
        "workers_per_party": workers,
        "cores": os.cpu_count(),
        "load_avg_1m_before_after": [load_before, round(os.getloadavg()[0], 2)],
        "wall_s": round(total, 2),
        "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "bytes_initiator": sent["initiator"],
        "bytes_responder": sent["responder"],
        "x25519_ops": ops,
        "us_per_op_wall": round(curve_time / ops * 1e6, 2),
        # CPU seconds do not grow when other work shares the machine; wall time does.
        "cpu_s_main": round(_cpu(resource.RUSAGE_SELF) - cpu0[0], 2),
        "cpu_s_workers": round(_cpu(resource.RUSAGE_CHILDREN) - cpu0[1], 2),
        "peak_rss_main_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "peak_rss_worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "extrapolated_1m_wall_s": round(total * 1_000_000 / n, 1),
    }
    # On an otherwise idle machine: this process's work is serial, the workers' splits evenly.
    out["idle_machine_estimate_1m_s"] = round(
        (out["cpu_s_main"] + out["cpu_s_workers"] / workers) * 1_000_000 / n, 1
    )
    return out


def spu_interpreter() -> str | None:
    """The interpreter that runs the optional SPU RR22 backend (``REDCAT_SPU_PYTHON``, the
    setting, or this one), if it imports ``spu``; else None."""
    try:
        python = spu_python()
    except MatchError:
        return None
    try:
        probe = subprocess.run(
            [python, "-c", "import spu.psi"], capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return python if probe.returncode == 0 else None


def spu_available() -> bool:
    """Whether the SPU backend can run here (see :func:`spu_interpreter`)."""
    return spu_interpreter() is not None


class CountingRelay:
    """A TCP relay on 127.0.0.1 to ``target`` port that counts the bytes each way: how the bench
    measures SPU's own link, which reports no byte counts. ``c2s``: bytes from the dialling
    side; ``s2c``: bytes back to it."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.c2s = 0
        self.s2c = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        # The peer may dial before this side's link listens: hold its connection and retry
        # (closing it instead breaks brpc's TLS retries), for up to a minute.
        deadline = time.monotonic() + 60
        while True:
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
                break
            except OSError:
                if time.monotonic() > deadline:
                    client.close()
                    return
                time.sleep(0.05)
        for src, dst, up in ((client, upstream, True), (upstream, client, False)):
            threading.Thread(target=self._pipe, args=(src, dst, up), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while chunk := src.recv(1 << 16):
                dst.sendall(chunk)
                with self._lock:
                    if up:
                        self.c2s += len(chunk)
                    else:
                        self.s2c += len(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def _party_process(args: argparse.Namespace) -> dict[str, Any]:
    """One party of :func:`run_tls`, in its own process: build its identifiers, run the PSI over
    TLS, return its measurements (seconds, bytes, KiB) and a digest of its match_keys."""
    load0 = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    a_ids, b_ids = identifiers(args.n, args.overlap)
    serving = args.party_process == "serve"
    ids = b_ids if serving else a_ids
    role: Role = "responder" if serving else "initiator"
    relay = None
    party: MatchParty
    certs = Path(args.certs)
    name, peer = ("tmall", "content") if serving else ("content", "tmall")
    tls = TlsFiles(certs / f"{name}.pem", certs / f"{name}.key", certs / "ca.pem")
    if args.backend == "spu" and args.spu_relay:
        # SPU's link runs plain through a counting relay: the peer dials the relay, which
        # forwards here.
        link_port = _free_port()
        relay = CountingRelay(link_port)
        party = SpuParty.from_identifiers(
            role,
            ids,
            "phone",
            settings=BENCH_SETTINGS,
            link_port=link_port,
            advertise_port=relay.port,
        )
    elif args.backend == "spu":  # as the CLI runs it: SPU's link under mutual TLS
        party = SpuParty.from_identifiers(role, ids, "phone", settings=BENCH_SETTINGS, link_tls=tls)
    else:
        party = PsiParty.from_identifiers(role, ids, "phone", workers=args.workers)
    del a_ids, b_ids, ids
    prepare = time.perf_counter() - t0
    if serving:
        net = serve_psi(
            party,
            ("127.0.0.1", args.port),
            tls,
            name=name,
            settings=BENCH_SETTINGS,
            expect_peer=peer,
        )
    else:
        net = connect_psi(
            party,
            ("127.0.0.1", args.port),
            tls,
            name=name,
            settings=BENCH_SETTINGS,
            expect_peer=peer,
        )
    keys = sorted(net.result.match_keys)
    link: dict[str, Any] = {}
    if isinstance(party, SpuParty):
        link = {
            "spu_s": round(party.spu_seconds, 2),
            "spu_link_s": round(party.link_seconds, 2),
            # the SPU process's own peak (a fork's ru_maxrss starts at the parent's size)
            "spu_peak_rss_kib": party.spu_peak_rss_kib,
        }
    if relay is not None:
        link |= {"link_c2s": relay.c2s, "link_s2c": relay.s2c}
    return {
        **link,
        "role": role,
        "prepare_s": round(prepare, 2),
        "net_s": round(net.seconds, 2),
        "matched": len(keys),
        "keys_sha256": hashlib.sha256("".join(keys).encode()).hexdigest(),
        "bytes_sent": net.bytes_sent,
        "bytes_received": net.bytes_received,
        "cpu_s_main": round(_cpu(resource.RUSAGE_SELF), 2),
        "cpu_s_workers": round(_cpu(resource.RUSAGE_CHILDREN), 2),
        "peak_rss_main_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "peak_rss_worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "load_avg_1m_start": load0,
    }


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def _run_pair(
    n: int, overlap: float, workers: int, workdir: Path | None, backend: str, relay: bool
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """Launch both party processes; return wall seconds and each side's (A, B) measurements.
    Raises RuntimeError if a party fails or the sides disagree."""
    with tempfile.TemporaryDirectory(prefix="redcat-psi-bench-", dir=workdir) as tmp:
        certs = Path(tmp)
        make_certs(certs, ["content", "tmall"])
        port = _free_port()
        base = [
            sys.executable, "-m", "bench.psi", "--n", str(n), "--overlap", str(overlap),
            "--workers", str(workers), "--port", str(port), "--certs", str(certs),
            "--backend", backend, *(["--spu-relay"] if relay else []), "--party-process",
        ]  # fmt: skip
        t0 = time.perf_counter()
        procs = {
            side: subprocess.Popen(
                [*base, side], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for side in ("serve", "connect")
        }
        outs = {side: p.communicate(timeout=3600) for side, p in procs.items()}
        wall = time.perf_counter() - t0
    sides: dict[str, dict[str, Any]] = {}
    for side, (stdout, stderr) in outs.items():
        if procs[side].returncode != 0 or not stdout.strip():
            raise RuntimeError(f"PSI {side} process failed: {stderr.strip()[-2000:]}")
        sides[side] = json.loads(stdout.strip().splitlines()[-1])
    a, b = sides["connect"], sides["serve"]
    if a["keys_sha256"] != b["keys_sha256"] or a["matched"] != round(n * overlap):
        raise RuntimeError(f"PSI sides disagree: {a['matched']} vs {b['matched']} matches")
    return wall, a, b


def run_tls(
    n: int,
    overlap: float = 0.5,
    workers: int | None = None,
    workdir: Path | None = None,
    backend: str = "builtin",
) -> dict[str, Any]:
    """Run one PSI of ``n`` x ``n`` phone numbers between two party processes over mutual TLS
    on loopback with ``backend`` (builtin or spu); return wall seconds (launch to both exits),
    each side's seconds, bytes and peak RSS (KiB). For spu the timed run is the CLI's set-up
    (SPU's link under mutual TLS); a second run with a plain link through a counting relay
    (brpc's TLS does not pass the relay) adds each side's link bytes to its TLS frames. Raises
    RuntimeError if a party fails or the sides disagree."""
    workers = workers or os.cpu_count() or 1
    load0 = round(os.getloadavg()[0], 2)
    wall, a, b = _run_pair(n, overlap, workers, workdir, backend, relay=False)
    load1 = round(os.getloadavg()[0], 2)
    if backend == "spu":
        counted_wall, ca, cb = _run_pair(n, overlap, workers, workdir, backend, relay=True)
        # A's relay carries B's dialled connection (B sends up, A answers down), and vice versa.
        a["bytes_link"] = cb["link_c2s"] + ca["link_s2c"]
        b["bytes_link"] = ca["link_c2s"] + cb["link_s2c"]
        a["bytes_link_run_wall_s"] = b["bytes_link_run_wall_s"] = round(counted_wall, 2)
        for party in (a, b):
            party["bytes_sent"] += party["bytes_link"]
    return {
        "backend": backend,
        "protocol": SPU_PROTOCOL if backend == "spu" else PROTOCOL,
        "transport": TRANSPORT,
        "n_per_side": n,
        "overlap": overlap,
        "matched": a["matched"],
        "workers_per_party": workers,
        "cores": os.cpu_count(),
        "load_avg_1m_before_after": [load0, load1],
        "wall_s": round(wall, 2),
        "initiator": a,
        "responder": b,
    }


PSI_HEADERS = (
    "protocol",
    "n per side",
    "matched",
    "wall s",
    "idle est. s",
    "sent A / B MB",
    "RSS A / B / worker MiB",
    "note",
)


def idle_estimate(result: dict[str, Any]) -> float:
    """Seconds the run of :func:`run_tls` would take on an otherwise idle machine: the parties
    take turns, each one's main process works serially and its workers split evenly."""
    workers = result["workers_per_party"]
    return sum(
        side["cpu_s_main"] + side["cpu_s_workers"] / workers
        for side in (result["initiator"], result["responder"])
    )


def psi_table(results: list[dict[str, Any]], spu: bool) -> Rendered:
    """Rows of the PSI section (see ``PSI_HEADERS``): each run of :func:`run_tls` (either
    backend), and an SPU row saying ``not installed`` when SPU is absent."""
    notes: list[str] = []
    cells = []
    for r in results:
        a, b = r["initiator"], r["responder"]
        worker = "spu_peak_rss_kib" if r.get("backend") == "spu" else "peak_rss_worker_kib"
        rss = (
            a["peak_rss_main_kib"],
            b["peak_rss_main_kib"],
            max(a[worker] or 0, b[worker] or 0),
        )
        is_spu = r.get("backend") == "spu"
        cells.append(
            [
                "SPU RR22" if is_spu else "ECDH-PSI X25519",
                f"{r['n_per_side']:,}",
                f"{r['matched']:,}",
                f"{r['wall_s']:.1f}",
                "" if is_spu else f"{idle_estimate(r):.1f}",
                f"{a['bytes_sent'] / 1e6:,.1f} / {b['bytes_sent'] / 1e6:,.1f}",
                " / ".join(f"{kib / 1024:,.0f}" for kib in rss),
                "2" if is_spu else "1",
            ]
        )
    notes.append(
        "load average (1 min) before/after: "
        + "; ".join(
            f"{r['n_per_side']:,}: {r['load_avg_1m_before_after'][0]:.1f}/"
            f"{r['load_avg_1m_before_after'][1]:.1f}"
            for r in results
        )
    )
    if spu:
        notes.append(
            "SPU RR22: `--backend spu` (redcat.match.spu), SPU in its own interpreter "
            "(REDCAT_SPU_PYTHON), its link under mutual TLS too as the CLI runs it; bytes = "
            "redcat's frames + SPU's link, counted in a second run with a plain link through a "
            "relay (TLS records excluded); the worker RSS is the SPU process; no idle estimate"
        )
    else:
        cells.append(["SPU RR22", "—", "—", "not installed", "", "", "", "2"])
        notes.append(
            "SPU RR22: not installed — no interpreter with `spu` (set REDCAT_SPU_PYTHON to one; "
            "SecretFlow SPU pins numpy < 2, so it lives in its own environment)"
        )
    return Rendered(PSI_HEADERS, cells, notes, PSI_CAPTION)


PSI_CAPTION = (
    "ECDH-PSI X25519: redcat's built-in protocol; SPU RR22: SecretFlow's optional backend. "
    "Two party processes (A = content platform, initiator, connects; B = retailer, responder, "
    "serves) over mutual TLS 1.3 on 127.0.0.1, 50% overlap, phone numbers. wall s: launching "
    "both processes to both exiting (interpreter start and normalization included); idle est. "
    "s: each side's main-process CPU seconds plus its workers' CPU seconds ÷ workers, summed "
    "(the wall time an otherwise idle machine would show); sent: frame bytes (10^6); RSS: peak "
    "resident memory of each party process and of the largest curve worker (MiB)."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="identifiers per side")
    parser.add_argument("--overlap", type=float, default=0.5, help="shared share of each side")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--tls", action="store_true", help="two party processes over TLS")
    parser.add_argument(
        "--backend", choices=("builtin", "spu"), default="builtin", help="with --tls: PSI backend"
    )
    parser.add_argument("--party-process", choices=("serve", "connect"), help=argparse.SUPPRESS)
    parser.add_argument("--spu-relay", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--certs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.party_process:
        print(json.dumps(_party_process(args)))
        return
    result = (
        run_tls(args.n, args.overlap, args.workers, backend=args.backend)
        if args.tls
        else run(args.n, args.overlap, args.workers)
    )
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            for step, seconds in value.items():
                print(f"  {key}.{step:<40} {seconds}")
        else:
            print(f"{key:<24} {value}")


if __name__ == "__main__":
    main()
