"""The people of the world: pseudonymous keys, activity, category interests and memberships."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from redcat.simulate.config import CATEGORIES, CATEGORY_PREVALENCE, WorldConfig, stream

KEY_WIDTH = 64  # hex characters of a SHA-256 digest


@dataclass(frozen=True, eq=False)
class Population:
    """``n`` people. Arrays are indexed by person.

    ``keys`` is (n, 64) ASCII bytes: the lowercase hex SHA-256 of a normalized phone number, the
    user_key both parties hold. ``activity`` (mean 1) scales how much a person uses apps;
    ``interest`` (n, categories) lies in [0, 1]; ``audience`` marks who is in the market for a
    category (content user or not); ``content`` marks content-platform users; ``member``
    (n, retailers) marks each retailer's customers; ``retailer_coverage`` is each retailer's
    target share of people.
    """

    keys: np.ndarray
    activity: np.ndarray
    interest: np.ndarray
    audience: np.ndarray
    content: np.ndarray
    member: np.ndarray
    retailer_coverage: np.ndarray

    @property
    def n(self) -> int:
        """Number of people."""
        return int(self.activity.shape[0])


def phone_numbers(n: int, seed: int) -> np.ndarray:
    """Return ``n`` distinct synthetic mainland mobile numbers (11 digits, 13x-19x) as int64."""
    rng = stream(seed, "phones")
    return 13_000_000_000 + rng.choice(7_000_000_000, size=n, replace=False).astype(np.int64)


def user_keys(phones: np.ndarray) -> np.ndarray:
    """Return the (n, 64) uint8 array of lowercase hex SHA-256 digests of ``+86<phone>``."""
    digests = "".join(hashlib.sha256(b"+86%d" % p).hexdigest() for p in phones.tolist())
    return np.frombuffer(digests.encode("ascii"), dtype=np.uint8).reshape(len(phones), KEY_WIDTH)


def build_population(config: WorldConfig) -> Population:
    """Draw the people of ``config``'s world."""
    n = config.users
    beh = config.behaviour
    rng = stream(config.seed, "population")
    keys = user_keys(phone_numbers(n, config.seed))
    activity = rng.gamma(shape=2.0, scale=0.5, size=n)
    prevalence = np.array([CATEGORY_PREVALENCE[c] for c in CATEGORIES])
    audience = rng.random((n, len(CATEGORIES))) < prevalence
    # In-market people lie in [0.2, 1]; others keep a faint interest in [0, 0.1].
    strong = 0.2 + 0.8 * rng.beta(2.0, 2.0, size=audience.shape)
    faint = 0.1 * rng.beta(1.0, 3.0, size=audience.shape)
    interest = np.where(audience, strong, faint)
    content = rng.random(n) < beh.content_share
    low, high = beh.retailer_coverage
    coverage = np.sort(rng.uniform(low, high, size=config.retailers))[::-1].copy()
    member = rng.random((n, config.retailers)) < coverage
    return Population(
        keys=keys,
        activity=activity,
        interest=interest,
        audience=audience,
        content=content,
        member=member,
        retailer_coverage=coverage,
    )
