"""``python -m bench``: run redcat's benchmarks and print Rich tables; also write JSON and Markdown.

    python -m bench                  # all sections at full size (about 10 minutes on 2 cores)
    python -m bench --quick          # small smoke run (well under a minute)
    python -m bench --only world     # or --only paths, --only psi
    python -m bench --only lift      # lift coverage study (200 worlds; only when asked)
    python -m bench --large          # bigger world: 3M users, 6 brands (beyond the 20 minutes)

Sections: ``world`` (simulate a world and time every pipeline stage, see :mod:`bench.world`),
``paths`` (a 1M-row aggregated path file, redcat against ChannelAttribution and mam, see
:mod:`bench.paths`) and ``psi`` (private set intersection between two party processes over
mutual TLS at 100k and 1M identifiers per side, see :mod:`bench.psi`; about 3 minutes; SPU's
RR22 too when ``REDCAT_SPU_PYTHON`` names an interpreter with SecretFlow SPU).
Results go to ``bench/results/latest.json`` and ``latest.md`` (not committed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.lift_coverage import StudyConfig
from bench.lift_coverage import markdown as lift_markdown
from bench.lift_coverage import study as lift_study
from bench.pathfile import PathSpec
from bench.paths import PathsBench, run_paths
from bench.psi import psi_table, run_tls, spu_available
from bench.table import markdown_table, paths_table, rich_table, world_table
from bench.world import WorldBench, run_world

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "redcat",
    "duckdb",
    "ibis-framework",
    "numpy",
    "pandas",
    "scipy",
    "pyarrow",
    "polars",
    "ChannelAttribution",
    "marketing-attribution-models",
    "cryptography",
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--large", action="store_true", help="bigger world: 3M users, 6 brands")
    p.add_argument("--only", choices=("world", "paths", "psi", "lift"), help="run one section")
    p.add_argument(
        "--lift-worlds", type=int, default=200, help="lift: simulated worlds (default 200)"
    )
    p.add_argument(
        "--psi-sizes",
        help="psi: identifiers per side, comma-separated (default 100000,1000000; 20000 quick)",
    )
    p.add_argument("--users", type=int, help="world: simulated people (default 1,000,000)")
    p.add_argument("--brands", type=int, help="world: brands (default 3)")
    p.add_argument("--days", type=int, default=30, help="world: days of notes (default 30)")
    p.add_argument("--retailers", type=int, default=2, help="world: retailers (default 2)")
    p.add_argument("--path-rows", type=int, help="paths: distinct paths (default 1,000,000)")
    p.add_argument("--channels", type=int, help="paths: channels (default 300)")
    p.add_argument(
        "--timeout",
        type=float,
        help="paths: seconds one run of a reference job may take (default 600; the job may take "
        "this times --repeat)",
    )
    p.add_argument(
        "--subsample", type=int, help="paths: rows a failed job retries on (default 100,000)"
    )
    p.add_argument(
        "--repeat",
        type=int,
        help="time read-only steps as the fastest of this many runs (default 3; 1 with --quick)",
    )
    p.add_argument("--workdir", type=Path, help="parent folder for the temporary data")
    p.add_argument("--keep", action="store_true", help="keep the generated data")
    p.add_argument("--note", default="", help="free text stored with the results")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for latest.json / latest.md")
    return p.parse_args(argv)


def configs(args: argparse.Namespace) -> tuple[WorldBench, PathsBench]:
    """The world and path benchmarks the arguments ask for (explicit sizes beat presets)."""
    users, brands = 1_000_000, 3
    rows, channels, timeout, sub, repeat = 1_000_000, 300, 600.0, 100_000, 3
    if args.large:
        users, brands = 3_000_000, 6
    if args.quick:
        users, rows, channels, timeout, sub, repeat = 50_000, 50_000, 60, 120.0, 10_000, 1
    repeat = args.repeat or repeat
    world = WorldBench(
        users=args.users or users,
        days=args.days,
        brands=args.brands or brands,
        retailers=args.retailers,
        repeat=repeat,
    )
    paths = PathsBench(
        spec=PathSpec(rows=args.path_rows or rows, channels=args.channels or channels),
        timeout=args.timeout or timeout,
        subsample_rows=args.subsample or sub,
        repeat=repeat,
    )
    return world, paths


def psi_sizes(args: argparse.Namespace) -> list[int]:
    """Identifiers per side of each PSI run the arguments ask for."""
    if args.psi_sizes:
        return [int(x) for x in args.psi_sizes.split(",") if x.strip()]
    return [20_000] if args.quick else [100_000, 1_000_000]


def machine() -> dict[str, Any]:
    """Where the benchmark ran: CPU count, platform, Python and package versions."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "source": source(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "packages": versions,
    }


def source() -> dict[str, Any]:
    """Which redcat was measured: its folder, and when that is a git work tree, the commit and
    the files under ``src/`` that differ from it (uncommitted work is measured too)."""
    import redcat

    folder = Path(redcat.__file__).resolve().parent
    info: dict[str, Any] = {"redcat": str(folder)}
    try:
        git = ["git", "-C", str(folder)]
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0:
            top = subprocess.run(
                [*git, "rev-parse", "--show-toplevel"], capture_output=True, text=True
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", top, "status", "--porcelain", "--", "src"],
                capture_output=True,
                text=True,
            ).stdout.splitlines()
            dirty = [line.strip() for line in dirty]
            info |= {"commit": head.stdout.strip(), "uncommitted_src": dirty}
    except OSError:  # no git on the machine: the folder alone says what ran
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    """Run the requested sections, print their tables, write the results; return 0."""
    args = parse(argv)
    world, paths = configs(args)
    # Piped output (make bench | tee) gets a width that fits the tables instead of Rich's 80.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    say = console.print
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    began = time.perf_counter()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command.strip(),
        "machine": machine(),
        "note": args.note,
    }
    markdown: list[str] = []
    loads: dict[str, list[float]] = {"start": _load(say)}
    results["load_average"] = loads
    parent = args.workdir
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="redcat-bench-", dir=parent))
    try:
        if args.only in (None, "world"):
            say(
                f"[bold]World pipeline[/]: {world.users:,} users × {world.days} days, "
                f"{world.brands} brands, {world.retailers} retailers (Parquet) in {workdir}"
            )
            stages = run_world(world, workdir / "world-bench", say)
            title = (
                f"World pipeline — {world.users:,} users × {world.days} days, {world.brands} "
                f"brands, {world.retailers} retailers"
            )
            rendered = world_table(stages, world.repeat)
            say(rich_table(title, rendered))
            results["world"] = {
                "config": world.__dict__,
                "stages": [s.to_json() for s in stages],
                "total_seconds": sum(s.seconds for s in stages),
            }
            markdown += [f"## {title}", "", markdown_table(rendered), ""]
            _drop(workdir / "world-bench", args.keep)
            loads["after world"] = _load(say)
        if args.only in (None, "paths"):
            spec = paths.spec
            say(
                f"[bold]Path file[/]: {spec.rows:,} paths over {spec.channels} channels, "
                f"seed {spec.seed}"
            )
            out = run_paths(paths, workdir / "paths-bench", say)
            shape = out.file
            title = (
                f"Path file — {shape['rows']:,} paths, {shape['channels']} channels, "
                f"{shape['touches']:,} touches, {shape['journeys']:,} journeys, "
                f"{shape['conversions']:,} conversions"
            )
            rendered = paths_table(out.table, paths.repeat)
            say(rich_table(title, rendered))
            results["paths"] = {
                "file": shape,
                "timeout_seconds": paths.timeout,
                "subsample_rows": paths.subsample_rows,
                "table": [c.to_json() for c in out.table],
                "runs": [
                    {k: v for k, v in r.__dict__.items() if k not in ("credits", "removal_effects")}
                    for r in out.runs
                ],
            }
            markdown += [f"## {title}", "", markdown_table(rendered), ""]
            loads["after paths"] = _load(say)
        if args.only in (None, "psi"):
            sizes = psi_sizes(args)
            say(f"[bold]PSI[/]: two party processes over mutual TLS, {sizes} identifiers per side")
            runs = []
            spu = spu_available()
            for backend in ("builtin", "spu") if spu else ("builtin",):
                for n in sizes:
                    runs.append(run_tls(n, 0.5, workdir=workdir, backend=backend))
                    say(f"  {backend} {n:,} x {n:,}: {runs[-1]['wall_s']:.1f} s wall")
            title = "PSI over mutual TLS — two party processes on loopback, 50% overlap"
            rendered = psi_table(runs, spu)
            say(rich_table(title, rendered))
            results["psi"] = {"runs": runs, "spu_installed": spu}
            markdown += [f"## {title}", "", markdown_table(rendered), ""]
            loads["after psi"] = _load(say)
        if args.only == "lift":  # 20+ minutes: never part of the default run
            cfg = StudyConfig(
                worlds=args.lift_worlds,
                users=args.users or 100_000,
                days=args.days,
                workdir=workdir,
            )
            summary = lift_study(cfg, console)
            results["lift"] = {
                "config": {k: str(v) for k, v in cfg.__dict__.items()},
                "coverage": summary.overall.share,
                "campaigns": summary.overall.campaigns,
                "bias": summary.bias,
                "bias_se": summary.bias_se,
                "mean_width": summary.mean_width,
            }
            markdown += [lift_markdown(summary), ""]
            loads["after lift"] = _load(say)
    finally:
        _drop(workdir, args.keep)
    results["wall_seconds"] = time.perf_counter() - began
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    src = results["machine"]["source"]
    dirty = ", ".join(src.get("uncommitted_src", [])) or "none"
    head = [
        f"Run {results['date']} · `{results['command']}` · "
        f"{results['wall_seconds'] / 60:.1f} min wall · {results['machine']['cpus']} CPUs · "
        f"Python {results['machine']['python']} · redcat {src.get('commit', '?')[:10]} "
        f"(uncommitted in src: {dirty}) · load average (1 min) "
        + ", ".join(f"{k} {v[0]:.1f}" for k, v in loads.items()),
        "",
        *([args.note, ""] if args.note else []),
    ]
    (args.out / "latest.md").write_text("\n".join(head + markdown))
    say(
        f"done in {results['wall_seconds'] / 60:.1f} min; results in {args.out / 'latest.json'} "
        f"and {args.out / 'latest.md'}"
    )
    if args.keep:
        say(f"data kept in {workdir}")
    return 0


def _load(say: Callable[[str], None]) -> list[float]:
    """The 1, 5 and 15 minute load averages; warns when other work competes for the CPUs."""
    load = list(os.getloadavg())
    cpus = os.cpu_count() or 1
    if load[0] > 0.5 * cpus:
        say(
            f"[yellow]note: load average {load[0]:.1f} on {cpus} CPUs: other processes compete "
            "with the benchmark, so its times are inflated[/]"
        )
    return load


def _drop(path: Path, keep: bool) -> None:
    if not keep and path.exists():
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
