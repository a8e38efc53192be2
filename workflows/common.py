"""What every workflow shares: retry policies, timeouts, and task-row mirroring.

Task-row mirroring never costs a remote activity per step: a work activity opens and closes its
own task row; an orchestrating workflow (pipeline, compose with generated music) and the failure
paths record theirs through local activities.

Rules: every activity call has a start-to-close timeout and a retry policy; long ones also have a
heartbeat timeout and wait for the activity to acknowledge cancellation (so an FFmpeg child is gone
before the task is marked canceled); a failure is recorded on the task row with its stable code and
re-raised as a non-retryable ApplicationError of the same type (the same code even when recording
it failed; a shot then records its failed step itself, `record_step_failure`). Only bad input is
non-retryable: an infrastructure failure (database or storage outage, a killed FFmpeg, a full disk,
a lost worker) is retried with backoff for about 5.5 minutes (RETRY), so an outage that `up` heals
is waited out instead of being recorded as the user's failure. Every child workflow carries the
Temporal UI's search attributes and memo (its parent's workspace and user, its own task type, work
item and shot: `child_options`, patched in so that histories recorded before it replay unchanged).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import TaskOutcome, TaskRef
    from activities.pipeline import PipelineActivities
    from infra.search_attributes import MEMO_TITLE, USER_ID, WORKSPACE_ID, memo, search_attributes

T = TypeVar("T")

NON_RETRYABLE_CODES = [
    "bad_input",
    "story_empty",
    "story_too_long",
    "shot_count_out_of_range",
    "unknown_provider",
    "provider_unavailable",
    "voice_unavailable",
    "asset_missing",
    "asset_corrupt",
    "ffmpeg_failed",
    "not_found",
    "invariant_violation",
]

RETRY = RetryPolicy(  # 1 + 2 + 4 + 8 + 16 + 10 x 30 s: ~5.5 min of outage waited out
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=16,
    non_retryable_error_types=NON_RETRYABLE_CODES,
)

LEDGER_TIMEOUT = timedelta(seconds=30)
# grid and video activities: a dead GPU worker is noticed sooner (their workers heartbeat twice a
# second, see workers/pools.py); options only, so recorded histories replay unchanged
GPU_HEARTBEAT_TIMEOUT = timedelta(seconds=5)


def long_activity_options(start_to_close: timedelta, heartbeat: timedelta = timedelta(seconds=10)) -> dict:
    return {
        "start_to_close_timeout": start_to_close,
        "heartbeat_timeout": heartbeat,
        "retry_policy": RETRY,
        "cancellation_type": workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }


def failure_code(err: BaseException) -> tuple[str, str]:
    """The stable code and message at the root of an activity/child failure chain."""
    current: BaseException | None = err
    while isinstance(current, ActivityError | ChildWorkflowError) and current.cause is not None:
        current = current.cause
    if isinstance(current, ApplicationError):
        return current.type or "internal_error", current.message
    if isinstance(current, FailureError):
        return type(current).__name__.lower(), current.message
    return "internal_error", str(err)


# Task-row bookkeeping (start / outcome rows of orchestrating workflows) runs as LOCAL activities:
# in the worker already running the workflow, recorded as a marker, no task-queue round trip.
# Histories from before this patch scheduled them as remote activities on `queue`.
LOCAL_BOOKKEEPING_PATCH = "task-bookkeeping-local-activities"


async def record_task(outcome: TaskOutcome, queue: str) -> None:
    if workflow.patched(LOCAL_BOOKKEEPING_PATCH):
        await workflow.execute_local_activity_method(
            PipelineActivities.record_task,
            outcome,
            start_to_close_timeout=LEDGER_TIMEOUT,
            retry_policy=RETRY,
        )
        return
    await workflow.execute_activity_method(
        PipelineActivities.record_task,
        outcome,
        task_queue=queue,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=RETRY,
    )


async def start_task(task: TaskRef, queue: str) -> None:
    if workflow.patched(LOCAL_BOOKKEEPING_PATCH):
        await workflow.execute_local_activity_method(
            PipelineActivities.start_task,
            task,
            start_to_close_timeout=LEDGER_TIMEOUT,
            retry_policy=RETRY,
        )
        return
    await workflow.execute_activity_method(
        PipelineActivities.start_task,
        task,
        task_queue=queue,
        start_to_close_timeout=LEDGER_TIMEOUT,
        retry_policy=RETRY,
    )


# a step whose failure could not be recorded still fails with its own code (not the ledger's), so
# its parent (the shot) records it: the backstop of `record_step_failure`
KEEP_CAUSE_PATCH = "failed-step-keeps-its-cause"

# workflow type of a shot's step -> the task type of its row
STEP_TASK_TYPES = {"grid": "grid", "voice": "voice", "shot_video": "video"}


async def mirrored(task: TaskRef, queue: str, body: Callable[[], Awaitable[T]]) -> T:
    """Run `body`; on failure or cancellation mirror the outcome onto the task row, then re-raise."""
    try:
        return await body()
    except asyncio.CancelledError:
        await record_task(TaskOutcome(task, "canceled"), queue)
        raise
    except (ActivityError, ChildWorkflowError) as err:
        if isinstance(err.cause, FailureError) and type(err.cause).__name__ == "CancelledError":
            await record_task(TaskOutcome(task, "canceled"), queue)
            raise
        code, message = failure_code(err)
        if workflow.patched(KEEP_CAUSE_PATCH):
            # the ledger may stay out past RETRY: the step fails with its own cause, the parent records it
            await _record_failure_or_log(TaskOutcome(task, "failed", code, message), queue)
        else:
            await record_task(TaskOutcome(task, "failed", code, message), queue)
        raise ApplicationError(message, type=code, non_retryable=True) from err


def parent_id() -> str | None:
    parent = workflow.info().parent
    return parent.workflow_id if parent else None


def task_ref(workspace_id: str, task_type: str, work_item_id: str | None = None) -> TaskRef:
    return TaskRef(
        workspace_id=workspace_id,
        workflow_id=workflow.info().workflow_id,
        task_type=task_type,
        work_item_id=work_item_id,
        parent_workflow_id=parent_id(),
    )


SEARCH_ATTRIBUTES_PATCH = "child-search-attributes-v1"


def child_options(
    task_type: str, *, work_item_id: str | None = None, shot_number: int | None = None
) -> dict[str, Any]:
    """`search_attributes` and `memo` for a child workflow start: the parent's WorkspaceId and
    UserId (and title), the child's TaskType, WorkItemId and shot number. Empty when the parent
    carries none (attributes off, or a start that set none)."""
    parent = workflow.info().typed_search_attributes
    workspace_id = parent.get(WORKSPACE_ID)
    if workspace_id is None or not workflow.patched(SEARCH_ATTRIBUTES_PATCH):
        return {}
    return {
        "search_attributes": search_attributes(
            workspace_id, task_type, work_item_id=work_item_id, user_id=parent.get(USER_ID)
        ),
        "memo": memo(workflow.memo_value(MEMO_TITLE, None, type_hint=str), shot_number),
    }


async def record_step_failure(
    err: ChildWorkflowError, workspace_id: str, work_item_id: str, queue: str
) -> None:
    """A shot's backstop: record its failed step (grid, voice, video) as a `failed` task row with
    the step's own code and message. The step records this itself; when it could not (the ledger
    was out for longer than RETRY), the row would stay `running`, or never exist, and `task.retry`
    would have nothing to work on. First final report wins, so a row already final is unchanged."""
    task_type = STEP_TASK_TYPES.get(err.workflow_type or "")
    if task_type is None or not err.workflow_id or not workflow.patched(KEEP_CAUSE_PATCH):
        return
    code, message = failure_code(err)
    if code == "cancellederror":
        return
    step = TaskRef(
        workspace_id=workspace_id,
        workflow_id=err.workflow_id,
        task_type=task_type,
        work_item_id=work_item_id,
        parent_workflow_id=workflow.info().workflow_id,
    )
    await _record_failure_or_log(TaskOutcome(step, "failed", code, message), queue)  # still out: logged


async def _record_failure_or_log(outcome: TaskOutcome, queue: str) -> None:
    """Record a failed task; when the ledger cannot take it (a local activity's failure arrives as
    either error type), log it and let the failure go on with its own cause."""
    try:
        await record_task(outcome, queue)
    except (ActivityError, ApplicationError) as lost:
        workflow.logger.warning(
            "could not record %s failed (%s): %s", outcome.task.workflow_id, outcome.error_code, lost
        )
