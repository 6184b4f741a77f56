"""The audience-asset report section on the hand-made asset world (tests/assets)."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from tests.assets.hand_world import build_store
from tests.assets.test_measures import COMMERCE, CONTENT, SETTINGS

from redcat.report.charts import dumps_for_script
from redcat.report.section import SectionInput
from redcat.report.sections import SECTION_BUILDERS
from redcat.report.sections.assets import build_assets_section, sankey_option
from redcat.settings import Settings


def section_input(engine, brand: str = "B1") -> SectionInput:
    settings = replace(Settings(), assets=SETTINGS)
    # The builder reads only the engine, the brand and the settings.
    return SectionInput(engine, brand, settings, None, pd.DataFrame(), None)  # type: ignore[arg-type]


@pytest.fixture
def section():
    engine = build_store(CONTENT, COMMERCE)
    try:
        yield build_assets_section(section_input(engine))
    finally:
        engine.close()


def test_registered() -> None:
    assert build_assets_section in SECTION_BUILDERS


def test_tables_hold_the_hand_figures(section) -> None:
    assert section is not None and section.key == "assets"
    tables = {t.key: t.frame for t in section.tables}
    assert list(tables) == ["stages", "flows", "i_to_p", "notes"]
    # Period: B1's first note (05-01) to the last matched day (05-06); see tests/assets.
    stages = tables["stages"].set_index("stage")
    assert stages["users_start"].to_dict() == {"none": 4, "A": 1, "I": 0, "P": 1, "S": 0}
    assert stages["users_end"].to_dict() == {"none": 4, "A": 0, "I": 1, "P": 0, "S": 1}
    flows = tables["flows"].set_index("from_stage")
    assert flows.loc["A", "S"] == 1  # a: aware on day 1, shared on day 6
    assert flows.loc["P", "none"] == 1  # c: purchase lapsed after 5 days
    assert int(flows.to_numpy().sum()) == 6
    rate = tables["i_to_p"].iloc[0]
    assert (rate["interest_users"], rate["converted_users"]) == (3, 1)
    assert tables["notes"]["note_id"].iloc[0] == "n1"


def test_sankey_nodes_are_unique_per_side_and_links_positive(section) -> None:
    (trend, sankey) = section.charts
    assert trend.options["en"]["series"][0]["stack"] == "assets"
    for lang in ("zh", "en"):
        series = sankey.options[lang]["series"][0]
        assert series["type"] == "sankey"
        names = [n["name"] for n in series["data"]]
        assert len(names) == len(set(names))
        for link in series["links"]:
            assert link["source"] in names and link["target"] in names
            assert link["value"] > 0 and link["source"] != link["target"]
        json.loads(dumps_for_script(sankey.options[lang]))  # JSON-safe
    en = sankey.options["en"]["series"][0]
    assert {"source": "A aware (start)", "target": "S shared (end)", "value": 1} in en["links"]


def test_sankey_leaves_out_none_to_none() -> None:
    flows = pd.DataFrame(
        {"from_stage": ["none", "none", "A"], "to_stage": ["none", "A", "none"], "users": [9, 2, 0]}
    )
    series = sankey_option(flows, "en")["series"][0]
    assert series["links"] == [{"source": "none (start)", "target": "A aware (end)", "value": 2}]
    assert [n["name"] for n in series["data"]] == ["none (start)", "A aware (end)"]


def test_no_section_without_assets() -> None:
    engine = build_store([("e", "n9", "2026-05-02 08:00", "impression")], [])
    try:
        assert build_assets_section(section_input(engine)) is None
    finally:
        engine.close()
