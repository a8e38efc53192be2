"""Where each shot stands (grid, clip, narration), what is out of date, and what it cost.

Rule: staleness is read from what every output records it was made from, never guessed from
clocks: a clip names its source image (``parent_id`` / ``payload.source_node_id``), a narration
its text (``payload.text``), a cut the clip and narration of every shot it used (``payload.shots``)
and the shots it had to leave out (``payload.missing_shots``). So:

- a clip is **stale** when the shot's selected image is no longer the image it was made from;
- a narration is **stale** when the shot's narration text changed since it was spoken;
- a cut is **stale** when compose would now choose another clip or narration for a shot, when a
  shot was added, removed or moved since, or when the cut left a shot out (``missing``).

Everything here is a handful of set-based statements for the whole workspace (no per-shot loop
of queries), so the board of a 60-shot project is one request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.enums import NodeStatus, NodeType, TaskStatus, TaskType, WorkItemType
from schema.models import Node, Task, WorkItem
from schema.repositories import nodes as node_repo

ACTIVE = (TaskStatus.queued, TaskStatus.running)
STAGE_TASKS = {TaskType.grid: "grid", TaskType.video: "clip", TaskType.voice: "voice"}


@dataclass
class Stage:
    """One stage of one shot: ``none`` | ``queued`` | ``running`` | ``done`` | ``failed``."""

    status: str = "none"
    node_id: uuid.UUID | None = None
    count: int = 0
    stale: bool = False
    reason: str | None = None
    error: dict[str, Any] | None = None


@dataclass
class ShotStages:
    work_item_id: uuid.UUID
    idx: int
    grid: Stage = field(default_factory=Stage)
    clip: Stage = field(default_factory=Stage)
    voice: Stage = field(default_factory=Stage)
    cost: float | None = None
    gpu_seconds: float = 0.0
    tasks: int = 0


@dataclass
class CutState:
    node_id: uuid.UUID
    mode: str
    asset_id: uuid.UUID | None
    task_id: uuid.UUID | None
    created_at: Any
    duration_s: float | None
    shots: list[dict[str, Any]]
    missing_shots: list[dict[str, Any]]
    stale: bool
    reasons: list[str]


def _stage_from_tasks(stage: Stage, latest: Task | None) -> None:
    """A running or failed newer task overrides what the nodes say (the card shows the work)."""
    if latest is None:
        return
    if latest.status in ACTIVE:
        stage.status = latest.status.value
    elif latest.status == TaskStatus.failed and stage.status == "none":
        stage.status = "failed"
        stage.error = latest.error
    elif latest.status == TaskStatus.failed:
        stage.error = latest.error  # an older result is still there; say the last try failed


def shot_stages(session: Session, workspace_id: uuid.UUID) -> list[ShotStages]:
    shots = list(
        session.scalars(
            select(WorkItem)
            .where(WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.shot)
            .order_by(WorkItem.idx)
        )
    )
    out = {s.id: ShotStages(work_item_id=s.id, idx=int(s.idx or 0)) for s in shots}
    if not shots:
        return []
    # newest ok node of each type per shot, plus image counts
    ranked = (
        select(
            Node.id,
            Node.work_item_id,
            Node.type,
            Node.parent_id,
            Node.payload,
            func.row_number()
            .over(
                partition_by=(Node.work_item_id, Node.type), order_by=(Node.created_at.desc(), Node.id.desc())
            )
            .label("rank"),
            func.count().over(partition_by=(Node.work_item_id, Node.type)).label("n"),
        )
        .where(
            Node.workspace_id == workspace_id,
            Node.work_item_id.is_not(None),
            Node.status == NodeStatus.ok,
            Node.type.in_([NodeType.image, NodeType.video, NodeType.audio_voice]),
        )
        .subquery()
    )
    newest: dict[tuple[uuid.UUID, NodeType], Any] = {}
    for row in session.execute(select(ranked).where(ranked.c.rank == 1)):
        newest[(row.work_item_id, row.type)] = row
    # clips made from the selected image (any age): the selected image has a fresh clip
    selected = {s.id: s.selected_node_id for s in shots}
    fresh_clip: dict[uuid.UUID, uuid.UUID] = {}
    sel_ids = [n for n in selected.values() if n is not None]
    if sel_ids:
        rows = session.execute(
            select(Node.work_item_id, Node.id, Node.parent_id)
            .where(
                Node.workspace_id == workspace_id,
                Node.type == NodeType.video,
                Node.status == NodeStatus.ok,
                Node.parent_id.in_(sel_ids),
            )
            .order_by(Node.created_at)
        )
        for work_item_id, node_id, parent_id in rows:
            if selected.get(work_item_id) == parent_id:
                fresh_clip[work_item_id] = node_id
    for shot in shots:
        st = out[shot.id]
        image = newest.get((shot.id, NodeType.image))
        if image is not None:
            st.grid = Stage("done", node_id=shot.selected_node_id or image.id, count=int(image.n))
        video = newest.get((shot.id, NodeType.video))
        if shot.id in fresh_clip:
            st.clip = Stage("done", node_id=fresh_clip[shot.id], count=int(video.n) if video else 1)
        elif video is not None:
            stale = shot.selected_node_id is not None and shot.selected_node_id not in (
                video.id,
                video.parent_id,
            )
            st.clip = Stage(
                "done",
                node_id=video.id,
                count=int(video.n),
                stale=stale,
                reason="made from an image that is no longer selected" if stale else None,
            )
        voice = newest.get((shot.id, NodeType.audio_voice))
        if voice is not None:
            spoken = str((voice.payload or {}).get("text") or "")
            narration = str((shot.spec or {}).get("narration") or "")
            stale = bool(narration) and spoken.strip() != narration.strip()
            st.voice = Stage(
                "done",
                node_id=voice.id,
                count=int(voice.n),
                stale=stale,
                reason="the narration text changed since it was spoken" if stale else None,
            )
    # the newest task per shot and stage, and what the shot's tasks cost
    task_rank = (
        select(
            Task.id,
            func.row_number()
            .over(
                partition_by=(Task.work_item_id, Task.type), order_by=(Task.created_at.desc(), Task.id.desc())
            )
            .label("rank"),
        )
        .where(Task.workspace_id == workspace_id, Task.type.in_(list(STAGE_TASKS)))
        .subquery()
    )
    latest_tasks = session.scalars(
        select(Task).join(task_rank, task_rank.c.id == Task.id).where(task_rank.c.rank == 1)
    )
    for task in latest_tasks:
        if task.work_item_id in out:
            _stage_from_tasks(getattr(out[task.work_item_id], STAGE_TASKS[task.type]), task)
    totals = session.execute(
        select(
            Task.work_item_id,
            func.count(),
            func.sum(Task.cost),
            func.coalesce(func.sum(Task.gpu_seconds), 0.0),
        )
        .where(Task.workspace_id == workspace_id, Task.work_item_id.is_not(None))
        .group_by(Task.work_item_id)
    )
    for work_item_id, count, cost, gpu in totals:
        if work_item_id in out:
            out[work_item_id].tasks = int(count)
            out[work_item_id].cost = None if cost is None else round(float(cost), 4)
            out[work_item_id].gpu_seconds = round(float(gpu or 0.0), 3)
    return [out[s.id] for s in shots]


def cut_states(session: Session, workspace_id: uuid.UUID) -> list[CutState]:
    """The newest cut of each mode (preview, final), newest first, and whether it is stale."""
    ranked = (
        select(
            Node.id,
            func.row_number()
            .over(partition_by=Node.payload["mode"].astext, order_by=(Node.created_at.desc(), Node.id.desc()))
            .label("rank"),
        )
        .where(Node.workspace_id == workspace_id, Node.type == NodeType.compose, Node.status == NodeStatus.ok)
        .subquery()
    )
    cuts = list(
        session.scalars(
            select(Node)
            .join(ranked, ranked.c.id == Node.id)
            .where(ranked.c.rank == 1)
            .order_by(Node.created_at.desc())
        )
    )
    if not cuts:
        return []
    shots = {
        s.id: s
        for s in session.scalars(
            select(WorkItem).where(WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.shot)
        )
    }
    now = {uuid.UUID(p["work_item_id"]): p for p in node_repo.compose_inputs(session, workspace_id)}
    out = []
    for cut in cuts:
        payload = cut.payload or {}
        used = [dict(s) for s in payload.get("shots") or []]
        missing = [dict(m) for m in payload.get("missing_shots") or []]
        reasons: list[str] = []
        used_ids = []
        for entry in used:
            item_id = uuid.UUID(str(entry["work_item_id"]))
            used_ids.append(item_id)
            shot = shots.get(item_id)
            if shot is None:
                reasons.append("a shot in this cut was deleted")
                continue
            entry["idx"] = shot.idx
            current = now.get(item_id)
            if current is None:
                reasons.append(f"shot {shot.idx} has no clip of its selected image any more")
            elif current["video_node_id"] != entry.get("video_node_id"):
                reasons.append(f"shot {shot.idx} has a newer clip or another selected image")
            elif current["voice_node_id"] != entry.get("voice_node_id"):
                reasons.append(f"shot {shot.idx} has a newer narration")
        for item_id, shot in sorted(shots.items(), key=lambda kv: kv[1].idx or 0):
            if item_id not in used_ids and not any(
                str(m.get("work_item_id")) == str(item_id) for m in missing
            ):
                reasons.append(f"shot {shot.idx} is not in this cut")
        for entry in missing:
            reasons.append(f"shot {entry.get('idx')} was left out: {entry.get('reason', 'no clip')}")
        order_then = [i for i in used_ids if i in shots]
        order_now = sorted(order_then, key=lambda i: shots[i].idx or 0)
        if order_then != order_now:
            reasons.append("the shot order changed")
        result = cut.result or {}
        out.append(
            CutState(
                node_id=cut.id,
                mode=str(payload.get("mode") or "preview"),
                asset_id=cut.asset_id,
                task_id=cut.task_id,
                created_at=cut.created_at,
                duration_s=result.get("duration_s"),
                shots=used,
                missing_shots=missing,
                stale=bool(reasons),
                reasons=list(dict.fromkeys(reasons)),
            )
        )
    return out


def missing_from_compose(session: Session, workspace_id: uuid.UUID, plan: list[Any]) -> list[dict[str, Any]]:
    """The shots compose leaves out of `plan` (no clip of their selected image), with the reason —
    recorded on the cut so it never drops a shot silently."""
    planned = {str(p["work_item_id"]) for p in plan}
    out = []
    for shot in session.scalars(
        select(WorkItem)
        .where(WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.shot)
        .order_by(WorkItem.idx)
    ):
        if str(shot.id) in planned:
            continue
        reason = "no clip of its selected image" if shot.selected_node_id is not None else "no clip yet"
        out.append({"work_item_id": str(shot.id), "idx": shot.idx, "reason": reason})
    return out


__all__ = ["CutState", "ShotStages", "Stage", "cut_states", "missing_from_compose", "shot_stages"]
