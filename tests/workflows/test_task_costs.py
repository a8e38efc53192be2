"""Task costs on real Temporal + real PostgreSQL: with a price table, a storyboard task records
the cost of the tokens its LLM call used (a fake Gemini client that follows the Google GenAI
response contract stands in for the cloud), and a grid task the priced GPU seconds it measured;
without one, nothing is priced."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from activities.pipeline import PipelineActivities
from activities.pricing import load_price_table
from activities.providers.gemini import GeminiStoryboarder
from tests.support.gemini_fakes import board_json, fake, text_response
from tests.support.ledger_rows import rows
from workflows.contracts import StoryboardWorkflowInput
from workflows.storyboard import StoryboardWorkflow

PRICES = {"tokens": {"gemini-3-flash-preview": {"input": 0.5, "output": 3.0}}, "gpu_second": 0.002}


def gemini_activities(price_file: Path | None):  # type: ignore[no-untyped-def]
    """The pipeline's activities with the storyboard served by Gemini over a contract fake."""

    class GeminiPipeline(PipelineActivities):
        def __init__(self, database_url, storage, providers, work_dir):  # type: ignore[no-untyped-def]
            prices = load_price_table(price_file)
            storyboarder = GeminiStoryboarder(
                client=fake(text_response(board_json(3))), prices=prices.token_prices()
            )
            providers = dataclasses.replace(providers, storyboard=storyboarder, prices=prices)
            super().__init__(database_url, storage, providers, work_dir)

    return GeminiPipeline


@pytest.mark.parametrize("priced", [True, False])
async def test_storyboard_task_records_its_token_cost(make_rig, tmp_path: Path, priced: bool) -> None:
    price_file = None
    if priced:
        price_file = tmp_path / "prices.json"
        price_file.write_text(json.dumps(PRICES))
    async with make_rig(acts_factory=gemini_activities(price_file)) as rig:
        ws = rig.new_workspace()
        await rig.client.execute_workflow(
            StoryboardWorkflow.run,
            StoryboardWorkflowInput(
                workspace_id=ws, story="a fox steals the moon", shot_count=3, queues=rig.queues
            ),
            id=f"storyboard-{ws}",
            task_queue=rig.queues.cpu,
        )
    [task] = rows(rig.db_url, "select * from task where workspace_id=:ws and type='storyboard'", ws=ws)
    usage = task.result["usage"]
    assert task.status == "succeeded" and usage["prompt_tokens"] == 120 and usage["output_tokens"] == 900
    if priced:  # 120 input tokens at 0.5 and 900 + 80 thinking output tokens at 3.0 per million
        assert float(task.cost) == pytest.approx((120 * 0.5 + 980 * 3.0) / 1e6, abs=1e-4)
    else:
        assert task.cost is None and "cost_usd" not in usage
