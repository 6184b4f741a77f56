"""``python -m bench.psi``: time the built-in ECDH-PSI with both parties on this machine.

    python -m bench.psi                       # 100k x 100k, 50% overlap, 2 workers per party
    python -m bench.psi --n 1000000           # 1M x 1M
    python -m bench.psi --n 20000 --json      # one JSON line

The two parties run in one process and take turns (as over a network, each waits for the other's
message), each spreading its curve operations over ``--workers`` processes. Reports wall time per
step and in total, bytes each side sent, peak resident memory (this process and, separately, the
largest worker), X25519 operations and their cost, and a linear extrapolation to 1M x 1M (the
protocol does 2(n + m) X25519 operations and O(n + m) hashing; nothing grows faster).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from typing import Any

from redcat.match.psi import PROTOCOL, PsiParty


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="identifiers per side")
    parser.add_argument("--overlap", type=float, default=0.5, help="shared share of each side")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    args = parser.parse_args()
    result = run(args.n, args.overlap, args.workers)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        if key == "steps_s":
            for step, seconds in value.items():
                print(f"  {step:<40} {seconds:>8.2f} s")
        else:
            print(f"{key:<24} {value}")


if __name__ == "__main__":
    main()
