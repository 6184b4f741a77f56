"""Engine: opens the analytics store (DuckDB by default) and hands measurements Ibis tables.

Measurements are written once as Ibis expressions over :class:`Engine` tables, so that the same
code runs on DuckDB here and on Spark when one machine is not enough. DuckDB-only SQL is confined
to functions marked ``FAST PATH`` with a portable twin beside them.
"""

from redcat.engine.core import Engine, open_engine

__all__ = ["Engine", "open_engine"]
