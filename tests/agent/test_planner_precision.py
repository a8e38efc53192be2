"""Precision first (issue 13): a low-evidence reading never executes.

The offline planner measures how much of the sentence its plan explains
(:mod:`agent.planner.coverage`): content words nothing accounts for, settings or numbers the
sentence names that no action carries, request families no action answers, a request hidden in
free text. Any of those lowers the confidence under :data:`EXECUTE_AT`, so the turn is proposed (a
confirm card that says what may be missing) instead of executed; the graph's ``validate`` step
applies the same bar to every planner, Gemini included.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.nodes import validate
from agent.planner import OfflinePlanner
from agent.planner.coverage import measure
from agent.planner.offline import EXECUTE_AT, PlanningContext

CTX = PlanningContext.model_validate(
    {
        "workspace": {"type": "narrative_project", "shots": 12, "scenes": 3},
        "shots": [{"number": n, "duration_s": 4.0, "visual": f"the fox in shot {n}"} for n in range(1, 13)],
        "characters": ["Mia"],
    }
)
PLANNER = OfflinePlanner()


def _update(shots: list[int], **patch: Any) -> dict[str, Any]:
    return {"type": "shot.update", "args": {"shots": shots, "patch": patch}}


@pytest.mark.parametrize(
    "sentence",
    [
        "make shot 2 night and flurbish it",
        "shot 3 should be at night, with a giraffe riding a unicycle",
        "第2个镜头改成夜景，让熊猫跳舞",
    ],
)
def test_words_the_plan_does_not_explain_make_it_a_proposal(sentence: str) -> None:
    turn = PLANNER.plan(sentence, CTX)
    assert turn.actions and turn.mode == "propose", (turn.mode, turn.evidence)
    assert turn.confidence is not None and turn.confidence < EXECUTE_AT
    assert any("not explained by the plan" in e for e in turn.evidence)
    assert "not sure" in turn.message or "不确定" in turn.message  # the confirm card says what may be missing


@pytest.mark.parametrize(
    "sentence",
    [
        "make shot 2 night",
        "animate shots 4 to 6",
        "第三个镜头改成黄昏",
        "give me a 9-grid for shot 5",
        "undo the neon change",
    ],
)
def test_a_fully_explained_sentence_keeps_full_confidence(sentence: str) -> None:
    turn = PLANNER.plan(sentence, CTX)
    assert turn.actions and turn.confidence == 1.0, turn.evidence
    assert not any("not explained" in e or "not planned" in e for e in turn.evidence)
    assert turn.mode == turn.decide_mode()


def test_coverage_reports_an_unplanned_request_family() -> None:
    gaps = measure("make shots 4 and 5 rainy and then animate them", [_update([4, 5], weather="rain")], CTX)
    assert gaps.unanswered == ["animate"] and not gaps.unknown


def test_coverage_reports_a_named_setting_the_plan_dropped() -> None:
    gaps = measure("make shot 2 foggy at night", [_update([2], time_of_day="night")], CTX)
    assert [d.split(" ←")[0] for d in gaps.dropped] == ["weather fog"]
    assert not measure(
        "make shot 2 foggy at night", [_update([2], time_of_day="night", weather="fog")], CTX
    ).gaps


def test_coverage_reports_a_number_the_plan_lost() -> None:
    split = {"type": "shot.split", "args": {"shot": 5, "parts": 2}}
    assert measure("split shot 5 in three", [split], CTX).unknown == ["three"]
    assert not measure("split shot 5 in two", [split], CTX).gaps
    # counts that name a span ("the last two") and relative edits are not values to carry
    assert not measure("make the last two shots foggy", [_update([11, 12], weather="fog")], CTX).gaps
    derived = ["shot 5: 4 s -2 s → 2 s ← “two seconds shorter”"]
    assert not measure(
        "make shot 5 two seconds shorter", [_update([5], duration_s=2)], CTX, derived=derived
    ).gaps


def test_coverage_reports_a_request_hidden_in_a_prompt() -> None:
    grid = {
        "type": "gen.grid",
        "args": {"shots": [6], "size": 9, "prompt": "night time, then give me a of it"},
    }
    assert measure("shot 6: night time, then give me a 9 grid of it", [grid], CTX).unanswered


def test_context_words_explain_a_reference() -> None:
    assert not measure(
        "animate the shots with the fox", [{"type": "gen.video", "args": {"shots": [1]}}], CTX
    ).gaps
    assert measure(
        "animate the shots with the walrus", [{"type": "gen.video", "args": {"shots": [1]}}], CTX
    ).unknown == ["walrus"]


def _validated(candidate: dict[str, Any]) -> dict[str, Any]:
    out = asyncio.run(validate({"candidate": candidate}))
    assert out["errors"] == []
    return out["turn"]


def test_validate_proposes_an_unsure_turn_from_any_planner() -> None:
    action = {"type": "shot.update", "args": {"shots": [2], "patch": {"time_of_day": "night"}}, "reason": "r"}
    unsure = {"mode": "execute", "intent": "x", "actions": [action], "message": "m", "confidence": 0.5}
    assert _validated(unsure)["mode"] == "propose"
    sure = {**unsure, "confidence": 0.95}
    assert _validated(sure)["mode"] == "execute"
    unknown = {
        k: v for k, v in unsure.items() if k != "confidence"
    }  # no confidence given: the verb rule alone
    assert _validated(unknown)["mode"] == "execute"


def test_a_read_is_answered_even_when_unsure() -> None:
    turn = PLANNER.plan("did the grid for shot 3 finish?", CTX)
    assert [a.type for a in turn.actions] == ["task.list"] and turn.mode == "execute"
    action = {"type": "task.list", "args": {}, "reason": "r"}
    read = {"mode": "execute", "intent": "x", "actions": [action], "message": "m", "confidence": 0.4}
    assert _validated(read)["mode"] == "execute"  # nothing is written, so nothing to confirm
