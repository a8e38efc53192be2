"""Declarative base for the ledger.

Rule: every constraint and index gets a deterministic name from NAMING_CONVENTION, so migrations
can drop/alter them by name and autogenerate never sees spurious differences. Python types map to
PostgreSQL types once, here: UUID -> uuid, datetime -> timestamptz, dict/list -> jsonb, enums ->
named PostgreSQL enum types (stored by value).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
    }


def pg_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A named PostgreSQL enum type that stores the members' values (not their names)."""
    return Enum(
        enum_cls,
        name=name,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def uuid_pk() -> Mapped[uuid.UUID]:
    """UUID primary key: generated in Python for ORM inserts (so a parent's id is known before the
    flush) and by the server (gen_random_uuid()) for raw SQL inserts."""
    return mapped_column(primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()"))


def created_at() -> Mapped[datetime]:
    """Insertion time. clock_timestamp(), not now(): rows written in one transaction keep their
    insertion order (now() is the transaction's start time, the same for all of them)."""
    return mapped_column(server_default=func.clock_timestamp(), nullable=False)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def version_of(updated_at: datetime | None) -> str:
    """A row's optimistic-concurrency version: `updated_at` in whole microseconds since the epoch
    (integer arithmetic: exact, and equal to what the storyboard's SQL computes)."""
    if updated_at is None:
        return "0"
    return str((updated_at - _EPOCH) // timedelta(microseconds=1))


def updated_at() -> Mapped[datetime]:
    """Last change, from the same clock as created_at (clock_timestamp()): a new row's updated_at is
    never earlier than its created_at (now() would be the transaction's start, before it)."""
    return mapped_column(
        server_default=func.clock_timestamp(), onupdate=func.clock_timestamp(), nullable=False
    )
