"""The context builder: a bounded summary of one workspace for the planner, never the workspace.

Rule: the output is the :class:`agent.planner.PlanningContext` dict the planners take: workspace,
story summary, scenes, shots (number, scene, duration, clipped visual — for "the shots in the
forest" and "three seconds shorter"), focus, tracks, latest grid, task counts and the running
tasks, snapshots, characters; plus a ``shot_index`` of one short line per shot for LLM planners.
Its size does not grow with the project: capped lists (``MAX_*``), clipped text, a fixed number of
statements. Reads only, and only the caller's workspace (``get_for_owner``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from schema.enums import USER_TASK_TYPES, TaskStatus, TaskType, WorkItemType
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
MAX_SCENES = 30
MAX_RUNNING = 10
VISUAL_CHARS = 90
STORY_CHARS = 1200


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

    scene_rows = storyboard.list_scenes(session, ws.id)
    scene_number = {sc.id: sc.idx for sc in scene_rows}
    story_task = next(iter(tasks.list_tasks(session, ws.id, type=TaskType.storyboard, limit=1)), None)
    story = ((story_task.payload or {}).get("input") or {}).get("story") if story_task else None
    ctx: dict[str, Any] = {
        "story": _clip(story, STORY_CHARS) or None,
        "scenes": [
            {"number": sc.idx, "title": _clip(sc.title, 80)} for sc in scene_rows[:MAX_SCENES] if sc.idx
        ],
        "shots": [
            {
                "number": item.idx,
                "scene": scene_number.get(item.scene_id),
                "duration_s": item.duration_s,
                "visual": _clip((item.spec or {}).get("visual"), VISUAL_CHARS),
                "selected": item.selected_node_id is not None,
            }
            for item in shots[:MAX_SHOT_LINES]
            if item.idx is not None
        ],
        "workspace": {
            "type": ws.type.value,
            "title": _clip(ws.title, 120),
            "shots": len(shots),
            "scenes": len(scene_rows),
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
    running: list[dict[str, Any]] = []
    shot_of = {item.id: item.idx for item in shots}
    for t in tasks.list_tasks(
        session,
        ws.id,
        status=(TaskStatus.running, TaskStatus.queued, TaskStatus.failed),
        type=USER_TASK_TYPES,
        limit=500,
    ):
        counts[t.status.value] += 1
        if t.status != TaskStatus.failed and len(running) < MAX_RUNNING:
            running.append(
                {
                    "id": str(t.id),
                    "type": t.type.value,
                    "status": t.status.value,
                    "shot": shot_of.get(t.work_item_id),
                }
            )
    ctx["tasks"] = counts
    ctx["running"] = running
    recent = snapshots.list_for_workspace(session, ws.id, limit=MAX_SNAPSHOTS)
    ctx["snapshots"] = [{"id": str(s.id), "note": _clip(s.note, 200)} for s in reversed(recent)]
    ctx["characters"] = [c.name for c in characters.list_for_workspace(session, ws.id)[:MAX_CHARACTERS]]
    return ctx


__all__ = ["MAX_RUNNING", "MAX_SCENES", "MAX_SHOT_LINES", "STORY_CHARS", "build_context", "shot_line"]
