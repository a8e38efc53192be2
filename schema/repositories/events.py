"""Workspace event log, the source of SSE streams (`Last-Event-ID` = event id).

Rule: event ids of one workspace become visible in increasing order. An identity column alone
does not give that (a transaction holding id 7 can commit after one holding id 8, and a reader
at 8 would skip 7 forever), so `append` first takes a per-workspace transaction-level advisory
lock: appenders of one workspace commit one at a time, in id order. Keep transactions that
append events short. Each append also sends NOTIFY on EVENTS_CHANNEL (delivered at commit) with
`<workspace_id>:<event_id>`, so listeners can wake up instead of polling.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schema.models import Event

EVENTS_CHANNEL = "directordeck_events"
_LOCK_NAMESPACE = "directordeck.event:"


def append(
    session: Session, workspace_id: uuid.UUID, kind: str, data: Mapping[str, Any] | None = None
) -> int:
    """Append one event and return its id. Three round trips: lock, insert, notify."""
    key = func.hashtextextended(literal(_LOCK_NAMESPACE + str(workspace_id)), 0)
    session.execute(select(func.pg_advisory_xact_lock(key)))
    event_id = session.scalars(
        pg_insert(Event)
        .values(workspace_id=workspace_id, kind=kind, data=dict(data or {}))
        .returning(Event.id)
    ).one()
    session.execute(select(func.pg_notify(EVENTS_CHANNEL, f"{workspace_id}:{event_id}")))
    return int(event_id)


def since(session: Session, workspace_id: uuid.UUID, after_id: int = 0, limit: int = 500) -> list[Event]:
    """Events with id > after_id, oldest first."""
    stmt = (
        select(Event)
        .where(Event.workspace_id == workspace_id, Event.id > after_id)
        .order_by(Event.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def latest_id(session: Session, workspace_id: uuid.UUID) -> int:
    """The newest event id of the workspace (0 when there is none)."""
    value = session.scalar(
        select(func.coalesce(func.max(Event.id), 0)).where(Event.workspace_id == workspace_id)
    )
    return int(value or 0)


def notify_deleted(session: Session, workspace_id: uuid.UUID) -> None:
    """Wake the workspace's listeners at commit (its events are gone with it; streams end)."""
    session.execute(select(func.pg_notify(EVENTS_CHANNEL, f"{workspace_id}:deleted")))
