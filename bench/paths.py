"""redcat's attribution models against ChannelAttribution and marketing-attribution-models (mam)
on one large aggregated path file, in one run.

redcat runs in this process (``read_path_file`` then ``attribute``, as ``redcat paths attribute``
does). Each reference job runs in its own spawned process with a time limit, so a crash or a hang
in a reference cannot take the benchmark down: a job that fails or runs out of time on the whole
file is run again on a seeded subsample, and redcat is timed on that same subsample for the
ratio. Times are wall-clock seconds of one run and exclude reading the file (the ``load`` rows
time that).

References and their settings:

- ChannelAttribution 2.2.5 ``heuristic_models`` (first, last, linear in one call) and
  ``markov_model`` order 1, which estimates removal effects by Monte-Carlo simulation
  (``MARKOV_SETTINGS``: starts at 1e5 simulated paths, grows them 1.5× until the results vary by
  less than 5 % over 10 folds; ``max_step`` 100 so loops are not cut at the longest path; seed 1;
  both cores).
- mam 2.1.1 (polars): the file is given as ``grouped_journey`` rows (one row per path and outcome,
  weighted by journeys), its first/last/linear/position heuristics, ``run_markov`` (exact: dense
  inverse per removed channel, self-transitions dropped) and ``run_shapley`` with ``max_size`` at
  least the longest path so no set is truncated (its default 4 keeps only the 4 alphabetically
  last channels of a set); its cost is 2^size value look-ups per converting set, in Python.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.pathfile import SEPARATOR, PathSpec, subsample, write_path_file
from bench.records import Comparison, ModelRun, cold, timed
from redcat.attribution.journeys import Attribution, JourneyTable
from redcat.attribution.models import attribute
from redcat.attribution.pathfile import read_path_file
from redcat.settings import AttributionSettings

Say = Callable[[str], None]

REDCAT = "redcat"
CA = "ChannelAttribution"
MAM = "mam"
REDCAT_MODELS: tuple[str, ...] = (
    "first",
    "last",
    "linear",
    "position",
    "time_decay",
    "markov",
    "shapley",
)
CA_HEURISTICS = "first+last+linear"
MARKOV_SETTINGS: dict[str, Any] = {
    "order": 1,
    "nsim_start": 100_000,
    "max_step": 100,
    "conv_par": 0.05,
    "rate_step_sim": 1.5,
    "nfold": 10,
    "seed": 1,
    "ncore": 2,
}
MAM_SHAPLEY_MAX_SIZE = 10
# Monte-Carlo noise swamps the relative difference of tiny channels; a second figure looks only
# at channels holding at least this share of the credit.
MAJOR_SHARE = 0.01
# (implementation, job) pairs; a job is one spawned process.
JOBS: tuple[tuple[str, str], ...] = (
    (CA, "heuristics"),
    (CA, "markov"),
    (MAM, "heuristics"),
    (MAM, "markov"),
    (MAM, "shapley"),
)
JOB_MODELS: dict[tuple[str, str], tuple[str, ...]] = {
    (CA, "heuristics"): (CA_HEURISTICS,),
    (CA, "markov"): ("markov",),
    (MAM, "heuristics"): ("first", "last", "linear", "position"),
    (MAM, "markov"): ("markov",),
    (MAM, "shapley"): ("shapley",),
}
NO_REFERENCE: dict[str, str] = {
    "time_decay": "no reference: ChannelAttribution's heuristics have no time decay and mam's "
    "needs touch times, which a path file lacks (redcat counts steps as days)",
}


@dataclass(frozen=True)
class PathsBench:
    """The path-file benchmark: the file to draw, the time (seconds) one run of a reference job
    may take (the job may take ``timeout × repeat``), the subsample (rows) a job falls back to
    when it fails or runs out of time, and how many runs each timing takes the fastest of."""

    spec: PathSpec = field(default_factory=PathSpec)
    timeout: float = 600.0
    subsample_rows: int = 100_000
    subsample_seed: int = 11
    repeat: int = 3


@dataclass(frozen=True)
class PathsResult:
    """Everything measured: the runs, the comparison table, and the file's shape."""

    runs: tuple[ModelRun, ...]
    table: tuple[Comparison, ...]
    file: dict[str, Any]


# ---- redcat ---------------------------------------------------------------------------------


def redcat_runs(file: Path, rows: int, repeat: int = 1) -> list[ModelRun]:
    """Time redcat reading ``file`` and running every model on it (allocations off, as the
    CLI does), each the fastest of ``repeat`` runs on a cold table."""
    settings = AttributionSettings()
    paths, secs = timed(lambda: read_path_file(file), repeat)
    runs = [ModelRun("load", REDCAT, rows, secs, note="read_path_file")]
    for model in REDCAT_MODELS:
        result, secs = timed(partial(_cold_attribute, paths.table, model, settings), repeat)
        credits = dict(zip(result.credits["channel"], result.credits["conversions"], strict=True))
        effects: dict[str, float] = {}
        if result.removal_effects is not None:
            re = result.removal_effects
            effects = dict(zip(re["channel"], re["removal_effect"], strict=True))
        runs.append(
            ModelRun(
                model,
                REDCAT,
                rows,
                secs,
                credits=credits,
                removal_effects=effects,
                note="; ".join(result.notes),
            )
        )
    return runs


def _cold_attribute(table: JourneyTable, model: str, settings: AttributionSettings) -> Attribution:
    # A fresh table each run: cached per-touch arrays would make later repeats faster.
    return attribute(cold(table), model, settings=settings, allocations=False)


# ---- references (run in child processes) ------------------------------------------------------


def _ca_job(job: str, file: Path, rows: int, repeat: int) -> list[ModelRun]:
    import ChannelAttribution as ca

    frame, load = timed(lambda: pd.read_csv(file, sep=";"), repeat)
    runs = [ModelRun("load", CA, rows, load, note="pandas.read_csv")]
    if job == "heuristics":
        out, secs = timed(
            lambda: ca.heuristic_models(
                frame,
                "path",
                "total_conversions",
                var_value="total_conversion_value",
                sep=">",
                flg_pro=False,
            )
        )
        runs.append(
            ModelRun(
                CA_HEURISTICS,
                CA,
                rows,
                secs,
                note="heuristic_models: one call computes all three",
            )
        )
        for model, col in (
            ("first", "first_touch"),
            ("last", "last_touch"),
            ("linear", "linear_touch"),
        ):
            credits = dict(zip(out["channel_name"], out[f"{col}_conversions"], strict=True))
            runs.append(ModelRun(model, CA, rows, None, credits=credits))
        return runs
    out, secs = timed(
        lambda: ca.markov_model(
            frame,
            "path",
            "total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            out_more=True,
            verbose=False,
            flg_pro=False,
            sep=">",
            **MARKOV_SETTINGS,
        )
    )
    result, effects = out["result"], out["removal_effects"]
    runs.append(
        ModelRun(
            "markov",
            CA,
            rows,
            secs,
            credits=dict(zip(result["channel_name"], result["total_conversions"], strict=True)),
            removal_effects=dict(
                zip(effects["channel_name"], effects["removal_effects_conversion"], strict=True)
            ),
            note="Monte-Carlo: " + ", ".join(f"{k}={v:g}" for k, v in MARKOV_SETTINGS.items()),
        )
    )
    return runs


def _mam_frame(file: Path) -> Any:
    import polars as pl
    from mam import MAM as MamModel

    df = pl.read_csv(file, separator=";")
    conv = df.filter(pl.col("total_conversions") > 0).select(
        pl.col("path"),
        pl.lit(True).alias("has_conversion"),
        pl.col("total_conversions").alias("occurrences"),
    )
    null = df.filter(pl.col("total_null") > 0).select(
        pl.col("path"),
        pl.lit(False).alias("has_conversion"),
        pl.col("total_null").alias("occurrences"),
    )
    longest = int(df.select(pl.col("path").str.count_matches(">").max()).item()) + 1
    model = MamModel(
        pl.concat([conv, null]),
        format_type="grouped_journey",
        channels_colname="path",
        journey_with_conv_colname="has_conversion",
        occurrences_colname="occurrences",
        path_separator=SEPARATOR,
    )
    return model, longest


def _mam_credits(result: Any) -> dict[str, float]:
    frame = result.to_pandas()
    return {str(c): float(v) for c, v in zip(frame["channels"], frame["attribution"], strict=True)}


def _mam_job(job: str, file: Path, rows: int, repeat: int) -> list[ModelRun]:
    (model, longest), load = timed(lambda: _mam_frame(file), repeat)
    runs = [ModelRun("load", MAM, rows, load, note="polars.read_csv + MAM(grouped_journey)")]
    if job == "heuristics":
        for name, method in (
            ("first", "run_first_click"),
            ("last", "run_last_click"),
            ("linear", "run_linear"),
            ("position", "run_position_based"),
        ):
            result, secs = timed(getattr(model, method), repeat)
            runs.append(ModelRun(name, MAM, rows, secs, credits=_mam_credits(result)))
        return runs
    if job == "markov":
        result, secs = timed(lambda: model.run_markov(transition_to_same_state=False), repeat)
        effects = {
            str(k): float(v) for k, v in result.metadata["removal_effect"]["removal_effect"].items()
        }
        credits = _mam_credits(result)
        runs.append(
            ModelRun(
                "markov",
                MAM,
                rows,
                secs,
                credits=credits,
                removal_effects=effects,
                aligned=_shares(effects, sum(credits.values())),
                aligned_how="credits = total conversions × removal effect ÷ Σ removal effects",
                note="exact removal effects; mam splits each journey's conversions over the "
                "journey's own channels by removal effect",
            )
        )
        return runs
    size = min(longest, MAM_SHAPLEY_MAX_SIZE)
    result, secs = timed(lambda: model.run_shapley(max_size=size, value_column="conv_rate"), repeat)
    cut = "" if size >= longest else f"; sets cut to {size} channels (longest path {longest})"
    runs.append(
        ModelRun(
            "shapley",
            MAM,
            rows,
            secs,
            credits=_mam_credits(result),
            aligned=_clipped_shapley(result),
            aligned_how="negative Shapley values clipped to 0 per set and the set renormalized",
            note=f"max_size={size}, conv_rate value function; mam keeps negative values{cut}",
        )
    )
    return runs


def _shares(weights: dict[str, float], total: float) -> dict[str, float]:
    """Split ``total`` over channels in proportion to ``weights``."""
    norm = sum(weights.values())
    return {k: total * v / norm for k, v in weights.items()} if norm else {}


def _clipped_shapley(result: Any) -> dict[str, float]:
    """mam's per-set Shapley credits with negative values clipped to 0 and each set's
    conversions split over what is left (redcat's rule; a set with nothing left splits equally)."""
    table = result.metadata["conv_table"]
    column = next(c for c in table.columns if c.startswith("attribution_shapley"))
    credits: dict[str, float] = {}
    for combo, values, conv in zip(
        table["combinations"].to_list(),
        table[column].to_list(),
        table["conversion_value"].to_list(),
        strict=True,
    ):
        kept = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
        kept = kept / kept.sum() * conv if kept.sum() > 0 else np.full(kept.size, conv / kept.size)
        for channel, x in zip(combo.split(SEPARATOR), kept, strict=True):
            credits[channel] = credits.get(channel, 0.0) + float(x)
    return credits


def _child(impl: str, job: str, file: str, rows: int, repeat: int, out: Any) -> None:
    """Entry point of a reference job's process: put its runs (or an error) on ``out``."""
    try:
        fn = _ca_job if impl == CA else _mam_job
        out.put(("ok", fn(job, Path(file), rows, repeat)))
    except BaseException as exc:  # report any failure to the parent, then exit
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def run_job(
    impl: str, job: str, file: Path, rows: int, timeout: float, repeat: int = 1
) -> list[ModelRun] | str:
    """Run one reference job in a spawned process (each timing the fastest of ``repeat`` runs);
    return its runs, or why it failed (an exception, a crash with its exit code, or the time
    limit in seconds, which covers all repeats)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(impl, job, str(file), rows, repeat, out), daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                status, payload = out.get(timeout=1.0)
                break
            except queue.Empty:
                if not proc.is_alive():
                    return f"crashed (exit code {proc.exitcode})"
                if time.monotonic() > deadline:
                    return f"no result within {timeout:.0f} s"
    finally:
        if proc.is_alive():
            proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if status != "ok":
        return str(payload)
    return list(payload)


# ---- comparison ---------------------------------------------------------------------------------


def agreement(
    ref: dict[str, float], ours: dict[str, float], min_share: float = 1e-12
) -> tuple[float, float]:
    """Return (largest per-channel relative difference, share of credit moved) between two
    per-channel credit maps; channels missing from one side count 0 there. The relative
    difference looks only at channels where either side credits at least ``min_share`` of
    redcat's total."""
    names = sorted(set(ref) | set(ours))
    a = np.array([ref.get(n, 0.0) for n in names])
    b = np.array([ours.get(n, 0.0) for n in names])
    scale = np.maximum(np.abs(a), np.abs(b))
    total = float(np.abs(b).sum()) or 1.0
    seen = scale >= min_share * total
    rel = np.abs(a - b)[seen] / scale[seen]
    return float(rel.max(initial=0.0)), float(np.abs(a - b).sum() / 2 / total)


def compare(runs: list[ModelRun]) -> list[Comparison]:
    """Build the model × implementation table from all runs: per model, redcat's rows first,
    then each reference's, timed against redcat on the same rows."""
    ours = {(r.model, r.rows): r for r in runs if r.implementation == REDCAT}
    by_ref = {(r.implementation, r.model, r.rows): r for r in runs}
    table: list[Comparison] = []
    full = max((r.rows for r in runs), default=0)
    # redcat's timings on a subsample are shown only where a reference ran on it.
    used = {
        (part, r.rows)
        for r in runs
        if r.implementation != REDCAT and r.seconds is not None
        for part in r.model.split("+")
    }
    order = ("load", "first", "last", "linear", CA_HEURISTICS, "position", "time_decay")
    for model in (*order, "markov", "shapley"):
        for run in runs:
            if run.model != model or (run.seconds is None and not run.error):
                continue
            if run.implementation == REDCAT and (run.rows == full or (model, run.rows) in used):
                note = _join(run.note, NO_REFERENCE.get(model, ""))
                table.append(
                    Comparison(
                        model, REDCAT, run.rows, run.seconds, run.seconds, 1.0, None, None, note
                    )
                )
        for run in runs:
            if run.model != model or run.implementation == REDCAT:
                continue
            if run.seconds is not None or run.error:
                table.append(_row(run, ours, by_ref))
    return table


def _row(
    run: ModelRun,
    ours: dict[tuple[str, int], ModelRun],
    by_ref: dict[tuple[str, str, int], ModelRun],
) -> Comparison:
    parts = run.model.split("+")
    mine = [ours.get((p, run.rows)) for p in parts]
    redcat_secs = (
        sum(m.seconds or 0.0 for m in mine if m) if all(m is not None for m in mine) else None
    )
    ratio = run.seconds / redcat_secs if run.seconds and redcat_secs else None
    worst: tuple[float, float] | None = None
    notes = [run.note] if run.note else []
    if run.model != "load" and not run.error:
        diffs = []
        for part, m in zip(parts, mine, strict=True):
            ref = run if len(parts) == 1 else by_ref.get((run.implementation, part, run.rows))
            if ref is not None and m is not None:
                diffs.append(agreement(ref.credits, m.credits))
        if diffs:
            worst = (max(d[0] for d in diffs), max(d[1] for d in diffs))
        if worst and worst[0] > 1e-6 and len(parts) == 1 and mine[0] is not None:
            major = agreement(run.credits, mine[0].credits, min_share=MAJOR_SHARE)[0]
            notes.append(
                f"channels with ≥ {MAJOR_SHARE:.0%} of the credit: max rel diff {major:.1e}"
            )
        if len(parts) > 1:
            notes.append("agreement: worst of the three")
        m0 = mine[0]
        if run.removal_effects and m0 is not None and m0.removal_effects:
            re_rel, _ = agreement(run.removal_effects, m0.removal_effects)
            notes.append(f"removal effects: max rel diff {re_rel:.1e}")
        if run.aligned and m0 is not None:
            rel, moved = agreement(run.aligned, m0.credits)
            notes.append(f"with {run.aligned_how}: max rel diff {rel:.1e}, moved {moved:.3%}")
    if run.error:
        notes.append(run.error)
    return Comparison(
        run.model,
        run.implementation,
        run.rows,
        run.seconds,
        redcat_secs,
        ratio,
        worst[0] if worst else None,
        worst[1] if worst else None,
        "; ".join(notes),
    )


# ---- the benchmark ------------------------------------------------------------------------------


def run_paths(bench: PathsBench, workdir: Path, say: Say) -> PathsResult:
    """Draw the path file under ``workdir``, time redcat and every reference job on it (falling
    back to a subsample where a job fails), and return the runs and the comparison table."""
    file = workdir / "paths.csv"
    frame, secs = timed(lambda: write_path_file(bench.spec, file))
    lengths = frame["path"].str.count(">") + 1
    shape = {
        "rows": len(frame),
        "channels": bench.spec.channels,
        "journeys": int(frame["total_conversions"].sum() + frame["total_null"].sum()),
        "conversions": int(frame["total_conversions"].sum()),
        "touches": int(lengths.sum()),
        "mean_length": float(lengths.mean()),
        "bytes": file.stat().st_size,
        "seed": bench.spec.seed,
        "draw_seconds": secs,
    }
    say(
        f"  path file: {shape['rows']:,} rows, {shape['touches']:,} touches, "
        f"{shape['journeys']:,} journeys, {shape['conversions']:,} conversions, "
        f"{shape['bytes'] / 1e6:.0f} MB (drawn in {secs:.1f} s)"
    )
    rows = len(frame)
    runs = redcat_runs(file, rows, bench.repeat)
    _say_runs(say, runs)
    small: Path | None = None
    for impl, job in JOBS:
        say(f"  {impl} {job} on {rows:,} rows…")
        limit = bench.timeout * bench.repeat
        got = run_job(impl, job, file, rows, limit, bench.repeat)
        if isinstance(got, str) and bench.subsample_rows < rows:
            say(f"    failed: {got}; running it on {bench.subsample_rows:,} rows instead")
            if small is None:
                small = workdir / "paths-subsample.csv"
                part = subsample(frame, bench.subsample_rows, bench.subsample_seed)
                part.to_csv(small, sep=";", index=False, float_format="%.2f")
                mine = redcat_runs(small, len(part), bench.repeat)
                _say_runs(say, mine)
                runs.extend(mine)
            why = f"whole file ({rows:,} rows): {got}"
            got = run_job(impl, job, small, bench.subsample_rows, limit, bench.repeat)
            if isinstance(got, str):
                got = f"{why}; subsample ({bench.subsample_rows:,} rows): {got}"
            else:
                got = [replace(r, note=_join(r.note, f"subsample; {why}")) for r in got]
        if isinstance(got, str):
            say(f"    failed: {got}")
            runs.extend(ModelRun(m, impl, rows, None, error=got) for m in JOB_MODELS[impl, job])
            continue
        _say_runs(say, got)
        runs.extend(r for r in got if not (r.model == "load" and _has_load(runs, impl, r.rows)))
    return PathsResult(tuple(runs), tuple(compare(runs)), shape)


def _has_load(runs: list[ModelRun], impl: str, rows: int) -> bool:
    return any(r.model == "load" and r.implementation == impl and r.rows == rows for r in runs)


def _join(a: str, b: str) -> str:
    return "; ".join(x for x in (a, b) if x)


def _say_runs(say: Say, runs: list[ModelRun]) -> None:
    for r in runs:
        if r.seconds is not None:
            say(f"    {r.implementation} {r.model}: {r.seconds:.2f} s ({r.rows:,} rows)")
