"""Operational state: tenants, users, tokens, sessions (and, from other modules, the privacy
ledger, links and clicks) in SQLite by default or PostgreSQL, through SQLAlchemy 2.x.

Schema changes are Alembic revisions in ``migrations/versions`` forming one linear chain; apply
them with :func:`redcat.store.db.upgrade`. Each domain keeps its models in ``store/<domain>.py``
on the shared :class:`redcat.store.db.Base`.
"""
