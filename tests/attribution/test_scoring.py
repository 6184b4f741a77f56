import math

import pandas as pd
import pytest

from redcat.attribution.scoring import score_models, wape


def test_wape_by_hand():
    credited = pd.Series({"a": 3.0, "b": 1.0})
    truth = pd.Series({"a": 2.0, "c": 2.0})
    # |3-2| + |1-0| + |0-2| = 4 over a true total of 4
    assert wape(credited, truth) == 1.0
    assert wape(truth, truth) == 0.0
    assert math.isnan(wape(credited, pd.Series({"a": 0.0})))


def test_models_ranked_by_wape():
    credits = pd.DataFrame(
        {
            "model": ["last", "last", "linear", "linear", "markov", "markov"],
            "note_id": ["a", "b", "a", "b", "a", "b"],
            "conversions": [4.0, 0.0, 2.0, 2.0, 3.0, 1.0],
        }
    )
    table = score_models(credits, pd.Series({"a": 3.0, "b": 1.0}))
    assert table["model"].tolist() == ["markov", "last", "linear"]  # ties by name
    assert table["wape"].tolist() == pytest.approx([0.0, 0.5, 0.5])
    assert table["rank"].tolist() == [1, 2, 2]
    assert table["credited_orders"].tolist() == [4.0, 4.0, 4.0]
