"""The SPU side of redcat's ``spu`` PSI backend: a worker process run by the SPU interpreter.

SecretFlow SPU pins numpy < 2, so it usually lives in an environment of its own, without redcat's
dependencies. This file therefore imports only the standard library and ``spu``; redcat
(:mod:`redcat.match.spu`) copies it into a private temporary folder and runs it there as a script
with the interpreter named by ``REDCAT_SPU_PYTHON``.

Protocol: one JSON object per line. The worker first writes ``{"ok": true, "ready": true,
"spu": VERSION}`` once ``spu`` imports (else ``{"ok": false, "error": ...}`` and exit status 3),
then answers each command read from stdin:

- ``{"op": "psi", "input": PATH, "output": PATH, "receiver_rank": R, "link": LINK}``: run one
  RR22 PSI on the CSV ``input`` (one column ``t``, unique values) and write the intersection (the
  same column, both sides learn it) to ``output``; answer ``{"ok": true, "intersection": N,
  "original": M, "seconds": S}``. The first command creates the two-party brpc link from
  ``LINK`` = ``{"id", "rank", "parties": [[id, "host:port"], [id, "host:port"]],
  "connect_retry_times", "connect_retry_interval_ms", "recv_timeout_ms", "rendezvous_timeout_s",
  "tls"}`` (``tls``:
  ``{"cert", "key", "ca"}`` PEM paths for mutual TLS on the link, or null) and answers
  ``{"ok": true, "linked": true, "seconds": S}`` once it is up; later commands reuse it.
- ``{"op": "quit"}`` or the end of stdin: exit 0 (without stopping the link: brpc's stop
  waits for a peer that may have exited first).

A failing command answers ``{"ok": false, "error": TEXT}`` and the worker exits 1 (the link's
state is unknown after a failure). SPU's own log lines go to stderr; the protocol uses a private
copy of stdout, so nothing SPU prints can corrupt it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
import time
from typing import Any, TextIO


def _emit(chan: TextIO, body: dict[str, Any]) -> None:
    chan.write(json.dumps(body) + "\n")
    chan.flush()


def _link(link: Any, spec: dict[str, Any]) -> Any:
    desc = link.Desc()
    desc.id = str(spec["id"])
    desc.connect_retry_times = int(spec["connect_retry_times"])
    desc.connect_retry_interval_ms = int(spec["connect_retry_interval_ms"])
    desc.recv_timeout_ms = int(spec["recv_timeout_ms"])
    for party_id, host in spec["parties"]:
        desc.add_party(str(party_id), str(host))
    tls = spec.get("tls")
    if tls:
        # mutual TLS on the link too, with the party's certificates: each side presents its own
        # and accepts only a peer signed by its CA (brpc checks the chain, not the names).
        desc.enable_ssl = True
        for opts in (desc.client_ssl_opts, desc.server_ssl_opts):
            opts.cert.certificate_path = str(tls["cert"])
            opts.cert.private_key_path = str(tls["key"])
            opts.verify.ca_file_path = str(tls["ca"])
            opts.verify.verify_depth = 4
    rank = int(spec["rank"])
    own, peer = spec["parties"][rank][1], spec["parties"][1 - rank][1]
    _rendezvous(str(own), str(peer), float(spec["rendezvous_timeout_s"]))
    return link.create_brpc(desc, rank)


def _address(host_port: str) -> tuple[str, int]:
    host, _, port = host_port.rpartition(":")
    return host.strip("[]"), int(port)


def _rendezvous(own: str, peer: str, timeout: float) -> None:
    """Return once both sides are here (within about one round trip), so both start the link
    together: brpc, when it dials a peer not yet listening, retries only every ~3 s.

    Each side listens on its own link port (plainly, before brpc does) and dials the peer's
    until a connection is answered with one byte; it returns when its own dial was answered
    and it has answered the peer's. The sockets close with a reset (SO_LINGER 0), leaving no
    TIME_WAIT on the port brpc binds next. Raises TimeoutError after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    held: list[socket.socket] = []
    listener = socket.create_server(_address(own))
    listener.settimeout(0.05)
    out: socket.socket | None = None
    answered = reached = False
    try:
        while not (answered and reached):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the peer's SPU link port {peer} did not answer in time")
            if not answered:
                try:
                    conn, _ = listener.accept()
                    held.append(conn)
                    conn.sendall(b"R")
                    answered = True
                except OSError:
                    pass
            if reached:
                continue
            if out is None:  # (re)dial; keep one connection until it answers or fails
                try:
                    out = socket.create_connection(_address(peer), timeout=0.5)
                    held.append(out)
                    out.settimeout(0.05)
                except OSError:
                    out = None
                    time.sleep(0.05)
                    continue
            try:
                got = out.recv(1)
            except TimeoutError:
                continue  # the peer has not accepted yet: it answers at its next turn
            except OSError:
                got = b""
            if got == b"R":
                reached = True
            else:  # closed without an answer: dial again
                out = None
    finally:
        for sock in (*held, listener):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()


def _config(psi: Any, cmd: dict[str, Any]) -> Any:
    return psi.PsiExecuteConfig(
        protocol_conf=psi.PsiProtocolConfig(
            protocol=psi.PsiProtocol.PROTOCOL_RR22,
            receiver_rank=int(cmd["receiver_rank"]),
            broadcast_result=True,
        ),
        input_params=psi.InputParams(path=str(cmd["input"]), selected_keys=["t"], keys_unique=True),
        output_params=psi.OutputParams(path=str(cmd["output"]), disable_alignment=True),
        join_conf=psi.ResultJoinConfig(type=psi.ResultJoinType.JOIN_TYPE_INNER_JOIN),
    )


def main() -> int:
    """Serve commands until quit; return the exit status."""
    # The protocol gets its own copy of stdout; fd 1 then points at stderr for SPU's C++ logs.
    chan = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        import spu.psi as psi  # a missing SPU is reported, not raised
        from spu.libspu import link
        from spu.version import __version__
    except Exception as exc:  # any import failure means "no usable SPU"
        _emit(chan, {"ok": False, "error": f"cannot import spu: {type(exc).__name__}: {exc}"})
        return 3
    _emit(chan, {"ok": True, "ready": True, "spu": str(__version__)})
    lctx = None
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd.get("op") == "quit":
            break
        if cmd.get("op") != "psi":
            _emit(chan, {"ok": False, "error": f"unknown command {cmd.get('op')!r}"})
            return 1
        try:
            if lctx is None:
                started = time.perf_counter()
                lctx = _link(link, cmd["link"])
                _emit(chan, {"ok": True, "linked": True, "seconds": time.perf_counter() - started})
            started = time.perf_counter()
            report = psi.psi_execute(_config(psi, cmd), lctx)
            _emit(
                chan,
                {
                    "ok": True,
                    "intersection": int(report.intersection_count),
                    "original": int(report.original_count),
                    "seconds": round(time.perf_counter() - started, 3),
                },
            )
        except Exception as exc:  # reported to redcat, which raises
            _emit(chan, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            return 1
    return 0


if __name__ == "__main__":
    # Exit without stopping the link or running destructors: brpc's stop waits for the peer,
    # which may already be gone, and nothing is left to flush.
    status = main()
    sys.stderr.flush()
    os._exit(status)
