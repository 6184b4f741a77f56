"""Output privacy: what leaves the clean room is safe to release.

Steps, each its own module:

- :mod:`~redcat.privacy.bounds` — per-user contribution bounds in the engine (cells per user,
  events per cell, money per cell) and the L1 sensitivities they give;
- :mod:`~redcat.privacy.thresholds` — the aggregation threshold (k distinct matched users per
  cell, strictest party wins), the other row and complementary suppression;
- :mod:`~redcat.privacy.noise` — OpenDP Laplace noise (discrete for counts), error bounds and
  post-processing (no negative counts, rates from noisy parts clipped to [0, 1]);
- :mod:`~redcat.privacy.ledger` — each brand's ε budget per month in the operational store,
  atomic spends, refusals that spend nothing, stored answers for repeated questions;
- :mod:`~redcat.privacy.release` — :func:`release_table`, the one entry point (exact mode for a
  single owner reading its own data, noisy mode for everyone else);
- :mod:`~redcat.privacy.notes` — the brand's per-note buyers, orders and GMV, released.
"""

from redcat.privacy.ledger import BudgetLedger, BudgetStatus
from redcat.privacy.release import Measure, ReleasedTable, ReleaseSpec, release_table

__all__ = [
    "BudgetLedger",
    "BudgetStatus",
    "Measure",
    "ReleaseSpec",
    "ReleasedTable",
    "release_table",
]
