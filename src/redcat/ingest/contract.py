"""The data contract: the input tables each party exports, field by field.

One :class:`TableSpec` per input table. Readers validate every row against it; the simulator writes
exactly these columns. Files are named after the table (``notes.csv``, ``content_events.parquet``,
``commerce_events.jsonl``...). Timestamps are ISO 8601 (UTC when no offset is given) or, in Parquet,
timestamp columns; dates are ``YYYY-MM-DD``; ``product_ids`` is a list (``|``-separated in CSV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["str", "int", "float", "timestamp", "date", "enum", "list"]
Party = Literal["content", "retailer"]


@dataclass(frozen=True)
class Field:
    """One column: its name, kind, whether it may be empty, allowed values and lower bound."""

    name: str
    kind: FieldKind
    required: bool = True
    choices: tuple[str, ...] = ()
    minimum: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """One input table: its fields and the key that makes re-ingesting a file idempotent."""

    name: str
    party: Party
    fields: tuple[Field, ...]
    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        """Return the field called ``name``; raises KeyError if the table has none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


NOTE_TYPES = ("organic", "partnership", "ad")
CONTENT_EVENTS = (
    "impression",
    "read",
    "like",
    "collect",
    "comment",
    "share",
    "follow",
    "search",
    "link_click",
    # The user published the note (note_id) themselves: how buyers' notes about a brand (the S,
    # shared, stage of audience assets) reach the clean room, matched like every user_key.
    "post",
)
SURFACES = ("feed", "search", "profile")
SPEND_KINDS = ("heat", "traffic")
ARMS = ("test", "control")
COMMERCE_EVENTS = ("search", "visit", "favorite", "cart", "order")

NOTES = TableSpec(
    name="notes",
    party="content",
    fields=(
        Field("note_id", "str"),
        Field("brand_id", "str"),
        Field("creator_id", "str"),
        Field("note_type", "enum", choices=NOTE_TYPES),
        Field("product_ids", "list", required=False),
        Field("published_at", "timestamp"),
        Field("title", "str", required=False),
    ),
    key=("note_id",),
)

CONTENT_EVENTS_TABLE = TableSpec(
    name="content_events",
    party="content",
    fields=(
        Field("event_id", "str"),
        Field("user_key", "str"),
        Field("note_id", "str"),
        Field("ts", "timestamp"),
        Field("event", "enum", choices=CONTENT_EVENTS),
        Field("surface", "enum", choices=SURFACES),
    ),
    key=("event_id",),
)

SPEND = TableSpec(
    name="spend",
    party="content",
    fields=(
        Field("date", "date"),
        Field("note_id", "str"),
        Field("campaign_id", "str"),
        Field("amount", "float", minimum=0.0),
        Field("kind", "enum", choices=SPEND_KINDS),
    ),
    key=("date", "note_id", "campaign_id", "kind"),
)

HOLDOUTS = TableSpec(
    name="holdouts",
    party="content",
    fields=(
        Field("user_key", "str"),
        Field("campaign_id", "str"),
        Field("arm", "enum", choices=ARMS),
    ),
    key=("user_key", "campaign_id"),
)

COMMERCE_EVENTS_TABLE = TableSpec(
    name="commerce_events",
    party="retailer",
    fields=(
        Field("event_id", "str"),
        Field("user_key", "str"),
        Field("shop_id", "str", required=False),  # a platform-wide search has no shop
        Field("ts", "timestamp"),
        Field("event", "enum", choices=COMMERCE_EVENTS),
        Field("query", "str", required=False),
        Field("product_id", "str", required=False),
        Field("order_id", "str", required=False),
        Field("amount", "float", required=False, minimum=0.0),
    ),
    key=("event_id",),
)

SHOPS = TableSpec(
    name="shops",
    party="retailer",
    fields=(Field("shop_id", "str"), Field("brand_id", "str")),
    key=("shop_id",),
)

BRAND_TERMS = TableSpec(
    name="brand_terms",
    party="retailer",
    fields=(Field("brand_id", "str"), Field("term", "str")),
    key=("brand_id", "term"),
)

CONTENT_TABLES: tuple[TableSpec, ...] = (NOTES, CONTENT_EVENTS_TABLE, SPEND, HOLDOUTS)
RETAILER_TABLES: tuple[TableSpec, ...] = (COMMERCE_EVENTS_TABLE, SHOPS, BRAND_TERMS)
ALL_TABLES: dict[str, TableSpec] = {t.name: t for t in CONTENT_TABLES + RETAILER_TABLES}

FILE_SUFFIXES = (".csv", ".parquet", ".jsonl")


def tables_for(party: Party) -> tuple[TableSpec, ...]:
    """Return the contract tables a party exports."""
    return CONTENT_TABLES if party == "content" else RETAILER_TABLES
