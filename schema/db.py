"""Engines, session factory and unit of work for the ledger (SQLAlchemy on psycopg 3).

Rule: repositories flush, never commit; the unit of work is the only place that commits (on
success) or rolls back (on any error). Activities run this in threads, one session per unit of
work; sessions are not shared between threads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


json_dumps = partial(json.dumps, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver whatever PostgreSQL URL form was given (postgres://, postgresql://)."""
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the ledger needs PostgreSQL, got {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the ledger; jsonb values may contain UUIDs, datetimes, Decimals and enums."""
    options: dict[str, Any] = {"pool_pre_ping": True, "json_serializer": json_dumps}
    options.update(kwargs)
    return create_engine(normalize_url(url), **options)


def make_async_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An asyncio engine on the same driver, for one-statement reads on an event loop (no thread
    hop): same options as `make_engine`."""
    options: dict[str, Any] = {"pool_pre_ping": True, "json_serializer": json_dumps}
    options.update(kwargs)
    return create_async_engine(normalize_url(url), **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay usable after commit (results are handed to callers)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
