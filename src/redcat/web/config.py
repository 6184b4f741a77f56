"""The web app's configuration: where the store, the operational database and snapshots live."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from redcat.settings import Settings


@dataclass(frozen=True)
class WebConfig:
    """What :func:`redcat.web.app.create_app` needs. ``store``: the analytics DuckDB (only
    ``refresh`` reads it); ``ops_db``: SQLAlchemy URL of the operational store; ``report_dir``:
    the snapshot folder the API answers from; ``secure_cookies``: mark cookies HTTPS-only (set
    behind TLS)."""

    store: Path
    ops_db: str
    report_dir: Path
    settings: Settings = field(default_factory=Settings)
    secure_cookies: bool = False

    @cached_property
    def report_settings(self) -> Settings:
        """The settings snapshots are measured with: ``settings``, its privacy budget ledger in
        the operational store ``ops_db`` unless ``settings.privacy.ledger_url`` names another
        (so the brand view's releases spend the budget the dashboard shows)."""
        privacy = self.settings.privacy
        if privacy.ledger_url:
            return self.settings
        return dataclasses.replace(
            self.settings, privacy=dataclasses.replace(privacy, ledger_url=self.ops_db)
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Path | None = None,
        ops_db: str | None = None,
        report_dir: Path | None = None,
    ) -> WebConfig:
        """Return a config from ``settings`` with any of its locations overridden."""
        return cls(
            store=store or settings.store,
            ops_db=ops_db or settings.web.ops_db,
            report_dir=report_dir or settings.web.report_dir,
            settings=settings,
        )
