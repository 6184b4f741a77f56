"""The same measurements on Spark as on DuckDB: a simulated world's funnel, journeys and every
model's credits, figure for figure. Skipped where PySpark or Java is missing."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from redcat.attribution.pipeline import journey_rows, journey_table, note_credits
from redcat.engine import open_engine
from redcat.engine.spark import export_tables, open_spark_engine, spark_session
from redcat.errors import StoreError
from redcat.funnel import brand_funnel
from redcat.ingest.load import ingest_party
from redcat.match import run_direct_match
from redcat.settings import Settings
from redcat.simulate import WorldConfig, simulate_world

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark-world")
    simulate_world(WorldConfig(users=3000, days=10, brands=2, retailers=2, seed=3), root / "w")
    with open_engine(root / "store.duckdb") as engine:
        ingest_party(engine.duck, "content", root / "w" / "content")
        for rdir in sorted((root / "w" / "retailers").iterdir()):
            ingest_party(engine.duck, "retailer", rdir, retailer_id=rdir.name)
        run_direct_match(engine.duck, Settings().match_salt)
        export_tables(engine.duck, root / "tables")
    return root


@pytest.fixture(scope="module")
def spark():  # type: ignore[no-untyped-def]
    session = spark_session("local[2]")
    yield session
    session.stop()


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = list(a.columns)
    assert sorted(cols) == sorted(b.columns)
    # Spark returns timestamps in ns or s resolution, DuckDB in µs: same instants
    a, b = (
        f.astype({c: "datetime64[us]" for c in f.select_dtypes("datetime").columns}) for f in (a, b)
    )
    a = a.sort_values(cols).reset_index(drop=True)
    b = b[cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-12)


def test_export_writes_every_table(world: Path) -> None:
    names = {p.stem for p in (world / "tables").glob("*.parquet")}
    assert {"notes", "cr_content_events", "cr_commerce_events", "shops", "brand_terms"} <= names


def test_funnel_journeys_and_credits_match_duckdb(world: Path, spark) -> None:  # type: ignore[no-untyped-def]
    settings = Settings()
    on_spark = open_spark_engine(world / "tables", spark)
    assert not on_spark.on_duckdb
    with open_engine(world / "store.duckdb", read_only=True) as on_duck:
        brands = on_duck.distinct_values("notes", "brand_id")
        assert on_spark.distinct_values("notes", "brand_id") == brands
        funnels = {b: brand_funnel(on_duck, b, settings.windows) for b in brands}
        brand = max(brands, key=lambda b: funnels[b].kpis["orders"] or 0)
        duck_funnel = funnels[brand]
        spark_funnel = brand_funnel(on_spark, brand, settings.windows)
        assert spark_funnel.kpis.keys() == duck_funnel.kpis.keys()
        for key, value in duck_funnel.kpis.items():
            assert spark_funnel.kpis[key] == (None if value is None else pytest.approx(value))
        assert duck_funnel.kpis["orders"]
        for part in ("stages", "daily", "notes", "creators", "campaigns"):
            same(getattr(duck_funnel, part), getattr(spark_funnel, part))
        duck_rows = journey_rows(on_duck, brand, settings.windows)
        spark_rows = journey_rows(on_spark, brand, settings.windows)
    assert len(duck_rows) > 20
    same(duck_rows, spark_rows)
    for model in ("last", "markov", "shapley"):
        a, _ = note_credits(journey_table(duck_rows), model, settings.attribution)
        b, _ = note_credits(journey_table(spark_rows), model, settings.attribution)
        same(a, b)


def test_duckdb_only_steps_say_so(world: Path, spark) -> None:  # type: ignore[no-untyped-def]
    on_spark = open_spark_engine(world / "tables", spark)
    with pytest.raises(StoreError, match="needs the DuckDB store"):
        _ = on_spark.duck
    with pytest.raises(StoreError, match="no table 'nope'"):
        on_spark.table("nope")


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no <table>\.parquet"):
        open_spark_engine(tmp_path)


def test_cli_exports_and_reports_on_spark(world: Path, spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from redcat.cli.main import main

    store = str(world / "store.duckdb")
    tables = tmp_path / "tables"
    assert main(["spark", "export", "--out", str(tables), "--store", store]) == 0
    assert {p.stem for p in tables.glob("*.parquet")} == {
        p.stem for p in (world / "tables").glob("*.parquet")
    }
    with open_engine(world / "store.duckdb", read_only=True) as engine:
        brand = engine.distinct_values("notes", "brand_id")[0]
    args = ["report", "--brand", brand, "--format", "csv", "--view", "operator"]
    assert main([*args, "--out", str(tmp_path / "duck"), "--store", store]) == 0
    assert main([*args, "--out", str(tmp_path / "spark"), "--spark", str(tables)]) == 0
    for name in ("kpis", "funnel", "notes", "credits"):
        duck = pd.read_csv(tmp_path / "duck" / f"{name}.csv", encoding="utf-8-sig")
        on_spark = pd.read_csv(tmp_path / "spark" / f"{name}.csv", encoding="utf-8-sig")
        same(duck, on_spark)
