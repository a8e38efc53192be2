"""A proposal's estimate in money and GPU time (services/estimate.py): per-verb GPU seconds from
Settings, the price table's GPU-second price when there is one, LLM calls only when an LLM writes
storyboards, and the usage report priced with the same rates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings
from schema.actions import Turn
from services.estimate import DEFAULT_GPU_SECONDS, Rates, estimate, usage_cost


def turn(*actions: dict[str, Any]) -> Turn:
    return Turn.model_validate({"mode": "execute", "intent": "t", "actions": list(actions), "message": ""})


GRID_ALL_9 = {"type": "gen.grid", "args": {"shots": "all", "size": 9}}
VIDEO_2 = {"type": "gen.video", "args": {"shots": [1, 2]}}
EDIT = {"type": "shot.update", "args": {"shots": [1, 2], "patch": {"time_of_day": "night"}}}


def test_gpu_seconds_follow_the_work_each_verb_asks_for(tmp_path: Path) -> None:
    rates = Rates.from_settings(Settings(data_dir=tmp_path, gpu_second_usd=0.001))
    est = estimate(turn(GRID_ALL_9, VIDEO_2, EDIT), total_shots=3, rates=rates)
    gpu = 27 * DEFAULT_GPU_SECONDS["gen.grid"] + 2 * DEFAULT_GPU_SECONDS["gen.video"]
    assert est["gpu_seconds"] == round(gpu, 1)
    assert est["cost_usd"] == round(gpu * 0.001, 4)
    assert est["cost_units"] == 27 + 20  # the relative units stay as documented
    assert est["llm_calls"] == 0 and est["gpu_second_usd"] == 0.001


def test_a_turn_that_generates_nothing_costs_nothing(tmp_path: Path) -> None:
    est = estimate(turn(EDIT), total_shots=3, rates=Rates.from_settings(Settings(data_dir=tmp_path)))
    assert est["gpu_seconds"] == 0 and est["cost_usd"] == 0 and est["cost_units"] == 0


def test_overrides_from_settings_and_the_price_tables_gpu_second_win(tmp_path: Path) -> None:
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"gpu_second": 0.002}))
    settings = Settings(
        data_dir=tmp_path, price_table=table, gpu_second_usd=0.5, estimate_gpu_seconds={"gen.video": 10}
    )
    est = estimate(turn(VIDEO_2), total_shots=3, rates=Rates.from_settings(settings))
    assert est["gpu_seconds"] == 20.0 and est["gpu_second_usd"] == 0.002
    assert est["cost_usd"] == pytest.approx(0.04)


def test_storyboards_are_llm_calls_only_when_an_llm_writes_them(tmp_path: Path) -> None:
    story = turn({"type": "gen.storyboard", "args": {"story": "a fox steals the moon"}})
    offline = Rates.from_settings(Settings(data_dir=tmp_path, storyboard_provider="offline"))
    gemini = Rates.from_settings(Settings(data_dir=tmp_path, storyboard_provider="gemini", llm_call_usd=0.01))
    assert estimate(story, 0, offline)["llm_calls"] == 0
    assert estimate(story, 0, offline)["cost_usd"] == 0
    assert estimate(story, 0, gemini)["llm_calls"] == 1
    assert estimate(story, 0, gemini)["cost_usd"] == 0.01


def test_usage_is_priced_in_the_estimates_unit(tmp_path: Path) -> None:
    rates = Rates.from_settings(
        Settings(data_dir=tmp_path, gpu_second_usd=0.001, llm_call_usd=0.01, storyboard_provider="offline")
    )
    assert usage_cost(54.0, 0, rates) == 0.054
    llm = Rates(gpu_second_usd=0.001, llm_call_usd=0.01, llm_storyboards=True)
    assert usage_cost(0.0, 2, llm) == 0.02
    assert usage_cost(0.0, 2, rates) == 0  # the offline storyboarder is free
