"""A workflow and an activity that only log: what every line must carry, seen from inside Temporal."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from infra.logging import remember_task_id

log = logging.getLogger("directordeck.test.probe")


@activity.defn(name="obs_probe_activity")
async def probe_activity(task_id: str) -> str:
    remember_task_id(activity.info().workflow_id, task_id)  # what the activity does after its task write
    log.info("painting frame %d", 7, extra={"frame": 7})
    await asyncio.to_thread(log.info, "from a worker thread")
    activity.logger.info("via activity.logger")
    return "ok"


@workflow.defn(name="obs_probe")
class ProbeWorkflow:
    @workflow.run
    async def run(self, task_id: str) -> str:
        workflow.logger.info("probe workflow starting")
        return await workflow.execute_activity(
            probe_activity, task_id, start_to_close_timeout=timedelta(seconds=30)
        )
