"""Every written file follows the data contract exactly, in every format."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from redcat.ingest.contract import (
    ALL_TABLES,
    COMMERCE_EVENTS_TABLE,
    CONTENT_TABLES,
    RETAILER_TABLES,
)
from redcat.simulate.config import Timeline

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
KEY = re.compile(r"^[0-9a-f]{64}$")
FORMATS = ["csv", "parquet", "jsonl"]


def party_files(root: Path, fmt: str, retailers: tuple[str, ...]) -> list[Path]:
    files = [root / "content" / f"{t.name}.{fmt}" for t in CONTENT_TABLES]
    for rid in retailers:
        files += [root / "retailers" / rid / f"{t.name}.{fmt}" for t in RETAILER_TABLES]
    return files


def test_layout(written, tiny, rows, raw) -> None:
    out = written("csv").out
    assert sorted(p.name for p in (out / "retailers").iterdir()) == ["jd", "tmall", "vip"]
    for path in party_files(out, "csv", tiny.retailer_ids):
        assert path.is_file(), path
    assert (out / "truth" / "note_truth.csv").is_file()
    assert (out / "truth" / "world.json").is_file()
    assert {p.relative_to(out).parts[0] for p in out.rglob("*.csv")} == {
        "content",
        "retailers",
        "truth",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_columns_enums_required_and_ranges(fmt: str, written, tiny, rows, raw) -> None:
    out = written(fmt).out
    tl = Timeline.of(tiny)
    lo = pd.Timestamp(tl.history, unit="s").strftime("%Y-%m-%dT%H:%M:%S")
    content_lo = pd.Timestamp(tl.start, unit="s").strftime("%Y-%m-%dT%H:%M:%S")
    hi = pd.Timestamp(tl.end, unit="s").strftime("%Y-%m-%dT%H:%M:%S")
    for path in party_files(out, fmt, tiny.retailer_ids):
        spec = ALL_TABLES[path.stem]
        assert tuple(raw(path).column_names) == spec.columns, path
        frame = rows(path)
        assert len(frame) > 0, path
        for field in spec.fields:
            col = frame[field.name]
            if field.required:
                assert col.notna().all(), (path, field.name)
            present = col.dropna()
            if field.choices:
                assert set(present) <= set(field.choices), (path, field.name)
            if field.kind == "timestamp":
                assert present.map(lambda v: bool(TS.match(v))).all(), (path, field.name)
                low = content_lo if spec.party == "content" else lo
                assert present.min() >= low and present.max() < hi, (path, field.name)
            if field.kind == "date":
                assert present.map(lambda v: bool(DATE.match(v))).all()
            if field.minimum is not None:
                assert (present.astype(float) >= field.minimum).all(), (path, field.name)
        if "user_key" in frame:
            assert frame["user_key"].map(lambda v: bool(KEY.match(v))).all()
        if spec.key:
            assert not frame.duplicated(list(spec.key)).any(), path


@pytest.mark.parametrize("fmt", FORMATS)
def test_events_sorted_ids_unique_and_well_formed(fmt: str, written, tiny, rows, raw) -> None:
    out = written(fmt).out
    ce = rows(out / "content" / f"content_events.{fmt}")
    assert ce["event_id"].is_unique
    assert ce["event_id"].tolist() == [f"ce{i:09d}" for i in range(1, len(ce) + 1)]
    assert ce[["ts", "event_id"]].equals(ce[["ts", "event_id"]].sort_values(["ts", "event_id"]))
    for rid in tiny.retailer_ids:
        ev = rows(out / "retailers" / rid / f"commerce_events.{fmt}")
        assert ev["event_id"].tolist() == [f"{rid}-e{i:09d}" for i in range(1, len(ev) + 1)]
        assert ev["ts"].is_monotonic_increasing
        orders = ev[ev["event"] == "order"]
        assert orders["order_id"].notna().all() and orders["order_id"].is_unique
        assert (orders["amount"] > 0).all() and orders["product_id"].notna().all()
        others = ev[ev["event"] != "order"]
        assert others["order_id"].isna().all() and others["amount"].isna().all()
        searches = ev[ev["event"] == "search"]
        assert searches["shop_id"].isna().all() and searches["query"].notna().all()
        assert ev.loc[ev["event"] != "search", "shop_id"].notna().all()
        assert ev.loc[ev["event"] != "search", "query"].isna().all()


@pytest.mark.parametrize("fmt", FORMATS)
def test_references_resolve(fmt: str, written, tiny, rows, raw) -> None:
    out = written(fmt).out
    notes = rows(out / "content" / f"notes.{fmt}")
    ce = rows(out / "content" / f"content_events.{fmt}")
    spend = rows(out / "content" / f"spend.{fmt}")
    holdouts = rows(out / "content" / f"holdouts.{fmt}")
    assert set(ce["note_id"]) <= set(notes["note_id"])
    assert set(spend["note_id"]) <= set(notes["note_id"])
    assert set(spend["campaign_id"]) == set(holdouts["campaign_id"])
    brands = set(notes["brand_id"])
    for products, brand in zip(notes["product_ids"], notes["brand_id"], strict=True):
        assert products and all(p.startswith(brand + "-P") for p in products)
    for rid in tiny.retailer_ids:
        root = out / "retailers" / rid
        shops = rows(root / f"shops.{fmt}")
        terms = rows(root / f"brand_terms.{fmt}")
        ev = rows(root / f"commerce_events.{fmt}")
        assert set(shops["brand_id"]) == brands
        assert shops["shop_id"].str.startswith(f"{rid}-S").all()
        assert shops.groupby("brand_id").size().between(1, 2).all()
        assert terms.groupby("brand_id").size().between(2, 3).all()
        assert set(ev["shop_id"].dropna()) <= set(shops["shop_id"])
        brand_searches = ev[ev["query"].isin(set(terms["term"]))]
        assert len(brand_searches) > 0  # 回搜 exists to be measured


def test_formats_hold_the_same_rows(written, tiny, rows, raw) -> None:
    roots = {fmt: written(fmt).out for fmt in FORMATS}
    for csv_path in party_files(roots["csv"], "csv", tiny.retailer_ids):
        rel = csv_path.relative_to(roots["csv"]).with_suffix("")
        base = rows(csv_path)
        for fmt in ("parquet", "jsonl"):
            other = rows(roots[fmt] / rel.with_suffix(f".{fmt}"))
            pd.testing.assert_frame_equal(base, other, check_dtype=False, obj=str(rel))


def test_parquet_types(written, tiny, rows, raw) -> None:
    out = written("parquet").out
    schema = pq.read_schema(out / "content" / "notes.parquet")
    assert schema.field("published_at").type == pa.timestamp("us")
    assert schema.field("product_ids").type == pa.list_(pa.string())
    assert pq.read_schema(out / "content" / "spend.parquet").field("date").type == pa.date32()
    ce = pq.read_schema(out / "retailers" / "jd" / "commerce_events.parquet")
    assert ce.names == list(COMMERCE_EVENTS_TABLE.columns)
    assert ce.field("ts").type == pa.timestamp("us")
    assert ce.field("amount").type == pa.float64()


def test_csv_text_shape(written, tiny, rows, raw) -> None:
    out = written("csv").out
    head = (out / "content" / "notes.csv").read_text(encoding="utf-8").splitlines()
    assert head[0] == "note_id,brand_id,creator_id,note_type,product_ids,published_at,title"
    first = head[1].split(",")
    assert first[0] == "N0001" and TS.match(first[5]) and first[5].endswith("09:00:00")
    lines = (out / "retailers" / "tmall" / "commerce_events.csv").read_text().splitlines()
    search = next(line for line in lines[1:] if ",search," in line)
    assert search.split(",")[2] == ""  # no shop: an empty field, not "null" or quotes


def test_commerce_journeys_are_causal(tiny_world) -> None:
    # Every order follows a cart of the same person, shop and product; every cart a visit.
    for events in tiny_world.commerce:
        frame = pd.DataFrame(
            {"user": events.user, "shop": events.shop, "ts": events.ts, "event": events.event}
        ).assign(product=events.product)
        for later, earlier, keys in (
            (4, 3, ["user", "shop", "product"]),
            (3, 1, ["user", "shop"]),
        ):
            a = frame[frame["event"] == later]
            b = frame[frame["event"] == earlier]
            m = a.merge(b, on=keys, suffixes=("", "_b"))
            ok = m[m["ts_b"] < m["ts"]].drop_duplicates(["user", "ts", *keys[1:]])
            assert len(ok) == len(a.drop_duplicates(["user", "ts", *keys[1:]]))


def test_retailers_export_only_their_customers(tiny_world) -> None:
    pop = tiny_world.population
    for r, events in enumerate(tiny_world.commerce):
        assert pop.member[events.user, r].all()
    assert pop.content[tiny_world.content.events.user].all()
    share = pop.member.mean(axis=0)
    assert ((share > 0.45) & (share < 0.85)).all()
