"""ActionRouter: the one service layer behind every change, so a button and a sentence do the same.

Rules:
- the caller must own the workspace (``workspaces.get_for_owner``; otherwise ``NotFound`` — the
  API answers 404, never 403); ``project.create`` makes a workspace owned by the caller;
- a turn's ledger work runs in ONE transaction: targets are resolved action by action inside it
  (so "add a shot, then make it 5 s" sees the new shot) and any unresolvable target or
  repository error rolls the whole turn back — no partial writes; the failing action carries the
  error code (``target_unresolved``, or the repository's), the others say why they did not run;
- execute vs propose (:mod:`agent.propose`): a proposal is computed by running the turn in that
  same transaction and rolling it back, so targets are checked before the user is asked, and
  nothing is written until the turn comes back with ``confirmed=True``;
- a snapshot is taken first, in the same transaction, before any batch change;
- generation creates its task row as ``queued`` in the transaction, and the workflow (readable,
  deterministic id) is started only after the commit; cancellation and retry go through
  Temporal the same way. An ``idempotency_key`` makes a turn run once: its outcome is kept on an
  ``agent_turn`` task row, and a repeat (an activity retry, a replayed API request) returns it,
  finishing any workflow start that the first attempt committed but did not get to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.export import NamingInvalid, plan_package
from activities.ledger import unit_of_work
from agent.propose import estimated_cost, needs_snapshot, proposal_reason
from agent.resolve import DEFAULT_TRACK, Focus, Resolver, TargetUnresolved, as_uuid
from infra.settings import Settings
from schema import actions as A
from schema.domain_errors import DomainError, InvalidInput, InvalidTransition, NotFound
from schema.enums import (
    ACTIVE_TASK_STATUSES,
    NodeStatus,
    NodeType,
    TaskStatus,
    TaskType,
    WorkspaceType,
)
from schema.models import Node, Task, WorkItem, Workspace
from schema.repositories import (
    characters,
    events,
    favorites,
    nodes,
    snapshots,
    storyboard,
    tasks,
    tracks,
    work_items,
    workspaces,
)
from workflows.compose import ComposeWorkflow
from workflows.contracts import (
    ComposeWorkflowInput,
    GridWorkflowInput,
    MusicWorkflowInput,
    Queues,
    StoryboardWorkflowInput,
    VideoWorkflowInput,
    VoiceWorkflowInput,
)
from workflows.export import ExportWorkflow
from workflows.export_contracts import ExportWorkflowInput
from workflows.grid import GridWorkflow, grid_workflow_id
from workflows.music import MusicWorkflow, music_workflow_id
from workflows.shot_video import ShotVideoWorkflow
from workflows.storyboard import StoryboardWorkflow
from workflows.voice import VoiceWorkflow

log = logging.getLogger(__name__)

DEFAULT_SHOT_COUNT = 6
TURN_KEY_PREFIX = "turn-"
READ_ONLY = frozenset({"task.list", "task.status"})  # no events, no idempotency record
USER_TASK_TYPES = tuple(t for t in TaskType if t != TaskType.agent_turn)
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


# --------------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------------


@dataclass
class _Start:
    index: int
    kind: str
    workflow_id: str
    task_id: str
    input: dict[str, Any]
    error: dict[str, Any] | None = None


@dataclass
class _Cancel:
    index: int
    workflow_id: str
    task_id: str
    unreachable: bool = False


@dataclass
class _Plan:
    result: TurnResult
    starts: list[_Start] = field(default_factory=list)
    cancels: list[_Cancel] = field(default_factory=list)
    turn_task_id: str | None = None  # the agent_turn row keeping this outcome (idempotency key)

    @property
    def needs_dispatch(self) -> bool:
        return bool(self.starts or self.cancels or self.turn_task_id)


class _Abort(Exception):
    """An action failed: the whole turn's transaction rolls back."""

    def __init__(self, index: int, error: DomainError) -> None:
        super().__init__(error.message)
        self.index = index
        self.error = error


class _Discard(Exception):
    """Roll the transaction back but return this plan (proposals and recovered turns)."""

    def __init__(self, plan: _Plan) -> None:
        super().__init__("discard")
        self.plan = plan


def _error(err: DomainError) -> dict[str, Any]:
    return {"code": err.code, "message": err.message}


def _nums(items: Sequence[WorkItem]) -> str:
    idxs = [i.idx for i in items if i.idx is not None]
    if not idxs:
        return "the draft"
    if len(idxs) == 1:
        return f"shot {idxs[0]}"
    if idxs == list(range(idxs[0], idxs[0] + len(idxs))):
        return f"shots {idxs[0]}–{idxs[-1]}"
    return "shots " + ", ".join(map(str, idxs))


def _seconds(value: float) -> str:
    """45.0 → "45 s", 12.25 → "12.2 s"."""
    return f"{value:.1f}".rstrip("0").rstrip(".") + " s"


def _input_dict(obj: Any) -> dict[str, Any]:
    data = dataclasses.asdict(obj)
    data.pop("queues", None)
    return data


def build_input(kind: str, data: dict[str, Any], queues: Queues) -> Any:
    """The workflow input dataclass for `kind` from stored JSON (unknown keys are dropped)."""
    _, input_cls, _ = WORKFLOW_KINDS[kind]
    names = {f.name for f in dataclasses.fields(input_cls)}
    return input_cls(**{k: v for k, v in data.items() if k in names and k != "queues"}, queues=queues)


def _coerce_turn(turn: A.Turn | dict[str, Any]) -> A.Turn:
    if isinstance(turn, A.Turn):
        return turn
    try:
        return A.Turn.model_validate(turn)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InvalidInput(f"invalid turn at {where}: {first['msg']}", code="invalid_turn") from exc


def _snapshot_note(turn: A.Turn) -> str:
    parts: list[str] = []
    for a in turn.actions:
        if a.type == "version.rollback":
            parts.append("rollback")
            continue
        args = a.args.model_dump(mode="json", exclude_none=True, by_alias=True)
        detail = ", ".join(f"{v}" for v in _leaves(args.get("patch", {})))
        parts.append(" ".join(p for p in (a.type, a.reason, detail) if p))
    return ("before " + " + ".join(parts))[:500]


def _rollback_summary(note: str, changes: list[str]) -> str:
    """Rollback says exactly what it restored (and a proposal shows it before it runs)."""
    if not changes:
        return f"rolled back to “{note}”: nothing had changed since, nothing to restore"
    shown = "; ".join(changes[:8]) + (f"; and {len(changes) - 8} more" if len(changes) > 8 else "")
    return f"rolled back to “{note}”: restored {shown}"


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


# --------------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------------


class ActionRouter:
    """Validates, checks ownership, resolves targets, decides execute vs propose, snapshots, and
    performs a turn (ledger CRUD in one transaction; workflows started/cancelled after commit)."""

    def __init__(self, database_url: str, client: Client, queues: Queues, settings: Settings) -> None:
        self.database_url = database_url
        self.client = client
        self.queues = queues
        self.settings = settings

    async def run(
        self,
        caller: Caller,
        workspace_id: str | None,
        turn: A.Turn | dict[str, Any],
        *,
        confirmed: bool = False,
        focus: Focus | None = None,
        idempotency_key: str | None = None,
    ) -> TurnResult:
        """Run one turn. Raises ``NotFound`` when the caller does not own `workspace_id` and
        ``InvalidInput(invalid_turn)`` for a malformed turn; every other problem is a failed
        :class:`ActionResult`."""
        turn = _coerce_turn(turn)
        plan = await asyncio.to_thread(
            self._apply, caller, workspace_id, turn, confirmed, focus, idempotency_key
        )
        if plan.needs_dispatch:
            await self._dispatch(plan)
            await asyncio.to_thread(self._finish, plan)
        return plan.result

    # --- phase 1: one transaction ---------------------------------------------------------------

    def _apply(
        self,
        caller: Caller,
        workspace_id: str | None,
        turn: A.Turn,
        confirmed: bool,
        focus: Focus | None,
        key: str | None,
    ) -> _Plan:
        try:
            with unit_of_work(self.database_url) as session:
                return self._apply_in(session, caller, workspace_id, turn, confirmed, focus, key)
        except _Discard as discard:
            return discard.plan
        except _Abort as abort:
            results: list[ActionResult] = []
            for i, action in enumerate(turn.actions):
                if i == abort.index:
                    results.append(ActionResult(action.type, "failed", error=_error(abort.error)))
                elif i < abort.index:
                    message = f"undone: {turn.actions[abort.index].type} (action {abort.index + 1}) failed"
                    results.append(
                        ActionResult(action.type, "failed", error={"code": "rolled_back", "message": message})
                    )
                else:
                    message = f"not run: {turn.actions[abort.index].type} (action {abort.index + 1}) failed"
                    results.append(
                        ActionResult(action.type, "failed", error={"code": "not_run", "message": message})
                    )
            return _Plan(TurnResult("execute", results, workspace_id=workspace_id))

    def _apply_in(
        self,
        session: Session,
        caller: Caller,
        workspace_id: str | None,
        turn: A.Turn,
        confirmed: bool,
        focus: Focus | None,
        key: str | None,
    ) -> _Plan:
        workspace = None
        if workspace_id is not None:
            workspace = workspaces.get_for_owner(session, caller.user_id, as_uuid(workspace_id, "workspace"))
            if workspace is None:
                raise NotFound("workspace", workspace_id)
        if key is not None:
            recovered = self._recover(session, caller, key)
            if recovered is not None:
                raise _Discard(recovered)
        total = len(work_items.list_shots(session, workspace.id)) if workspace else 0
        reason = proposal_reason(
            turn, total_shots=total, cost_limit=workspace.cost_limit if workspace else None
        )
        dry = reason is not None and not confirmed
        snapshot_id: str | None = None
        if workspace is not None and not dry and needs_snapshot(turn, total_shots=total):
            snap = snapshots.take(session, workspace.id, _snapshot_note(turn), created_by=caller.user_id)
            snapshot_id = str(snap.id)
        ex = _Executor(self, session, caller, workspace, focus, turn, snapshot_id)
        results = ex.run_all()
        ws_id = str(ex.workspace.id) if ex.workspace else workspace_id
        if dry:
            proposal = {
                "turn": turn.model_dump(mode="json", by_alias=True),
                "reason": reason,
                "estimated_cost": estimated_cost(turn, total),
                "snapshot_first": ex.workspace is not None and needs_snapshot(turn, total_shots=total),
                "preview": [r.data.get("summary", r.type) for r in results],
            }
            proposed = [
                r
                if r.status == "failed"
                else ActionResult(r.type, "proposed", data={"summary": r.data.get("summary", "")})
                for r in results
            ]
            raise _Discard(_Plan(TurnResult("propose", proposed, proposal=proposal, workspace_id=ws_id)))
        result = TurnResult("execute", results, snapshot_id=snapshot_id, workspace_id=ws_id)
        plan = _Plan(result, starts=ex.starts, cancels=ex.cancels)
        writes = any(a.type not in READ_ONLY for a in turn.actions)
        if ex.workspace is not None and writes:
            self._record_events(session, ex.workspace.id, caller, turn, plan)
            if key is not None:
                row = tasks.create(
                    session,
                    workspace_id=ex.workspace.id,
                    type=TaskType.agent_turn,
                    workflow_id=TURN_KEY_PREFIX + key,
                    payload={
                        "by": caller.user_id,
                        "result": result.to_dict(),
                        "starts": [dataclasses.asdict(s) for s in plan.starts],
                        "cancels": [dataclasses.asdict(c) for c in plan.cancels],
                    },
                )
                plan.turn_task_id = str(row.id)
        return plan

    def _record_events(
        self, session: Session, workspace_id: uuid.UUID, caller: Caller, turn: A.Turn, plan: _Plan
    ) -> None:
        done = [r for r in plan.result.results if r.status in ("done", "started")]
        if done:
            events.append(
                session,
                workspace_id,
                "actions.applied",
                {
                    "by": caller.user_id,
                    "intent": turn.intent,
                    "actions": [{"type": r.type, "status": r.status} for r in done],
                    "snapshot_id": plan.result.snapshot_id,
                },
            )
        for start in plan.starts:
            events.append(
                session,
                workspace_id,
                "task.queued",
                {"task_id": start.task_id, "workflow_id": start.workflow_id, "type": start.kind},
            )

    def _recover(self, session: Session, caller: Caller, key: str) -> _Plan | None:
        row = tasks.get_by_workflow_id(session, TURN_KEY_PREFIX + key)
        if row is None:
            return None
        if (
            row.type != TaskType.agent_turn
            or workspaces.get_for_owner(session, caller.user_id, row.workspace_id) is None
        ):
            raise NotFound("turn", key)
        if row.status == TaskStatus.succeeded and row.result:
            return _Plan(TurnResult.from_dict(row.result))
        payload = row.payload or {}
        return _Plan(
            TurnResult.from_dict(payload["result"]),
            starts=[_Start(**s) for s in payload.get("starts", [])],
            cancels=[_Cancel(**c) for c in payload.get("cancels", [])],
            turn_task_id=str(row.id),
        )

    # --- phase 2: Temporal ------------------------------------------------------------------------

    async def _dispatch(self, plan: _Plan) -> None:
        for start in plan.starts:
            wf_cls, _, _ = WORKFLOW_KINDS[start.kind]
            try:
                await self.client.start_workflow(
                    wf_cls.run,
                    build_input(start.kind, start.input, self.queues),
                    id=start.workflow_id,
                    task_queue=self.queues.cpu,
                )
            except WorkflowAlreadyStartedError:
                pass  # started by an earlier attempt of this turn, or already running
            except Exception as exc:  # the ledger must say the task never ran
                log.warning("starting %s failed: %s", start.workflow_id, exc)
                start.error = {"code": "start_failed", "message": f"could not start the workflow: {exc}"}
        for cancel in plan.cancels:
            try:
                await self.client.get_workflow_handle(cancel.workflow_id).cancel()
            except RPCError:
                cancel.unreachable = True  # not found or already closed: settle the row directly

    # --- phase 3: settle the ledger -----------------------------------------------------------

    def _finish(self, plan: _Plan) -> None:
        results = plan.result.results
        with unit_of_work(self.database_url) as session:
            for start in plan.starts:
                if start.error is None:
                    continue
                with contextlib.suppress(InvalidTransition):
                    tasks.mark_failed(
                        session, uuid.UUID(start.task_id), start.error["code"], start.error["message"]
                    )
                r = results[start.index]
                r.task_ids = [t for t in r.task_ids if t != start.task_id]
                r.workflow_ids = [w for w in r.workflow_ids if w != start.workflow_id]
                if not r.task_ids:
                    r.status, r.error = "failed", start.error
            for cancel in plan.cancels:
                if cancel.unreachable:
                    with contextlib.suppress(InvalidTransition):
                        tasks.mark_canceled(session, uuid.UUID(cancel.task_id))
            if plan.turn_task_id is not None:
                with contextlib.suppress(InvalidTransition):
                    tasks.mark_succeeded(session, uuid.UUID(plan.turn_task_id), result=plan.result.to_dict())


# --------------------------------------------------------------------------------------------------
# One turn's execution (inside the transaction)
# --------------------------------------------------------------------------------------------------


class _Executor:
    def __init__(
        self,
        router: ActionRouter,
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
        self.starts: list[_Start] = []
        self.cancels: list[_Cancel] = []
        self.index = 0

    def run_all(self) -> list[ActionResult]:
        results: list[ActionResult] = []
        for i, action in enumerate(self.turn.actions):
            self.index = i
            handler: Callable[[Any], ActionResult] = getattr(self, "_" + action.type.replace(".", "_"))
            try:
                results.append(handler(action))
            except DomainError as err:
                raise _Abort(i, err) from err
            except IntegrityError as err:
                raise _Abort(
                    i, DomainError(f"the change conflicts with the ledger: {err.orig}", code="conflict")
                ) from err
        return results

    # --- helpers ----------------------------------------------------------------------------

    @property
    def ws(self) -> Workspace:
        return self.resolve.require_workspace()

    def _set_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.resolve.workspace = workspace

    def _start(
        self,
        kind: str,
        workflow_id: str,
        inp: Any,
        work_item_id: uuid.UUID | None = None,
        **extra: Any,
    ) -> tuple[str, str]:
        _, _, task_type = WORKFLOW_KINDS[kind]
        data = _input_dict(inp)
        row = tasks.create(
            self.session,
            workspace_id=self.ws.id,
            type=task_type,
            workflow_id=workflow_id,
            work_item_id=work_item_id,
            payload={"workflow": kind, "input": data, "requested_by": self.caller.user_id, **extra},
        )
        self.starts.append(_Start(self.index, kind, workflow_id, str(row.id), data))
        return str(row.id), workflow_id

    def _started(self, action: A.AnyAction, started: list[tuple[str, str]], **data: Any) -> ActionResult:
        return ActionResult(
            action.type,
            "started",
            data=data,
            task_ids=[t for t, _ in started],
            workflow_ids=[w for _, w in started],
        )

    @staticmethod
    def _done(action: A.AnyAction, summary: str, **data: Any) -> ActionResult:
        return ActionResult(action.type, "done", data={"summary": summary, **data})

    @staticmethod
    def _not_supported(action: A.AnyAction, message: str) -> ActionResult:
        return ActionResult(
            action.type,
            "failed",
            data={"summary": message},
            error={"code": "not_supported", "message": message},
        )

    def _node_from(self, item: WorkItem, *, node: str | None, cell: int | None, track: str | None) -> Any:
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

    # --- project ------------------------------------------------------------------------------

    def _project_create(self, a: A.ProjectCreate) -> ActionResult:
        args = a.args
        meta = {k: v for k, v in {"aspect_ratio": args.aspect_ratio, "language": args.language}.items() if v}
        current = self.workspace
        reuse = (
            current is not None
            and current.type == WorkspaceType(args.workspace_type)
            and not work_items.list_shots(self.session, current.id)
            and not storyboard.list_scenes(self.session, current.id)
        )
        if reuse and current is not None:
            ws = workspaces.update(
                self.session,
                current.id,
                {"title": args.title, "style": args.style or current.style, "meta": {**current.meta, **meta}},
            )
        else:
            ws = workspaces.create(
                self.session,
                owner_id=self.caller.user_id,
                type=WorkspaceType(args.workspace_type),
                title=args.title,
                meta=meta,
                style=args.style,
            )
        self._set_workspace(ws)
        data = {"workspace_id": str(ws.id), "title": ws.title, "created": not reuse}
        storyboard_follows = any(x.type == "gen.storyboard" for x in self.turn.actions[self.index + 1 :])
        if args.story.strip() and not storyboard_follows and ws.type == WorkspaceType.narrative_project:
            started = self._start_storyboard(args.story, args.shot_count)
            return self._started(
                a, [started], summary=f"created project “{ws.title}” and started its storyboard", **data
            )
        verb = "created" if not reuse else "set up"
        return self._done(a, f"{verb} project “{ws.title}”", **data)

    def _project_update_meta(self, a: A.ProjectUpdateMeta) -> ActionResult:
        changes = a.args.model_dump(exclude_none=True)
        update: dict[str, Any] = {}
        if "title" in changes:
            update["title"] = changes.pop("title")
        if changes:
            update["meta"] = {**self.ws.meta, **changes}
        workspaces.update(self.session, self.ws.id, update)
        return self._done(
            a, "updated the project settings", changes=a.args.model_dump(mode="json", exclude_none=True)
        )

    def _project_set_style(self, a: A.ProjectSetStyle) -> ActionResult:
        previous = self.ws.style
        workspaces.update(self.session, self.ws.id, {"style": a.args.style})
        return self._done(a, f"set the style to “{a.args.style}”", style=a.args.style, previous=previous)

    def _project_set_rules(self, a: A.ProjectSetRules) -> ActionResult:
        existing = [] if a.args.replace else list((self.ws.rules or {}).get("items", []))
        items = list(dict.fromkeys([*existing, *a.args.rules]))
        workspaces.update(self.session, self.ws.id, {"rules": {**(self.ws.rules or {}), "items": items}})
        return self._done(a, f"the project now has {len(items)} rules", rules=items)

    # --- character ----------------------------------------------------------------------------

    def _character_create(self, a: A.CharacterCreate) -> ActionResult:
        profile = {"description": a.args.profile} if a.args.profile else {}
        row = characters.create(self.session, self.ws.id, name=a.args.name, profile=profile)
        return self._done(a, f"added character {row.name}", character_id=str(row.id))

    def _character_update(self, a: A.CharacterUpdate) -> ActionResult:
        row = self.resolve.character(a.args.name)
        patch = a.args.patch.model_dump(exclude_none=True)
        if "profile" in patch:
            patch["description"] = patch.pop("profile")
        characters.update(self.session, row.id, profile_patch=patch)
        return self._done(a, f"updated character {row.name}", character_id=str(row.id), patch=patch)

    def _character_attach_reference(self, a: A.CharacterAttachReference) -> ActionResult:
        row = self.resolve.character(a.args.name)
        if a.args.asset is not None:
            asset_id = as_uuid(a.args.asset, "asset")
        else:
            node = self.resolve.node(node=a.args.node, cell=a.args.cell, shot=a.args.shot, track=a.args.track)
            if node.asset_id is None:
                raise TargetUnresolved("that image has no stored file yet")
            asset_id = node.asset_id
        characters.attach_reference(self.session, row.id, asset_id)
        return self._done(a, f"attached a reference image to {row.name}", asset_id=str(asset_id))

    def _character_lock(self, a: A.CharacterLock) -> ActionResult:
        row = self.resolve.character(a.args.name)
        characters.update(self.session, row.id, locks_patch={k: True for k in a.args.locks})
        return self._done(a, f"locked {', '.join(a.args.locks)} of {row.name}", locks=list(a.args.locks))

    # --- scene --------------------------------------------------------------------------------

    def _scene_add(self, a: A.SceneAdd) -> ActionResult:
        spec = a.args.spec.model_dump(exclude_none=True)
        title, goal = spec.pop("title", ""), spec.pop("goal", None)
        at = None if a.args.after is None else a.args.after + 1
        scene = storyboard.add_scene(self.session, self.ws.id, title=title, goal=goal, spec=spec, at_idx=at)
        return self._done(a, f"added scene {scene.idx}", scene=scene.idx, scene_id=str(scene.id))

    def _scene_update(self, a: A.SceneUpdate) -> ActionResult:
        scene = self.resolve.scene(a.args.scene)
        patch = a.args.patch.model_dump(exclude_none=True)
        title, goal = patch.pop("title", None), patch.pop("goal", None)
        storyboard.update_scene(self.session, scene.id, title=title, goal=goal, spec_patch=patch)
        return self._done(a, f"updated scene {scene.idx}", scene=scene.idx)

    def _scene_reorder(self, a: A.SceneReorder) -> ActionResult:
        scene = self.resolve.scene(a.args.scene)
        storyboard.reorder_scene(self.session, scene.id, a.args.to)
        return self._done(a, f"moved scene {a.args.scene} to position {a.args.to}")

    def _scene_delete(self, a: A.SceneDelete) -> ActionResult:
        scene = self.resolve.scene(a.args.scene)
        storyboard.delete_scene(self.session, scene.id)
        return self._done(a, f"deleted scene {a.args.scene} (its shots stay)")

    # --- shot ---------------------------------------------------------------------------------

    def _shot_add(self, a: A.ShotAdd) -> ActionResult:
        spec = a.args.spec.model_dump(mode="json", exclude_none=True)
        duration = spec.pop("duration_s", None)
        if self.ws.type == WorkspaceType.draft_space:
            item = work_items.create_draft(self.session, self.ws.id, spec=spec, duration_s=duration)
            return self._done(a, "added a draft", work_item_id=str(item.id))
        scene_id = self.resolve.scene(a.args.scene).id if a.args.scene is not None else None
        at = None if a.args.after is None else a.args.after + 1
        item = work_items.insert_shot(
            self.session, self.ws.id, spec=spec, duration_s=duration, scene_id=scene_id, at_idx=at
        )
        return self._done(a, f"added shot {item.idx}", shot=item.idx, work_item_id=str(item.id))

    def _shot_update(self, a: A.ShotUpdate) -> ActionResult:
        items = self.resolve.shots(a.args.shots)
        patch = a.args.patch.model_dump(mode="json", exclude_none=True)
        duration = patch.pop("duration_s", None)
        for item in items:
            if patch:
                work_items.update_spec(self.session, item.id, patch)
            new = duration
            if new is None and patch.get("pacing") and item.duration_s:
                factor = 0.8 if patch["pacing"] == "faster" else 1.25
                new = round(min(8.0, max(2.0, item.duration_s * factor)), 2)
            if new is not None:
                work_items.set_duration(self.session, item.id, new)
        full = a.args.patch.model_dump(mode="json", exclude_none=True)
        return self._done(
            a,
            f"updated {_nums(items)}",
            shots=[i.idx for i in items],
            work_item_ids=[str(i.id) for i in items],
            patch=full,
        )

    def _shot_split(self, a: A.ShotSplit) -> ActionResult:
        item = self.resolve.shot(a.args.shot)
        parts = work_items.split(self.session, item.id, parts=a.args.parts)
        return self._done(
            a, f"split shot {a.args.shot} into {len(parts)} shots", shots=[p.idx for p in parts]
        )

    def _shot_merge(self, a: A.ShotMerge) -> ActionResult:
        items = self.resolve.shots(a.args.shots)
        merged = work_items.merge(self.session, self.ws.id, [i.id for i in items])
        return self._done(a, f"merged {_nums(items)} into shot {merged.idx}", shot=merged.idx)

    def _shot_reorder(self, a: A.ShotReorder) -> ActionResult:
        item = self.resolve.shot(a.args.shot)
        work_items.reorder(self.session, self.ws.id, item.id, a.args.to)
        return self._done(a, f"moved shot {a.args.shot} to position {a.args.to}")

    def _shot_delete(self, a: A.ShotDelete) -> ActionResult:
        items = self.resolve.shots(a.args.shots)
        label = _nums(items)
        work_items.delete_many(self.session, self.ws.id, [i.id for i in items])
        return self._done(a, f"deleted {label}", work_item_ids=[str(i.id) for i in items])

    # --- gen ----------------------------------------------------------------------------------

    def _start_storyboard(self, story: str, shot_count: int | None) -> tuple[str, str]:
        ws = self.ws
        if ws.type != WorkspaceType.narrative_project:
            raise InvalidInput(
                "only narrative projects have a storyboard", code="shots_need_narrative_project"
            )
        existing = work_items.list_shots(self.session, ws.id)
        if existing:
            raise InvalidInput(
                f"this project already has {len(existing)} shots; edit them, or start a new project",
                code="storyboard_exists",
            )
        inp = StoryboardWorkflowInput(
            workspace_id=str(ws.id), story=story, shot_count=shot_count or DEFAULT_SHOT_COUNT, style=ws.style
        )
        return self._start("storyboard", f"storyboard-{ws.id}", inp)

    def _gen_storyboard(self, a: A.GenStoryboard) -> ActionResult:
        started = self._start_storyboard(a.args.story, a.args.shot_count)
        return self._started(a, [started], summary="started the storyboard", workspace_id=str(self.ws.id))

    def _gen_grid(self, a: A.GenGrid) -> ActionResult:
        args = a.args
        items = self.resolve.shots(args.shots)
        started: list[tuple[str, str]] = []
        for item in items:
            track = args.track
            parent = None
            if args.from_node is not None or args.from_cell is not None:
                parent = self._node_from(item, node=args.from_node, cell=args.from_cell, track=track)
                if not self.resolve.is_image(parent):
                    raise TargetUnresolved("iterate from one finished image (#N), not a whole grid")
                track = track or self.resolve.track_name_of(parent)
            track = track or self.resolve.current_track_name(item)
            refs = [
                str(self.resolve.node(node=r.node, cell=r.cell, shot=r.shot or item.idx, track=r.track).id)
                for r in args.refs
            ]
            pending = list(item.spec.get("pending_references") or [])
            refs += [p["node_id"] for p in pending if p.get("node_id") and p["node_id"] not in refs]
            if pending:
                work_items.update_spec(self.session, item.id, {"pending_references": None})
            prompt = args.prompt
            if args.camera is not None and not args.camera.is_empty():
                words = ", ".join(
                    f"{v} {k}" if k != "movement" else str(v)
                    for k, v in args.camera.model_dump(exclude_none=True).items()
                )
                prompt = f"{prompt or item.spec.get('visual') or ''}; camera: {words}".lstrip("; ")
            group = uuid.uuid4()
            inp = GridWorkflowInput(
                workspace_id=str(self.ws.id),
                work_item_id=str(item.id),
                size=args.size,
                track=track,
                prompt=prompt,
                parent_node_id=str(parent.id) if parent is not None else None,
                reference_node_ids=refs,
                group_node_id=str(group),
            )
            started.append(self._start("grid", grid_workflow_id(str(item.id), str(group)), inp, item.id))
        what = f"a {args.size}-grid" if len(items) == 1 else f"{args.size}-grids"
        return self._started(
            a, started, summary=f"started {what} for {_nums(items)}", shots=[i.idx for i in items]
        )

    def _gen_video(self, a: A.GenVideo) -> ActionResult:
        items = self.resolve.shots(a.args.shots)
        started: list[tuple[str, str]] = []
        skipped: list[int | None] = []
        for item in items:
            source = nodes.get(self.session, item.selected_node_id) if item.selected_node_id else None
            if source is None or source.type != NodeType.image or source.status != NodeStatus.ok:
                skipped.append(item.idx)
                continue
            inp = VideoWorkflowInput(
                workspace_id=str(self.ws.id),
                work_item_id=str(item.id),
                source_node_id=str(source.id),
                duration_s=a.args.duration_s,
            )
            started.append(self._start("video", f"video-{item.id}-{uuid.uuid4()}", inp, item.id))
        if not started:
            raise InvalidInput(
                f"{_nums(items)} {'has' if len(items) == 1 else 'have'} no selected image yet: "
                "generate a grid and pick an image first",
                code="no_selected_version",
            )
        summary = f"started {len(started)} video{'s' if len(started) > 1 else ''}"
        if skipped:
            summary += f" (skipped shots {', '.join(map(str, skipped))}: no selected image)"
        return self._started(a, started, summary=summary, skipped_shots=skipped)

    def _gen_voice(self, a: A.GenVoice) -> ActionResult:
        items = self.resolve.shots(a.args.shots)
        key = "dialogue" if a.args.kind == "dialogue" else "narration"
        started: list[tuple[str, str]] = []
        skipped: list[int | None] = []
        for item in items:
            text = str(item.spec.get(key) or "").strip()
            if not text:
                skipped.append(item.idx)
                continue
            inp = VoiceWorkflowInput(
                workspace_id=str(self.ws.id),
                work_item_id=str(item.id),
                text=text if key == "dialogue" else None,
            )
            started.append(self._start("voice", f"voice-{item.id}-{uuid.uuid4()}", inp, item.id))
        if not started:
            raise InvalidInput(f"{_nums(items)}: no {key} text to speak", code="nothing_to_say")
        summary = f"started {key} for {len(started)} shot{'s' if len(started) > 1 else ''}"
        if skipped:
            summary += f" (skipped shots {', '.join(map(str, skipped))}: no {key})"
        return self._started(a, started, summary=summary, skipped_shots=skipped)

    def _gen_music(self, a: A.GenMusic) -> ActionResult:
        from activities.pipeline import music_duration_s, music_hints
        from activities.providers.music import resolve_mood

        ws = self.ws
        duration = a.args.duration_s
        if duration is None:  # as long as the cut (or the storyboard) is now
            duration = music_duration_s(self.session, ws.id)
        choice = resolve_mood(a.args.mood, music_hints(self.session, ws.id))
        inp = MusicWorkflowInput(workspace_id=str(ws.id), mood=a.args.mood, duration_s=duration)
        started = self._start("music", music_workflow_id(str(ws.id), str(uuid.uuid4())), inp)
        summary = f"started {choice.mood} background music ({_seconds(duration)})"
        if choice.fallback:
            summary += f"; “{choice.requested}” is not a mood I know, so it is {choice.mood}"
        elif choice.source == "workspace":
            summary += f"; the mood comes from the project (“{choice.matched}”)"
        return self._started(
            a,
            [started],
            summary=summary,
            mood=choice.mood,
            mood_requested=choice.requested,
            mood_fallback=choice.fallback,
            duration_s=duration,
        )

    def _latest_music(self) -> Node | None:
        """The workspace's newest usable background-music node (ok, with its file)."""
        latest = nodes.latest_output(self.session, self.ws.id, NodeType.audio_music)
        return None if latest is None else latest[0]

    def _gen_compose(self, a: A.GenCompose) -> ActionResult:
        ws = self.ws
        clips = nodes.compose_inputs(self.session, ws.id)
        if not clips:
            raise InvalidInput("no shot has a video clip yet: animate shots first", code="nothing_to_compose")
        music = self._latest_music() if a.args.music else None
        inp = ComposeWorkflowInput(
            workspace_id=str(ws.id),
            mode=a.args.mode,
            subtitles=True if a.args.subtitles is None else a.args.subtitles,
            music=bool(a.args.music),
            music_node_id=str(music.id) if music is not None else None,
        )
        started = self._start("compose", f"compose-{ws.id}-{uuid.uuid4()}", inp)
        summary = f"started the {a.args.mode} compose of {len(clips)} shots"
        extra: dict[str, Any] = {}
        if music is not None:
            mood = (music.payload or {}).get("mood") or "background"
            summary += f" with the latest {mood} background music"
            extra["music_node_id"] = str(music.id)
        elif a.args.music:
            summary += " with background music (none yet: a track in a mood from the project is made first)"
        return self._started(a, [started], summary=summary, shots=len(clips), **extra)

    # --- track and node -------------------------------------------------------------------------

    def _track_fork(self, a: A.TrackFork) -> ActionResult:
        item = self.resolve.shot(a.args.shot)
        source = self._node_from(item, node=a.args.from_node, cell=a.args.from_cell, track=a.args.track)
        track = tracks.fork(self.session, item.id, source.id)
        return self._done(
            a,
            f"started track {track.name} of {self.resolve.label(item)} from that image",
            track=track.name,
            track_id=str(track.id),
            from_node_id=str(source.id),
            label=a.args.name,
            focus={"work_item_id": str(item.id), "track": track.name},
        )

    def _track_switch(self, a: A.TrackSwitch) -> ActionResult:
        item = self.resolve.shot(a.args.shot)
        track = self.resolve.track(item, a.args.track)
        return self._done(
            a,
            f"now working on track {track.name} of {self.resolve.label(item)}",
            track=track.name,
            track_id=str(track.id),
            focus={"work_item_id": str(item.id), "track": track.name},
        )

    def _node_commit(self, a: A.NodeCommit) -> ActionResult:
        item = self.resolve.shot(a.args.shot)
        node = self._node_from(item, node=a.args.node, cell=a.args.cell, track=a.args.track)
        if node.type == NodeType.grid_group:
            raise TargetUnresolved("that is a whole grid; pick one image (#N)")
        previous = str(item.selected_node_id) if item.selected_node_id else None
        nodes.select_node(self.session, item.id, node.id)
        return self._done(
            a,
            f"{self.resolve.label(item)} now uses that image",
            node_id=str(node.id),
            previous_node_id=previous,
            track=self.resolve.track_name_of(node),
        )

    def _node_reference(self, a: A.NodeReference) -> ActionResult:
        args = a.args
        node = self.resolve.node(node=args.node, cell=args.cell, shot=args.shot, track=args.track)
        if node.asset_id is None:
            raise TargetUnresolved("that node has no stored image to use as a reference")
        target = self.resolve.focus_item() or self.resolve.item_of(node)
        pending = [p for p in target.spec.get("pending_references") or [] if p.get("node_id") != str(node.id)]
        pending.append({"node_id": str(node.id), "role": args.as_})
        work_items.update_spec(self.session, target.id, {"pending_references": pending})
        return self._done(
            a,
            f"the next grid of {self.resolve.label(target)} will use that image as {args.as_} reference",
            node_id=str(node.id),
            role=args.as_,
            for_work_item_id=str(target.id),
        )

    def _node_favorite(self, a: A.NodeFavorite) -> ActionResult:
        args = a.args
        node = self.resolve.node(node=args.node, cell=args.cell, shot=args.shot, track=args.track)
        item = self.resolve.item_of(node)
        fav = favorites.add(self.session, item.id, node_id=node.id, tags=list(args.tags))
        return self._done(
            a, "added to favorites", favorite_id=str(fav.id), node_id=str(node.id), tags=fav.tags
        )

    # --- task ---------------------------------------------------------------------------------

    @staticmethod
    def _task_view(t: Task) -> dict[str, Any]:
        return {
            "id": str(t.id),
            "type": t.type.value,
            "status": t.status.value,
            "progress": t.progress,
            "workflow_id": t.workflow_id,
            "work_item_id": str(t.work_item_id) if t.work_item_id else None,
            "error": t.error,
        }

    def _task_status(self, a: A.TaskStatusAction) -> ActionResult:
        if a.args.task_id:
            t = self.resolve.task(a.args.task_id)
            return self._done(a, f"{t.type.value} task is {t.status.value}", task=self._task_view(t))
        recent = tasks.list_tasks(self.session, self.ws.id, type=USER_TASK_TYPES, limit=1)
        counts = self._counts()
        summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no tasks yet"
        return self._done(a, summary, counts=counts, latest=self._task_view(recent[0]) if recent else None)

    def _counts(self) -> dict[str, int]:
        rows = tasks.list_tasks(self.session, self.ws.id, type=USER_TASK_TYPES, limit=1000)
        counts: dict[str, int] = {}
        for t in rows:
            counts[t.status.value] = counts.get(t.status.value, 0) + 1
        return counts

    def _task_list(self, a: A.TaskList) -> ActionResult:
        status: Any = a.args.status
        if status == "running":  # "what is running?" includes what is about to run
            status = ACTIVE_TASK_STATUSES
        kind = a.args.kind
        types = USER_TASK_TYPES if kind in (None, "all") else TaskType(kind)
        rows = tasks.list_tasks(self.session, self.ws.id, status=status, type=types, limit=50)
        views = [self._task_view(t) for t in rows]
        if not rows:
            summary = "no matching tasks"
        else:
            by: dict[str, int] = {}
            for t in rows:
                key = f"{t.type.value} {t.status.value}"
                by[key] = by.get(key, 0) + 1
            summary = "; ".join(f"{n}× {k}" for k, n in by.items())
        return self._done(a, summary, tasks=views)

    def _task_cancel(self, a: A.TaskCancel) -> ActionResult:
        args = a.args
        if args.task_id:
            t = self.resolve.task(args.task_id)
            candidates = [t] if t.status in ACTIVE_TASK_STATUSES else []
        else:
            types = USER_TASK_TYPES if args.kind in (None, "all") else TaskType(args.kind)
            candidates = tasks.list_tasks(self.session, self.ws.id, status=ACTIVE_TASK_STATUSES, type=types)
            if args.shots is not None:
                wanted = {i.id for i in self.resolve.shots(args.shots)}
                candidates = [t for t in candidates if t.work_item_id in wanted]
        for t in candidates:
            if t.workflow_id:
                self.cancels.append(_Cancel(self.index, t.workflow_id, str(t.id)))
            else:
                tasks.mark_canceled(self.session, t.id)
        if not candidates:
            return self._done(a, "nothing to cancel: no matching task is running", canceled_task_ids=[])
        n = len(candidates)
        return ActionResult(
            a.type,
            "done",
            data={
                "summary": f"cancelling {n} task{'s' if n > 1 else ''}",
                "canceled_task_ids": [str(t.id) for t in candidates],
            },
            task_ids=[str(t.id) for t in candidates],
            workflow_ids=[t.workflow_id for t in candidates if t.workflow_id],
        )

    def _task_retry(self, a: A.TaskRetry) -> ActionResult:
        ws = self.ws
        if a.args.task_id:
            t = self.resolve.task(a.args.task_id)
            if t.status not in (TaskStatus.failed, TaskStatus.canceled):
                raise InvalidTransition(
                    f"the task is {t.status.value}; only failed or canceled tasks can be retried",
                    code="task_not_failed",
                )
            candidates = [t]
        else:
            recent = tasks.list_tasks(self.session, ws.id, type=USER_TASK_TYPES, limit=500)
            retried = {
                str((t.payload or {}).get("retry_of")) for t in recent if (t.payload or {}).get("retry_of")
            }
            latest: dict[tuple[str, str], Task] = {}
            for t in recent:  # newest first: the newest attempt per (type, work item) decides
                slot = (t.type.value, str(t.work_item_id))
                latest.setdefault(slot, t)
            candidates = [
                t
                for t in latest.values()
                if t.status == TaskStatus.failed and t.type in RETRYABLE_TYPES and str(t.id) not in retried
            ]
        started: list[tuple[str, str]] = []
        skipped: list[str] = []
        for t in candidates:
            spec = self._retry_spec(t)
            if spec is None:
                skipped.append(str(t.id))
                continue
            kind, data, workflow_id = spec
            inp = build_input(kind, data, self.router.queues)
            started.append(self._start(kind, workflow_id, inp, t.work_item_id, retry_of=str(t.id)))
        if not started:
            summary = "nothing to retry" if not skipped else "those tasks cannot be retried"
            return self._done(a, summary, skipped_task_ids=skipped)
        n = len(started)
        return self._started(
            a, started, summary=f"retrying {n} task{'s' if n > 1 else ''}", skipped_task_ids=skipped
        )

    def _retry_spec(self, t: Task) -> tuple[str, dict[str, Any], str] | None:
        """(kind, input, new workflow id) to run a failed task again, from its stored payload."""
        payload = t.payload or {}
        kind = payload.get("workflow") or t.type.value
        if kind not in WORKFLOW_KINDS:
            return None
        data = dict(payload.get("input") or {})
        data.setdefault("workspace_id", str(t.workspace_id))
        wi = str(t.work_item_id) if t.work_item_id else data.get("work_item_id")
        if kind in ("grid", "video", "voice") and not wi:
            return None  # its shot was deleted
        if kind == "grid":
            group = str(uuid.uuid4())
            data.setdefault("size", payload.get("size", 4))
            data.setdefault("track", payload.get("track", DEFAULT_TRACK))
            data.update(work_item_id=wi, group_node_id=group)
            return kind, data, grid_workflow_id(str(wi), group)
        if kind in ("video", "voice"):
            data["work_item_id"] = wi
            return kind, data, f"{kind}-{wi}-{uuid.uuid4()}"
        if kind == "compose":
            data.setdefault("mode", payload.get("mode", "preview"))
            return kind, data, f"compose-{t.workspace_id}-{uuid.uuid4()}"
        if kind == "music":  # a child of compose has no stored input: its activity's payload says
            data.setdefault("mood", payload.get("mood") or "auto")
            data.setdefault("duration_s", payload.get("duration_s"))
            return kind, data, music_workflow_id(str(t.workspace_id), str(uuid.uuid4()))
        if kind == "export":
            return kind, data, f"export-{t.workspace_id}-{uuid.uuid4()}"
        if "story" not in data or work_items.list_shots(self.session, t.workspace_id):
            return None  # storyboard: needs its story, and never overwrites shots
        return kind, data, f"storyboard-{t.workspace_id}"

    # --- version and export -------------------------------------------------------------------

    def _version_snapshot(self, a: A.VersionSnapshot) -> ActionResult:
        snap = snapshots.take(
            self.session, self.ws.id, a.args.note or "manual snapshot", created_by=self.caller.user_id
        )
        return self._done(a, f"saved snapshot “{snap.note}”", snapshot_id=str(snap.id))

    def _version_rollback(self, a: A.VersionRollback) -> ActionResult:
        snap = self.resolve.snapshot(a.args.snapshot_id, a.args.before)
        if self.snapshot_id is not None and str(snap.id) == self.snapshot_id:
            raise TargetUnresolved("that is the snapshot just taken; name an earlier change")
        outcome = snapshots.rollback(self.session, snap.id)
        summary = _rollback_summary(snap.note, outcome.changes)
        if outcome.missing_work_item_ids:
            summary += f" ({len(outcome.missing_work_item_ids)} deleted shots could not come back)"
        return self._done(
            a,
            summary,
            restored_snapshot_id=str(snap.id),
            restored_work_item_ids=[str(i) for i in outcome.restored_work_item_ids],
            missing_work_item_ids=[str(i) for i in outcome.missing_work_item_ids],
            missing_node_ids=[str(i) for i in outcome.missing_node_ids],
            restored=outcome.changes,
        )

    def _export_package(self, a: A.ExportPackage) -> ActionResult:
        ws = self.ws
        selection = a.args.selection
        try:  # checks the naming pattern and reads what would be packaged (ledger reads only)
            plan = plan_package(self.session, ws.id, selection, a.args.naming)
        except NamingInvalid as err:
            raise InvalidInput(err.message, code=err.code) from err
        files = plan.files
        if not files:
            what = (
                "no favorite has a file"
                if selection == "favorites"
                else "no shot has a selected image or clip"
            )
            raise InvalidInput(f"nothing to export: {what} yet", code="nothing_to_export")
        inp = ExportWorkflowInput(workspace_id=str(ws.id), selection=selection, naming=a.args.naming)
        started = self._start("export", f"export-{ws.id}-{uuid.uuid4()}", inp)
        shots = sorted({e.manifest["shot"] for e in files if e.manifest.get("shot") is not None})
        if selection == "favorites":
            summary = f"started packaging {len(files)} favorite{'s' if len(files) != 1 else ''}"
        else:
            summary = f"started packaging {len(shots)} selected shot{'s' if len(shots) != 1 else ''}"
            if any(e.manifest.get("role") == "compose" for e in files):
                summary += " and the latest compose"
        return self._started(
            a, [started], summary=summary, selection=selection, files=len(files), shots=shots
        )


__all__ = [
    "WORKFLOW_KINDS",
    "ActionResult",
    "ActionRouter",
    "Caller",
    "Focus",
    "TargetUnresolved",
    "TurnResult",
    "build_input",
    "failed_turn",
]
