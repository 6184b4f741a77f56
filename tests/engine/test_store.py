from redcat.engine import open_engine
from redcat.engine.store import store_key, table_ddl
from redcat.ingest.contract import ALL_TABLES, COMMERCE_EVENTS_TABLE, NOTES


def test_notes_ddl_follows_contract():
    assert table_ddl(NOTES) == (
        "CREATE TABLE IF NOT EXISTS notes (\n"
        "    note_id VARCHAR NOT NULL,\n"
        "    brand_id VARCHAR NOT NULL,\n"
        "    creator_id VARCHAR NOT NULL,\n"
        "    note_type VARCHAR NOT NULL,\n"
        "    product_ids VARCHAR[],\n"
        "    published_at TIMESTAMP NOT NULL,\n"
        "    title VARCHAR\n"
        ")"
    )


def test_retailer_tables_are_keyed_by_retailer():
    assert store_key(COMMERCE_EVENTS_TABLE) == ("retailer_id", "event_id")
    assert store_key(NOTES) == ("note_id",)


def test_new_store_holds_every_contract_table_empty(tmp_path):
    with open_engine(tmp_path / "s.duckdb") as engine:
        for name, spec in ALL_TABLES.items():
            table = engine.table(name)
            extra = ("retailer_id",) if spec.party == "retailer" else ()
            assert tuple(table.columns) == extra + spec.columns
            assert engine.execute(table.count())["value"][0] == 0


def test_distinct_values_sorted_without_nulls(tmp_path):
    with open_engine(tmp_path / "s.duckdb") as engine:
        engine.duck.execute(
            "INSERT INTO shops VALUES ('jd','s2','B2'),('tmall','s1','B1'),('jd','s3','B1')"
        )
        assert engine.distinct_values("shops", "brand_id") == ["B1", "B2"]
        assert engine.distinct_values("shops", "retailer_id") == ["jd", "tmall"]
