import json
import re

import pandas as pd
import pytest
from rich.console import Console

from redcat.report.html import page_html, section_blocks
from redcat.report.section import Section, SectionChart, SectionTable, Text2
from redcat.report.tables import export_csv, frames_for_csv, print_report, section_table_view


def lift_section() -> Section:
    frame = pd.DataFrame(
        {
            "campaign_id": ["C1", "C2"],
            "orders": [1234.0, 5.0],
            "lift": [0.12345, -0.5],
            "gmv": [1000.5, 0.0],
            "extra": ["kept in csv", "only"],
        }
    )
    table = SectionTable(
        key="campaigns",
        title=Text2("活动增量", "Campaign lift"),
        frame=frame,
        columns=("campaign_id", "orders", "lift", "gmv"),
        headers={"lift": Text2("提升", "Lift")},
        kinds={"lift": "rate"},
        caption=Text2("说明 <b>", "Caption <b>"),
        highlight=frozenset({1}),
    )
    chart = SectionChart(
        key="bars",
        title=Text2("增量订单", "Incremental orders"),
        options={"zh": {"series": [{"name": "订单</script>"}]}, "en": {"series": []}},
        height=300,
    )
    return Section(
        key="lift",
        title=Text2("增量", "Incrementality"),
        tables=(table,),
        charts=(chart,),
        notes=(Text2("假设：随机分组", "Assumes randomized arms"),),
    )


def test_table_view_formats_by_kind_and_header_override() -> None:
    view = section_table_view(lift_section().tables[0], "en")
    assert [c.header for c in view.columns][2] == "Lift"
    assert [c.align for c in view.columns] == ["left", "right", "right", "right"]
    assert view.rows == (
        ("C1", "1,234", "12.35%", "¥1,000.50"),
        ("C2", "5", "-50.00%", "¥0.00"),
    )
    assert view.caption == "Caption <b>"
    assert view.highlight == frozenset({1})
    assert section_table_view(lift_section().tables[0], "zh").title == "活动增量"


def test_model_keys_show_as_model_names() -> None:
    frame = pd.DataFrame({"model": ["last", "markov", None], "wape": [0.2, 0.5, 0.1]})
    table = SectionTable("m", Text2("模型", "Models"), frame, ("model", "wape"))
    assert [row[0] for row in section_table_view(table, "en").rows] == [
        "Last touch",
        "Markov chain",
        "—",
    ]
    assert section_table_view(table, "zh").rows[0][1] == "20.0%"


def test_bad_keys_and_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="lacks column"):
        SectionTable("t", Text2("a", "a"), pd.DataFrame({"x": [1]}), ("y",))
    with pytest.raises(ValueError, match="lacks options"):
        SectionChart("c", Text2("a", "a"), {"zh": {}})
    with pytest.raises(ValueError, match="section key"):
        Section("bad key", Text2("a", "a"))


def test_terminal_html_and_csv_show_the_section(make_report, tmp_path) -> None:
    data = make_report(sections=(lift_section(),))
    console = Console(width=160, record=True)
    print_report(data, console, "en")
    out = console.export_text()
    assert "Incrementality" in out and "Campaign lift" in out and "12.35%" in out
    assert "Assumes randomized arms" in out

    html = page_html(data, "zh")
    assert 'id="lift"' in html and "活动增量" in html and "假设：随机分组" in html
    assert "说明 &lt;b&gt;" in html  # escaped
    script = re.search(r'data-chart="chart-lift-bars">(.*?)</script>', html, re.S)
    assert script is not None and "</script>" not in script.group(1)
    assert json.loads(script.group(1)) == {"series": [{"name": "订单</script>"}]}
    assert section_blocks(data, "en")[0].charts[0][0] == "Incremental orders"

    frames = frames_for_csv(data)
    assert list(frames)[-1] == "lift_campaigns"
    assert list(frames["lift_campaigns"].columns)[-1] == "extra"
    paths = export_csv(data, tmp_path)
    assert (tmp_path / "lift_campaigns.csv") in paths


def test_no_sections_renders_as_before(make_report) -> None:
    html = page_html(make_report(), "en")
    assert "data-section=" not in html
