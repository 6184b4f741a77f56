import pytest

from redcat.errors import ConfigError
from redcat.report import labels
from redcat.report.data import FRAME_COLUMNS, FUNNEL_STAGES, KPI_KEYS, MODELS
from redcat.report.labels import LANGS, metric_label, model_label, stage_label, text


def _both(table, key):
    zh, en = table[key]
    assert zh.strip() and en.strip(), key
    return zh, en


@pytest.mark.parametrize("key", KPI_KEYS)
def test_every_kpi_has_both_labels(key):
    _both(labels.METRICS, key)


def test_every_frame_column_has_both_labels():
    for columns in FRAME_COLUMNS.values():
        for column in columns:
            _both(labels.METRICS, column)


@pytest.mark.parametrize("stage", FUNNEL_STAGES)
def test_every_stage_has_both_labels(stage):
    _both(labels.STAGES, stage)


@pytest.mark.parametrize("model", (*MODELS, "truth"))
def test_every_model_has_both_labels(model):
    _both(labels.MODELS, model)


def test_every_note_type_and_window_has_both_labels():
    for key in ("organic", "partnership", "ad"):
        _both(labels.NOTE_TYPES, key)
    for key in ("funnel_days", "click_days", "view_days"):
        _both(labels.WINDOWS, key)


def test_page_text_has_both_languages_with_the_same_fields():
    import string

    for key, (zh, en) in labels.TEXT.items():
        fields_zh = {f for _, f, _, _ in string.Formatter().parse(zh) if f}
        fields_en = {f for _, f, _, _ in string.Formatter().parse(en) if f}
        assert zh.strip() and en.strip(), key
        assert fields_zh == fields_en, key


def test_lookups_pick_the_language():
    assert stage_label("back_search", "zh") == "回搜"
    assert stage_label("visit", "zh") == "进店"
    assert stage_label("order", "en") == "Order"
    assert metric_label("back_search_rate", "en") == "Back-search rate"
    assert model_label("markov", "zh") == "马尔可夫链"
    assert text("closest", "en", model="Markov chain", wape="12.3%") == (
        "Closest to causal truth: Markov chain (WAPE 12.3%)"
    )
    assert text("closest", "zh", model="马尔可夫链", wape="12.3%") == (
        "最接近因果真值的模型：马尔可夫链（WAPE 12.3%）"
    )


def test_unknown_keys_fall_back_and_bad_language_is_refused():
    assert model_label("markov_3", "en") == "markov_3"
    assert metric_label("mystery", "zh") == "mystery"
    assert LANGS == ("zh", "en")
    with pytest.raises(ConfigError):
        metric_label("reach", "fr")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        text("no_such_text", "zh")
