"""Dashboard text in zh-CN and English (metric and column names come from report.labels)."""

from __future__ import annotations

from collections.abc import Mapping

from redcat.report.labels import Lang

WEB_TEXT: Mapping[str, tuple[str, str]] = {
    "app_title": ("红猫 · 种草→拔草看板", "redcat · seeding-to-sales dashboard"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误。", "Wrong user name or password."),
    "login_locked": (
        "登录失败次数过多，请稍后再试。",
        "Too many failed logins; try again later.",
    ),
    "nav_overview": ("概览", "Overview"),
    "nav_funnel": ("转化漏斗", "Funnel"),
    "nav_notes": ("笔记与达人", "Notes & creators"),
    "nav_models": ("归因模型", "Attribution models"),
    "nav_lift": ("增量", "Lift"),
    "nav_assets": ("AIPS 人群资产", "AIPS audience assets"),
    "nav_exports": ("导出", "Exports"),
    "nav_links": ("种草直达", "Links"),
    "links_intro": (
        "笔记下的广告挂链：读者一键跳转到品牌店铺。点击不含机器人；转化率 = 订单 ÷ 点击；"
        "订单与 GMV 为点击后归因窗口内零售平台回传的订单。",
        "Ad links under notes: a reader jumps straight to the brand's shop. Clicks exclude "
        "bots; conversion rate = orders ÷ clicks; orders and GMV are the retailers' postback "
        "orders within the click-through window.",
    ),
    "links_none": ("还没有挂链。", "No links yet."),
    "links_create": ("新建挂链", "Create a link"),
    "links_note": ("笔记 ID", "Note id"),
    "links_url": ("落地页（https，需在零售平台白名单内）", "Destination (https, allow-listed)"),
    "links_link": ("挂链", "Link"),
    "links_destination": ("落地页", "Destination"),
    "links_clicks": ("点击", "Clicks"),
    "links_unique": ("独立点击人", "Unique clickers"),
    "links_visits": ("进店", "Store visits"),
    "links_orders": ("订单", "Orders"),
    "links_gmv": ("GMV", "GMV"),
    "links_cvr": ("转化率", "Conversion rate"),
    "links_created": ("已创建挂链：", "Link created: "),
    "brands": ("品牌", "Brands"),
    "retailer": ("零售平台", "Retailer"),
    "all_retailers": ("全部零售平台", "All retailers"),
    "date_from": ("开始日期", "From"),
    "date_to": ("结束日期", "To"),
    "apply": ("应用", "Apply"),
    "fresh": (
        "数据更新于 {at}（UTC），覆盖零售平台：{retailers}",
        "Data as of {at} UTC; retailers covered: {retailers}",
    ),
    "period": ("统计周期 {start} 至 {end}", "Period {start} to {end}"),
    "filters_note": (
        "零售平台与日期筛选作用于本页全部数字、图表、表格和导出。选定日期区间时，按“只发生了这些天的"
        "事件”重新测量：触达人数等去重人数、归因成交与增量都只计区间内的内容与交易事件和投放花费，"
        "归因回看窗口和新客的 365 天回看都不早于区间开始日。",
        "The retailer and date filters apply to every figure, chart, table and export on the "
        "page. A date range is measured as if only the events of those days had happened: "
        "distinct people, attributed orders and lift count only the range's content and "
        "commerce events and spend, and look-back windows (attribution, new customers' 365 "
        "days) do not reach before its first day.",
    ),
    "last_days": ("近{n}天", "Last {n} days"),
    "whole_period": ("全部", "All"),
    "range_period": ("日期区间 {start} 至 {end}", "Date range {start} to {end}"),
    "range_preparing": (
        "正在为这个日期区间准备数据（按区间重新测量，通常需要几秒钟），页面会自动刷新。",
        "Preparing the figures for this date range (it is measured anew, usually in a few "
        "seconds); this page reloads by itself.",
    ),
    "range_busy": (
        "同时准备的日期区间过多，请稍后再试；页面稍后会自动刷新。",
        "Too many date ranges are being prepared; this page retries shortly by itself.",
    ),
    "links_withheld": (
        "品牌视图：零售平台回传的进店、订单、GMV 与转化率按链接逐条精确计算，尚未经隐私层发布，"
        "此处隐藏（—）；点击数来自品牌自有的跳转日志，为精确值。",
        "Brand view: store visits, orders, GMV and conversion rate reported back by the retailers "
        "are exact per link and not yet released through the privacy layer, so they are withheld "
        "(—); clicks come from the brand's own redirect log and are exact.",
    ),
    "range_refused": (
        "本月隐私预算不足以发布这个日期区间的数字：{reason}。已发布过的视图可继续查看；预算将于下月重置。",
        "This month's privacy budget does not cover releasing this date range: {reason}. "
        "Views released before stay available; the budget renews next month.",
    ),
    "budget_line": (
        "隐私预算（{period}）：剩余 {remaining} / {total} ε，还可发布 {n} 个新视图"
        "（零售平台或日期区间）；重复查看已发布的视图不消耗预算。",
        "Privacy budget ({period}): {remaining} of {total} ε left, enough for {n} more new views "
        "(a retailer or date range); views already released cost nothing to open again.",
    ),
    "range_failed": (
        "这个日期区间的数据准备失败：{reason}。请稍后刷新重试。",
        "Preparing this date range failed: {reason}. Reload later to try again.",
    ),
    "range_invalid": (
        "日期区间无效：{reason}。请选择统计周期内的日期。",
        "Invalid date range: {reason}. Choose days within the data period.",
    ),
    "links_whole_period": (
        "挂链数字为截至目前的全部点击与回传订单，不受日期筛选影响。",
        "Link figures count every click and postback order so far; the date filter does not "
        "apply to them.",
    ),
    "range_totals": ("区间合计（{days} 天）", "Range totals ({days} days)"),
    "person_days": ("人·天", "person-days"),
    "daily_table": ("每日明细", "Daily figures"),
    "search": ("搜索笔记、达人、计划", "Search notes, creators, campaigns"),
    "note_type": ("笔记类型", "Note type"),
    "any": ("全部", "Any"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "page_of": ("第 {page} / {pages} 页，共 {total} 行", "Page {page} of {pages}, {total} rows"),
    "notes_table": ("笔记（含各模型归因成交）", "Notes (with credited orders per model)"),
    "creators_table": ("达人", "Creators"),
    "campaigns_table": ("投放计划", "Campaigns"),
    "credits_table": ("各模型归因明细", "Credits per model and note"),
    "models_table": ("模型对比", "Model comparison"),
    "not_measured": (
        "该品牌尚无此项测量结果（需先运行对应的测量并刷新报表）。",
        "No such measurement for this brand yet (run it, then refresh the reports).",
    ),
    "not_released": (
        "品牌视图不含此项：它尚未经隐私层（阈值、差分隐私噪声）发布，见“输出隐私”页的说明。",
        "Not in the brand view: it is not yet released through the privacy layer (thresholds, "
        "differential-privacy noise); the output privacy page says so.",
    ),
    "exports_intro": (
        "下载每张表的 CSV 或 Excel，以及 HTML 报告（中英文，含本地 ECharts）。",
        "Download every table as CSV or Excel, and the HTML report (zh and en, ECharts bundled).",
    ),
    "all_tables_xlsx": ("全部表格（Excel 工作簿）", "All tables (one Excel workbook)"),
    "html_report": ("HTML 报告（zip）", "HTML report (zip)"),
    "no_report": (
        "还没有报表：请运营人员运行 `redcat refresh`。",
        "No reports yet: an operator runs `redcat refresh`.",
    ),
    "switch_lang": ("English", "中文"),
    "caveats": ("说明", "Notes and caveats"),
}


def t(key: str, lang: Lang, **fields: object) -> str:
    """Return dashboard text ``key`` in ``lang`` with ``{name}`` fields filled."""
    zh, en = WEB_TEXT[key]
    template = zh if lang == "zh" else en
    return template.format(**fields) if fields else template


def all_text(lang: Lang) -> dict[str, str]:
    """Return every plain dashboard text in ``lang`` (fields left as written)."""
    return {key: (zh if lang == "zh" else en) for key, (zh, en) in WEB_TEXT.items()}
