"""Match: turn each party's raw ``user_key`` into a shared pseudonymous ``match_key``.

Everything downstream of match works on ``match_key`` only, and only on rows of users both sides
hold. The spine's protocol (:mod:`redcat.match.direct`) keys a salted hash of ``user_key`` inside
one store; private set intersection between separate parties replaces it behind the same output
tables (``cr_content_events``, ``cr_commerce_events``, ``cr_holdouts``, ``match_runs``).
"""

from redcat.match.direct import MatchReport, run_direct_match

__all__ = ["MatchReport", "run_direct_match"]
