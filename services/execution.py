"""One turn's execution: the state executors share, the helpers they use, and the executor registry.

Rule: every Action DSL verb has exactly one executor, registered with ``@executes(verb)`` in the
family module that owns it (project, shots, generation, tracks, tasks, versions, exports); the
router dispatches through ``EXECUTORS`` and never by name lookup.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infra.queues import Queues
from schema import actions as A
from schema.domain_errors import DomainError
from schema.enums import TaskType
from schema.models import Task, WorkItem, Workspace
from schema.repositories import tasks
from services.resolve import Focus, Resolver, TargetUnresolved, Touched
from workflows.compose import ComposeWorkflow
from workflows.contracts import (
    ComposeWorkflowInput,
    ExportWorkflowInput,
    GridWorkflowInput,
    MusicWorkflowInput,
    StoryboardWorkflowInput,
    VideoWorkflowInput,
    VoiceWorkflowInput,
)
from workflows.export import ExportWorkflow
from workflows.grid import GridWorkflow
from workflows.music import MusicWorkflow
from workflows.shot_video import ShotVideoWorkflow
from workflows.storyboard import StoryboardWorkflow
from workflows.voice import VoiceWorkflow

log = logging.getLogger(__name__)

DEFAULT_SHOT_COUNT = 6
TURN_KEY_PREFIX = "turn-"
READ_ONLY = frozenset(v.name for v in A.VERBS if v.read_only)  # no events, no idempotency record
RETRYABLE_TYPES = (
    TaskType.storyboard,
    TaskType.grid,
    TaskType.video,
    TaskType.voice,
    TaskType.music,
    TaskType.compose,
    TaskType.export,
)

# kind -> (workflow class, input dataclass, task type)
WORKFLOW_KINDS: dict[str, tuple[Any, type, TaskType]] = {
    "storyboard": (StoryboardWorkflow, StoryboardWorkflowInput, TaskType.storyboard),
    "grid": (GridWorkflow, GridWorkflowInput, TaskType.grid),
    "video": (ShotVideoWorkflow, VideoWorkflowInput, TaskType.video),
    "voice": (VoiceWorkflow, VoiceWorkflowInput, TaskType.voice),
    "music": (MusicWorkflow, MusicWorkflowInput, TaskType.music),
    "compose": (ComposeWorkflow, ComposeWorkflowInput, TaskType.compose),
    "export": (ExportWorkflow, ExportWorkflowInput, TaskType.export),
}


# --------------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------------


@dataclass
class Caller:
    """Who asks: the JWT subject and role."""

    user_id: str
    role: str = "user"


@dataclass
class ActionResult:
    """What one action did. ``status``: done | started | proposed | failed."""

    type: str
    status: str
    data: dict[str, Any] = field(default_factory=dict)
    task_ids: list[str] = field(default_factory=list)
    workflow_ids: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None  # {code, message}
    # what the action touched, for links: {"shots": [{work_item_id, idx}], "nodes": [{node_id,
    # type, work_item_id, cell}], "tasks": [{task_id, type, work_item_id, workflow_id}],
    # "exports": [{task_id}]} (empty for proposals and failures: nothing was written)
    touched: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class TurnResult:
    """What a turn did: ``mode`` is ``execute`` or ``propose`` (nothing written; confirm to run)."""

    mode: str
    results: list[ActionResult]
    snapshot_id: str | None = None
    proposal: dict[str, Any] | None = None  # {"turn": Turn JSON, "reason": str, ...}
    workspace_id: str | None = None  # the workspace the turn ran in (a new one after project.create)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnResult:
        return cls(
            mode=data["mode"],
            results=[ActionResult(**r) for r in data.get("results", [])],
            snapshot_id=data.get("snapshot_id"),
            proposal=data.get("proposal"),
            workspace_id=data.get("workspace_id"),
        )

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)


def failed_turn(turn: A.Turn, code: str, message: str) -> TurnResult:
    """Every action of `turn` failed with the same error (nothing was written)."""
    error = {"code": code, "message": message}
    return TurnResult("execute", [ActionResult(a.type, "failed", error=error) for a in turn.actions])


@dataclass
class WorkflowStart:
    index: int
    kind: str
    workflow_id: str
    task_id: str
    input: dict[str, Any]
    error: dict[str, Any] | None = None
    # for the Temporal UI (search attributes and memo): who asked, the workspace title, the shot
    user_id: str | None = None
    title: str | None = None
    shot_number: int | None = None


@dataclass
class WorkflowCancel:
    index: int
    workflow_id: str
    task_id: str
    unreachable: bool = False


def shots_label(items: Sequence[WorkItem]) -> str:
    idxs = [i.idx for i in items if i.idx is not None]
    if not idxs:
        return "the draft"
    if len(idxs) == 1:
        return f"shot {idxs[0]}"
    if idxs == list(range(idxs[0], idxs[0] + len(idxs))):
        return f"shots {idxs[0]}–{idxs[-1]}"
    return "shots " + ", ".join(map(str, idxs))


def seconds_label(value: float) -> str:
    """45.0 → "45 s", 12.25 → "12.2 s"."""
    return f"{value:.1f}".rstrip("0").rstrip(".") + " s"


def input_dict(obj: Any) -> dict[str, Any]:
    data = dataclasses.asdict(obj)
    data.pop("queues", None)
    return data


def build_input(kind: str, data: dict[str, Any], queues: Queues) -> Any:
    """The workflow input dataclass for `kind` from stored JSON (unknown keys are dropped)."""
    _, input_cls, _ = WORKFLOW_KINDS[kind]
    names = {f.name for f in dataclasses.fields(input_cls)}
    return input_cls(**{k: v for k, v in data.items() if k in names and k != "queues"}, queues=queues)


class TurnAborted(Exception):
    """An action failed: the whole turn's transaction rolls back."""

    def __init__(self, index: int, error: DomainError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


Executor = Callable[["Execution", Any], ActionResult]
EXECUTORS: dict[str, Executor] = {}
"""Verb name -> the function that performs it (filled by @executes in the family modules)."""


def executes(verb: str) -> Callable[[Executor], Executor]:
    """Register the executor of one Action DSL verb (each verb has exactly one)."""

    def register(fn: Executor) -> Executor:
        if verb not in A.VERBS_BY_NAME:
            raise ValueError(f"{fn.__name__}: {verb!r} is not a verb of schema/actions.py")
        if verb in EXECUTORS:
            raise ValueError(f"{verb} has two executors: {EXECUTORS[verb].__name__} and {fn.__name__}")
        EXECUTORS[verb] = fn
        return fn

    return register


class Execution:
    """One turn's execution inside its transaction: the state every executor shares (session,
    caller, workspace, resolver) and the helpers that record workflow starts and results."""

    def __init__(
        self,
        router: Any,
        session: Session,
        caller: Caller,
        workspace: Workspace | None,
        focus: Focus | None,
        turn: A.Turn,
        snapshot_id: str | None,
    ) -> None:
        self.router = router
        self.session = session
        self.caller = caller
        self.workspace = workspace
        self.resolve = Resolver(session, workspace, focus)
        self.turn = turn
        self.snapshot_id = snapshot_id
        self.starts: list[WorkflowStart] = []
        self.cancels: list[WorkflowCancel] = []
        self.index = 0

    def run_all(self) -> list[ActionResult]:
        results: list[ActionResult] = []
        for i, action in enumerate(self.turn.actions):
            self.index = i
            handler = EXECUTORS[action.type]
            touched = self.resolve.begin_action()
            try:
                result = handler(self, action)
                if result.status != "failed":
                    result.touched = self._touched(result, touched)
                results.append(result)
            except DomainError as err:
                raise TurnAborted(i, err) from err
            except IntegrityError as err:
                raise TurnAborted(
                    i, DomainError(f"the change conflicts with the ledger: {err.orig}", code="conflict")
                ) from err
        return results

    def _touched(self, result: ActionResult, touched: Touched) -> dict[str, list[dict[str, Any]]]:
        """The links of one action's result: the shots, images and tasks it resolved, the rows it
        created (``work_item_id(s)`` in its data) and the tasks it started or cancelled."""
        named = [result.data.get("work_item_id"), *(result.data.get("work_item_ids") or [])]
        for work_item_id in named:  # (resolved ones are in already: a deleted row is not read again)
            if not work_item_id or str(work_item_id) in touched.shots:
                continue
            item = self.session.get(WorkItem, uuid.UUID(str(work_item_id)))
            if item is not None:
                touched.shot(item)
        for task_id in result.task_ids:  # started, cancelled, retried (resolved ones are in already)
            if task_id not in touched.tasks and (row := self.session.get(Task, uuid.UUID(task_id))):
                touched.task(row)
        tasks = touched.tasks
        return {
            "shots": list(touched.shots.values()),
            "nodes": list(touched.nodes.values()),
            "tasks": list(tasks.values()),
            "exports": [
                {"task_id": t["task_id"]} for t in tasks.values() if t["type"] == TaskType.export.value
            ],
        }

    # --- helpers ----------------------------------------------------------------------------

    @property
    def ws(self) -> Workspace:
        return self.resolve.require_workspace()

    def set_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.resolve.workspace = workspace

    def start(
        self,
        kind: str,
        workflow_id: str,
        inp: Any,
        work_item_id: uuid.UUID | None = None,
        **extra: Any,
    ) -> tuple[str, str]:
        _, _, task_type = WORKFLOW_KINDS[kind]
        data = input_dict(inp)
        row = tasks.create(
            self.session,
            workspace_id=self.ws.id,
            type=task_type,
            workflow_id=workflow_id,
            work_item_id=work_item_id,
            payload={"workflow": kind, "input": data, "requested_by": self.caller.user_id, **extra},
        )
        shot = self.session.get(WorkItem, work_item_id) if work_item_id is not None else None
        self.starts.append(
            WorkflowStart(
                self.index,
                kind,
                workflow_id,
                str(row.id),
                data,
                user_id=self.caller.user_id,
                title=self.ws.title,
                shot_number=shot.idx if shot is not None else None,
            )
        )
        return str(row.id), workflow_id

    def started(self, action: A.AnyAction, started: list[tuple[str, str]], **data: Any) -> ActionResult:
        return ActionResult(
            action.type,
            "started",
            data=data,
            task_ids=[t for t, _ in started],
            workflow_ids=[w for _, w in started],
        )

    @staticmethod
    def done(action: A.AnyAction, summary: str, **data: Any) -> ActionResult:
        return ActionResult(action.type, "done", data={"summary": summary, **data})

    @staticmethod
    def not_supported(action: A.AnyAction, message: str) -> ActionResult:
        return ActionResult(
            action.type,
            "failed",
            data={"summary": message},
            error={"code": "not_supported", "message": message},
        )

    def node_from(self, item: WorkItem, *, node: str | None, cell: int | None, track: str | None) -> Any:
        if node is not None:
            found = self.resolve.node_by_id(node)
            if found.work_item_id != item.id:
                raise TargetUnresolved(
                    f"node {node} is not one of {self.resolve.label(item)}'s; lineage never crosses shots "
                    "(use it as a reference instead)"
                )
            return found
        assert cell is not None
        return self.resolve.cell(item, cell, track)
