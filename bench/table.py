"""Render the benchmark records: Rich tables for the terminal, Markdown for RESULTS.md.

Long notes would make the tables too wide for a terminal, so each table keeps a short ``note``
column of footnote numbers and the notes follow the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bench.records import Comparison, Stage

WORLD_HEADERS = ("stage", "brand", "rows", "unit", "seconds", "rows/s", "note")
PATHS_HEADERS = (
    "model",
    "implementation",
    "rows",
    "seconds",
    "redcat s",
    "ratio",
    "max rel diff",
    "moved",
    "note",
)
NUMERIC = {"rows", "seconds", "rows/s", "redcat s", "ratio", "max rel diff", "moved"}
# the PSI section (bench/psi.py)
NUMERIC |= {"n per side", "matched", "wall s", "idle est. s", "sent A / B MB"}
NUMERIC |= {"RSS A / B / worker MiB"}
PATHS_CAPTION = (
    "seconds: wall clock, the fastest of {repeat} run(s) (the least disturbed by other work), "
    "reading the file excluded (see the load rows). "
    "ratio = reference seconds ÷ redcat seconds on the same rows (above 1: redcat is faster). "
    "max rel diff = largest per-channel |ref − redcat| ÷ max(|ref|, |redcat|) of credited "
    "conversions; moved = Σ|ref − redcat| ÷ 2 ÷ total conversions (credit that lands on "
    "another channel)."
)
WORLD_CAPTION = (
    "seconds: wall clock; simulate, ingest and match write the store and run once, the other "
    "stages are the fastest of {repeat} run(s). rows/s = rows ÷ seconds in the stage's unit."
)


@dataclass(frozen=True)
class Rendered:
    """A table as text cells plus its numbered footnotes."""

    headers: tuple[str, ...]
    cells: list[list[str]]
    notes: list[str]
    caption: str


class _Notes:
    """Numbers distinct notes in order of first use."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def ref(self, text: str) -> str:
        if not text:
            return ""
        if text not in self.texts:
            self.texts.append(text)
        return str(self.texts.index(text) + 1)


def _num(x: float | None, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def _secs(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def world_table(stages: Sequence[Stage], repeat: int = 1) -> Rendered:
    """One row per stage (see ``WORLD_HEADERS``) and a total row."""
    notes = _Notes()
    cells = [
        [
            s.stage,
            s.brand or "",
            f"{s.rows:,}",
            s.unit,
            _secs(s.seconds),
            _num(s.per_second, ",.0f"),
            notes.ref(s.detail),
        ]
        for s in stages
    ]
    total = sum(s.seconds for s in stages)
    cells.append(["total", "", "", "", _secs(total), "", ""])
    return Rendered(WORLD_HEADERS, cells, notes.texts, WORLD_CAPTION.format(repeat=repeat))


def paths_table(rows: Sequence[Comparison], repeat: int = 1) -> Rendered:
    """One row per comparison (see ``PATHS_HEADERS``)."""
    notes = _Notes()
    cells = []
    for r in rows:
        ours = r.implementation == "redcat"
        cells.append(
            [
                r.model,
                r.implementation,
                f"{r.rows:,}",
                _secs(r.seconds),
                "" if ours else _secs(r.redcat_seconds),
                "" if ours else _num(r.ratio, ".2f"),
                "" if ours else _num(r.max_rel_diff, ".1e"),
                "" if ours else _num(r.moved, ".3%"),
                notes.ref(r.note),
            ]
        )
    return Rendered(PATHS_HEADERS, cells, notes.texts, PATHS_CAPTION.format(repeat=repeat))


def rich_table(title: str, table: Rendered) -> Group:
    """The table (numbers right-aligned), its caption and its footnotes, for a Rich console."""
    out = Table(title=title, title_justify="left", caption_justify="left")
    for h in table.headers:
        out.add_column(h, justify="right" if h in NUMERIC else "left", no_wrap=True)
    for row in table.cells:
        out.add_row(*row)
    foot = [Text(table.caption, style="dim")]
    foot += [Text(f"[{i}] {n}", style="dim") for i, n in enumerate(table.notes, 1)]
    return Group(out, *foot)


def markdown_table(table: Rendered) -> str:
    """A GitHub-flavoured Markdown table (pipes escaped), then its caption and footnotes."""
    lines = [
        "| " + " | ".join(table.headers) + " |",
        "|" + "|".join("---:" if h in NUMERIC else "---" for h in table.headers) + "|",
    ]
    for row in table.cells:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    lines += ["", table.caption, ""]
    lines += [f"{i}. {n}" for i, n in enumerate(table.notes, 1)]
    return "\n".join(lines)
