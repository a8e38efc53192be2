"""The context builder: a bounded summary of one workspace for the planner, never the workspace.

Rule: the output is the :class:`agent.planner.PlanningContext` dict the offline planner takes
(workspace, focus, tracks, latest grid, task counts, snapshots, characters) plus a ``shot_index``
of one short line per shot (at most ``MAX_SHOT_LINES``) for LLM planners. Its size does not grow
with the project: capped lists, clipped text, a fixed number of statements. Reads only, and only
the caller's workspace (``get_for_owner``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from schema.enums import USER_TASK_TYPES, TaskStatus, WorkItemType
from schema.models import WorkItem
from schema.repositories import (
    characters,
    nodes,
    snapshots,
    storyboard,
    tasks,
    tracks,
    work_items,
    workspaces,
)
from services.resolve import Focus

MAX_SHOT_LINES = 60
MAX_SNAPSHOTS = 10
MAX_CHARACTERS = 20
VISUAL_CHARS = 90


def _clip(text: Any, limit: int) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def shot_line(item: WorkItem) -> str:
    """``#3 4.0s | medium, low | a fox on a rooftop … | selected`` (one line, bounded)."""
    spec = item.spec or {}
    camera = spec.get("camera") or {}
    cam = ", ".join(str(camera[k]) for k in ("size", "angle", "movement") if camera.get(k))
    extra = ", ".join(str(spec[k]) for k in ("time_of_day", "lighting", "mood") if spec.get(k))
    parts = [
        f"#{item.idx}" if item.idx is not None else "draft",
        f"{item.duration_s:.1f}s" if item.duration_s else "",
        cam,
        _clip(spec.get("visual"), VISUAL_CHARS),
        extra,
        "selected" if item.selected_node_id else "no image yet",
    ]
    return " | ".join(p for p in parts if p)


def build_context(
    session: Session, user_id: str, workspace_id: str | None, focus: Focus | None = None
) -> dict[str, Any]:
    """The planning context of the caller's workspace (empty when there is none or it is not theirs)."""
    ws_id = _uuid(workspace_id)
    ws = workspaces.get_for_owner(session, user_id, ws_id) if ws_id else None
    if ws is None:
        return {}
    shots = work_items.list_shots(session, ws.id)
    focus = focus or Focus()
    focus_id = _uuid(focus.work_item_id)
    focused = work_items.get(session, focus_id) if focus_id else None
    if focused is not None and focused.workspace_id != ws.id:
        focused = None

    ctx: dict[str, Any] = {
        "workspace": {
            "type": ws.type.value,
            "title": _clip(ws.title, 120),
            "shots": len(shots),
            "scenes": len(storyboard.list_scenes(session, ws.id)),
            "style": _clip(ws.style, 120) or None,
            "cost_limit": ws.cost_limit,
        },
        "focus": {},
        "tracks": {},
        "shot_index": [shot_line(s) for s in shots[:MAX_SHOT_LINES]],
    }
    if len(shots) > MAX_SHOT_LINES:
        ctx["shot_index"].append(f"… and {len(shots) - MAX_SHOT_LINES} more shots")
    if focused is not None:
        track_names = [t.name for t in tracks.list_for_work_item(session, focused.id)]
        current_name = focus.track
        if current_name is None:
            main = tracks.main_track(session, focused.id)
            current_name = main.name if main else (track_names[-1] if track_names else None)
        number = focused.idx if focused.type == WorkItemType.shot else None
        ctx["focus"] = {"shot": number, "track": current_name, "work_item_id": str(focused.id)}
        if number is not None:
            ctx["tracks"][str(number)] = track_names
        track = tracks.get_by_name(session, focused.id, current_name) if current_name else None
        grid = nodes.latest_grid(session, focused.id, track.id) if track else None
        if grid is not None:
            ctx["latest_grid"] = {
                "shot": number,
                "track": current_name,
                "cells": len(grid.cells),
                "node": str(grid.group.id),
            }
    counts = {"running": 0, "queued": 0, "failed": 0}
    for t in tasks.list_tasks(
        session,
        ws.id,
        status=(TaskStatus.running, TaskStatus.queued, TaskStatus.failed),
        type=USER_TASK_TYPES,
        limit=500,
    ):
        counts[t.status.value] += 1
    ctx["tasks"] = counts
    recent = snapshots.list_for_workspace(session, ws.id, limit=MAX_SNAPSHOTS)
    ctx["snapshots"] = [{"id": str(s.id), "note": _clip(s.note, 200)} for s in reversed(recent)]
    ctx["characters"] = [c.name for c in characters.list_for_workspace(session, ws.id)[:MAX_CHARACTERS]]
    return ctx


__all__ = ["MAX_SHOT_LINES", "build_context", "shot_line"]
