"""Server-Sent Events from the ledger's event log.

Rules:
- the event id is the ledger's ``event.id`` (monotonic per workspace in commit order, see
  schema.repositories.events), so ``Last-Event-ID`` resumes exactly: every event with a larger id
  is sent, in order, once; nothing at or below it is sent again;
- one LISTEN connection per API process (EventHub) wakes the streams of a workspace when its
  events commit (NOTIFY); a stream also re-reads every ``poll_s`` seconds, so a lost notification
  (or a hub reconnecting) delays an event but never loses it;
- a comment line (``: ping``) every ``ping_s`` seconds keeps proxies from closing idle streams;
- no database connection is held while a stream waits;
- when the workspace is deleted (its event log goes with it), the stream sends one last
  ``workspace.deleted`` event (no id: there is nothing to resume after) and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sse_starlette import ServerSentEvent

from api.presenters import add_task_links
from api.schemas import Links
from schema.db import json_dumps, normalize_url, unit_of_work
from schema.models import Workspace
from schema.repositories import events as event_repo

log = logging.getLogger("directordeck.api.sse")

BATCH = 500
WORKSPACE_DELETED = "workspace.deleted"


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as a plain libpq connection string for psycopg."""
    url = make_url(normalize_url(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class EventHub:
    """Fans PostgreSQL NOTIFY out to the streams waiting on each workspace."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self.listening = False
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self.database_url:
            self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.listening = False

    def subscribe(self, workspace_id: uuid.UUID) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(str(workspace_id), set()).add(event)
        return event

    def unsubscribe(self, workspace_id: uuid.UUID, event: asyncio.Event) -> None:
        waiters = self._waiters.get(str(workspace_id))
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(str(workspace_id), None)

    def wake(self, workspace_id: str) -> None:
        for event in self._waiters.get(workspace_id, ()):
            event.set()

    def wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def _run(self) -> None:
        assert self.database_url is not None
        conninfo = libpq_url(self.database_url)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {event_repo.EVENTS_CHANNEL}")
                    self.listening = True
                    self.wake_all()  # anything committed while we were not listening
                    async for notify in conn.notifies():
                        workspace_id, _, _ = notify.payload.partition(":")
                        self.wake(workspace_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event hub lost its LISTEN connection (%s); retrying", exc)
            self.listening = False
            await asyncio.sleep(1.0)


def event_payload(event: Any) -> dict[str, Any]:
    return {
        "id": int(event.id),
        "kind": event.kind,
        "data": event.data,
        "created_at": event.created_at.isoformat(),
    }


async def workspace_events(
    sessions: Any,
    hub: EventHub,
    workspace_id: uuid.UUID,
    after_id: int,
    *,
    poll_s: float,
    stop: Callable[[], bool] = lambda: False,
    urls: Links | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every event of the workspace with id > after_id, then new ones as they commit, forever.
    With `urls`, task events carry their task URL and outputs (api.presenters.add_task_links)."""

    def fetch(after: int) -> list[dict[str, Any]] | None:
        """The next events; None when the workspace is gone (checked whenever nothing is new)."""
        with unit_of_work(sessions) as session:
            rows = [event_payload(e) for e in event_repo.since(session, workspace_id, after, BATCH)]
            if not rows and session.get(Workspace, workspace_id) is None:
                return None
            if urls is not None:
                add_task_links(session, workspace_id, rows, urls)
            return rows

    wake = hub.subscribe(workspace_id)
    last = after_id
    try:
        yield ServerSentEvent(comment="stream open", retry=2000)
        while not stop():
            wake.clear()
            batch = await asyncio.to_thread(fetch, last)
            if batch is None:  # the workspace was deleted: say so, nothing more will ever come
                gone = {"id": None, "kind": WORKSPACE_DELETED, "data": {"workspace_id": str(workspace_id)}}
                yield ServerSentEvent(data=json_dumps(gone), event=WORKSPACE_DELETED)
                return
            for item in batch:
                last = item["id"]
                yield ServerSentEvent(data=json_dumps(item), event=item["kind"], id=str(item["id"]))
            if len(batch) == BATCH:
                continue
            timeout = poll_s if hub.listening else min(poll_s, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timeout)
    finally:
        hub.unsubscribe(workspace_id, wake)


def sse_json(kind: str, data: Any, event_id: str | None = None) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data, default=str, ensure_ascii=False), event=kind, id=event_id)
