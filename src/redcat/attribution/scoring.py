"""Scoring attribution against causal truth (available on simulated worlds only)."""

from __future__ import annotations

import pandas as pd


def wape(credited: pd.Series, truth: pd.Series) -> float:
    """Return the weighted absolute percentage error of per-note credits against true values.

    Both series are indexed by note id; a note missing from one side counts as 0 there.
    WAPE = Σ|credited − true| ÷ Σ true (a fraction; 0 is perfect). Returns NaN when the truth
    sums to 0.
    """
    notes = credited.index.union(truth.index)
    c = credited.reindex(notes, fill_value=0.0).astype("float64")
    t = truth.reindex(notes, fill_value=0.0).astype("float64")
    total = float(t.sum())
    if total == 0.0:
        return float("nan")
    return float((c - t).abs().sum() / total)


def score_models(credits: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    """Rank models by WAPE of their per-note credited orders against ``truth`` (true incremental
    orders per note).

    ``credits`` is long: model, note_id, conversions. Returns model, credited_orders, wape, rank
    (1 = closest to truth; ties share the better rank), sorted by rank then model.
    """
    rows = []
    for model, part in credits.groupby("model", sort=True):
        per_note = part.groupby("note_id")["conversions"].sum()
        rows.append(
            {
                "model": model,
                "credited_orders": float(per_note.sum()),
                "wape": wape(per_note, truth),
            }
        )
    table = pd.DataFrame(rows, columns=["model", "credited_orders", "wape"])
    # Round before ranking so that models equal up to float summation order share a rank.
    table["rank"] = table["wape"].round(12).rank(method="min").astype("Int64")
    return table.sort_values(["rank", "model"], kind="stable").reset_index(drop=True)
