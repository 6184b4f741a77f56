"""redcat: an open-source seeding-to-sales (种草 → 拔草) measurement clean room.

Data flows one way: ``simulate`` (or real exports) → ``ingest`` → ``match`` → ``engine`` tables →
measurements (``funnel``, ``attribution``) → ``report`` → the faces (``cli``).
"""

__version__ = "0.1.0"
