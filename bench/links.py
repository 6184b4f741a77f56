"""Load benchmark of the links redirect: redcat's service against a bare Starlette app.

    python -m bench.links                 # 10 s per run, 2 rounds, wrk -t2 -c16
    python -m bench.links --seconds 5 --rounds 1 --connections 16

Both servers run the same way (one uvicorn process, uvloop + httptools when installed, no access
log) on a loopback port, each over its own SQLite file in WAL mode with synchronous=NORMAL:

- **redcat**: ``python -m redcat.links`` on a migrated operational store with one link; a
  request verifies the token, looks the link up, classifies the user agent, hashes the address,
  checks bursts, commits the click and answers 302 with the click id.
- **bare**: a Starlette app (this file, ``--serve-bare``) that inserts one row and commits, then
  answers the same 302: the floor the issue holds redcat to (at least half its throughput, p99
  under 20 ms).

``wrk`` (Debian package ``wrk``; installed with apt-get when missing and running as root) drives
each server for ``--seconds`` after a short warm-up; rounds alternate bare / redcat so that
machine noise hits both. Afterwards the rows in each database are counted: every answered
redirect must be logged (``logged - answered`` are requests wrk sent but stopped waiting for at
the end, at most one per connection). wrk sends a phone browser's user agent; since all requests
come from one address, redcat flags most clicks as a burst (they are still logged and counted
here).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
DESTINATION = "https://detail.tmall.com/item.htm?id=1"


# --- the bare app ------------------------------------------------------------------------------


def bare_app(db: str):  # type: ignore[no-untyped-def]
    """Return a Starlette app that logs one row per request in SQLite, then answers 302."""
    import secrets
    from datetime import UTC, datetime

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    con = sqlite3.connect(db, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE IF NOT EXISTS clicks (click_id TEXT PRIMARY KEY, token TEXT, ts TEXT)"
    )
    con.commit()

    async def redirect(request: Request) -> Response:
        click_id = secrets.token_urlsafe(12)
        con.execute(
            "INSERT INTO clicks VALUES (?, ?, ?)",
            (click_id, request.path_params["token"], datetime.now(UTC).isoformat()),
        )
        con.commit()
        location = f"{DESTINATION}&rc_click={click_id}"
        return Response(status_code=302, headers={"location": location})

    return Starlette(routes=[Route("/l/{token}", redirect)])


def serve_bare(db: str, port: int) -> None:
    """Serve :func:`bare_app` on 127.0.0.1:``port`` the way ``redcat.links.app.serve`` does."""
    import uvicorn

    uvicorn.run(bare_app(db), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- driving -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: answered requests, requests/s, latency percentiles (ms), errors."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_3xx: int
    socket_errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> WrkResult:
    """Parse ``wrk --latency`` output."""
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests=requests,
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        non_3xx=int(non.group(1)) if non else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def ensure_wrk() -> str:
    """Return the path of wrk, installing Debian's package when missing (root only)."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        path = shutil.which("wrk")
    if not path:
        sys.exit("wrk is not installed (apt-get install wrk)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            sys.exit(f"server exited: {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def wrk(binary: str, url: str, seconds: float, connections: int, threads: int) -> WrkResult:
    cmd = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    cmd += ["-H", f"User-Agent: {PHONE}", url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def count_rows(db: Path, table: str) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def setup_redcat(folder: Path) -> tuple[str, str]:
    """Create a migrated operational store with one link; return (db URL, token)."""
    from redcat.links.service import create_link
    from redcat.settings import LinksSettings
    from redcat.store.db import make_engine, session_factory, session_scope, upgrade

    url = f"sqlite:///{folder / 'ops.db'}"
    engine = make_engine(url)
    upgrade(url, engine=engine)
    with session_scope(session_factory(engine)) as s:
        link = create_link(
            s,
            brand_id="b",
            note_id="n",
            retailer_id="tmall",
            url=DESTINATION,
            settings=LinksSettings(),
        )
    engine.dispose()
    return url, link.token


@dataclass(frozen=True)
class Run:
    """One measured run of one server."""

    name: str
    result: WrkResult
    logged: int


def run_server(
    name: str,
    cmd: list[str],
    port: int,
    path: str,
    db: Path,
    table: str,
    args: argparse.Namespace,
    binary: str,
) -> Run:
    before = count_rows(db, table) if db.exists() else 0
    proc = start(cmd, port)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        warm = wrk(binary, url, 1, args.connections, args.threads)
        result = wrk(binary, url, args.seconds, args.connections, args.threads)
        time.sleep(0.2)  # let requests wrk stopped waiting for finish
    finally:
        stop(proc)
    logged = count_rows(db, table) - before - warm.requests
    return Run(name, result, logged)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.links", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--serve-bare", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.port)
        return
    binary = ensure_wrk()
    load_before = os.getloadavg()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="redcat-bench-links-") as tmp:
        folder = Path(tmp)
        url, token = setup_redcat(folder)
        ops_db = folder / "ops.db"
        bare_db = folder / "bare.db"
        for _ in range(args.rounds):
            port = free_port()
            bare_cmd = [sys.executable, "-m", "bench.links", "--serve-bare", str(bare_db)]
            runs.append(
                run_server(
                    "bare",
                    [*bare_cmd, "--port", str(port)],
                    port,
                    f"/l/{token}",
                    bare_db,
                    "clicks",
                    args,
                    binary,
                )
            )
            port = free_port()
            red_cmd = [sys.executable, "-m", "redcat.links", "--db", url, "--port", str(port)]
            runs.append(
                run_server("redcat", red_cmd, port, f"/l/{token}", ops_db, "clicks", args, binary)
            )
        # A sanity check that redcat answered real redirects, not 404s.
        port = free_port()
        proc = start([sys.executable, "-m", "redcat.links", "--db", url, "--port", str(port)], port)
        try:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/l/{token}", headers={"User-Agent": PHONE}
            )

            class NoRedirect(urllib.request.HTTPRedirectHandler):
                def redirect_request(self, *a: object, **k: object) -> None:
                    return None

            opener = urllib.request.build_opener(NoRedirect)
            try:
                opener.open(req)
                status = 200
            except urllib.error.HTTPError as exc:
                status = exc.code
        finally:
            stop(proc)
    load_after = os.getloadavg()
    print_results(runs, args, load_before, load_after, status)


def print_results(
    runs: list[Run],
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    status: int,
) -> None:
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s, {args.rounds} round(s); "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"redcat answers {status}"
    )
    header = (
        f"{'server':<8} {'round':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'answered':>9} {'logged':>9} {'non-3xx':>8} {'sock err':>8}"
    )
    print(header)
    for i, run in enumerate(runs):
        r = run.result
        print(
            f"{run.name:<8} {i // 2 + 1:>5} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.requests:>9} {run.logged:>9} {r.non_3xx:>8} {r.socket_errors:>8}"
        )
    for name in ("bare", "redcat"):
        mine = [r.result for r in runs if r.name == name]
        print(
            f"{name:<8} median req/s {statistics.median(r.rps for r in mine):.0f}, "
            f"p99 {statistics.median(r.p99_ms for r in mine):.2f} ms"
        )
    bare = statistics.median(r.result.rps for r in runs if r.name == "bare")
    red = statistics.median(r.result.rps for r in runs if r.name == "redcat")
    p99 = statistics.median(r.result.p99_ms for r in runs if r.name == "redcat")
    lost = sum(max(0, r.result.requests - r.logged) for r in runs)
    print(
        f"redcat / bare throughput {red / bare:.2f} (target >= 0.5); redcat p99 {p99:.2f} ms "
        f"(target < 20); answered but not logged: {lost}"
    )


if __name__ == "__main__":
    main()
