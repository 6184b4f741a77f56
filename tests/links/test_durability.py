"""Kill -9 under load loses no answered click: a real uvicorn server in a subprocess, bounded
client threads, SIGKILL mid-load, restart, then every click id whose 302 arrived is in the DB."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from redcat.links.service import create_link
from redcat.settings import LinksSettings
from redcat.store.db import make_engine, session_factory, session_scope, upgrade

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    # `python -m redcat.links` is `redcat links serve` without loading every CLI command.
    cmd = [sys.executable, "-m", "redcat.links"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--db", url]
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60  # a loaded CI machine starts Python slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start")


def _client(port: int, path: str, answered: list[str], stop: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    while not stop.is_set():
        try:
            conn.request("GET", path, headers={"User-Agent": PHONE})
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            return  # the server died: stop (what was answered before is recorded)
        assert resp.status == 302
        location = resp.getheader("location") or ""
        answered.append(parse_qs(urlsplit(location).query)["rc_click"][0])


def test_kill_9_under_load_loses_no_answered_click(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    upgrade(url, engine=engine)
    with session_scope(session_factory(engine)) as s:
        link = create_link(
            s,
            brand_id="b",
            note_id="n",
            retailer_id="tmall",
            url="https://detail.tmall.com/item.htm?id=1",
            settings=LinksSettings(),
        )
    engine.dispose()
    port = _free_port()
    log = tmp_path / "server.log"
    proc = _start(url, port, log)
    answered: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_client, args=(port, f"/l/{link.token}", answered, stop))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(answered) < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-load: clients are still sending
    proc.wait()
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(answered) >= 400, log.read_text()

    proc = _start(url, port, log)  # restart on the same file (recovers the WAL)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", f"/l/{link.token}", headers={"User-Agent": PHONE})
        assert conn.getresponse().status == 302
        with sqlite3.connect(db) as con:
            logged = {row[0] for row in con.execute("SELECT click_id FROM clicks")}
        missing = set(answered) - logged
        assert not missing, f"{len(missing)} answered clicks lost of {len(answered)}"
        assert len(logged) >= len(answered) + 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
