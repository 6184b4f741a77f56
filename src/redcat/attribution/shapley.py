"""Shapley-value attribution with a value function that can tell channels apart.

Value function. For a set ``S`` of channels, ``v(S)`` is the conversion rate of the journeys
whose *distinct* touched set is exactly ``S``: their conversions ÷ (conversions + nulls), and 0
for a set no journey touched (Shao & Li 2011; Dalessandro et al. 2012). ``v(∅) = 0``.

The naive choice, ``v(S)`` = conversions of journeys whose touched set lies inside ``S``, makes
each journey a unanimity game and collapses to an equal split over its distinct channels: a
linear model in disguise. With conversion rates, a channel whose presence raises the rate earns
more than one that rides along.

Allocation. Each converting journey with distinct set ``S`` has its conversions (and value)
split over the channels of ``S`` in proportion to their Shapley values in the game ``v``
restricted to subsets of ``S``; negative values are clipped to 0; if none is positive (possible
only under sampling) the journey is split equally and a note counts such journeys. A channel's
share is divided evenly among its touches in the journey for the per-touch allocations.

Computation. Shapley values are computed once per distinct set. Up to ``exact_max_channels``
channels they are exact: ``φ_i = Σ_{T⊆S} v(T)·w(i, T)`` with ``w = (t-1)!(m-t)!/m!`` when
``i ∈ T`` and ``-t!(m-t-1)!/m!`` otherwise (``t = |T|``, ``m = |S|``), summing only over the
observed sets ``T`` (``v`` is 0 elsewhere). Larger sets are estimated from ``samples`` random
permutations (seeded from ``seed`` and the set's channel names, so deterministic) and each
channel's standard error is reported. Sets are found by a 64-bit additive hash whose every match
is verified element by element, so a hash collision can never change a result.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from redcat.attribution.journeys import (
    Attribution,
    BoolArray,
    FloatArray,
    IntArray,
    JourneyTable,
    sum_by,
    touch_attribution,
)
from redcat.errors import AttributionError

_U64 = np.uint64
_CHUNK_CELLS = 1 << 22
_MAX_SALTS = 16
_FILTER_BITS = 24


def _mix(values: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 finalizer over uint64 (wrapping arithmetic)."""
    z = values.astype(_U64) + _U64(salt)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


@dataclass(frozen=True)
class _Sets:
    """Distinct channel sets (CSR over sorted codes) and their hashes."""

    flat: IntArray
    offsets: IntArray
    hashes: np.ndarray

    @property
    def sizes(self) -> IntArray:
        return np.diff(self.offsets)

    def padded(self, rows: IntArray, width: int, fill: int = -1) -> IntArray:
        """Elements of ``rows`` padded to ``width`` columns with ``fill``."""
        j = np.arange(width)
        valid = j[None, :] < self.sizes[rows][:, None]
        idx = np.where(valid, self.offsets[rows][:, None] + j[None, :], 0)
        return np.where(valid, self.flat[idx] if self.flat.size else 0, fill)


@dataclass(frozen=True)
class _Journeys:
    """Each journey's distinct set, and for each touch its element index in that set."""

    sets: _Sets  # one row per journey
    touch_element: IntArray  # per touch (input order)
    touch_multiplicity: IntArray  # per touch: touches of the same channel in its journey


def _distinct_sets(table: JourneyTable, salt: int) -> _Journeys:
    jt = table.journey_of_touch
    order = np.lexsort((table.codes, jt))
    sj = jt[order]
    sc = table.codes[order]
    new = np.ones(sc.size, dtype=bool)
    if sc.size:
        new[1:] = (sj[1:] != sj[:-1]) | (sc[1:] != sc[:-1])
    flat = sc[new]
    counts = np.bincount(sj[new], minlength=table.n_journeys)
    offsets = np.zeros(table.n_journeys + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    run_id = np.cumsum(new) - 1
    element_sorted = run_id - offsets[:-1][sj]
    run_len = np.bincount(run_id, minlength=flat.size)
    touch_element = np.empty(sc.size, dtype=np.int64)
    touch_element[order] = element_sorted
    multiplicity = np.empty(sc.size, dtype=np.int64)
    multiplicity[order] = run_len[run_id]
    g = _mix(np.arange(table.n_channels), salt)
    hashes = np.zeros(table.n_journeys, dtype=_U64)
    if flat.size:
        with np.errstate(over="ignore"):
            hashes = np.add.reduceat(g[flat], offsets[:-1]).astype(_U64)
    return _Journeys(_Sets(flat, offsets, hashes), touch_element, multiplicity)


def _same(a: _Sets, ai: IntArray, b: _Sets, bi: IntArray) -> BoolArray:
    """Whether set ``a[ai[k]]`` equals set ``b[bi[k]]`` for each k."""
    ok = a.sizes[ai] == b.sizes[bi]
    if not ok.any():
        return ok
    width = int(max(a.sizes[ai].max(initial=0), 1))
    return ok & (a.padded(ai, width) == b.padded(bi, width)).all(axis=1)


@dataclass(frozen=True)
class _Observed:
    """Observed distinct sets sorted by hash, with conversions, nulls, value and v(S)."""

    sets: _Sets
    conversions: FloatArray
    nulls: FloatArray
    value: FloatArray
    rate: FloatArray
    journey_set: IntArray  # per journey: index of its set
    channel_hash: np.ndarray  # per channel code: its 64-bit hash


def _observe(table: JourneyTable) -> tuple[_Observed, _Journeys]:
    """Group journeys by distinct set; retry another hash salt if two different sets collide."""
    for salt in range(_MAX_SALTS):
        js = _distinct_sets(table, 0x5EED + salt)
        h = js.sets.hashes
        uniq, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        rep = first[inverse]
        if not _same(js.sets, np.arange(table.n_journeys), js.sets, rep).all():
            continue
        sizes = js.sets.sizes[first]
        offsets = np.zeros(first.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        gather = np.repeat(js.sets.offsets[:-1][first], sizes) + (
            np.arange(int(sizes.sum())) - np.repeat(offsets[:-1], sizes)
        )
        sets = _Sets(js.sets.flat[gather], offsets, uniq)
        inv = inverse.astype(np.int64)
        conv = sum_by(inv, table.conversions, uniq.size)
        nulls = sum_by(inv, table.nulls, uniq.size)
        value = sum_by(inv, table.value, uniq.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(conv + nulls > 0, conv / (conv + nulls), 0.0)
        observed = _Observed(
            sets, conv, nulls, value, rate, inv, _mix(np.arange(table.n_channels), 0x5EED + salt)
        )
        return observed, js
    raise AttributionError("could not separate the journeys' channel sets by hash")


class _Lookup:
    """v(T) for queried sets, found by hash and verified element by element."""

    def __init__(self, obs: _Observed) -> None:
        keep = np.flatnonzero(obs.rate > 0)  # v is 0 for every other set
        order = np.argsort(obs.sets.hashes[keep], kind="stable")
        self.obs = obs
        self.keys = obs.sets.hashes[keep][order]
        self.index = keep[order]
        # A bitmap over the top hash bits rejects most absent sets before the binary search.
        self.shift = _U64(64 - _FILTER_BITS)
        self.filter = np.zeros(1 << _FILTER_BITS, dtype=bool)
        self.filter[(self.keys >> self.shift).astype(np.int64)] = True
        # Hashes are uniform, so the top bits bucket the sorted keys into short runs: a lookup
        # reads one or two keys instead of binary-searching all of them.
        self.bucket_bits = max(1, int(self.keys.size).bit_length())
        self.bucket_shift = _U64(64 - self.bucket_bits)
        buckets = (self.keys >> self.bucket_shift).astype(np.int64)
        self.bucket_start = np.searchsorted(buckets, np.arange((1 << self.bucket_bits) + 1))

    def find(self, hashes: np.ndarray) -> tuple[IntArray, IntArray]:
        """Return (query positions, observed set rows) whose hashes match; unverified."""
        if self.keys.size == 0 or hashes.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        maybe = np.flatnonzero(self.filter[(hashes >> self.shift).astype(np.int64)])
        h = hashes[maybe]
        b = (h >> self.bucket_shift).astype(np.int64)
        pos = self.bucket_start[b]
        end = self.bucket_start[b + 1]
        found_at: list[IntArray] = []
        found_row: list[IntArray] = []
        active = np.flatnonzero(pos < end)
        while active.size:
            at = pos[active]
            match = self.keys[at] == h[active]
            found_at.append(maybe[active[match]])
            found_row.append(self.index[at[match]])
            pos[active] += 1
            active = active[~match & (pos[active] < end[active])]
        if not found_at:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        where = np.concatenate(found_at)
        rows = np.concatenate(found_row)
        order = np.argsort(where, kind="stable")
        return where[order], rows[order]

    def verify(self, cand: IntArray, parent_elems: IntArray, members: BoolArray) -> BoolArray:
        """Whether observed set ``cand[k]`` is exactly the ``members[k]`` of ``parent_elems[k]``
        (sorted elements, -1 padded)."""
        t = members.sum(axis=1)
        sets = self.obs.sets
        ok = sets.sizes[cand] == t
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            return ok
        tt = t[idx]
        # Boolean indexing walks rows in order, so each hit's members come out sorted.
        mine = parent_elems[idx][members[idx]]
        before = np.zeros(idx.size, dtype=np.int64)
        np.cumsum(tt[:-1], out=before[1:])
        gather = np.repeat(sets.offsets[cand[idx]] - before, tt) + np.arange(int(tt.sum()))
        differ = mine != sets.flat[gather]
        bad = np.bincount(np.repeat(np.arange(idx.size), tt), weights=differ, minlength=idx.size)
        ok[idx[bad > 0]] = False
        return ok


def _weights(m: int) -> FloatArray:
    """W[mask, i]: the Shapley weight of v(subset ``mask``) in channel i's value (m elements)."""
    masks = np.arange(1 << m)
    bits = (masks[:, None] >> np.arange(m)[None, :]) & 1
    t = bits.sum(axis=1)
    fact = [math.factorial(i) for i in range(m + 1)]
    inside = np.array([fact[k - 1] * fact[m - k] / fact[m] if k >= 1 else 0.0 for k in t])
    outside = np.array([fact[k] * fact[m - k - 1] / fact[m] if k <= m - 1 else 0.0 for k in t])
    return np.where(bits == 1, inside[:, None], -outside[:, None])


def _exact(lookup: _Lookup, rows: IntArray, m: int) -> FloatArray:
    """Exact Shapley values (len(rows) × m) of observed sets ``rows`` of size ``m``."""
    obs = lookup.obs
    W = _weights(m)
    bits = ((np.arange(1 << m)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)
    phi = np.zeros((rows.size, m))
    step = max(1, _CHUNK_CELLS // (1 << m))
    for lo in range(0, rows.size, step):
        r = rows[lo : lo + step]
        elems = obs.sets.padded(r, m)
        g = obs.channel_hash[elems]
        # Subset hashes by doubling: column ``mask`` holds the hash of the masked elements.
        H = np.zeros((r.size, 1), dtype=_U64)
        with np.errstate(over="ignore"):
            for j in range(m):
                H = np.concatenate([H, H + g[:, j : j + 1]], axis=1)
        where, cand = lookup.find(H.reshape(-1))
        row, mask = np.divmod(where, 1 << m)
        ok = lookup.verify(cand, elems[row], bits[mask])
        vals = np.zeros(r.size << m)
        vals[where[ok]] = obs.rate[cand[ok]]
        V = vals.reshape(r.size, 1 << m)
        phi[lo : lo + r.size] = np.einsum("ij,jk->ik", V, W)
    return phi


def _set_seed(seed: int, names: list[str]) -> int:
    digest = hashlib.blake2b(("\x1f".join([str(seed), *names])).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _sampled(
    lookup: _Lookup, row: int, channels: np.ndarray, samples: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Permutation-sampled Shapley values and their standard errors for one large set."""
    obs = lookup.obs
    m = int(obs.sets.sizes[row])
    elems = obs.sets.padded(np.array([row]), m)[0]
    rng = np.random.default_rng(_set_seed(seed, [str(channels[c]) for c in elems]))
    perms = np.argsort(rng.random((samples, m)), axis=1)
    g = obs.channel_hash[elems][perms]
    with np.errstate(over="ignore"):
        prefix = np.cumsum(g, axis=1, dtype=_U64)
    rank = np.empty_like(perms)
    np.put_along_axis(rank, perms, np.arange(m)[None, :].repeat(samples, 0), axis=1)
    # Prefix t of permutation p holds the elements of rank <= t.
    members = rank[:, None, :] <= np.arange(m)[None, :, None]
    where, cand = lookup.find(prefix.reshape(-1))
    p, t = np.divmod(where, m)
    ok = lookup.verify(cand, np.broadcast_to(elems, (where.size, m)), members[p, t])
    flat_vals = np.zeros(samples * m)
    flat_vals[where[ok]] = obs.rate[cand[ok]]
    vals = flat_vals.reshape(samples, m)
    before = np.concatenate([np.zeros((samples, 1)), vals[:, :-1]], axis=1)
    marginal = np.empty((samples, m))
    np.put_along_axis(marginal, perms, vals - before, axis=1)
    phi = marginal.mean(axis=0)
    se = marginal.std(axis=0, ddof=1) / math.sqrt(samples) if samples > 1 else np.zeros(m)
    return phi, se


def shapley(
    table: JourneyTable,
    *,
    exact_max_channels: int = 15,
    samples: int = 2000,
    seed: int = 0,
    allocations: bool = True,
) -> Attribution:
    """Attribute by Shapley values of the conversion-rate game (see the module docstring).

    Credits are conversions (count) and value (currency) of the converting journeys;
    ``standard_errors`` gives, per channel, the sampling standard error of its credits (zero when
    every set it appears in was computed exactly), approximated as each set's conversions ×
    se(φ_i) / Σφ⁺ combined in quadrature over sets.
    """
    if exact_max_channels < 1 or exact_max_channels > 20:
        raise AttributionError("exact Shapley enumeration is limited to 1-20 channels")
    if samples < 2:
        raise AttributionError("Shapley sampling needs at least 2 permutations")
    obs, js = _observe(table)
    lookup = _Lookup(obs)
    sizes = obs.sets.sizes
    converting = np.flatnonzero(obs.conversions > 0)
    shares = np.zeros(obs.sets.flat.size)
    se_flat = np.zeros(obs.sets.flat.size)
    journeys_per_set = np.bincount(obs.journey_set[table.conversions > 0], minlength=sizes.size)
    sampled_sets = 0
    equal_split = 0
    for m in np.unique(sizes[converting]):
        rows = converting[sizes[converting] == m]
        m = int(m)
        if m <= exact_max_channels:
            phi = _exact(lookup, rows, m)
            se = np.zeros_like(phi)
        else:
            pairs = [_sampled(lookup, int(r), table.channels, samples, seed) for r in rows]
            phi = np.stack([p for p, _ in pairs])
            se = np.stack([s for _, s in pairs])
            sampled_sets += rows.size
        pos = np.clip(phi, 0.0, None)
        total = pos.sum(axis=1)
        none = ~(total > 0)
        equal_split += int(journeys_per_set[rows[none]].sum())
        share = np.where(none[:, None], 1.0 / m, pos / np.where(none, 1.0, total)[:, None])
        scaled_se = np.where(none[:, None], 0.0, se / np.where(none, 1.0, total)[:, None])
        idx = obs.sets.offsets[rows][:, None] + np.arange(m)[None, :]
        shares[idx] = share
        se_flat[idx] = scaled_se

    jt = table.journey_of_touch
    jset = obs.journey_set[jt]
    touch_share = shares[obs.sets.offsets[jset] + js.touch_element] / js.touch_multiplicity
    touch_conv = touch_share * table.conversions[jt]
    touch_val = touch_share * table.value[jt]
    touch_conv = np.where(table.conversions[jt] > 0, touch_conv, 0.0)
    touch_val = np.where(table.conversions[jt] > 0, touch_val, 0.0)

    var_conv = np.zeros(table.n_channels)
    var_val = np.zeros(table.n_channels)
    if sampled_sets:
        set_of_elem = np.repeat(np.arange(sizes.size), sizes)
        var_conv = sum_by(
            obs.sets.flat, (se_flat * obs.conversions[set_of_elem]) ** 2, table.n_channels
        )
        var_val = sum_by(obs.sets.flat, (se_flat * obs.value[set_of_elem]) ** 2, table.n_channels)
    notes: list[str] = []
    if sampled_sets:
        notes.append(
            f"shapley: {sampled_sets} channel set(s) with more than {exact_max_channels} "
            f"channels were estimated from {samples} permutations each (see standard errors)"
        )
    if equal_split:
        notes.append(
            f"shapley: {equal_split} converting journey(s) had no channel with a positive "
            "Shapley value and were split equally"
        )
    return touch_attribution(
        "shapley",
        table,
        touch_conv,
        touch_val,
        allocations=allocations,
        notes=tuple(notes),
        standard_errors=pd.DataFrame(
            {
                "channel": pd.Series(table.channels, dtype=object),
                "conversions_se": np.sqrt(var_conv),
                "value_se": np.sqrt(var_val),
            }
        ),
    )


def set_values(journeys: JourneyTable) -> pd.DataFrame:
    """Return the value function: one row per observed distinct channel set with ``channels``
    (sorted, joined by ``,``), ``conversions``, ``nulls`` and ``rate`` = v(S)."""
    obs, _ = _observe(journeys)
    names = [
        ",".join(str(journeys.channels[c]) for c in obs.sets.flat[lo:hi])
        for lo, hi in zip(obs.sets.offsets[:-1], obs.sets.offsets[1:], strict=True)
    ]
    frame = pd.DataFrame(
        {"channels": names, "conversions": obs.conversions, "nulls": obs.nulls, "rate": obs.rate}
    )
    return frame.sort_values("channels", kind="stable").reset_index(drop=True)
