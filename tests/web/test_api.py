"""The JSON API on the session's simulated world: answers come from the snapshots, filters act,
exports open, and credentials decide what is visible."""

from __future__ import annotations

import dataclasses
import io
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from tests.web.conftest import World, bearer, last_week, until_ready

from redcat.web.app import create_app
from redcat.web.snapshot import read_match_runs


def test_health_needs_no_login(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "brands": None}
    assert client.get("/readyz").json()["brands"] == 2


def test_anonymous_and_bad_tokens_are_401(client: TestClient, world: World) -> None:
    brand = world.brands[0]
    assert client.get("/api/v1/me").status_code == 401
    assert client.get(f"/api/v1/brands/{brand}/kpis").status_code == 401
    bad = {"Authorization": "Bearer rct_not-a-token"}
    assert client.get(f"/api/v1/brands/{brand}/kpis", headers=bad).status_code == 401


def test_brand_user_sees_only_its_brand(client: TestClient, world: World) -> None:
    a, b = world.brands
    headers = bearer(world, f"user_{a}")
    assert client.get("/api/v1/me", headers=headers).json()["brand_id"] == a
    listed = client.get("/api/v1/brands", headers=headers).json()
    assert [x["brand_id"] for x in listed] == [a]
    assert client.get(f"/api/v1/brands/{b}", headers=headers).status_code == 404
    op = client.get("/api/v1/brands", headers=bearer(world, "op")).json()
    assert sorted(x["brand_id"] for x in op) == sorted(world.brands)


def test_meta_says_freshness_and_retailers(client: TestClient, world: World) -> None:
    a = world.brands[0]
    meta = client.get(f"/api/v1/brands/{a}", headers=bearer(world, f"user_{a}")).json()
    assert meta["scopes"][0] == "all" and len(meta["scopes"]) == 3
    assert len(meta["retailers"]) == 2 and meta["generated_at"]
    assert {"notes", "creators", "credits", "daily", "kpis"} <= set(meta["tables"])
    retailer = meta["scopes"][1]
    one = client.get(
        f"/api/v1/brands/{a}", params={"scope": retailer}, headers=bearer(world, f"user_{a}")
    ).json()
    assert one["retailers"] == [retailer]


def test_orders_of_each_retailer_add_up(client: TestClient, world: World) -> None:
    # every order belongs to exactly one retailer, so per-retailer snapshots partition them
    a = world.brands[0]
    headers = bearer(world, f"user_{a}")
    scopes = client.get(f"/api/v1/brands/{a}", headers=headers).json()["scopes"]
    orders = {
        s: client.get(f"/api/v1/brands/{a}/kpis", params={"scope": s}, headers=headers).json()[
            "kpis"
        ]["orders"]
        for s in scopes
    }
    assert orders["all"] > 0
    assert orders["all"] == sum(v for s, v in orders.items() if s != "all")


def test_a_date_range_is_prepared_then_measured(client: TestClient, world: World) -> None:
    """202 with Retry-After while the range builds, then 200: the range's own measurement (its
    distinct people and orders are at most the whole period's), its daily rows summed."""
    a = world.brands[0]
    headers = bearer(world, f"user_{a}")
    first, last = last_week(world, a)
    params = {"start": first.isoformat(), "end": last.isoformat(), "lang": "en"}
    url = f"/api/v1/brands/{a}/kpis"
    answer = client.get(url, params=params, headers=headers)
    if answer.status_code == 202:  # unless an earlier test (the browser's) built it already
        assert int(answer.headers["retry-after"]) >= 1
        body = answer.json()
        assert body["status"] in ("queued", "building") and body["start"] == first.isoformat()
    ranged = until_ready(client, url, params=params, headers=headers)
    assert ranged.status_code == 200, ranged.text
    got = ranged.json()
    whole = client.get(url, params={"lang": "en"}, headers=headers).json()
    assert got["range_totals"]["days"] == 7
    assert 0 < got["kpis"]["reach"] < whole["kpis"]["reach"]
    assert got["kpis"]["orders"] <= whole["kpis"]["orders"]
    assert got["kpis"]["spend"] < whole["kpis"]["spend"]
    daily = client.get(
        f"/api/v1/brands/{a}/tables/daily", params={**params, "page_size": 500}, headers=headers
    ).json()
    assert daily["total"] == 7
    assert got["range_totals"]["orders"] == sum(r["orders"] for r in daily["rows"])
    assert got["labels"]["orders"] == "Orders"
    meta = client.get(f"/api/v1/brands/{a}", params=params, headers=headers).json()
    assert (meta["period_start"], meta["period_end"]) == (first.isoformat(), last.isoformat())
    assert any("as if only the events" in c for c in meta["caveats"])
    # every chart and export of the range comes from the range's report
    funnel = client.get(f"/api/v1/brands/{a}/charts/funnel", params=params, headers=headers)
    whole_funnel = client.get(f"/api/v1/brands/{a}/charts/funnel", headers=headers)
    assert funnel.status_code == 200 and funnel.json() != whole_funnel.json()
    trend = client.get(f"/api/v1/brands/{a}/charts/trend", params=params, headers=headers)
    axis = trend.json()["option"]["xAxis"]
    assert len((axis[0] if isinstance(axis, list) else axis)["data"]) == 7
    csv = client.get(f"/api/v1/brands/{a}/export/daily.csv", params=params, headers=headers)
    assert len(pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig")) == 7
    assert f"{first}_{last}" in csv.headers["content-disposition"]


def test_invalid_ranges_are_400(client: TestClient, world: World) -> None:
    a = world.brands[0]
    headers = bearer(world, f"user_{a}")
    first, last = last_week(world, a)
    url = f"/api/v1/brands/{a}/kpis"
    backwards = client.get(
        url, params={"start": last.isoformat(), "end": first.isoformat()}, headers=headers
    )
    assert backwards.status_code == 400 and "ends before" in backwards.text
    late = client.get(url, params={"end": (last + timedelta(days=1)).isoformat()}, headers=headers)
    assert late.status_code == 400 and "data period" in late.text
    # the whole period asked by its days is the precomputed snapshot: no build, 200 at once
    meta = client.get(f"/api/v1/brands/{a}", headers=headers).json()
    whole = client.get(
        url, params={"start": meta["period_start"], "end": meta["period_end"]}, headers=headers
    )
    assert whole.status_code == 200


def test_table_sort_search_filter_and_pages(client: TestClient, world: World) -> None:
    a = world.brands[0]
    headers = bearer(world, f"user_{a}")
    url = f"/api/v1/brands/{a}/tables/notes"
    full = client.get(url, params={"page_size": 500, "sort": "gmv"}, headers=headers).json()
    gmv = [r["gmv"] for r in full["rows"]]
    assert gmv == sorted(gmv, reverse=True) and full["total"] == len(gmv)
    assert any(c.startswith("orders_") for c in full["columns"])  # per-model credits
    first = client.get(url, params={"page_size": 5, "sort": "gmv"}, headers=headers).json()
    second = client.get(
        url, params={"page_size": 5, "page": 2, "sort": "gmv"}, headers=headers
    ).json()
    assert [r["note_id"] for r in first["rows"] + second["rows"]] == [
        r["note_id"] for r in full["rows"][:10]
    ]
    note = full["rows"][0]
    found = client.get(url, params={"q": note["note_id"]}, headers=headers).json()
    assert note["note_id"] in [r["note_id"] for r in found["rows"]]
    kind = note["note_type"]
    typed = client.get(url, params={"note_type": kind, "page_size": 500}, headers=headers).json()
    assert {r["note_type"] for r in typed["rows"]} == {kind}
    assert len(first["display"]) == 5 and len(first["display"][0]) == len(first["columns"])
    assert client.get(url, params={"sort": "nope"}, headers=headers).status_code == 400
    assert client.get(f"/api/v1/brands/{a}/tables/nope", headers=headers).status_code == 404


def test_every_chart_answers(client: TestClient, world: World) -> None:
    a = world.brands[0]
    headers = bearer(world, f"user_{a}")
    meta = client.get(f"/api/v1/brands/{a}", headers=headers).json()
    for name in meta["charts"]:
        assert client.get(f"/api/v1/brands/{a}/charts/{name}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/brands/{a}/charts/nope", headers=headers).status_code == 404


def test_exports_csv_excel_and_html(client: TestClient, world: World) -> None:
    a = world.brands[0]
    headers = bearer(world, f"user_{a}")
    base = f"/api/v1/brands/{a}/export"
    csv = client.get(f"{base}/notes.csv", headers=headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    frame = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig")
    total = client.get(f"{base.replace('/export', '')}/tables/notes", headers=headers).json()
    assert len(frame) == total["total"]
    book = load_workbook(io.BytesIO(client.get(f"{base}/all.xlsx", headers=headers).content))
    meta = client.get(f"/api/v1/brands/{a}", headers=headers).json()
    assert book.sheetnames == [n[:31] for n in meta["tables"]]
    one = load_workbook(io.BytesIO(client.get(f"{base}/credits.xlsx", headers=headers).content))
    assert one.sheetnames == ["credits"]
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{base}/report.zip", headers=headers).content))
    assert {"report.html", "report.en.html", "assets/echarts.min.js"} <= set(archive.namelist())
    assert client.get(f"{base}/nope.csv", headers=headers).status_code == 404
    assert client.get(f"{base}/notes.pdf", headers=headers).status_code == 404


def test_admin_routes_are_for_operators(client: TestClient, world: World) -> None:
    a = world.brands[0]
    assert client.get("/api/v1/admin/brands", headers=bearer(world, f"user_{a}")).status_code == 403
    brands = client.get("/api/v1/admin/brands", headers=bearer(world, "op")).json()
    assert {b["brand_id"]: b["users"] for b in brands}[a] == [f"user_{a}"]
    refused = client.post("/api/v1/admin/refresh", headers=bearer(world, f"user_{a}"))
    assert refused.status_code == 403


def test_operator_manages_brands_users_and_tokens(client: TestClient, world: World) -> None:
    op = bearer(world, "op")
    assert (
        client.post("/api/v1/admin/brands", json={"brand_id": "NEW1"}, headers=op).status_code
        == 200
    )
    made = client.post(
        "/api/v1/admin/users",
        json={"username": "newbie", "password": "new-password", "brand_id": "NEW1"},
        headers=op,
    )
    assert made.json() == {"username": "newbie", "role": "brand_user", "brand_id": "NEW1"}
    taken = client.post(
        "/api/v1/admin/users",
        json={"username": "newbie", "password": "new-password", "brand_id": "NEW1"},
        headers=op,
    )
    assert taken.status_code == 400
    created = client.post("/api/v1/admin/tokens", json={"username": "newbie"}, headers=op).json()
    theirs = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/me", headers=theirs).json()["brand_id"] == "NEW1"
    # a new brand without a refresh has no reports yet, and sees no other brand
    assert client.get("/api/v1/brands", headers=theirs).json() == []
    assert client.get(f"/api/v1/brands/{world.brands[0]}", headers=theirs).status_code == 404
    listed = client.get("/api/v1/admin/tokens", headers=op).json()
    assert created["token"] not in str(listed)
    assert {"id": created["id"], "username": "newbie"}.items() <= next(
        t for t in listed if t["id"] == created["id"]
    ).items()
    assert client.delete(f"/api/v1/admin/tokens/{created['id']}", headers=op).status_code == 204
    assert client.get("/api/v1/me", headers=theirs).status_code == 401
    assert client.delete(f"/api/v1/admin/tokens/{created['id']}", headers=op).status_code == 404


def test_operator_sees_match_runs(client: TestClient, world: World) -> None:
    runs = client.get("/api/v1/admin/match-runs", headers=bearer(world, "op")).json()
    assert len(runs) == 2  # one per retailer
    assert all(0 < r["match_rate"] <= 1 and r["matched_users"] > 0 for r in runs)


def test_operator_reruns_the_match(world: World, tmp_path: Path) -> None:
    store = tmp_path / "copy.duckdb"
    shutil.copyfile(world.config.store, store)
    config = dataclasses.replace(world.config, store=store, report_dir=tmp_path / "reports")
    with TestClient(create_app(config)) as c:
        op = bearer(world, "op")
        answer = c.post("/api/v1/admin/match", params={"refresh": "false"}, headers=op)
        assert answer.status_code == 200
        body = answer.json()
        assert body["refresh"] is None
        assert c.get("/api/v1/admin/match-runs", headers=op).json() == []  # no refresh yet
        session_runs = client_runs(world)
        assert {r["retailer_id"]: r["matched_users"] for r in body["retailers"]} == session_runs
        user = bearer(world, f"user_{world.brands[0]}")
        assert c.post("/api/v1/admin/match", headers=user).status_code == 403


def client_runs(world: World) -> dict[str, int]:
    """Matched users per retailer as the session world's refresh saved them."""
    runs = read_match_runs(world.config.report_dir)
    return dict(zip(runs["retailer_id"], runs["matched_users"].astype(int), strict=True))
