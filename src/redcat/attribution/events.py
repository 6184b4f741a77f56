"""User-level touches and conversions → journeys, with click-through and view-through windows.

Rules (times in epoch seconds, windows in seconds):

* A touch may be credited to a conversion only if ``touch.ts < conversion.ts <= touch.ts +
  window``, where the window is the click window for clicks and the view window for views. A
  touch at the very instant of the conversion is not eligible; one exactly ``window`` seconds
  before it is.
* A conversion's eligible touches are taken since the previous conversion of the same user: each
  touch belongs to the first conversion strictly after it, so a touch credited to one conversion
  is never reused for a later one. Conversions of one user at the same instant: the first (by
  value, then input row) takes the touches, the others have none.
* A conversion with no eligible touch is *unattributed*: it forms no journey and is reported on
  its own (see :func:`ad_totals`).
* A user's touches after their last conversion (or all of them, if they never converted) form
  one null journey: Markov and Shapley need journeys that did not convert. Touches followed by a
  conversion but outside its window are neither credited nor null.
* Within a journey touches are ordered by time, then views before clicks at the same instant,
  then ad id, then input row, so the same inputs always give the same paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from redcat.attribution.journeys import Attribution, JourneyTable, sorted_unique
from redcat.attribution.markov import journey_shares
from redcat.errors import ConfigError, InputError

SECONDS_PER_DAY = 86_400.0
TOUCH_COLUMNS: tuple[str, ...] = ("user_id", "ts", "ad_id", "is_click")
CONVERSION_COLUMNS: tuple[str, ...] = ("user_id", "ts", "value")
UNATTRIBUTED = "(unattributed)"
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": SECONDS_PER_DAY}
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_window(text: str) -> float:
    """Return a window such as ``30s``, ``15m``, ``12h``, ``1d`` (or a bare number of seconds)
    in seconds; raises :class:`ConfigError` unless it is a positive duration."""
    match = _WINDOW.match(text)
    if not match:
        raise ConfigError(f"window {text!r} is not a duration such as 30s, 15m, 12h or 1d")
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if not seconds > 0:
        raise ConfigError(f"window {text!r} must be longer than 0")
    return seconds


@dataclass(frozen=True, eq=False)
class EventJourneys:
    """Journeys built from user-level events.

    ``table``: journeys ``0 .. n_converting - 1`` are attributed conversions (one conversion each,
    value = the order's value, ``days_before`` = each touch's age at the conversion), in the
    order of ``conversions``; the rest are null journeys, one per user, sorted by user id
    (``days_before`` = age at the user's last touch). ``conversions``: every conversion sorted
    by user and time, with ``conversion`` (input row), ``user_id``, ``ts``, ``value`` and
    ``journey`` (-1 when unattributed). ``touches``: one row per journey touch in table order
    with ``journey``, ``position``, ``touch`` (input row), ``user_id``, ``ad_id``, ``ts``,
    ``is_click``.
    """

    table: JourneyTable
    conversions: pd.DataFrame
    touches: pd.DataFrame
    n_converting: int


def journeys_from_events(
    touches: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    click_window_s: float,
    view_window_s: float,
) -> EventJourneys:
    """Build journeys from touches (user_id, ts, ad_id, is_click) and conversions (user_id, ts,
    value), with ``ts`` in epoch seconds and windows in seconds (see the module docstring)."""
    for frame, required, what in (
        (touches, TOUCH_COLUMNS, "touches"),
        (conversions, CONVERSION_COLUMNS, "conversions"),
    ):
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputError(f"{what} lack column(s) {', '.join(missing)}", field=missing[0])
    for name, seconds in (("click", click_window_s), ("view", view_window_s)):
        if not seconds > 0:
            raise ConfigError(f"the {name} window must be a positive number of seconds")
    t_users = touches["user_id"].astype(str).to_numpy(dtype=object)
    c_users = conversions["user_id"].astype(str).to_numpy(dtype=object)
    # Integer codes in sorted order stand in for user and ad ids: every sort and join below is
    # numeric, and sorting by code is sorting by id.
    user_codes, user_uniques = pd.factorize(np.concatenate([t_users, c_users]), sort=True)
    user_names = np.asarray(user_uniques, dtype=object)
    ad_ids = touches["ad_id"].astype(str).to_numpy(dtype=object)
    ad_codes, ad_uniques = pd.factorize(ad_ids, sort=True)
    ad_names = np.asarray(ad_uniques, dtype=object)
    t_user = user_codes[: len(t_users)].astype(np.int64)
    t_ts = touches["ts"].to_numpy(dtype=np.float64)
    t_ad = ad_codes.astype(np.int64)
    t_click = touches["is_click"].to_numpy(dtype=bool)
    c_user = user_codes[len(t_users) :].astype(np.int64)
    c_ts = conversions["ts"].to_numpy(dtype=np.float64)
    c_value = conversions["value"].to_numpy(dtype=np.float64)
    # Conversions by user, time, value, input row: their rank orders all output.
    c_order = np.lexsort((np.arange(c_ts.size), c_value, c_ts, c_user))
    c_user, c_ts, c_value = c_user[c_order], c_ts[c_order], c_value[c_order]
    # Only the first conversion at an instant can own touches (the rest have an empty span).
    first = np.ones(c_ts.size, dtype=bool)
    first[1:] = (c_user[1:] != c_user[:-1]) | (c_ts[1:] != c_ts[:-1])
    instants = pd.DataFrame(
        {"user": c_user[first], "conv_ts": c_ts[first], "rank": np.flatnonzero(first)}
    ).sort_values("conv_ts", kind="stable")
    # Touches in their final tie order once: time, views before clicks, ad id, input row (packed
    # into one exact int64 key). Later sorts by conversion or user are then stable and single-key.
    rows = max(t_ts.size, 1)
    tie_key = (t_click.astype(np.int64) * max(ad_names.size, 1) + t_ad) * rows + np.arange(
        t_ts.size, dtype=np.int64
    )
    t_order = np.lexsort((tie_key, t_ts))
    merged = pd.merge_asof(
        pd.DataFrame({"touch": t_order, "user": t_user[t_order], "ts": t_ts[t_order]}),
        instants,
        left_on="ts",
        right_on="conv_ts",
        by="user",
        direction="forward",
        allow_exact_matches=False,
    )
    touch = merged["touch"].to_numpy(dtype=np.int64)
    conv_ts = merged["conv_ts"].to_numpy(dtype=np.float64, na_value=np.nan)
    rank = merged["rank"].to_numpy(dtype=np.float64, na_value=np.nan)
    window = np.where(t_click[touch], click_window_s, view_window_s)
    has_next = ~np.isnan(conv_ts)
    eligible = has_next & (conv_ts <= t_ts[touch] + window)

    # Credited touches: by conversion, then time, views before clicks, ad id, input row.
    e_touch = touch[eligible]
    e_rank = rank[eligible].astype(np.int64)
    order = np.argsort(e_rank, kind="stable")
    e_touch, e_rank = e_touch[order], e_rank[order]
    attributed_ranks = sorted_unique(e_rank)
    journey_of_rank = np.full(c_ts.size, -1, dtype=np.int64)
    journey_of_rank[attributed_ranks] = np.arange(attributed_ranks.size)
    e_journey = journey_of_rank[e_rank]
    e_age = (c_ts[e_rank] - t_ts[e_touch]) / SECONDS_PER_DAY

    # Null journeys: a user's touches with no conversion after them, one journey per user.
    n_touch = touch[~has_next]
    order = np.argsort(t_user[n_touch], kind="stable")
    n_touch = n_touch[order]
    n_user = t_user[n_touch]
    new_user = np.ones(n_touch.size, dtype=bool)
    new_user[1:] = n_user[1:] != n_user[:-1]
    n_seq = np.cumsum(new_user) - 1
    n_nulls = int(new_user.sum())
    n_journey = attributed_ranks.size + n_seq
    last_ts = np.full(n_nulls, -np.inf)
    np.maximum.at(last_ts, n_seq, t_ts[n_touch])
    n_age = (last_ts[n_seq] - t_ts[n_touch]) / SECONDS_PER_DAY

    all_touch = np.concatenate([e_touch, n_touch])
    all_journey = np.concatenate([e_journey, n_journey]).astype(np.int64)
    n_conv = int(attributed_ranks.size)
    lengths = np.bincount(all_journey, minlength=n_conv + n_nulls)
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    position = np.arange(all_touch.size, dtype=np.int64) - offsets[all_journey]
    table = JourneyTable.from_codes(
        ad_names,
        t_ad[all_touch],
        lengths,
        conversions=np.r_[np.ones(n_conv), np.zeros(n_nulls)],
        value=np.r_[c_value[attributed_ranks], np.zeros(n_nulls)],
        nulls=np.r_[np.zeros(n_conv), np.ones(n_nulls)],
        days_before=np.concatenate([e_age, n_age]),
        is_click=t_click[all_touch],
    )
    out_conv = pd.DataFrame(
        {
            "conversion": c_order.astype(np.int64),
            "user_id": user_names[c_user],
            "ts": c_ts,
            "value": c_value,
            "journey": journey_of_rank,
        }
    )
    out_touch = pd.DataFrame(
        {
            "journey": all_journey,
            "position": position,
            "touch": all_touch,
            "user_id": user_names[t_user[all_touch]],
            "ad_id": ad_names[t_ad[all_touch]],
            "ts": t_ts[all_touch],
            "is_click": t_click[all_touch],
        }
    )
    return EventJourneys(table=table, conversions=out_conv, touches=out_touch, n_converting=n_conv)


def conversion_credits(events: EventJourneys, result: Attribution) -> pd.DataFrame:
    """One row per credited touch of each conversion, then one per unattributed conversion.

    Columns: ``user_id``, ``conversion_ts`` (epoch s), ``ad_id``, ``touch_ts``, ``is_click``,
    ``credit`` (share of the conversion, 0-1) and ``value`` (share of its value, currency).
    Unattributed conversions carry ad_id ``(unattributed)``, no touch and credit 1. For
    ``markov``, which credits globally, each conversion is split by the removal effects of its
    ads (:func:`~redcat.attribution.markov.journey_shares`); the model's totals are the global
    split, so they need not equal the sums of these rows.
    """
    touches = events.touches
    conv = events.conversions
    if result.allocations is not None:
        alloc = result.allocations[["journey", "position", "conversions", "value"]]
        credit = touches.merge(alloc, on=["journey", "position"], how="inner")
    else:
        if result.removal_effects is None:
            raise ValueError("this result has neither allocations nor removal effects")
        shares = journey_shares(events.table, result.removal_effects["removal_effect"].to_numpy())
        jt = events.table.journey_of_touch
        credit = touches.assign(
            conversions=shares * events.table.conversions[jt],
            value=shares * events.table.value[jt],
        )
        credit = credit[credit["journey"] < events.n_converting]
    # ``conversions`` is sorted by user and time; its row number orders the output.
    ranked = conv.reset_index(drop=True)
    rank_of_journey = pd.Series(
        ranked.index[ranked["journey"] >= 0], index=ranked.loc[ranked["journey"] >= 0, "journey"]
    )
    by_journey = ranked[ranked["journey"] >= 0].set_index("journey")
    j = credit["journey"]
    credited = pd.DataFrame(
        {
            "user_id": by_journey.loc[j, "user_id"].to_numpy(),
            "conversion_ts": by_journey.loc[j, "ts"].to_numpy(),
            "ad_id": credit["ad_id"].to_numpy(),
            "touch_ts": credit["ts"].to_numpy(dtype=np.float64),
            "is_click": credit["is_click"].to_numpy(dtype=object),
            "credit": credit["conversions"].to_numpy(dtype=np.float64),
            "value": credit["value"].to_numpy(dtype=np.float64),
            "_order": rank_of_journey.loc[j].to_numpy(),
        }
    )
    lost = ranked[ranked["journey"] < 0]
    unattributed = pd.DataFrame(
        {
            "user_id": lost["user_id"].to_numpy(),
            "conversion_ts": lost["ts"].to_numpy(),
            "ad_id": UNATTRIBUTED,
            "touch_ts": np.nan,
            "is_click": None,
            "credit": 1.0,
            "value": lost["value"].to_numpy(),
            "_order": lost.index.to_numpy(),
        }
    )
    frames = [f for f in (credited, unattributed) if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else credited
    out = out.sort_values("_order", kind="stable").reset_index(drop=True)
    return out.drop(columns="_order")


def ad_totals(events: EventJourneys, result: Attribution) -> pd.DataFrame:
    """Per-ad credited ``conversions`` and ``value`` (the model's credits, sorted by ad id), then
    one ``(unattributed)`` row with the count and value of conversions that had no eligible
    touch. The conversions column sums to every conversion in the input."""
    totals = result.credits.rename(columns={"channel": "ad_id"})
    lost = events.conversions[events.conversions["journey"] < 0]
    extra = pd.DataFrame(
        {
            "ad_id": [UNATTRIBUTED],
            "conversions": [float(len(lost))],
            "value": [float(np.sort(lost["value"].to_numpy()).sum())],
        }
    )
    return pd.concat([totals, extra], ignore_index=True)


def read_touches(file: Path | str) -> pd.DataFrame:
    """Read a touches CSV (user_id, ts in epoch seconds, ad_id, is_click as 0/1/true/false).
    Raises :class:`InputError` with file, row and field for a missing column or a bad value."""
    frame = _read(file, TOUCH_COLUMNS)
    name = str(file)
    ts = _numeric(frame, "ts", name)
    flags = frame["is_click"].str.strip().str.lower()
    mapping = {"1": True, "0": False, "true": True, "false": False}
    bad = ~flags.isin(list(mapping))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{frame['is_click'].iloc[i]!r} is not 0, 1, true or false",
            file=name,
            row=i + 1,
            field="is_click",
        )
    _nonempty(frame, ("user_id", "ad_id"), name)
    return pd.DataFrame(
        {
            "user_id": frame["user_id"].str.strip(),
            "ts": ts,
            "ad_id": frame["ad_id"].str.strip(),
            "is_click": flags.map(mapping).astype(bool),
        }
    )


def read_conversions(file: Path | str) -> pd.DataFrame:
    """Read a conversions CSV (user_id, ts in epoch seconds, value >= 0 in currency).
    Raises :class:`InputError` with file, row and field for a missing column or a bad value."""
    frame = _read(file, CONVERSION_COLUMNS)
    name = str(file)
    ts = _numeric(frame, "ts", name)
    value = _numeric(frame, "value", name)
    negative = np.flatnonzero(value < 0)
    if negative.size:
        i = int(negative[0])
        raise InputError("value is negative", file=name, row=i + 1, field="value")
    _nonempty(frame, ("user_id",), name)
    return pd.DataFrame({"user_id": frame["user_id"].str.strip(), "ts": ts, "value": value})


def _read(file: Path | str, columns: tuple[str, ...]) -> pd.DataFrame:
    name = str(file)
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, na_filter=False)
    except FileNotFoundError:
        raise InputError("no such file", file=name) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse: {exc}", file=name) from None
    frame.columns = pd.Index([str(c).strip() for c in frame.columns])
    for col in columns:
        if col not in frame.columns:
            raise InputError("missing column", file=name, field=col)
    return frame


def _numeric(frame: pd.DataFrame, col: str, file: str) -> np.ndarray:
    raw = frame[col].str.strip()
    nums = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(nums))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"{raw.iloc[i]!r} is not a number", file=file, row=i + 1, field=col)
    return nums


def _nonempty(frame: pd.DataFrame, cols: tuple[str, ...], file: str) -> None:
    for col in cols:
        empty = np.flatnonzero((frame[col].str.strip() == "").to_numpy())
        if empty.size:
            raise InputError("empty", file=file, row=int(empty[0]) + 1, field=col)
