"""Scale-out: the same measurements on Apache Spark.

The measurement layer builds Ibis expressions over :class:`~redcat.engine.core.Engine` tables, so
it runs unchanged on Ibis's PySpark backend. The clean room's tables travel as Parquet:
:func:`export_tables` writes every table of a DuckDB store into a folder (one ``<table>.parquet``
each), which can be copied to a cluster's storage; :func:`open_spark_engine` registers such a folder
(local or any path Spark reads, e.g. ``hdfs://`` or ``s3a://``) as temporary views and returns an
Engine whose ``duck`` is ``None``. Ingest and match stay on DuckDB (they are per-party steps with
DuckDB-only SQL); funnel, journeys and attribution run on either.

PySpark is an optional dependency (``pip install 'redcat[spark]'``, which needs a Java 17+
runtime).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from redcat.engine.core import Engine
from redcat.errors import ConfigError, StoreError

#: Spark settings for a local session: few shuffle partitions (small data per core), no web UI,
#: timestamps read as UTC wall time exactly as DuckDB stores them.
LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def export_tables(con: duckdb.DuckDBPyConnection, out_dir: Path) -> list[Path]:
    """Write every table of the DuckDB store ``con`` to ``out_dir/<table>.parquet`` (folder
    created; existing files replaced) and return the paths, sorted by table name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    )
    paths = []
    for name in names:
        path = out_dir / f"{name}.parquet"
        con.execute(f"COPY \"{name}\" TO '{path.as_posix()}' (FORMAT PARQUET)")
        paths.append(path)
    return paths


def parquet_catalog(tables: Path | str) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB connection with one view per ``<name>.parquet`` under
    ``tables``, for the small per-run look-ups (accounts, scoping) that read the same folder the
    Spark engine measures; raises :class:`StoreError` when the folder holds no Parquet table."""
    sources = _sources(Path(tables))
    con = duckdb.connect()
    for source in sources:
        path = source.as_posix().replace("'", "''")
        glob = f"{path}/*.parquet" if source.is_dir() else path
        con.execute(f"CREATE VIEW \"{source.stem}\" AS SELECT * FROM read_parquet('{glob}')")
    return con


def _sources(folder: Path) -> list[Path]:
    sources = sorted(folder.glob("*.parquet"))
    if not sources:
        raise StoreError(f"no <table>.parquet files in {folder}; write them with export_tables")
    return sources


def spark_session(master: str = "local[2]", app_name: str = "redcat") -> Any:
    """Return a (new or running) SparkSession for ``master`` with :data:`LOCAL_CONF`; raises
    :class:`ConfigError` when PySpark is not installed."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # optional dependency
        raise ConfigError(
            "the Spark engine needs PySpark: pip install 'redcat[spark]' (and Java 17+)"
        ) from exc
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def open_spark_engine(tables: Path | str, session: Any | None = None) -> Engine:
    """Register every ``<name>.parquet`` (file or folder) under ``tables`` as Spark view
    ``<name>`` and return an Engine on Spark (``duck`` is ``None``); ``session`` defaults to
    :func:`spark_session`. Raises :class:`StoreError` when the folder holds no Parquet table."""
    import ibis

    folder = Path(tables)
    sources = _sources(folder)
    spark = session or spark_session()
    for source in sources:
        spark.read.parquet(str(source)).createOrReplaceTempView(source.stem)
    return Engine(ibis=ibis.pyspark.connect(spark), duck=None, path=folder)
