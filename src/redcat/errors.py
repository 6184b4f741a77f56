"""One exception family for redcat.

Every error the package raises on purpose derives from :class:`RedcatError`; the CLI turns each into
one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations


class RedcatError(Exception):
    """Base class of every error redcat raises on purpose."""


class ConfigError(RedcatError):
    """A setting or command-line option has a value redcat cannot use."""


class InputError(RedcatError):
    """An input file (or one row and field of it) breaks the data contract.

    ``file``, ``row`` (1-based data row, header excluded) and ``field`` say where, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.reason = message
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(RedcatError):
    """The analytics store is missing, or lacks the tables a step needs."""


class MatchError(RedcatError):
    """Matching users between parties failed."""


class AttributionError(RedcatError):
    """An attribution model cannot run on the given journeys or options."""


class AccessDenied(RedcatError):
    """A caller asked for data outside the brand it is scoped to."""


class PrivacyBudgetExceeded(AccessDenied):
    """A release would spend more differential-privacy budget than the brand has left this period;
    nothing was spent."""
