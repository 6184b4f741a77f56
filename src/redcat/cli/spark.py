"""``redcat spark``: move the clean room's tables to Spark, where the measurements run unchanged."""

from __future__ import annotations

from pathlib import Path

import typer

from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, console
from redcat.engine.spark import export_tables
from redcat.engine.store import connect

spark_app = typer.Typer(help="Scale out: run the measurements on Apache Spark.")


@spark_app.command("export")
def spark_export(
    out: Path = typer.Option(..., "--out", help="Folder for one <table>.parquet per table."),
    store: StoreOption = DEFAULT_STORE_PATH,
) -> None:
    """Write every table of the store as Parquet, ready for `redcat report --spark DIR` (copy the
    folder to the cluster's storage first when Spark runs elsewhere)."""
    con = connect(store, read_only=True)
    try:
        paths = export_tables(con, out)
    finally:
        con.close()
    size = sum(p.stat().st_size for p in paths)
    console.print(f"wrote {len(paths)} tables ({size / 1e6:,.1f} MB) to {out}", soft_wrap=True)
