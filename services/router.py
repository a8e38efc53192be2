"""ActionRouter: the one service layer behind every change, so a button and a sentence do the same.

Rules:
- the caller must own the workspace (``workspaces.get_for_owner``; otherwise ``NotFound`` — the
  API answers 404, never 403); ``project.create`` makes a workspace owned by the caller;
- a turn's ledger work runs in ONE transaction: targets are resolved action by action inside it
  (so "add a shot, then make it 5 s" sees the new shot) and any unresolvable target or
  repository error rolls the whole turn back — no partial writes; the failing action carries the
  error code (``target_unresolved``, or the repository's), the others say why they did not run;
- execute vs propose (:mod:`services.propose`): a proposal is computed by running the turn in that
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from infra.ledger import unit_of_work
from infra.queues import Queues
from infra.search_attributes import start_options
from infra.settings import Settings
from schema import actions as A
from schema.domain_errors import DomainError, InvalidInput, InvalidTransition, NotFound, VersionMismatch
from schema.enums import TaskStatus, TaskType
from schema.repositories import events, snapshots, tasks, work_items, workspaces
from services import exports, generation, project, shots, versions  # noqa: F401 - registers the executors
from services import tasks as task_verbs  # noqa: F401
from services import tracks as track_verbs  # noqa: F401
from services.estimate import Rates, estimate
from services.execution import (
    READ_ONLY,
    TURN_KEY_PREFIX,
    WORKFLOW_KINDS,
    ActionResult,
    Caller,
    Execution,
    TurnAborted,
    TurnResult,
    WorkflowCancel,
    WorkflowStart,
    build_input,
)
from services.propose import estimated_cost, needs_snapshot, proposal_reason
from services.reconcile import NOT_FOUND, settle, workflow_outcome
from services.resolve import Focus, as_uuid

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    result: TurnResult
    starts: list[WorkflowStart] = field(default_factory=list)
    cancels: list[WorkflowCancel] = field(default_factory=list)
    turn_task_id: str | None = None  # the agent_turn row keeping this outcome (idempotency key)

    @property
    def needs_dispatch(self) -> bool:
        return bool(self.starts or self.cancels or self.turn_task_id)


class _Discard(Exception):
    """Roll the transaction back but return this plan (proposals and recovered turns)."""

    def __init__(self, plan: _Plan) -> None:
        super().__init__("discard")
        self.plan = plan


def _error(err: DomainError) -> dict[str, Any]:
    return {"code": err.code, "message": err.message}


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


def _check_versions(session: Session, workspace_id: uuid.UUID, expected: Mapping[str, str]) -> None:
    """Lock the work items and compare their versions (412 ``version_mismatch`` naming the ones
    that changed, with their current versions)."""
    wanted = {as_uuid(k, "work item"): str(v) for k, v in expected.items()}
    current = work_items.lock_versions(session, workspace_id, wanted)
    missing = [str(i) for i in wanted if i not in current]
    if missing:
        raise NotFound("work_item", ", ".join(missing))
    changed = {str(i): current[i] for i, v in wanted.items() if current[i] != v}
    if changed:
        raise VersionMismatch(
            "this was changed since you loaded it (another tab or a task); reload and try again",
            current_versions=changed,
        )


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
        self.rates = Rates.from_settings(settings)

    async def run(
        self,
        caller: Caller,
        workspace_id: str | None,
        turn: A.Turn | dict[str, Any],
        *,
        confirmed: bool = False,
        focus: Focus | None = None,
        idempotency_key: str | None = None,
        expected_versions: Mapping[str, str] | None = None,
    ) -> TurnResult:
        """Run one turn. Raises ``NotFound`` when the caller does not own `workspace_id`,
        ``InvalidInput(invalid_turn)`` for a malformed turn, and ``VersionMismatch`` when one of
        `expected_versions` (work item id → the version the caller edited from) is no longer
        current — the rows stay locked for the turn, so nothing changes them between the check
        and the edit; every other problem is a failed :class:`ActionResult`."""
        turn = _coerce_turn(turn)
        plan = await asyncio.to_thread(
            self._apply, caller, workspace_id, turn, confirmed, focus, idempotency_key, expected_versions
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
        expected_versions: Mapping[str, str] | None = None,
    ) -> _Plan:
        try:
            with unit_of_work(self.database_url) as session:
                return self._apply_in(
                    session, caller, workspace_id, turn, confirmed, focus, key, expected_versions
                )
        except _Discard as discard:
            return discard.plan
        except TurnAborted as abort:
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
        expected_versions: Mapping[str, str] | None = None,
    ) -> _Plan:
        workspace = None
        if workspace_id is not None:
            workspace = workspaces.get_for_owner(session, caller.user_id, as_uuid(workspace_id, "workspace"))
            if workspace is None:
                raise NotFound("workspace", workspace_id)
        if expected_versions and workspace is not None:
            _check_versions(session, workspace.id, expected_versions)
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
        ex = Execution(self, session, caller, workspace, focus, turn, snapshot_id)
        results = ex.run_all()
        ws_id = str(ex.workspace.id) if ex.workspace else workspace_id
        if dry:
            proposal = {
                "turn": turn.model_dump(mode="json", by_alias=True),
                "reason": reason,
                "estimated_cost": estimated_cost(turn, total),
                "estimate": estimate(turn, total, self.rates),
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
            starts=[WorkflowStart(**s) for s in payload.get("starts", [])],
            cancels=[WorkflowCancel(**c) for c in payload.get("cancels", [])],
            turn_task_id=str(row.id),
        )

    # --- phase 2: Temporal ------------------------------------------------------------------------

    async def _dispatch(self, plan: _Plan) -> None:
        for start in plan.starts:
            wf_cls, _, task_type = WORKFLOW_KINDS[start.kind]
            work_item_id = start.input.get("work_item_id")
            try:
                await self.client.start_workflow(
                    wf_cls.run,
                    build_input(start.kind, start.input, self.queues),
                    id=start.workflow_id,
                    task_queue=self.queues.cpu,
                    **start_options(
                        self.settings.temporal_search_attributes,
                        str(start.input.get("workspace_id")),
                        task_type.value,
                        work_item_id=str(work_item_id) if work_item_id else None,
                        user_id=start.user_id,
                        title=start.title,
                        shot_number=start.shot_number,
                    ),
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
                cancel.unreachable = True  # not found: settle the row directly
                continue
            # a workflow that already closed (killed, or failed while the ledger was down) accepts
            # the request and changes nothing: its row is settled now with what Temporal says
            with contextlib.suppress(RPCError):
                outcome = await workflow_outcome(self.client, cancel.workflow_id)
                if outcome is not None and outcome is not NOT_FOUND:
                    await asyncio.to_thread(settle, self.database_url, uuid.UUID(cancel.task_id), outcome)

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
                for key in ("tasks", "exports"):
                    if key in r.touched:
                        r.touched[key] = [t for t in r.touched[key] if t["task_id"] != start.task_id]
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
