"""Workspace event stream (SSE) and the same log as JSON pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse

from api.deps import ServicesDep, SessionDep, WorkspaceDep
from api.errors import ApiError
from api.presenters import links
from api.schemas import EventOut
from api.sse import workspace_events
from schema.models import Event
from schema.repositories import events as event_repo

MAX_EVENT_ID = 2**63 - 1  # event.id is a bigint: anything larger is not an id

router = APIRouter(prefix="/workspaces/{workspace_id}/events", tags=["events"])

SSE_RESPONSES = {
    200: {
        "description": "text/event-stream: `id` = event id, `event` = kind (task.running, task.succeeded, "
        "work_item.updated, ...), `data` = JSON {id, kind, data, created_at}; `: ping` comments keep it "
        "open. Every kind's schema: `x-sse-events`; task events carry `task_url`, task.succeeded `outputs`",
        "content": {"text/event-stream": {}},
    }
}


def _resume_point(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        try:
            value = int(last_event_id.strip())
        except ValueError as exc:
            raise ApiError(
                422, "last_event_id_invalid", "Last-Event-ID must be an event id (integer)"
            ) from exc
        if not 0 <= value <= MAX_EVENT_ID:
            raise ApiError(
                422,
                "last_event_id_invalid",
                f"Last-Event-ID must be an event id between 0 and {MAX_EVENT_ID}",
            )
        return value
    return after or 0


@router.get("", response_class=EventSourceResponse, responses=SSE_RESPONSES)
def stream_events(
    request: Request,
    workspace: WorkspaceDep,
    services: ServicesDep,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="Resume after this event id")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_EVENT_ID, description="Resume after this event id (header wins)")
    ] = None,
) -> EventSourceResponse:
    """Task progress and ledger changes as Server-Sent Events. Reconnect with `Last-Event-ID` (or
    `?after=`) to receive every event you missed, exactly once, in order."""
    start = _resume_point(last_event_id, after)
    config = services.config
    hub = request.app.state.event_hub
    return EventSourceResponse(
        workspace_events(
            services.sessions, hub, workspace.id, start, poll_s=config.sse_poll_s, urls=links(request)
        ),
        ping=config.sse_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/log", response_model=list[EventOut])
def list_events(
    workspace: WorkspaceDep,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_EVENT_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Event]:
    """The event log as JSON, oldest first (page with `after` = the last id you saw)."""
    return event_repo.since(session, workspace.id, after, limit)
