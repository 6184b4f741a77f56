"""The JSON API (``/api/v1``): every brand route answers from precomputed snapshots and checks the
brand scope through :data:`redcat.web.auth.BrandId`. OpenAPI at ``/openapi.json``, docs at
``/docs``.

Report routes take ``scope`` and a date range (``start`` / ``end``, inclusive days). The whole
period is precomputed; another range is measured on demand (as if only the events of those days
had happened): while it is prepared the route answers 202 with ``Retry-After`` and a
:class:`RangePending` body, then 200 like any snapshot. 400 for a range that ends before it
starts or leaves the data period; 429 when too many ranges are waiting.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as FPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from redcat.engine import open_engine
from redcat.errors import InputError, MatchError, StoreError
from redcat.links.report import link_report
from redcat.links.service import create_link, list_links
from redcat.match import run_direct_match
from redcat.privacy.ledger import BudgetLedger
from redcat.report.data import ReportData
from redcat.store import auth as store_auth
from redcat.web.auth import BrandId, CurrentUser, Db, Operator, check_csrf, get_config
from redcat.web.ranges import FAILURE_SECONDS, RangeBuilder, RangeState
from redcat.web.service import (
    ALL,
    FILTER_COLUMNS,
    BadQuery,
    NotFound,
    Reports,
    chart_names,
    chart_option,
    csv_bytes,
    daily_in_range,
    display_rows,
    format_cell,
    get_table,
    header_label,
    html_zip,
    open_report,
    query_table,
    range_totals,
    records,
    table_names,
    xlsx_bytes,
)
from redcat.web.snapshot import read_match_runs, refresh

router = APIRouter()

LangQ = Annotated[Literal["zh", "en"], Query(description="zh (简体中文) or en")]
ScopeQ = Annotated[str, Query(min_length=1, max_length=64, description="'all' or one retailer id")]
StartQ = Annotated[
    date | None,
    Query(
        description="first day of the range (inclusive; default: the period's first). A range "
        "other than the whole period is measured as if only the events of its days had happened "
        "(look-back windows stop at its first day); the first request answers 202 with "
        "Retry-After while it is prepared."
    ),
]
EndQ = Annotated[
    date | None,
    Query(description="last day of the range (inclusive; default: the period's last)"),
]
NameP = Annotated[str, Query(min_length=1, max_length=128)]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Health(BaseModel):
    """Liveness / readiness answer."""

    status: str
    brands: int | None = None


class Me(BaseModel):
    """The authenticated principal."""

    username: str
    role: str
    brand_id: str | None


class BrandSummary(BaseModel):
    """A brand the principal may see, with its snapshot scopes and freshness."""

    brand_id: str
    scopes: list[str]
    generated_at: str | None


class BrandMeta(BaseModel):
    """What one brand's snapshot for a scope and date range holds and how fresh it is."""

    brand_id: str
    scope: str
    scopes: list[str]
    period_start: date
    period_end: date
    retailers: list[str]
    generated_at: str
    windows: dict[str, int]
    tables: list[str]
    charts: list[str]
    sections: list[dict[str, Any]]
    caveats: list[str]
    view: Literal["brand", "operator"] = Field(
        description="brand: figures about matched people thresholded and noised (released "
        "through the privacy layer); operator: exact, for the clean-room operator only"
    )
    withheld: list[str] = Field(description="core tables this view leaves out (e.g. models)")


class Budget(BaseModel):
    """A brand's differential-privacy budget this period (ε), and what it still allows."""

    brand_id: str
    period: str = Field(description="the budget period, a calendar month (YYYY-MM)")
    total: float
    spent: float
    remaining: float
    releases: int = Field(description="releases made this period (repeated questions excluded)")
    releases_left: dict[str, int] = Field(
        description="kind → how many more releases of that kind the remaining budget allows; "
        "``report``: one dashboard snapshot (a scope, or a scope and date range)"
    )
    view: Literal["brand", "operator"]


class Kpis(BaseModel):
    """KPIs of the scope and date range (measured over that range: distinct people within it,
    orders attributed within it), formatted, and the sums of the range's daily rows."""

    brand_id: str
    scope: str
    kpis: dict[str, float | None]
    display: dict[str, str]
    labels: dict[str, str]
    range_totals: dict[str, float | None]
    start: date | None
    end: date | None
    modes: dict[str, str] = Field(
        default_factory=dict,
        description="KPI → the mode that produced it, in the language (brand view: exact content "
        "figures, released (noisy) figures, or computed from released ones)",
    )


class TablePage(BaseModel):
    """One page of a table: raw rows, the same rows formatted, headers in the language."""

    table: str
    total: int
    page: int
    page_size: int
    columns: list[str]
    headers: list[str]
    rows: list[dict[str, Any]]
    display: list[list[str]]


class Chart(BaseModel):
    """An ECharts option."""

    chart: str
    option: dict[str, Any]


class RefreshAnswer(BaseModel):
    """What an operator-triggered refresh wrote."""

    brands: list[str]
    scopes: dict[str, list[str]]
    seconds: float
    held: dict[str, list[str]] = Field(
        default_factory=dict,
        description="brand → scopes whose new release the privacy budget refused (the figures "
        "released before were kept)",
    )


class RangePending(BaseModel):
    """A date range being prepared (202), refused for a full queue (429), whose build just
    failed (503) or that the brand's privacy budget does not cover this period (403, until the
    next period): retry after ``retry_after`` seconds. ``position``: builds ahead of it."""

    status: str
    brand_id: str
    scope: str
    start: date
    end: date
    position: int
    message: str
    retry_after: int


#: The answers of a report route besides 200, for the OpenAPI schema.
RANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": RangePending, "description": "the date range is being prepared; retry"},
    400: {"description": "a range that ends before it starts or leaves the data period"},
    429: {"model": RangePending, "description": "too many date ranges waiting; retry"},
    503: {"model": RangePending, "description": "the range's build failed; retry later"},
    403: {
        "model": RangePending,
        "description": "the brand's privacy budget does not cover this range this period",
    },
}
_PENDING_STATUS = {"queued": 202, "building": 202, "busy": 429, "failed": 503, "refused": 403}


def _ranges(request: Request) -> RangeBuilder:
    builder: RangeBuilder = request.app.state.ranges
    return builder


def _report_in(
    request: Request, brand_id: str, scope: str, start: date | None, end: date | None
) -> ReportData | JSONResponse:
    """The report of the brand (scope already checked), scope and date range, or the answer
    that says the range is not ready (202 / 429 / 503 with ``Retry-After``)."""
    try:
        found = open_report(_reports(request), _ranges(request), brand_id, scope, start, end)
    except (NotFound, ValueError) as exc:  # BadQuery is a ValueError: test it first
        if isinstance(exc, BadQuery):
            raise HTTPException(400, str(exc)) from None
        raise HTTPException(404, str(exc)) from None
    if isinstance(found, RangeState):
        return pending_response(request, brand_id, scope, found, start, end)
    return found


def pending_response(
    request: Request,
    brand_id: str,
    scope: str,
    state: RangeState,
    start: date | None,
    end: date | None,
) -> JSONResponse:
    """Return the JSON answer for a range that is not ready (see :class:`RangePending`)."""
    whole, _days = _reports(request).frame(brand_id, scope)
    if state.status == "refused":
        retry = seconds_to_next_period()
    elif state.status == "failed":
        retry = int(FAILURE_SECONDS)
    else:
        retry = get_config(request).settings.web.range_retry_seconds
    body = RangePending(
        status=state.status,
        brand_id=brand_id,
        scope=scope,
        start=start or whole.period_start,
        end=end or whole.period_end,
        position=state.position,
        message=state.message or "preparing the figures for this date range",
        retry_after=retry,
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=_PENDING_STATUS[state.status],
        headers={"Retry-After": str(retry)},
    )


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


def seconds_to_next_period(now: datetime | None = None) -> int:
    """Return whole seconds from ``now`` (default: the current UTC time) to the start of the next
    budget period (the first day of the next calendar month, 00:00 UTC)."""
    now = now or datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return max(1, math.ceil((datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()))


@router.get("/healthz", response_model=Health, tags=["health"])
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, tags=["health"])
def readyz(request: Request, db: Db) -> Health:
    """Readiness: the operational store answers; counts brands with report snapshots."""
    db.execute(text("SELECT 1"))
    return Health(status="ok", brands=len(_reports(request).brands()))


@router.get("/api/v1/me", response_model=Me, tags=["auth"])
def me(principal: CurrentUser) -> Me:
    """Return who the request acts as."""
    return Me(username=principal.username, role=principal.role, brand_id=principal.brand_id)


@router.get("/api/v1/brands", response_model=list[BrandSummary], tags=["brands"])
def brands(request: Request, principal: CurrentUser) -> list[BrandSummary]:
    """List the brands the principal may see that have reports."""
    reports = _reports(request)
    out = []
    for brand_id in reports.brands():
        if principal.may_see(brand_id):
            data = reports.get(brand_id)
            out.append(
                BrandSummary(
                    brand_id=brand_id,
                    scopes=reports.scopes(brand_id),
                    generated_at=data.generated_at.isoformat(),
                )
            )
    return out


@router.get(
    "/api/v1/brands/{brand_id}",
    response_model=BrandMeta,
    tags=["brands"],
    responses=RANGE_RESPONSES,
)
def brand_meta(
    request: Request,
    brand_id: BrandId,
    scope: ScopeQ = ALL,
    start: StartQ = None,
    end: EndQ = None,
) -> BrandMeta | Response:
    """Describe a brand's report for ``scope`` and the date range: period (the range's days),
    retailers covered, freshness, tables, charts, sections and caveats."""
    data = _report_in(request, brand_id, scope, start, end)
    if isinstance(data, Response):
        return data
    return BrandMeta(
        brand_id=brand_id,
        scope=scope,
        scopes=_reports(request).scopes(brand_id),
        period_start=data.period_start,
        period_end=data.period_end,
        retailers=list(data.retailers),
        generated_at=data.generated_at.isoformat(),
        windows=dict(data.windows),
        tables=table_names(data),
        charts=chart_names(data),
        sections=[
            {"key": s.key, "title": {"zh": s.title.zh, "en": s.title.en}} for s in data.sections
        ],
        caveats=list(data.notes_md),
        view=cast(Literal["brand", "operator"], data.view),
        withheld=sorted(data.withheld),
    )


@router.get("/api/v1/brands/{brand_id}/privacy/budget", response_model=Budget, tags=["privacy"])
def budget(request: Request, brand_id: BrandId) -> Budget:
    """The brand's privacy budget this period: ε total, spent and left, and how many more
    releases of each kind (``report``: one dashboard snapshot) it allows — to see before asking
    for a new date range. Re-asking a question already answered this period costs nothing."""
    ledger: BudgetLedger = request.app.state.ledger
    status = ledger.status(brand_id)
    return Budget(
        brand_id=brand_id,
        period=status.period,
        total=status.total,
        spent=status.spent,
        remaining=status.remaining,
        releases=status.releases,
        releases_left=dict(status.releases_left),
        view=cast(Literal["brand", "operator"], get_config(request).settings.web.view),
    )


@router.get(
    "/api/v1/brands/{brand_id}/kpis",
    response_model=Kpis,
    tags=["report"],
    responses=RANGE_RESPONSES,
)
def kpis(
    request: Request,
    brand_id: BrandId,
    scope: ScopeQ = ALL,
    lang: LangQ = "zh",
    start: StartQ = None,
    end: EndQ = None,
) -> Kpis | Response:
    """KPIs of the date range (formatted for ``lang``) and totals of its daily rows."""
    data = _report_in(request, brand_id, scope, start, end)
    if isinstance(data, Response):
        return data
    try:
        daily = daily_in_range(data, start, end)
    except BadQuery as exc:
        raise HTTPException(400, str(exc)) from None
    display = {k: format_cell(k, v, lang, data.currency_symbol) for k, v in data.kpis.items()}
    return Kpis(
        brand_id=brand_id,
        scope=scope,
        kpis={k: (None if v is None else float(v)) for k, v in data.kpis.items()},
        display=display,
        labels={k: header_label(k, lang) for k in data.kpis},
        range_totals=range_totals(daily),
        start=start,
        end=end,
        modes={k: v.get(lang) for k, v in data.kpi_modes.items()},
    )


@router.get(
    "/api/v1/brands/{brand_id}/tables/{table}",
    response_model=TablePage,
    tags=["report"],
    responses=RANGE_RESPONSES,
)
def table_page(
    request: Request,
    brand_id: BrandId,
    table: str,
    scope: ScopeQ = ALL,
    lang: LangQ = "zh",
    q: Annotated[str | None, Query(max_length=200, description="search text")] = None,
    sort: Annotated[str | None, Query(max_length=64, description="column to sort by")] = None,
    order: Literal["asc", "desc"] = "desc",
    note_type: Annotated[str | None, Query(max_length=64)] = None,
    creator_id: Annotated[str | None, Query(max_length=64)] = None,
    campaign_id: Annotated[str | None, Query(max_length=64)] = None,
    model: Annotated[str | None, Query(max_length=64)] = None,
    start: StartQ = None,
    end: EndQ = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TablePage | Response:
    """One page of a table (notes, creators, campaigns, credits, model_scores, funnel, daily,
    kpis, truth or ``<section>__<table>``) of the scope and date range, searched, filtered and
    sorted."""
    data = _report_in(request, brand_id, scope, start, end)
    if isinstance(data, Response):
        return data
    try:
        frame = daily_in_range(data, start, end) if table == "daily" else get_table(data, table)
        filters = dict(
            zip(FILTER_COLUMNS, (note_type, creator_id, campaign_id, model), strict=True)
        )
        result = query_table(
            frame,
            q=q,
            filters=filters,
            sort=sort,
            descending=order == "desc",
            page=page,
            page_size=page_size,
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except BadQuery as exc:
        raise HTTPException(400, str(exc)) from None
    kinds: dict[str, str] = {}
    for section in data.sections:
        for st in section.tables:
            if f"{section.key}__{st.key}" == table:
                kinds = dict(st.kinds)
    return TablePage(
        table=table,
        total=result.total,
        page=result.page,
        page_size=result.page_size,
        columns=list(result.columns),
        headers=[header_label(c, lang) for c in result.columns],
        rows=records(result.rows),
        display=display_rows(result.rows, lang, data.currency_symbol, kinds),
    )


@router.get(
    "/api/v1/brands/{brand_id}/charts/{chart}",
    response_model=Chart,
    tags=["report"],
    responses=RANGE_RESPONSES,
)
def chart(
    request: Request,
    brand_id: BrandId,
    chart: str,
    scope: ScopeQ = ALL,
    lang: LangQ = "zh",
    start: StartQ = None,
    end: EndQ = None,
) -> Chart | Response:
    """The ECharts option of one chart of the scope and date range."""
    data = _report_in(request, brand_id, scope, start, end)
    if isinstance(data, Response):
        return data
    try:
        option = chart_option(data, chart, lang, start, end)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except BadQuery as exc:
        raise HTTPException(400, str(exc)) from None
    return Chart(chart=chart, option=option)


@router.get(
    "/api/v1/brands/{brand_id}/export/{name}",
    tags=["exports"],
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}, "application/zip": {}}},
        **RANGE_RESPONSES,
    },
)
def export(
    request: Request,
    brand_id: BrandId,
    name: str,
    scope: ScopeQ = ALL,
    start: StartQ = None,
    end: EndQ = None,
) -> Response:
    """Download ``<table>.csv``, ``<table>.xlsx``, ``all.xlsx`` (every table, one sheet each) or
    ``report.zip`` (the HTML report in both languages), of the scope and date range."""
    data = _report_in(request, brand_id, scope, start, end)
    if isinstance(data, Response):
        return data
    stem, _, suffix = name.rpartition(".")
    days = "" if (start, end) == (None, None) else f"{data.period_start}_{data.period_end}-"
    filename = f"redcat-{brand_id}-{scope}-{days}{name}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    try:
        if name == "report.zip":
            return Response(html_zip(data), media_type="application/zip", headers=headers)
        if name == "all.xlsx":
            sheets = [(n, _export_frame(data, n, start, end)) for n in table_names(data)]
            return Response(xlsx_bytes(sheets), media_type=XLSX, headers=headers)
        if suffix == "csv":
            return Response(
                csv_bytes(_export_frame(data, stem, start, end)),
                media_type="text/csv; charset=utf-8",
                headers=headers,
            )
        if suffix == "xlsx":
            sheet = [(stem, _export_frame(data, stem, start, end))]
            return Response(xlsx_bytes(sheet), media_type=XLSX, headers=headers)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except BadQuery as exc:
        raise HTTPException(400, str(exc)) from None
    raise HTTPException(404, f"no export {name!r}")


def _export_frame(data: ReportData, name: str, start: date | None, end: date | None) -> Any:
    return daily_in_range(data, start, end) if name == "daily" else get_table(data, name)


@router.get("/api/v1/admin/brands", response_model=list[dict[str, Any]], tags=["admin"])
def admin_brands(db: Db, _op: Operator) -> list[dict[str, Any]]:
    """Operators: every brand account with its users."""
    users = store_auth.list_users(db)
    return [
        {
            "brand_id": b.id,
            "name": b.name,
            "users": [u.username for u in users if u.brand_id == b.id],
        }
        for b in store_auth.list_brands(db)
    ]


class NewBrand(BaseModel):
    """A brand account to create (``brand_id`` as in the data contract)."""

    brand_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str | None = Field(default=None, max_length=200)


class NewUser(BaseModel):
    """A user to create: brand users name their brand, operators none."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
    role: Literal["brand_user", "operator"] = "brand_user"
    brand_id: str | None = Field(default=None, max_length=64)


class NewToken(BaseModel):
    """A token to create for ``username``, valid ``days`` (None: until revoked)."""

    username: str = Field(min_length=1, max_length=100)
    name: str = Field(default="api", min_length=1, max_length=100)
    days: float | None = Field(default=None, gt=0, le=3650)


class TokenCreated(BaseModel):
    """A created token: the secret is shown this once."""

    id: int
    username: str
    token: str


class TokenInfo(BaseModel):
    """A token as operators see it (never the secret)."""

    id: int
    prefix: str
    username: str
    name: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked: bool


@router.post("/api/v1/admin/brands", response_model=BrandSummary, tags=["admin"])
def admin_add_brand(request: Request, db: Db, _op: Operator, body: NewBrand) -> BrandSummary:
    """Operators: create a brand account (existing ones are left as they are)."""
    check_csrf(request, None)
    store_auth.add_brand(db, body.brand_id, body.name)
    return BrandSummary(
        brand_id=body.brand_id, scopes=_reports(request).scopes(body.brand_id), generated_at=None
    )


@router.post("/api/v1/admin/users", response_model=Me, tags=["admin"])
def admin_add_user(request: Request, db: Db, _op: Operator, body: NewUser) -> Me:
    """Operators: create a user (400 for a taken name, an unknown brand or a bad role/brand)."""
    check_csrf(request, None)
    try:
        principal = store_auth.add_user(db, body.username, body.password, body.role, body.brand_id)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return Me(username=principal.username, role=principal.role, brand_id=principal.brand_id)


@router.get("/api/v1/admin/tokens", response_model=list[TokenInfo], tags=["admin"])
def admin_tokens(db: Db, _op: Operator) -> list[TokenInfo]:
    """Operators: every API token, newest first (prefixes only)."""
    return [
        TokenInfo(
            id=t.id,
            prefix=t.prefix,
            username=owner,
            name=t.name,
            created_at=t.created_at.isoformat(),
            expires_at=t.expires_at.isoformat() if t.expires_at else None,
            last_used_at=t.last_used_at.isoformat() if t.last_used_at else None,
            revoked=t.revoked_at is not None,
        )
        for t, owner in store_auth.list_tokens(db)
    ]


@router.post("/api/v1/admin/tokens", response_model=TokenCreated, tags=["admin"])
def admin_add_token(request: Request, db: Db, _op: Operator, body: NewToken) -> TokenCreated:
    """Operators: create an API token for a user; the secret is in this answer only."""
    check_csrf(request, None)
    try:
        secret, row = store_auth.create_token(db, body.username, body.name, body.days)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return TokenCreated(id=row.id, username=body.username, token=secret)


@router.delete("/api/v1/admin/tokens/{token_id}", status_code=204, tags=["admin"])
def admin_revoke_token(
    request: Request, db: Db, _op: Operator, token_id: Annotated[int, FPath(ge=1)]
) -> Response:
    """Operators: revoke a token (404 when no live token has that id)."""
    check_csrf(request, None)
    if not store_auth.revoke_token(db, token_id):
        raise HTTPException(404, "no such live token")
    return Response(status_code=204)


@router.get("/api/v1/admin/match-runs", response_model=list[dict[str, Any]], tags=["admin"])
def admin_match_runs(request: Request, _op: Operator) -> list[dict[str, Any]]:
    """Operators: match runs per retailer (users on each side, matched, rate, protocol, time)
    as of the last refresh."""
    return records(read_match_runs(get_config(request).report_dir))


class MatchAnswer(BaseModel):
    """A match run's figures per retailer, and the refresh that followed (if asked)."""

    retailers: list[dict[str, Any]]
    refresh: RefreshAnswer | None


@router.post("/api/v1/admin/match", response_model=MatchAnswer, tags=["admin"])
def admin_match(
    request: Request,
    _op: Operator,
    then_refresh: Annotated[bool, Query(alias="refresh")] = True,
    csrf: Annotated[str | None, Query(max_length=100)] = None,
) -> MatchAnswer:
    """Operators: rerun the single-store match (the spine's direct match over the ingested
    party tables), then rebuild the report snapshots unless ``refresh=false``. 409 while another
    process writes the store; 400 when a party has no users yet."""
    check_csrf(request, csrf)
    config = get_config(request)
    try:
        with open_engine(config.store) as engine:
            report = run_direct_match(engine.duck, config.settings.match_salt)
    except StoreError as exc:
        raise HTTPException(409, str(exc)) from None
    except MatchError as exc:
        raise HTTPException(400, str(exc)) from None
    answer = None
    if then_refresh:
        result = refresh(config.store, config.report_dir, config.report_settings)
        answer = RefreshAnswer(
            brands=list(result.brands),
            scopes={k: list(v) for k, v in result.scopes.items()},
            seconds=result.seconds,
            held={k: list(v) for k, v in result.held.items()},
        )
    return MatchAnswer(retailers=[dataclasses.asdict(r) for r in report.retailers], refresh=answer)


@router.post("/api/v1/admin/refresh", response_model=RefreshAnswer, tags=["admin"])
def admin_refresh(
    request: Request,
    _op: Operator,
    brand: Annotated[list[str] | None, Query(max_length=100)] = None,
    csrf: Annotated[str | None, Query(max_length=100)] = None,
) -> RefreshAnswer:
    """Operators: rebuild report snapshots from the store now (all brands, or ``brand``)."""
    check_csrf(request, csrf)
    config = get_config(request)
    result = refresh(config.store, config.report_dir, config.report_settings, brands=brand)
    return RefreshAnswer(
        brands=list(result.brands),
        scopes={k: list(v) for k, v in result.scopes.items()},
        seconds=result.seconds,
        held={k: list(v) for k, v in result.held.items()},
    )


class NewLink(BaseModel):
    """A 种草直达 ad link to create under one of the brand's notes."""

    note_id: str = Field(min_length=1, max_length=128)
    retailer_id: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=2048, description="https URL on an allow-listed host")


class LinkCreated(BaseModel):
    """A created link: its id, public URL (``/l/{token}``) and checked destination."""

    link_id: str
    brand_id: str
    note_id: str
    retailer_id: str
    url: str
    destination: str
    created_at: str


class LinkRow(BaseModel):
    """One link with the link report's figures: clicks (non-bot events), unique clickers
    (distinct address hashes), store visits, orders and GMV (currency) in the click-through
    window, conversion rate = orders ÷ clicks (null without clicks). In the brand view the
    figures the retailers report back (store visits, orders, GMV, conversion rate) are null:
    they come from another party's data about the clickers, per link and exact, and are not
    released through the privacy layer (clicks are the brand's own redirect log)."""

    link_id: str
    note_id: str
    retailer_id: str
    url: str
    destination: str
    active: bool
    clicks: int
    unique_clickers: int
    store_visits: int | None
    orders: int | None
    gmv: float | None
    conversion_rate: float | None


def _brand_of_note(request: Request, brand_id: str, note_id: str) -> str | None:
    """Return the brand the analytics store (or, without a store, the brand's report snapshot)
    says owns ``note_id``; None when neither knows the note."""
    from redcat.engine.store import connect, has_table

    config = get_config(request)
    if config.store.exists():
        try:
            con = connect(config.store, read_only=True)
        except Exception as exc:  # a writer holds the store's lock
            raise HTTPException(409, f"the store is busy: {type(exc).__name__}") from None
        try:
            if has_table(con, "notes"):
                row = con.execute(
                    "SELECT brand_id FROM notes WHERE note_id = ?", [note_id]
                ).fetchone()
                return None if row is None else str(row[0])
        finally:
            con.close()
    try:
        notes = get_table(_reports(request).get(brand_id, ALL), "notes")
    except (NotFound, ValueError):
        return None
    return brand_id if note_id in set(notes["note_id"].astype(str)) else None


@router.post(
    "/api/v1/brands/{brand_id}/links",
    response_model=LinkCreated,
    status_code=201,
    tags=["links"],
)
def create_brand_link(
    request: Request,
    brand_id: BrandId,
    db: Db,
    body: NewLink,
    csrf: Annotated[str | None, Query(max_length=100)] = None,
) -> LinkCreated:
    """Create a 种草直达 link under one of the brand's notes to an allow-listed retailer page.
    422 for a note of another brand (or unknown), an unknown retailer or a destination off its
    allow-list."""
    check_csrf(request, csrf)
    if _brand_of_note(request, brand_id, body.note_id) != brand_id:
        raise HTTPException(422, f"note {body.note_id!r} is not one of this brand's notes")
    try:
        link = create_link(
            db,
            brand_id=brand_id,
            note_id=body.note_id,
            retailer_id=body.retailer_id,
            url=body.url,
            settings=get_config(request).settings.links,
        )
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    return LinkCreated(
        link_id=link.link_id,
        brand_id=link.brand_id,
        note_id=link.note_id,
        retailer_id=link.retailer_id,
        url=link.url,
        destination=link.destination,
        created_at=link.created_at.isoformat(),
    )


def brand_links(request: Request, db: Session, brand_id: str) -> list[LinkRow]:
    """Return ``brand_id``'s links with the link report's figures, by note and link."""
    settings = get_config(request).settings.links
    infos = {link.link_id: link for link in list_links(db, settings, brand_id)}
    report = link_report(request.app.state.engine, brand_id, settings)
    exact = get_config(request).settings.web.view == "operator"
    rows = []
    for rec in records(report):
        info = infos.get(str(rec["link_id"]))
        if info is None:
            continue
        rows.append(
            LinkRow(
                link_id=info.link_id,
                note_id=info.note_id,
                retailer_id=info.retailer_id,
                url=info.url,
                destination=info.destination,
                active=info.active,
                clicks=int(rec["clicks"]),
                unique_clickers=int(rec["unique_clickers"]),
                store_visits=int(rec["store_visits"]) if exact else None,
                orders=int(rec["orders"]) if exact else None,
                gmv=float(rec["gmv"]) if exact else None,
                conversion_rate=rec["conversion_rate"] if exact else None,
            )
        )
    return rows


@router.get("/api/v1/brands/{brand_id}/links", response_model=list[LinkRow], tags=["links"])
def get_brand_links(request: Request, brand_id: BrandId, db: Db) -> list[LinkRow]:
    """The brand's 种草直达 links with clicks, unique clickers, store visits, orders, GMV and
    conversion rate."""
    return brand_links(request, db, brand_id)
