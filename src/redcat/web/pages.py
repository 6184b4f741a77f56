"""Dashboard pages: server-rendered HTML (Jinja, autoescaped) with ECharts drawn from embedded
options by ``static/dashboard.js``. Filters are plain GET parameters (``scope``, ``start``,
``end``, table controls), so every view has a URL; the language comes from ``?lang=`` and is
remembered in a cookie.

The retailer and the date range select the report every figure, chart, table and export of a page
comes from. A date range other than the whole period is measured on demand
(:mod:`redcat.web.ranges`): until it is ready the page says so and reloads itself (202).
"""

from __future__ import annotations

import math
import secrets
from datetime import date
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from redcat.report.charts import dumps_for_script
from redcat.report.data import ReportData
from redcat.report.fmt import column_kind, fmt_datetime
from redcat.report.html import kpi_cards
from redcat.report.labels import Lang, note_type_label
from redcat.report.section import Section
from redcat.report.tables import (
    TableView,
    campaigns_view,
    closest_sentence,
    funnel_view,
    model_view,
    section_views,
    view_caption,
    view_label,
)
from redcat.store import auth as store_auth
from redcat.store.auth import Principal
from redcat.web.auth import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Db,
    check_csrf,
    client_address,
    get_config,
    login_locked,
    optional_principal,
)
from redcat.web.i18n import all_text, t
from redcat.web.ranges import PRESET_DAYS, RangeBuilder, RangeKey, preset_start
from redcat.web.service import (
    BadQuery,
    NotFound,
    Reports,
    chart_option,
    daily_in_range,
    display_rows,
    format_cell,
    header_label,
    memo,
    query_table,
    range_totals,
    resolve_range,
    table_names,
    visible_columns,
)
from redcat.web.snapshot import ALL

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "redcat_login_csrf"

PAGES: tuple[str, ...] = (
    "overview",
    "funnel",
    "notes",
    "models",
    "lift",
    "assets",
    "links",
    "exports",
)
#: Which sections a fixed page shows (by section key prefix); other sections get their own page.
SECTION_PAGES: dict[str, tuple[str, ...]] = {"lift": ("lift",), "assets": ("aips", "asset")}
TABLE_TABS: tuple[str, ...] = ("notes", "creators", "campaigns", "credits")
NOTE_TABLE_COLUMNS: tuple[str, ...] = (
    "note_id",
    "title",
    "creator_id",
    "note_type",
    "campaign_id",
    "reach",
    "reads",
    "back_search_users",
    "visitors",
    "orders",
    "gmv",
    "spend",
    "roi",
)
CHART_HEIGHTS = {"funnel": 380, "trend": 420, "notes": 420, "models": 420}
#: Quick date ranges offered in the filter bar: the last N days of the data period.
#: Seconds a "preparing this range" page waits before it reloads itself.
RELOAD_SECONDS = 2


class LoginRequired(Exception):
    """Raised by page dependencies for anonymous visitors; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("redcat.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


ENV = _env()


def page_lang(request: Request) -> Lang:
    """Return the page language: ``?lang=``, else the cookie, else zh."""
    raw = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return "en" if raw == "en" else "zh"


def page_user(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    """Return the logged-in principal of a page request, or send the visitor to /login."""
    if principal is None:
        raise LoginRequired(str(request.url.path))
    return principal


PageUser = Annotated[Principal, Depends(page_user)]


def _url(request: Request, **changes: Any) -> str:
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the common context and remember the page language."""
    lang = page_lang(request)
    html = ENV.get_template(template).render(
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        tx=all_text(lang),
        switch_href=_url(request, lang="en" if lang == "zh" else "zh"),
        csrf=getattr(request.state, "csrf", ""),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=365 * 86400)
    return response


def _chart(
    data: ReportData, name: str, lang: Lang, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    text = memo(
        data,
        ("chart-json", name, lang, start, end),
        lambda: dumps_for_script(chart_option(data, name, lang, start, end)),
    )
    return {"key": name, "height": CHART_HEIGHTS.get(name, 360), "json": text}


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    """The login form; sets the double-submit cookie its CSRF field must match."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", token=token, next=_safe_next(next), error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


def _safe_next(value: str) -> str:
    # only same-site paths: an open redirect after login would be a phishing aid
    return value if value.startswith("/") and not value.startswith("//") else "/"


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Check a login: 403 without the matching CSRF cookie, 429 while rate-limited, 401 for
    wrong credentials, else a session cookie and a redirect."""
    config = get_config(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    client = client_address(request)
    lang = page_lang(request)
    token = secrets.token_urlsafe(24)
    if login_locked(db, config, username, client):
        return render(
            request,
            "login.html",
            429,
            token=cookie,
            next=_safe_next(next),
            error=t("login_locked", lang),
        )
    principal = store_auth.check_login(db, username, password, client)
    if principal is None:
        db.commit()  # the failed attempt must count even though this answer is an error
        return render(
            request,
            "login.html",
            401,
            token=cookie,
            next=_safe_next(next),
            error=t("login_failed", lang),
        )
    sid, _csrf = store_auth.create_session(db, principal, config.settings.web.session_hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        httponly=True,
        samesite="lax",
        secure=config.secure_cookies,
        max_age=int(config.settings.web.session_hours * 3600),
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(
    request: Request, db: Db, _user: PageUser, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    """End the session (CSRF-checked) and return to the login page."""
    check_csrf(request, csrf)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        store_auth.end_session(db, sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


@router.get("/")
def home(request: Request, user: PageUser) -> Response:
    """Brand users go to their overview; operators to the brand list."""
    if user.brand_id is not None:
        return RedirectResponse(f"/b/{user.brand_id}/overview", status_code=303)
    return RedirectResponse("/admin", status_code=303)


@router.get("/brands", response_class=HTMLResponse)
def brand_list(request: Request, user: PageUser) -> HTMLResponse:
    """The brands the user may see."""
    brands = [b for b in _reports(request).brands() if user.may_see(b)]
    return render(request, "brands.html", user=user, brands=brands)


def _brand_data(
    request: Request, user: Principal, brand_id: str, scope: str
) -> tuple[ReportData, tuple[date, date] | None]:
    """The whole-period report framing ``scope`` and, for a retailer measured on first use, the
    days of its whole period (see :meth:`Reports.frame`); 404 for another brand or no report."""
    if not user.may_see(brand_id):
        raise HTTPException(404, "no such brand")
    try:
        return _reports(request).frame(brand_id, scope)
    except (NotFound, ValueError):
        raise HTTPException(404, "no report for this brand and retailer") from None


def _sections_for(data: ReportData, page: str) -> list[Section]:
    prefixes = SECTION_PAGES.get(page)
    if prefixes is None:
        return []
    return [s for s in data.sections if s.key.startswith(prefixes)]


def _other_sections(data: ReportData) -> list[Section]:
    claimed = tuple(p for prefixes in SECTION_PAGES.values() for p in prefixes)
    return [s for s in data.sections if not s.key.startswith(claimed)]


def _view_dict(view: TableView) -> dict[str, Any]:
    return {
        "key": view.key,
        "title": view.title,
        "columns": view.columns,
        "rows": view.rows,
        "caption": view.caption,
        "highlight": view.highlight,
    }


def _section_blocks(data: ReportData, sections: list[Section], lang: Lang) -> list[dict[str, Any]]:
    blocks = []
    for s in sections:
        charts = [
            {
                "key": f"{s.key}__{c.key}",
                "title": c.title.get(lang),
                "height": c.height,
                "json": dumps_for_script(c.options[lang]),
            }
            for c in s.charts
        ]
        blocks.append(
            {
                "key": s.key,
                "title": s.title.get(lang),
                "charts": charts,
                "views": [_view_dict(v) for v in section_views(s, lang, data.currency_symbol)],
                "notes": [n.get(lang) for n in s.notes],
            }
        )
    return blocks


@router.get("/b/{brand_id}", response_class=HTMLResponse)
def brand_home(brand_id: str, user: PageUser) -> Response:
    """Redirect to the brand's overview."""
    if not user.may_see(brand_id):
        raise HTTPException(404, "no such brand")
    return RedirectResponse(f"/b/{brand_id}/overview", status_code=303)


@router.get("/b/{brand_id}/{page}", response_class=HTMLResponse)
def brand_page(
    request: Request,
    brand_id: str,
    page: str,
    user: PageUser,
    scope: Annotated[str, Query(max_length=64)] = ALL,
    start: Annotated[str, Query(max_length=32)] = "",
    end: Annotated[str, Query(max_length=32)] = "",
    table: str = "notes",
    q: Annotated[str, Query(max_length=200)] = "",
    note_type: Annotated[str, Query(max_length=64)] = "",
    sort: Annotated[str, Query(max_length=64)] = "orders",
    order: str = "desc",
    p: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    section: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """One dashboard page of a brand (see :data:`PAGES`; ``s`` shows the other sections), of
    the retailer ``scope`` and the date range ``start``..``end`` (inclusive days). A range being
    prepared shows a notice that reloads itself (202); an invalid one a notice (400)."""
    whole, on_demand = _brand_data(request, user, brand_id, scope)
    if page not in PAGES and page != "s":
        raise HTTPException(404, "no such page")
    lang = page_lang(request)
    reports = _reports(request)
    context = _frame_context(request, user, brand_id, page, scope, whole, lang, section)
    try:
        # an empty date input (the filter form sends "start=") means no bound
        days = resolve_range(whole, _day(start), _day(end))
    except BadQuery as exc:
        context.update(start=start, end=end)
        notice = t("range_invalid", lang, reason=str(exc))
        return render(request, "pending.html", 400, notice=notice, reload=0, **context)
    data = whole
    if days is not None:
        context.update(start=days[0].isoformat(), end=days[1].isoformat())
    days = days or on_demand
    if days is not None and page != "links":  # the links page is live, not a snapshot
        try:
            data = reports.get_range(brand_id, scope, days)
        except NotFound:
            builder: RangeBuilder = request.app.state.ranges
            state = builder.request(RangeKey(brand_id, scope, *days))
            if state.status == "ready":
                data = reports.get_range(brand_id, scope, days)
            else:
                return _pending_page(request, context, lang, state.status, state.message)
        context.update(
            fresh=_fresh(data, lang),
            period=t("range_period", lang, start=days[0], end=days[1]),
            caveats=list(data.notes_md),
            other_sections=[(s.key, s.title.get(lang)) for s in _other_sections(data)],
        )
    try:
        if page == "overview":
            # the report is the range's already (a range snapshot), so its daily rows are the range
            daily = daily_in_range(data, None, None)
            totals = range_totals(daily)
            daily = daily[visible_columns(daily)]
            context["cards"] = memo(data, ("cards", lang), lambda: kpi_cards(data, lang))
            context["charts"] = [_chart(data, "trend", lang)]
            totals.pop("days")
            context["range_title"] = t("range_totals", lang, days=len(daily))
            context["totals"] = [
                (
                    header_label(k.removesuffix("_person_days"), lang)
                    + (f" ({t('person_days', lang)})" if k.endswith("_person_days") else ""),
                    format_cell(k.removesuffix("_person_days"), v, lang, data.currency_symbol),
                )
                for k, v in totals.items()
            ]
            context["daily"] = {
                "headers": [header_label(c, lang) for c in daily.columns],
                "rows": display_rows(daily, lang, data.currency_symbol),
            }
        elif page == "funnel":
            context["charts"] = [_chart(data, "funnel", lang)]
            context["views"] = [
                memo(data, ("funnel", lang), lambda: _view_dict(funnel_view(data, lang)))
            ]
        elif page == "notes":
            context.update(_notes_context(request, data, lang, table, q, note_type, sort, order, p))
            context["charts"] = [_chart(data, "notes", lang)] if table == "notes" else []
        elif page == "models" and "models" in data.withheld:
            context.update(withheld=view_caption(data, "models", lang), closest=None)
        elif page == "models":
            second = "wape" if data.has_scores else "model_totals"
            context["charts"] = [_chart(data, "models", lang), _chart(data, second, lang)]
            context["views"] = [
                memo(data, ("models", lang), lambda: _view_dict(model_view(data, lang)))
            ]
            context["closest"] = memo(data, ("closest", lang), lambda: closest_sentence(data, lang))
        elif page in SECTION_PAGES:
            context["sections"] = memo(
                data,
                ("sections", page, lang),
                lambda: _section_blocks(data, _sections_for(data, page), lang),
            )
        elif page == "s":
            chosen = [s for s in _other_sections(data) if s.key == section]
            context["sections"] = _section_blocks(data, chosen, lang)
        elif page == "exports":
            context["tables"] = table_names(data)
        elif page == "links":
            context.update(_links_context(request, brand_id, lang, data.currency_symbol))
        if page == "funnel":
            context["views"].append(
                memo(data, ("campaigns", lang), lambda: _view_dict(campaigns_view(data, lang)))
            )
    except BadQuery as exc:
        raise HTTPException(400, str(exc)) from None
    return render(
        request, f"{'sections' if page in ('lift', 'assets', 's') else page}.html", **context
    )


def _day(text: str) -> date | None:
    """Parse an ISO date query value; None when empty, :class:`BadQuery` when not a date."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _budget_line(request: Request, brand_id: str, data: ReportData, lang: Lang) -> str | None:
    """The brand's privacy budget this period in one line (brand view only): ε left of the
    total and how many more dashboard snapshots (scope or date range) it allows."""
    if data.view != "brand":
        return None
    status = request.app.state.ledger.status(brand_id)
    return t(
        "budget_line",
        lang,
        period=status.period,
        remaining=f"{status.remaining:.2f}".rstrip("0").rstrip("."),
        total=f"{status.total:.2f}".rstrip("0").rstrip("."),
        n=status.releases_left.get("report", 0),
    )


def _fresh(data: ReportData, lang: Lang) -> str:
    return t(
        "fresh",
        lang,
        at=fmt_datetime(data.generated_at),
        retailers=", ".join(data.retailers) or "—",
    )


def _presets(request: Request, whole: ReportData, lang: Lang) -> list[dict[str, str]]:
    """The filter bar's quick ranges: the last 7 and 14 days of the data period, and all of it."""
    out = []
    for n in PRESET_DAYS:
        first = preset_start(whole.period_start, whole.period_end, n)
        href = _url(request, start=first.isoformat(), end=whole.period_end.isoformat(), p=None)
        out.append({"key": str(n), "label": t("last_days", lang, n=n), "href": href})
    out.append(
        {
            "key": "all",
            "label": t("whole_period", lang),
            "href": _url(request, start=None, end=None, p=None),
        }
    )
    return out


def _frame_context(
    request: Request,
    user: Principal,
    brand_id: str,
    page: str,
    scope: str,
    whole: ReportData,
    lang: Lang,
    section: str,
) -> dict[str, Any]:
    """What every brand page shows around its content: navigation, filters (the date inputs
    bounded by the whole data period, the presets), freshness and period."""
    reports = _reports(request)
    return {
        "user": user,
        "brand": brand_id,
        "page": page,
        "pages": PAGES,
        "scope": scope,
        "scopes": reports.scopes(brand_id),
        "brands": [b for b in reports.brands() if user.may_see(b)],
        "start": "",
        "end": "",
        "period_start": whole.period_start.isoformat(),
        "period_end": whole.period_end.isoformat(),
        "presets": _presets(request, whole, lang),
        "fresh": _fresh(whole, lang),
        "view_label": view_label(whole, lang),
        "brand_view": whole.view == "brand",
        "budget": _budget_line(request, brand_id, whole, lang),
        "withheld": None,
        "period": t("period", lang, start=whole.period_start, end=whole.period_end),
        "other_sections": [(s.key, s.title.get(lang)) for s in _other_sections(whole)],
        "charts": [],
        "views": [],
        "sections": [],
        "caveats": list(whole.notes_md),
        "section_key": section,
        "tab": request.query_params.get("table", "notes"),
    }


def _pending_page(
    request: Request, context: dict[str, Any], lang: Lang, status: str, message: str
) -> HTMLResponse:
    """The page shown while a date range is prepared (202, reloads itself), refused for a full
    queue (429, reloads later), whose build failed (503, reload by hand) or that the brand's
    privacy budget does not cover this period (403)."""
    if status == "refused":
        notice, code, reload = t("range_refused", lang, reason=message), 403, 0
    elif status == "failed":
        notice, code, reload = t("range_failed", lang, reason=message), 503, 0
    elif status == "busy":
        notice, code, reload = t("range_busy", lang), 429, RELOAD_SECONDS * 5
    else:
        notice, code, reload = t("range_preparing", lang), 202, RELOAD_SECONDS
    response = render(request, "pending.html", code, notice=notice, reload=reload, **context)
    if reload:
        response.headers["Retry-After"] = str(reload)
    return response


def _notes_context(
    request: Request,
    data: ReportData,
    lang: Lang,
    table: str,
    q: str,
    note_type: str,
    sort: str,
    order: str,
    page: int,
) -> dict[str, Any]:
    if table not in TABLE_TABS:
        table = "notes"
    frame = getattr(data, table)
    frame = frame[visible_columns(frame)]
    if table == "notes":
        credit_cols = [c for c in frame.columns if str(c).startswith("orders_")]
        frame = frame[[*NOTE_TABLE_COLUMNS, *credit_cols]]
    if sort not in frame.columns:
        sort = "orders" if "orders" in frame.columns else str(frame.columns[0])
    size = get_config(request).settings.web.page_size
    result = query_table(
        frame,
        q=q or None,
        filters={"note_type": note_type} if note_type and "note_type" in frame.columns else {},
        sort=sort,
        descending=order != "asc",
        page=page,
        page_size=size,
    )
    pages = max(1, math.ceil(result.total / size))
    note_types = sorted(str(v) for v in data.notes["note_type"].dropna().unique())
    return {
        "tab": table,
        "tabs": TABLE_TABS,
        "q": q,
        "note_type": note_type,
        "note_types": [(v, note_type_label(v, lang)) for v in note_types],
        "sort": sort,
        "order": "asc" if order == "asc" else "desc",
        "columns": [
            {
                "key": c,
                "header": header_label(c, lang),
                "align": "left"
                if column_kind(c) == "text" and not c.startswith("orders_")
                else "right",
                "href": _url(
                    request, sort=c, order="asc" if sort == c and order != "asc" else "desc", p=1
                ),
            }
            for c in result.columns
        ],
        "rows": display_rows(result.rows, lang, data.currency_symbol),
        "page_info": t("page_of", lang, page=page, pages=pages, total=result.total),
        "prev_href": _url(request, p=page - 1) if page > 1 else None,
        "next_href": _url(request, p=page + 1) if page < pages else None,
    }


def _links_context(request: Request, brand_id: str, lang: Lang, currency: str) -> dict[str, Any]:
    """The links page's rows (figures formatted like the report's cells), the retailers a link
    may point at, and the outcome of a form post (``?created=`` or ``?error=``)."""
    from redcat.web.api import brand_links

    factory = request.app.state.sessions
    with factory() as db:
        rows = brand_links(request, db, brand_id)
    return {
        "links": [
            {
                **row.model_dump(),
                "store_visits": format_cell("store_visits", row.store_visits, lang, currency),
                "orders": format_cell("orders", row.orders, lang, currency),
                "gmv_text": format_cell("gmv", row.gmv, lang, currency),
                "cvr_text": format_cell("conversion_rate", row.conversion_rate, lang, currency),
            }
            for row in rows
        ],
        "retailer_ids": sorted(get_config(request).settings.links.allowed_hosts),
        "links_withheld": get_config(request).settings.web.view == "brand",
        "created": request.query_params.get("created", "")[:300],
        "error": request.query_params.get("error", "")[:300],
    }


@router.post("/b/{brand_id}/links")
def create_link_form(
    request: Request,
    brand_id: str,
    db: Db,
    user: PageUser,
    csrf: Annotated[str, Form(max_length=100)] = "",
    note_id: Annotated[str, Form(max_length=128)] = "",
    retailer_id: Annotated[str, Form(max_length=64)] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Create a 种草直达 link from the links page's form (CSRF-checked), then show the page with
    the new link's URL or the reason it was refused."""
    if not user.may_see(brand_id):
        raise HTTPException(404, "no such brand")
    check_csrf(request, csrf)
    from redcat.web.api import NewLink, create_brand_link

    page = f"/b/{brand_id}/links"
    try:
        body = NewLink(note_id=note_id, retailer_id=retailer_id, url=url)
        link = create_brand_link(request, brand_id, db, body, csrf)
    except ValueError as exc:  # pydantic's ValidationError: an empty field
        return RedirectResponse(f"{page}?{urlencode({'error': str(exc)[:200]})}", 303)
    except HTTPException as exc:
        return RedirectResponse(f"{page}?{urlencode({'error': str(exc.detail)})}", 303)
    return RedirectResponse(f"{page}?{urlencode({'created': link.url})}", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    """No icon (answered so browsers log no error)."""
    return Response(status_code=204)


@router.get("/static/echarts.min.js")
def echarts_js() -> Response:
    """The vendored ECharts build (served locally; pages use no CDN)."""
    body = resources.files("redcat.report").joinpath("static/echarts.min.js").read_bytes()
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
