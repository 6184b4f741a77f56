"""Markov-chain removal effects, computed exactly (a linear solve, never a simulation).

The chain. Consecutive repeats are collapsed first (a > a > b is a > b). At order ``k`` a state
is the tuple of the last ``k`` channels: a collapsed path c1 > … > cL with L >= k walks
``(start) → (c1..ck) → (c2..ck+1) → … → (cL-k+1..cL)`` and then to ``(conversion)`` or
``(null)``; a path shorter than ``k`` is one state holding the whole path. (This is the state
space ChannelAttribution's ``markov_model`` builds.) Every path adds ``conversions + nulls`` to
each of its transitions, ``conversions`` to its last state's conversion exit and ``nulls`` to its
null exit; transition probabilities are those counts over each state's out-count. Only observed
states and transitions exist.

Removal effect. With ``Q`` the transient block and ``r`` the conversion exits, the conversion
probability from start is ``x[start]`` where ``(I - Q) x = r``. Removing channel ``c`` sends every
state containing ``c`` to (null); ``P_removed(c)`` is the new ``x[start]`` and the removal effect
is ``RE(c) = 1 - P_removed(c) / P_full``. Credits are ``conversions × RE(c) / Σ RE``.

Value follows ChannelAttribution's convention: a conversion leaving state ``s`` is worth the mean
value per conversion of the paths that ended in ``s``. Hence the expected value from start solves
the same system with ``r_value(s) = value ending at s / out-count of s``; the value removal
effect uses it, and value credits are ``total value × RE_value(c) / Σ RE_value``.

Solving. ``P_full - P_removed(c)`` is the probability of converting after visiting ``c``.
Chains up to ``DENSE_MAX_STATES`` states: one LU of ``I - Q`` gives all of them at once; with
``N = (I - Q)^-1`` and ``R`` the states containing ``c``,
``P_full - P_removed(c) = N[start, R] · N[R, R]^-1 · x[R]`` (a Woodbury identity; for ``k = 1`` it
is the hitting probability ``N[start, c] / N[c, c]`` times ``x[c]``). Larger chains work with
expected visits ``y = e_start + Qᵀ y``: removing ``c`` loses visits ``δ_c`` that start on the
removed states and flow only downstream, ``δ_c = (1 - D_c) y + D_c Qᵀ δ_c``, and
``P_full - P_removed(c) = δ_c · r``. Higher-order chains are nearly acyclic (an order-3 chain of
200k random paths has no cycle at all), so these are summed as Neumann series whose terms reach
exactly 0 after the longest path: back-substitution, many channels at once. Chains with large
cycles (orders 1-2 over many paths) solve each reduced system ``y_c`` by a residual-checked
Krylov method (BiCGSTAB, then GMRES, then a direct sparse LU): a direct LU of an order-2 chain
over 300 channels (90k states) filled in beyond what finished in ten minutes here, while
BiCGSTAB solves it to 1e-12 in milliseconds.

Determinism: states are numbered by sorted integer keys, transition counts are summed in sorted
order, so the same journeys (in any order) give the same bits. Round-off can push a removal
effect a hair below 0 or above 1: it is clipped to [0, 1].
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from redcat.attribution.journeys import (
    Attribution,
    BoolArray,
    FloatArray,
    IntArray,
    Journey,
    JourneyTable,
    as_table,
    credit_frame,
    sorted_unique,
    sum_by,
)
from redcat.errors import AttributionError

MARKOV_ORDERS: tuple[int, ...] = (1, 2, 3)
DENSE_MAX_STATES = 2500
KRYLOV_RTOL = 1e-12
# Neumann series: used when at most this share of states lie on cycles; columns summed together;
# stop when a term adds less than this share of the sum.
ACYCLIC_SHARE = 0.01
NEUMANN_COLUMNS = 64
NEUMANN_MAX_STEPS = 500
NEUMANN_RTOL = 1e-17
# Largest key of a k-tuple state must fit in int64: (channels + 1) ** k < 2 ** 62.
_KEY_LIMIT = 2**62
START = 0


@dataclass(frozen=True)
class Collapsed:
    """Journeys with consecutive repeats collapsed, keeping only journeys with conversions or
    nulls. ``journey`` maps each kept journey back to its index in the input table."""

    codes: IntArray
    offsets: IntArray
    journey: IntArray
    conversions: FloatArray
    value: FloatArray
    nulls: FloatArray


def collapse(table: JourneyTable) -> Collapsed:
    """Collapse consecutive repeated channels (a > a > b → a > b) and drop journeys that neither
    converted nor ended null (they carry no weight)."""
    pos = table.position
    codes = table.codes
    keep_touch = np.ones(codes.size, dtype=bool)
    if codes.size:
        keep_touch[1:] = (pos[1:] == 0) | (codes[1:] != codes[:-1])
    weight = table.conversions + table.nulls
    kept_journey = weight > 0
    keep_touch &= kept_journey[table.journey_of_touch]
    jt = table.journey_of_touch[keep_touch]
    journeys = np.flatnonzero(kept_journey)
    counts = np.bincount(jt, minlength=table.n_journeys)[journeys]
    offsets = np.zeros(journeys.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Collapsed(
        codes=codes[keep_touch],
        offsets=offsets,
        journey=journeys,
        conversions=table.conversions[journeys],
        value=table.value[journeys],
        nulls=table.nulls[journeys],
    )


@dataclass(frozen=True, eq=False)
class Chain:
    """An absorbing Markov chain over observed states.

    ``states`` (n × order, channel codes, -1 padding) lists the transient states; row 0 is
    (start). ``Q`` (n × n, CSR) holds transition probabilities among them; ``r_conv`` and
    ``r_value`` the conversion exit probability and expected value per step into (conversion).
    """

    order: int
    states: IntArray
    Q: sp.csr_matrix
    r_conv: FloatArray
    r_value: FloatArray

    @property
    def n_states(self) -> int:
        """Transient states including (start)."""
        return int(self.states.shape[0])


def build_chain(table: JourneyTable, order: int = 1) -> Chain:
    """Build the order-``order`` absorbing chain of ``table`` (see the module docstring)."""
    if order not in MARKOV_ORDERS:
        raise AttributionError(f"Markov order must be one of {MARKOV_ORDERS}, not {order}")
    base = table.n_channels + 1
    if base**order >= _KEY_LIMIT:
        raise AttributionError(
            f"{table.n_channels} channels are too many for an order-{order} chain; "
            "attribute at a coarser level"
        )
    col = collapse(table)
    lengths = np.diff(col.offsets)
    n_paths = lengths.size
    windows = np.maximum(lengths - order + 1, 1)
    width = np.minimum(lengths, order)
    n_win = int(windows.sum())
    path_of_win = np.repeat(np.arange(n_paths), windows)
    win_start = np.zeros(n_paths + 1, dtype=np.int64)
    np.cumsum(windows, out=win_start[1:])
    first_flat = col.offsets[:-1][path_of_win] + (np.arange(n_win) - win_start[:-1][path_of_win])
    w = width[path_of_win]
    keys = np.zeros(n_win, dtype=np.int64)
    digits = np.full((n_win, order), -1, dtype=np.int64)
    for j in range(order):
        inside = j < w
        idx = np.where(inside, first_flat + j, 0)
        code = np.where(inside, col.codes[idx] if col.codes.size else 0, -1)
        digits[:, j] = code
        keys += np.where(inside, code + 1, 0) * base**j
    uniq, first_index, inverse = np.unique(keys, return_index=True, return_inverse=True)
    n = uniq.size + 1
    state = inverse.astype(np.int64) + 1
    states = np.full((n, order), -1, dtype=np.int64)
    states[1:] = digits[first_index]

    weight = (col.conversions + col.nulls)[path_of_win]
    is_first = np.zeros(n_win, dtype=bool)
    is_first[win_start[:-1]] = True
    prev = np.empty(n_win, dtype=np.int64)
    prev[0:1] = START
    prev[1:] = state[:-1]
    frm = np.where(is_first, START, prev)
    last_state = state[win_start[1:] - 1] if n_paths else np.zeros(0, dtype=np.int64)

    pair = frm * n + state
    out_moves = sum_by(frm, weight, n)
    exit_conv = sum_by(last_state, col.conversions, n)
    exit_null = sum_by(last_state, col.nulls, n)
    exit_value = sum_by(last_state, col.value, n)
    total = _add_sorted(out_moves, exit_conv, exit_null)
    pair_keys, pair_inverse = np.unique(pair, return_inverse=True)
    pair_counts = sum_by(pair_inverse.astype(np.int64), weight, pair_keys.size)
    rows = pair_keys // n
    cols = pair_keys % n
    with np.errstate(divide="ignore", invalid="ignore"):
        probs = pair_counts / total[rows]
        r_conv = np.where(total > 0, exit_conv / total, 0.0)
        r_value = np.where(total > 0, exit_value / total, 0.0)
    Q = sp.csr_matrix((probs, (rows, cols)), shape=(n, n))
    Q.sum_duplicates()
    return Chain(order=order, states=states, Q=Q, r_conv=r_conv, r_value=r_value)


def _add_sorted(*parts: FloatArray) -> FloatArray:
    # Elementwise sum of a fixed number of arrays in a fixed order: deterministic already.
    out = np.zeros_like(parts[0])
    for p in parts:
        out = out + p
    return out


@dataclass(frozen=True)
class RemovalEffects:
    """Exact removal effects of one chain: ``p_conversion`` (probability that a journey from
    start converts), ``p_value`` (expected value per journey, currency), and per channel code
    ``conversion`` and ``value`` removal effects in [0, 1]. ``notes`` names any fallback."""

    p_conversion: float
    p_value: float
    conversion: FloatArray
    value: FloatArray
    notes: tuple[str, ...]


def removal_effects(chain: Chain, n_channels: int) -> RemovalEffects:
    """Return every channel's removal effect (conversions and value) by exact linear solves."""
    members = _channel_states(chain.states, n_channels)
    notes: list[str] = []
    if chain.n_states <= DENSE_MAX_STATES:
        p_full, v_full, g_conv, g_val = _dense_effects(chain, members)
    else:
        # Iterative solves make many short vector operations; threaded BLAS only adds
        # contention to those (measured 10x slower on a busy 2-core machine).
        with threadpool_limits(limits=1, user_api="blas"):
            p_full, v_full, g_conv, g_val = _sparse_effects(chain, members, notes)
    if not (np.isfinite(p_full) and np.isfinite(v_full)):
        raise AttributionError("the Markov chain is singular: conversion probability is not finite")
    re_conv = _effect(g_conv, p_full)
    re_val = _effect(g_val, v_full)
    return RemovalEffects(float(p_full), float(v_full), re_conv, re_val, tuple(notes))


def _effect(gain: FloatArray, full: float) -> FloatArray:
    if not full > 0:
        return np.zeros_like(gain)
    effect = np.where(np.isfinite(gain), gain / full, 0.0)
    return np.clip(effect, 0.0, 1.0)


def _channel_states(states: IntArray, n_channels: int) -> list[IntArray]:
    """For each channel code, the sorted indices of the states that contain it."""
    n, k = states.shape
    idx = np.repeat(np.arange(n, dtype=np.int64), k)
    code = states.reshape(-1)
    ok = code >= 0
    # One int64 key per (channel, state) pair; unique also drops a channel seen twice in a state.
    keys = sorted_unique(code[ok] * n + idx[ok])
    channel, state = np.divmod(keys, n)
    bounds = np.searchsorted(channel, np.arange(n_channels + 1))
    return [state[bounds[c] : bounds[c + 1]] for c in range(n_channels)]


def _dense_effects(
    chain: Chain, members: list[IntArray]
) -> tuple[float, float, FloatArray, FloatArray]:
    n = chain.n_states
    lu = sla.lu_factor(np.eye(n) - chain.Q.toarray(), check_finite=True)
    N = sla.lu_solve(lu, np.eye(n))
    x = sla.lu_solve(lu, np.stack([chain.r_conv, chain.r_value], axis=1))
    w = N[START]
    g_conv = np.zeros(len(members))
    g_val = np.zeros(len(members))
    for c, R in enumerate(members):
        if R.size == 0:
            continue
        if R.size == 1:
            s = int(R[0])
            g = w[s] * x[s] / N[s, s]
        else:
            g = w[R] @ np.linalg.solve(N[np.ix_(R, R)], x[R])
        g_conv[c], g_val[c] = float(g[0]), float(g[1])
    return float(x[START, 0]), float(x[START, 1]), g_conv, g_val


def _sparse_effects(
    chain: Chain, members: list[IntArray], notes: list[str]
) -> tuple[float, float, FloatArray, FloatArray]:
    """Removal effects of a large chain from expected visits.

    ``y = e_start + Qᵀ y`` counts the expected visits to each state, so ``P_full = y · r``.
    Removing ``c`` zeroes the states that contain it (``D_c``); the visits lost,
    ``δ_c = y - y_c``, solve ``δ_c = (1 - D_c) y + D_c Qᵀ δ_c``: they start on the removed
    states and flow only downstream of them, and ``P_full - P_removed(c) = δ_c · r``. On a
    (mostly) acyclic chain both are summed as Neumann series (exact once the terms reach 0);
    otherwise, and for any column whose series does not die out, ``y_c`` is solved by Krylov.
    """
    n = chain.n_states
    Qt = chain.Q.T.tocsr()
    e = np.zeros(n)
    e[START] = 1.0
    acyclic = _mostly_acyclic(chain.Q)
    y_full = _neumann_visits(Qt) if acyclic else None
    if y_full is None:
        y_full = _masked_solve(Qt, np.ones(n, dtype=bool), e + Qt @ e, notes)
    p_full = float(y_full @ chain.r_conv)
    v_full = float(y_full @ chain.r_value)
    g_conv = np.zeros(len(members))
    g_val = np.zeros(len(members))
    pending = list(range(len(members)))
    if acyclic:
        pending = _neumann_lost(Qt, chain, members, y_full, g_conv, g_val)
    for c in pending:
        keep = np.ones(n, dtype=bool)
        keep[members[c]] = False
        y = _masked_solve(Qt, keep, y_full * keep, notes)
        g_conv[c] = p_full - float(y @ chain.r_conv)
        g_val[c] = v_full - float(y @ chain.r_value)
    return p_full, v_full, g_conv, g_val


def _mostly_acyclic(Q: sp.csr_matrix) -> bool:
    """Whether at most ``ACYCLIC_SHARE`` of the states lie on cycles (strongly connected
    components larger than one state); Neumann series then end after few steps."""
    _, labels = csgraph.connected_components(Q, directed=True, connection="strong")
    sizes = np.bincount(labels)
    on_cycles = int(sizes[sizes > 1].sum())
    return on_cycles <= ACYCLIC_SHARE * Q.shape[0]


def _neumann_visits(Qt: sp.csr_matrix) -> FloatArray | None:
    """Expected visits ``Σ_t (Qᵀ)^t e_start``, or None if the terms do not die out."""
    n = Qt.shape[0]
    term = np.zeros(n)
    term[START] = 1.0
    total = term.copy()
    for _ in range(NEUMANN_MAX_STEPS):
        term = Qt @ term
        total += term
        if not term.sum() > NEUMANN_RTOL * total.sum():
            return np.asarray(total, dtype=np.float64)
    return None


def _neumann_lost(
    Qt: sp.csr_matrix,
    chain: Chain,
    members: list[IntArray],
    y_full: FloatArray,
    g_conv: FloatArray,
    g_val: FloatArray,
) -> list[int]:
    """Fill ``g = δ_c · r`` for many channels at once (see :func:`_sparse_effects`); return the
    channels whose series did not die out within ``NEUMANN_MAX_STEPS`` steps.

    Terms are sparse and >= 0: on an acyclic chain they reach exactly 0 after the longest path
    below the removed states, so the sums are exact; mass circling on short cycles shrinks
    geometrically and stops once a term adds less than ``NEUMANN_RTOL`` of the sum.
    """
    n = chain.n_states
    channels = np.arange(len(members))
    pending: list[int] = []
    for lo in range(0, channels.size, NEUMANN_COLUMNS):
        block = channels[lo : lo + NEUMANN_COLUMNS]
        w = block.size
        rows = [members[c] for c in block]
        cols = [np.full(r.size, j, dtype=np.int64) for j, r in enumerate(rows)]
        row = np.concatenate([np.zeros(0, dtype=np.int64), *rows])
        col = np.concatenate([np.zeros(0, dtype=np.int64), *cols])
        removed = np.sort(row * w + col)
        data = y_full[row]
        mass = np.bincount(col, weights=data, minlength=w)
        acc_conv = np.bincount(col, weights=data * chain.r_conv[row], minlength=w)
        acc_val = np.bincount(col, weights=data * chain.r_value[row], minlength=w)
        live = mass > 0
        for _ in range(NEUMANN_MAX_STEPS):
            if data.size == 0:
                live[:] = False
                break
            step = (Qt @ sp.csr_matrix((data, (row, col)), shape=(n, w))).tocoo()
            key = step.row.astype(np.int64) * w + step.col
            pos = np.minimum(np.searchsorted(removed, key), max(removed.size - 1, 0))
            kept = removed[pos] != key if removed.size else np.ones(key.size, dtype=bool)
            row = step.row[kept].astype(np.int64)
            col = step.col[kept].astype(np.int64)
            data = step.data[kept]
            added = np.bincount(col, weights=data, minlength=w)
            acc_conv += np.bincount(col, weights=data * chain.r_conv[row], minlength=w)
            acc_val += np.bincount(col, weights=data * chain.r_value[row], minlength=w)
            mass += added
            live = added > NEUMANN_RTOL * mass
            if not live.any():
                break
        g_conv[block] = acc_conv
        g_val[block] = acc_val
        pending.extend(int(c) for c in block[live])
    return pending


def _masked_solve(
    Qt: sp.csr_matrix, keep: BoolArray, x0: FloatArray, notes: list[str]
) -> FloatArray:
    """Solve ``y = e_start + D Qᵀ D y`` (``D = diag(keep)``) by BiCGSTAB, then GMRES, then a
    direct sparse LU; a Krylov answer is accepted only if its residual is within
    ``KRYLOV_RTOL``."""
    n = Qt.shape[0]
    mask = keep.astype(np.float64)
    b = np.zeros(n)
    b[START] = 1.0

    def matvec(v: FloatArray) -> FloatArray:
        return np.asarray(v - mask * (Qt @ (mask * v)), dtype=np.float64)

    op = spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    for method in (spla.bicgstab, spla.gmres):
        y, info = method(op, b, x0=x0, rtol=KRYLOV_RTOL, atol=0.0, maxiter=10_000)
        if info == 0 and np.linalg.norm(matvec(y) - b) <= 10 * KRYLOV_RTOL:
            return np.asarray(y, dtype=np.float64) * mask
    note = "a Markov system did not converge iteratively; solved it with a direct sparse LU"
    if note not in notes:
        notes.append(note)
    kept = np.flatnonzero(keep)
    sub = (sp.identity(kept.size, format="csc") - Qt[kept][:, kept]).tocsc()
    y = np.zeros(n)
    y[kept] = spla.spsolve(sub, b[kept])
    return y


def markov(table: JourneyTable, order: int = 1, *, notes: tuple[str, ...] = ()) -> Attribution:
    """Attribute by exact Markov removal effects of order ``order`` (1-3).

    Credits (conversions, count; value, currency) are the totals of all journeys split in
    proportion to the removal effects (see the module docstring). If every removal effect is 0
    while there are conversions to credit, the linear model is used instead and a note says so.
    """
    chain = build_chain(table, order)
    effects = removal_effects(chain, table.n_channels)
    total_conv = float(np.sort(table.conversions).sum())
    total_val = float(np.sort(table.value).sum())
    all_notes = list(notes) + list(effects.notes)
    conv, conv_fallback = _split(total_conv, effects.conversion)
    val, val_fallback = _split(total_val, effects.value)
    if conv_fallback or val_fallback:
        from redcat.attribution.heuristics import heuristic

        linear = heuristic(table, "linear", allocations=False).credits
        if conv_fallback:
            conv = linear["conversions"].to_numpy()
        if val_fallback:
            val = linear["value"].to_numpy()
        what = " and ".join(
            w for w, f in (("conversions", conv_fallback), ("value", val_fallback)) if f
        )
        all_notes.append(
            f"markov: every removal effect was 0, so {what} were credited by the linear model"
        )
    re_frame = pd.DataFrame(
        {
            "channel": pd.Series(table.channels, dtype=object),
            "removal_effect": effects.conversion,
            "removal_effect_value": effects.value,
        }
    )
    return Attribution(
        model="markov",
        credits=credit_frame(table.channels, conv, val),
        total_conversions=total_conv,
        total_value=total_val,
        allocations=None,
        notes=tuple(all_notes),
        order=order,
        removal_effects=re_frame,
    )


def _split(total: float, effects: FloatArray) -> tuple[FloatArray, bool]:
    """Split ``total`` in proportion to ``effects``; flag a fallback when there is something to
    split but nothing to split it by."""
    mass = float(np.sort(effects).sum())
    if total == 0:
        return np.zeros_like(effects), False
    if not mass > 0:
        return np.zeros_like(effects), True
    return total * effects / mass, False


def journey_shares(table: JourneyTable, effects: FloatArray) -> FloatArray:
    """Split each journey by the global removal effects of its channels (one share per touch;
    each journey sums to 1; equal shares when its channels' effects are all 0).

    A display aid for per-conversion listings: a channel's share is its removal effect over the
    sum of the effects of the journey's distinct channels, divided evenly among its touches. The
    model's own credits are the global split of :func:`markov`, not the sum of these shares.
    """
    if table.n_touches == 0:
        return np.zeros(0)
    jt = table.journey_of_touch
    pair = jt * max(table.n_channels, 1) + table.codes
    _, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    first_of_pair: BoolArray = np.zeros(table.n_touches, dtype=bool)
    first_of_pair[np.unique(inverse, return_index=True)[1]] = True
    eff = effects[table.codes]
    mass = np.bincount(jt, weights=np.where(first_of_pair, eff, 0.0), minlength=table.n_journeys)
    per_touch = eff / counts[inverse]
    equal = 1.0 / table.lengths[jt]
    return np.where(mass[jt] > 0, per_touch / np.where(mass[jt] > 0, mass[jt], 1.0), equal)


def _unit_hash(table_keys: IntArray, seed: int, stream: int) -> FloatArray:
    """Deterministic uniforms in [0, 1) from integer keys (splitmix64 finalizer)."""
    salt = int.from_bytes(
        hashlib.blake2b(f"{seed}:{stream}".encode(), digest_size=8).digest(), "little"
    )
    z = table_keys.astype(np.uint64) + np.uint64(salt)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def _path_keys(col: Collapsed) -> IntArray:
    """A 64-bit content key per collapsed path (codes and positions), wrapping on overflow."""
    lengths = np.diff(col.offsets)
    if col.codes.size == 0:
        return np.zeros(lengths.size, dtype=np.int64)
    path = np.repeat(np.arange(lengths.size), lengths)
    pos = np.arange(col.codes.size) - col.offsets[:-1][path]
    mixed = _unit_hash(col.codes * 1_000_003 + pos, 0, 7) * float(2**53)
    acc = np.add.reduceat(mixed.astype(np.uint64), col.offsets[:-1])
    return (acc + lengths.astype(np.uint64)).astype(np.int64)


def select_markov_order(
    journeys: Sequence[Journey] | JourneyTable,
    orders: tuple[int, ...] = MARKOV_ORDERS,
    holdout_fraction: float = 0.3,
    seed: int = 0,
    smoothing: float = 1.0,
) -> int:
    """Return the order whose transition model best predicts held-out journeys.

    Each (collapsed) journey's conversions and nulls are split into a training and a held-out
    share, deterministically from a hash of its content and ``seed`` (a share of
    ``holdout_fraction`` rounded up or down by that hash), so the split ignores input order.
    For each order ``k`` the training journeys give counts of each next item (the next channel,
    or conversion / null at the end) after the last ``min(k, t)`` channels; the held-out score is
    the log-likelihood of the held-out items with add-``smoothing`` over all channels plus the two
    ends. The best score wins; ties go to the lowest order. With nothing held out, the lowest order.
    """
    if not 0 < holdout_fraction < 1:
        raise AttributionError("holdout_fraction must lie strictly between 0 and 1")
    if not orders or any(o not in MARKOV_ORDERS for o in orders):
        raise AttributionError(f"orders must be taken from {MARKOV_ORDERS}")
    table = as_table(journeys)
    col = collapse(table)
    keys = _path_keys(col)
    held_conv = np.minimum(
        np.floor(col.conversions * holdout_fraction + _unit_hash(keys, seed, 1)), col.conversions
    )
    held_null = np.minimum(
        np.floor(col.nulls * holdout_fraction + _unit_hash(keys, seed, 2)), col.nulls
    )
    train_conv = col.conversions - held_conv
    train_null = col.nulls - held_null
    if float(held_conv.sum() + held_null.sum()) == 0:
        return min(orders)
    C = table.n_channels
    scores = {
        k: _heldout_loglik(col, k, C, train_conv, train_null, held_conv, held_null, smoothing)
        for k in sorted(orders)
    }
    best = max(scores.values())
    return min(k for k, s in scores.items() if s == best)


def _heldout_loglik(
    col: Collapsed,
    k: int,
    n_channels: int,
    train_conv: FloatArray,
    train_null: FloatArray,
    held_conv: FloatArray,
    held_null: FloatArray,
    smoothing: float,
) -> float:
    base = n_channels + 1
    outcomes = n_channels + 2
    if (base**k) * outcomes >= _KEY_LIMIT:
        raise AttributionError(f"too many channels for an order-{k} model")
    lengths = np.diff(col.offsets)
    n_paths = lengths.size
    path = np.repeat(np.arange(n_paths), lengths)
    pos = np.arange(col.codes.size) - col.offsets[:-1][path]
    # Context of item t: the previous min(k, t) channels, most recent first.
    ctx_touch = np.zeros(col.codes.size, dtype=np.int64)
    for j in range(1, k + 1):
        has = pos >= j
        idx = np.where(has, np.arange(col.codes.size) - j, 0)
        ctx_touch += np.where(has, col.codes[idx] + 1, 0) * base ** (j - 1)
    # Context of the end item: the last min(k, L) channels.
    last = col.offsets[1:] - 1
    ctx_end = np.zeros(n_paths, dtype=np.int64)
    for j in range(1, k + 1):
        has = lengths >= j
        idx = np.where(has, last - (j - 1), 0)
        ctx_end += np.where(has, col.codes[idx] + 1, 0) * base ** (j - 1)
    item_key = np.concatenate(
        [
            ctx_touch * outcomes + col.codes,
            ctx_end * outcomes + n_channels,
            ctx_end * outcomes + n_channels + 1,
        ]
    )
    ctx_key = np.concatenate([ctx_touch, ctx_end, ctx_end])
    train_w = np.concatenate([(train_conv + train_null)[path], train_conv, train_null])
    held_w = np.concatenate([(held_conv + held_null)[path], held_conv, held_null])
    items, item_inv = np.unique(item_key, return_inverse=True)
    item_count = sum_by(item_inv.astype(np.int64), train_w, items.size)
    ctxs, ctx_inv = np.unique(ctx_key, return_inverse=True)
    ctx_count = sum_by(ctx_inv.astype(np.int64), train_w, ctxs.size)
    prob = (item_count[item_inv] + smoothing) / (ctx_count[ctx_inv] + smoothing * outcomes)
    used = held_w > 0
    return float(np.sort(held_w[used] * np.log(prob[used])).sum())
