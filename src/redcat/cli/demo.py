"""``redcat demo``: simulate a small world and run the whole pipeline on it, in one go."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import typer
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from redcat.cli.common import console
from redcat.engine import open_engine
from redcat.ingest.load import ingest_party
from redcat.match import run_direct_match
from redcat.match.alliance import new_person_secret
from redcat.match.ship import clean_room_in_process
from redcat.report.assemble import build_report, load_truth
from redcat.report.data import ReportData
from redcat.report.html import render_html_bundle
from redcat.report.section import Text2
from redcat.report.summary import brands_view, model_summary_view
from redcat.report.tables import print_report, rich_table
from redcat.settings import Settings
from redcat.simulate import WorldConfig, simulate_world

OPERATOR_VIEW = Text2(
    "以下为运营方视图：精确值，仅限净室运营方；品牌收到的是经隐私层发布的品牌视图"
    "（redcat report --view brand）。",
    "Below: the operator view — exact figures, for the clean-room operator only; a brand "
    "receives the brand view released through the privacy layer (redcat report --view brand).",
)


def demo_cmd(
    out: Path = typer.Option(
        Path("redcat-demo"), "--out", help="Folder for the world, store and reports."
    ),
    users: int = typer.Option(100_000, help="Simulated users."),
    days: int = typer.Option(30, help="Simulated days of notes."),
    brands: int = typer.Option(3, help="Simulated brands."),
    retailers: int = typer.Option(2, help="Simulated retailers."),
    seed: int = typer.Option(7, help="Random seed (same seed, same world)."),
    notes_per_day: float = typer.Option(
        2.0, "--notes-per-day", help="Notes each brand publishes per day."
    ),
    lang: str = typer.Option("zh", "--lang", help="zh or en for the printed report."),
    direct: bool = typer.Option(
        False,
        "--direct",
        help="Match inside one store on raw user keys (fast, no privacy) instead of running the "
        "PSI alliance: each party's export checked apart, one ECDH-PSI per retailer, only shared "
        "people shipped under pseudonyms into the clean room.",
    ),
) -> None:
    """Run the whole pipeline on a simulated world and score every model against truth.

    Simulates a world, ingests it, matches, measures every brand and writes the reports."""
    if out.exists():
        shutil.rmtree(out)
    world_dir = out / "world"
    store = out / "redcat.duckdb"
    settings = Settings(store=store)
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    reports: list[ReportData] = []
    with Progress(*columns, console=console, transient=False) as progress:
        sim = progress.add_task("simulate world", total=None)
        config = WorldConfig(
            users=users,
            days=days,
            brands=brands,
            retailers=retailers,
            seed=seed,
            notes_per_brand_per_day=notes_per_day,
        )
        simulate_world(
            config,
            world_dir,
            fmt="parquet",
            progress=lambda step, done, total: progress.update(
                sim, description=f"simulate: {step}", completed=done, total=total
            ),
        )
        progress.update(sim, total=1, completed=1)

        retailer_dirs = sorted(p for p in (world_dir / "retailers").iterdir() if p.is_dir())
        if direct:
            ing = progress.add_task("ingest (one store, raw keys)", total=1 + len(retailer_dirs))
            with open_engine(store) as engine:
                ingest_party(engine.duck, "content", world_dir / "content")
                progress.advance(ing)
                for rdir in retailer_dirs:
                    ingest_party(engine.duck, "retailer", rdir, retailer_id=rdir.name)
                    progress.advance(ing)
                m = progress.add_task("match (direct)", total=1)
                direct_report = run_direct_match(engine.duck, settings.match_salt)
                progress.advance(m)
            matched = direct_report.matched_people
            rates = [(r.retailer_id, r.match_rate) for r in direct_report.retailers]
        else:
            m = progress.add_task(
                f"PSI alliance: content × {len(retailer_dirs)} retailers → clean room", total=None
            )
            run = clean_room_in_process(
                world_dir / "content",
                {rdir.name: rdir for rdir in retailer_dirs},
                out / "clean-room",
                person_secret=new_person_secret(),
                store=store,
            )
            progress.update(m, total=1, completed=1)
            matched = run.load.people
            rates = [
                (str(r["retailer_id"]), float(r["match_rate"]))  # type: ignore[arg-type]
                for r in run.load.runs
            ]

        with open_engine(store) as engine:
            brand_ids = engine.distinct_values("notes", "brand_id")
            world = json.loads((world_dir / "truth" / "world.json").read_text(encoding="utf-8"))
            categories: dict[str, str] = world.get("brand_category", {})
            measure = progress.add_task("measure brands", total=len(brand_ids))
            truth = load_truth(world_dir / "truth" / "note_truth.csv")
            for brand_id in brand_ids:
                # The brand's own setting, which the demo reads from the world's description:
                # its category's decision cycle is its funnel window.
                brand_settings = dataclasses.replace(
                    settings,
                    windows=settings.windows.decision_cycle(categories.get(brand_id)),
                )
                reports.append(build_report(engine, brand_id, brand_settings, truth=truth))
                progress.advance(measure)

    how = "direct match on raw keys" if direct else "PSI (ECDH over X25519), pseudonymous keys"
    console.print(
        f"matched {matched:,} people across "
        + ", ".join(f"{rid} ({rate:.0%})" for rid, rate in rates)
        + f" — {how}"
    )
    # The demo is the operator's: it prints the exact view (whose privacy section shows what a
    # brand would receive for a sample of cells) and says so.
    console.print(Text(OPERATOR_VIEW.get(lang), style="bold yellow"))
    print_report(reports[0], console, lang)
    console.print(rich_table(brands_view(reports, lang)))
    models = model_summary_view(reports, lang)
    console.print(rich_table(models, with_caption=False))
    console.print(Panel(Text(models.caption or "", style="bold"), title="WAPE"))
    for data in reports:
        paths = render_html_bundle(data, out / "reports" / data.brand_id)
        console.print(
            f"HTML report {data.brand_id}, operator view (中文): {paths['zh']}", soft_wrap=True
        )
        console.print(
            f"HTML report {data.brand_id}, operator view (English): {paths['en']}", soft_wrap=True
        )
