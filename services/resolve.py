"""Target resolution: targets as people say them (shot 3, shots 8-12, all, scene 2, track B, #7,
"before the neon change") → ledger rows of ONE workspace.

Rules: every lookup is scoped to the caller's workspace (an id from another workspace resolves
to nothing, never to a row); anything that cannot be resolved raises :class:`TargetUnresolved`
(code ``target_unresolved``) with a message that says what exists instead, never a guess. In Pro
mode the focus (work item + track) fills in what the sentence leaves out: a draft is addressed
by the focus alone, "#7" is cell 7 of the latest grid on the focused track.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from schema.domain_errors import DomainError
from schema.enums import NodeStatus, NodeType, TaskType, WorkItemType, WorkspaceType
from schema.models import Character, Node, Scene, Snapshot, Task, Track, WorkItem, Workspace
from schema.repositories import characters, nodes, snapshots, storyboard, tasks, tracks, work_items

DEFAULT_TRACK = "A"
_STOP_WORDS = {
    "the",
    "a",
    "an",
    "my",
    "our",
    "change",
    "changes",
    "edit",
    "edits",
    "update",
    "before",
    "to",
    "of",
    "version",
    "改",
    "的",
    "之",
    "前",
    "把",
}


class TargetUnresolved(DomainError):
    """A target the user named does not exist in this workspace (or is ambiguous)."""

    code = "target_unresolved"
    http_status = 422


@dataclass
class Touched:
    """What one action resolved, as plain values read when resolved (a deleted shot keeps its
    number): the shots, images and tasks a chat result links to."""

    shots: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def shot(self, item: WorkItem) -> None:
        self.shots.setdefault(str(item.id), {"work_item_id": str(item.id), "idx": item.idx})

    def node(self, node: Node) -> None:
        self.nodes.setdefault(
            str(node.id),
            {
                "node_id": str(node.id),
                "type": node.type.value,
                "work_item_id": str(node.work_item_id) if node.work_item_id else None,
                "cell": node.cell,
            },
        )

    def task(self, task: Task) -> None:
        self.tasks.setdefault(
            str(task.id),
            {
                "task_id": str(task.id),
                "type": task.type.value,
                "work_item_id": str(task.work_item_id) if task.work_item_id else None,
                "workflow_id": task.workflow_id,
            },
        )


@dataclass
class Focus:
    """Pro-mode binding: the conversation's work item and current track (both optional)."""

    work_item_id: str | None = None
    track: str | None = None


def as_uuid(value: str | uuid.UUID, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise TargetUnresolved(f"{what} {value!r} is not a valid id") from None


def _numbers(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


class Resolver:
    """Resolves targets against one workspace inside the caller's session (reads only)."""

    def __init__(self, session: Session, workspace: Workspace | None, focus: Focus | None = None) -> None:
        self.session = session
        self.workspace = workspace
        self.focus = focus or Focus()
        self._focus_item: WorkItem | Literal[False] | None = False
        self.touched = Touched()

    def begin_action(self) -> Touched:
        """Start recording what the next action resolves (shots, images, tasks): its links."""
        self.touched = Touched()
        return self.touched

    # --- workspace ----------------------------------------------------------------------------

    def require_workspace(self) -> Workspace:
        if self.workspace is None:
            raise TargetUnresolved(
                "there is no project yet: create one first (e.g. “make a 6-shot storyboard about …”)",
                code="workspace_required",
            )
        return self.workspace

    @property
    def is_draft_space(self) -> bool:
        return self.workspace is not None and self.workspace.type == WorkspaceType.draft_space

    def focus_item(self) -> WorkItem | None:
        """The focused work item (Pro mode), checked to be in this workspace."""
        if self._focus_item is False:
            item = None
            if self.focus.work_item_id and self.workspace is not None:
                item = work_items.get(self.session, as_uuid(self.focus.work_item_id, "work item"))
                if item is None or item.workspace_id != self.workspace.id:
                    raise TargetUnresolved(f"the focused work item {self.focus.work_item_id} is not here")
            self._focus_item = item
        return self._focus_item or None

    # --- shots and scenes ---------------------------------------------------------------------

    def all_shots(self) -> list[WorkItem]:
        return work_items.list_shots(self.session, self.require_workspace().id)

    def shots(self, targets: list[int] | Literal["all"]) -> list[WorkItem]:
        """Shot numbers (1-based) or "all" → work items, in story order. Draft spaces resolve to
        the focused draft (drafts have no numbers)."""
        workspace = self.require_workspace()
        focus = self.focus_item()
        if workspace.type == WorkspaceType.draft_space or (
            focus is not None and focus.type == WorkItemType.draft
        ):
            if focus is None:
                raise TargetUnresolved("drafts have no shot numbers; open the draft (Pro mode) to work on it")
            self.touched.shot(focus)
            return [focus]
        shots = self.all_shots()
        if targets == "all":
            if not shots:
                raise TargetUnresolved("this project has no shots yet")
            for item in shots:
                self.touched.shot(item)
            return shots
        by_idx = {s.idx: s for s in shots}
        missing = [n for n in targets if n not in by_idx]
        if missing:
            total = len(shots)
            where = (
                f"this project has {total} shots (1–{total})" if total else "this project has no shots yet"
            )
            plural = "s" if len(missing) > 1 else ""
            raise TargetUnresolved(f"shot{plural} {_numbers(missing)} not found: {where}")
        for n in targets:
            self.touched.shot(by_idx[n])
        return [by_idx[n] for n in targets]

    def shot(self, number: int | None) -> WorkItem:
        """One shot by number; without a number, the focused work item."""
        if number is None:
            focus = self.focus_item()
            if focus is None:
                raise TargetUnresolved("which shot? name its number")
            self.touched.shot(focus)
            return focus
        return self.shots([number])[0]

    def scene(self, number: int) -> Scene:
        workspace = self.require_workspace()
        scene = storyboard.get_scene_by_idx(self.session, workspace.id, number)
        if scene is None:
            total = len(storyboard.list_scenes(self.session, workspace.id))
            where = f"this project has {total} scenes (1–{total})" if total else "this project has no scenes"
            raise TargetUnresolved(f"scene {number} not found: {where}")
        return scene

    def character(self, name: str) -> Character:
        workspace = self.require_workspace()
        found = characters.get_by_name(self.session, workspace.id, name)
        if found is None:
            known = [c.name for c in characters.list_for_workspace(self.session, workspace.id)]
            hint = f" (characters: {', '.join(known)})" if known else " (there are no characters yet)"
            raise TargetUnresolved(f"character {name!r} not found{hint}")
        return found

    # --- tracks, grids and nodes --------------------------------------------------------------

    def track(self, item: WorkItem, name: str) -> Track:
        found = tracks.get_by_name(self.session, item.id, name)
        if found is None:
            known = [t.name for t in tracks.list_for_work_item(self.session, item.id)]
            hint = f"tracks: {', '.join(known)}" if known else "it has no tracks yet"
            raise TargetUnresolved(f"{self.label(item)} has no track {name} ({hint})")
        return found

    def current_track_name(self, item: WorkItem) -> str:
        """The track a sentence means when it names none: the focused track (Pro mode, same work
        item), else the main track (holding the selected node), else the newest track, else A."""
        focus = self.focus_item()
        if focus is not None and focus.id == item.id and self.focus.track:
            return self.focus.track
        main = tracks.main_track(self.session, item.id)
        if main is not None:
            return main.name
        existing = tracks.list_for_work_item(self.session, item.id)
        return existing[-1].name if existing else DEFAULT_TRACK

    def latest_grid(self, item: WorkItem, track_name: str | None) -> nodes.Grid:
        name = track_name or self.current_track_name(item)
        track = self.track(item, name)
        grid = nodes.latest_grid(self.session, item.id, track.id)
        if grid is None:
            raise TargetUnresolved(f"track {name} of {self.label(item)} has no grid yet")
        return grid

    def cell(self, item: WorkItem, cell: int, track_name: str | None) -> Node:
        grid = self.latest_grid(item, track_name)
        found = next((c for c in grid.cells if c.cell == cell), None)
        if found is None:
            raise TargetUnresolved(
                f"image #{cell} not found: the latest grid of {self.label(item)} has {len(grid.cells)} images"
            )
        self.touched.node(found)
        return found

    def node_by_id(self, node_id: str) -> Node:
        workspace = self.require_workspace()
        node = nodes.get(self.session, as_uuid(node_id, "node"))
        if node is None or node.workspace_id != workspace.id:
            raise TargetUnresolved(f"node {node_id} not found in this project")
        self.touched.node(node)
        return node

    def node(
        self,
        *,
        node: str | None = None,
        cell: int | None = None,
        shot: int | None = None,
        track: str | None = None,
    ) -> Node:
        """A node by id, or cell #N of the latest grid of (shot or focus, track or current)."""
        if node is not None:
            return self.node_by_id(node)
        if cell is None:
            raise TargetUnresolved("which image? say e.g. “#7”")
        return self.cell(self.shot(shot), cell, track)

    def track_name_of(self, node: Node) -> str | None:
        if node.track_id is None:
            return None
        track = tracks.get(self.session, node.track_id)
        return track.name if track else None

    def item_of(self, node: Node) -> WorkItem:
        if node.work_item_id is None:
            raise TargetUnresolved("that node belongs to the whole project, not to a shot")
        item = work_items.get(self.session, node.work_item_id)
        assert item is not None
        self.touched.shot(item)
        return item

    def label(self, item: WorkItem) -> str:
        return f"shot {item.idx}" if item.idx is not None else "this draft"

    @staticmethod
    def is_image(node: Node) -> bool:
        return node.type == NodeType.image and node.status == NodeStatus.ok

    # --- snapshots and tasks ------------------------------------------------------------------

    def snapshot(self, snapshot_id: str | None, before: str | None) -> Snapshot:
        workspace = self.require_workspace()
        if snapshot_id:
            try:
                found = snapshots.get(self.session, uuid.UUID(snapshot_id))
            except ValueError:
                found = None
            if found is not None and found.workspace_id == workspace.id:
                return found
            if not before:
                raise TargetUnresolved(f"snapshot {snapshot_id} not found in this project")
        recent = snapshots.list_for_workspace(self.session, workspace.id, limit=100)
        match = match_snapshot(recent, before or "")
        if match is None:
            hint = (
                "; recent snapshots: " + "; ".join(f"“{s.note}”" for s in recent[:3])
                if recent
                else "; there are no snapshots yet"
            )
            raise TargetUnresolved(f"no snapshot matches “{before}”{hint}")
        return match

    def task(self, key: str) -> Task:
        workspace = self.require_workspace()
        try:
            found = tasks.get(self.session, uuid.UUID(key))
        except ValueError:
            found = tasks.get_by_workflow_id(self.session, key)
        if found is None or found.workspace_id != workspace.id or found.type == TaskType.agent_turn:
            raise TargetUnresolved(f"task {key} not found in this project")
        self.touched.task(found)
        return found


def _words(text: str) -> set[str]:
    lowered = text.lower()
    words = set(re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", lowered)) - _STOP_WORDS
    return {w for w in words if len(w) > 1 or "\u4e00" <= w <= "\u9fff" or w.isdigit()}


def match_snapshot(candidates: Sequence[Snapshot], before: str) -> Snapshot | None:
    """The newest snapshot whose note contains every word of `before`; else the newest with the
    most words in common (at least one). `candidates` are newest first."""
    words = _words(before)
    if not words:
        return None
    best: tuple[int, Any] | None = None
    for snap in candidates:
        note = snap.note.lower()
        score = sum(1 for w in words if w in note)
        if score == len(words):
            return snap
        if score and (best is None or score > best[0]):
            best = (score, snap)
    return best[1] if best else None


__all__ = ["DEFAULT_TRACK", "Focus", "Resolver", "TargetUnresolved", "Touched", "as_uuid", "match_snapshot"]
