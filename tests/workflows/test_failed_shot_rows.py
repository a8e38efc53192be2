"""A failed shot leaves a `failed` task row for its failed step, with the step's real code and
message, and `task.retry` works on it (real Temporal, real PostgreSQL, real workers).

Two faults at once, as the issue's PostgreSQL outage produced them: the image API (test double at
the edge of the world, keeping the provider contract) refuses shot 2's prompt once — a
non-retryable `prompt_refused` — and the grid's own ledger write of that failure is lost (what a
ledger outage longer than the retry budget does). Before issue 15 the shot then had no final task
row: the grid's row stayed `running` (nothing to retry, "task is running") and the shot failed with
the ledger's error instead of its own cause. Now the step still fails with its own code, and the
shot records its failed step (`workflows.common.record_step_failure`; first final report wins).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from activities.contracts import TaskOutcome
from schema.actions import Turn
from schema.errors import BadInputError
from services.execution import Caller
from tests.support.agent_rig import OWNER, make_agent_rig  # noqa: F401 - the fixture
from tests.support.ledger_rows import rows
from workflows.contracts import PipelineInput
from workflows.project_pipeline import ProjectPipelineWorkflow


class RefusingImageApi:
    """An image API that refuses one shot's prompt once (HTTP 400, content policy), then renders;
    same `render_grid` contract as the wrapped provider, BadInputError for a non-retryable refusal."""

    def __init__(self, inner: Any, shot_number: int) -> None:
        self.inner = inner
        self.name = "refusing-" + inner.name
        self.shot_number = shot_number
        self.refused = 0

    def render_grid(self, req, on_progress=None, cancelled=None):  # type: ignore[no-untyped-def]
        if req.shot_number == self.shot_number and not self.refused:
            self.refused += 1
            raise BadInputError("the image API refused the prompt (content policy)", code="prompt_refused")
        return self.inner.render_grid(req, on_progress, cancelled)


def lose_first_grid_failure_record(acts: Any) -> list[str]:
    """Fault injection: the first ledger write of a failed grid outcome is lost for good."""
    lost: list[str] = []
    write = acts._record_task

    def lossy(outcome: TaskOutcome) -> None:
        if outcome.task.task_type == "grid" and outcome.status == "failed" and not lost:
            lost.append(outcome.task.workflow_id)
            raise BadInputError("the ledger stayed unreachable", code="ledger_unreachable")
        write(outcome)

    acts._record_task = lossy
    return lost


def turn(action: dict[str, Any]) -> Turn:
    return Turn.model_validate({"mode": "execute", "intent": "test", "actions": [action], "message": ""})


async def test_a_failed_shot_leaves_a_failed_step_row_with_its_cause_and_retry_works(make_agent_rig) -> None:  # noqa: F811
    async with make_agent_rig() as rig:
        api = RefusingImageApi(rig.acts.providers.images, shot_number=2)
        rig.acts.providers.images = api
        lost = lose_first_grid_failure_record(rig.acts)
        ws = rig.workspace(0)
        result = await rig.client.execute_workflow(
            ProjectPipelineWorkflow.run,
            PipelineInput(
                workspace_id=ws,
                story="a fox steals the moon",
                shot_count=3,
                shot_concurrency=2,
                queues=rig.queues,
            ),
            id=f"pipeline-{ws}",
            task_queue=rig.queues.cpu,
        )
        assert api.refused == 1 and lost, "the faults were not injected"
        assert result.status == "partial"
        failed_shot = result.shots[1]
        assert [s.status for s in result.shots] == ["succeeded", "failed", "succeeded"]
        assert failed_shot.error is not None and failed_shot.error.startswith("prompt_refused:")

        db = rig.db_url
        [grid] = rows(
            db,
            "select id, status, error, workflow_id from task where type='grid' and work_item_id=:wi",
            wi=failed_shot.work_item_id,
        )
        assert grid.workflow_id == lost[0]
        assert grid.status == "failed", grid
        assert grid.error["code"] == "prompt_refused" and "content policy" in grid.error["message"]
        pipeline = rows(db, "select status, error from task where workflow_id=:wf", wf=f"pipeline-{ws}")[0]
        assert pipeline.status == "partial" and "shot 2 failed: prompt_refused" in pipeline.error["message"]
        active = rows(
            db, "select count(*) from task where workspace_id=:ws and status in ('queued','running')", ws=ws
        )
        assert active[0][0] == 0
        events = rows(
            db,
            "select count(*) from event where workspace_id=:ws and kind='task.failed'"
            " and data->>'workflow_id'=:wf",
            ws=ws,
            wf=grid.workflow_id,
        )
        assert events[0][0] == 1  # recorded once, by the shot's backstop

        retried = await rig.router.run(
            Caller(OWNER), ws, turn({"type": "task.retry", "args": {"task_id": str(grid.id)}})
        )
        assert retried.results[0].status == "started", retried.results[0]
        [new_task] = retried.results[0].task_ids
        deadline = time.monotonic() + 90
        while (status := rows(db, "select status from task where id=:id", id=new_task)[0][0]) != "succeeded":
            assert status in ("queued", "running"), status
            assert time.monotonic() < deadline, "the retried grid never finished"
            await asyncio.sleep(0.2)
        images = rows(
            db,
            "select count(*) from node where type='image' and work_item_id=:wi",
            wi=failed_shot.work_item_id,
        )
        assert images[0][0] == 4  # the retry rendered the shot's grid
