"""One entry point for every attribution model: :func:`attribute`."""

from __future__ import annotations

from collections.abc import Sequence

from redcat.attribution.heuristics import HEURISTIC_MODELS, heuristic
from redcat.attribution.journeys import Attribution, Journey, JourneyTable, as_table
from redcat.attribution.markov import MARKOV_ORDERS, markov, select_markov_order
from redcat.attribution.shapley import shapley
from redcat.errors import AttributionError
from redcat.settings import AttributionSettings

MODELS: tuple[str, ...] = (*HEURISTIC_MODELS, "markov", "shapley")


def attribute(
    journeys: Sequence[Journey] | JourneyTable,
    model: str,
    *,
    order: int | str | None = None,
    half_life_days: float | None = None,
    settings: AttributionSettings | None = None,
    allocations: bool = True,
) -> Attribution:
    """Credit the conversions and value of ``journeys`` to channels with ``model``.

    ``model`` is one of ``MODELS``: first, last, linear, position (40/20/40), time_decay
    (half-life ``half_life_days`` in days; in steps for journeys without touch times), markov
    (exact removal effects; ``order`` 1-3 or ``"auto"`` to pick it on held-out journeys), shapley
    (conversion-rate value function). Defaults come from ``settings``
    (:class:`~redcat.settings.AttributionSettings`). Credits always sum to the journeys' total
    conversions (count) and value (currency). The result does not depend on the order of
    ``journeys``, and the same input gives the same bits.
    """
    cfg = settings or AttributionSettings()
    table = as_table(journeys)
    if model in HEURISTIC_MODELS:
        return heuristic(
            table,
            model,
            half_life_days=cfg.half_life_days if half_life_days is None else half_life_days,
            position_first=cfg.position_first,
            position_last=cfg.position_last,
            allocations=allocations,
        )
    if model == "markov":
        k, notes = resolve_order(table, cfg.markov_order if order is None else order, cfg.seed)
        return markov(table, k, notes=notes)
    if model == "shapley":
        return shapley(
            table,
            exact_max_channels=cfg.shapley_exact_max_channels,
            samples=cfg.shapley_samples,
            seed=cfg.seed,
            allocations=allocations,
        )
    raise AttributionError(f"unknown attribution model {model!r}; choose one of {MODELS}")


def resolve_order(
    table: JourneyTable, order: int | str, seed: int = 0
) -> tuple[int, tuple[str, ...]]:
    """Return the Markov order to use and a note when it was chosen automatically.

    ``order`` is 1, 2, 3 (or their text) or ``"auto"`` (:func:`select_markov_order`)."""
    if isinstance(order, str):
        text = order.strip().lower()
        if text == "auto":
            k = select_markov_order(table, seed=seed)
            return k, (f"markov: order auto chose {k} by held-out log-likelihood",)
        if not text.isdigit():
            raise AttributionError(f"Markov order must be 1, 2, 3 or auto, not {order!r}")
        order = int(text)
    if order not in MARKOV_ORDERS:
        raise AttributionError(f"Markov order must be 1, 2, 3 or auto, not {order!r}")
    return int(order), ()
