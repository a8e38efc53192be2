"""Modifiers extend a shot's description; they never replace it (issue 13)."""

from __future__ import annotations

from activities.pipeline import with_modifier
from agent.planner import plan

CTX = {"workspace": {"type": "narrative_project", "shots": 12}}


def test_leftover_words_are_a_modifier_not_the_prompt() -> None:
    grid = plan("give me four images for shot 10 but make it feel lonelier", CTX).actions[0]
    assert grid.type == "gen.grid" and grid.args.prompt == "feel lonelier"
    plain = plan("第5个镜头来个四宫格，换个感觉", CTX).actions[0]
    assert plain.type == "gen.grid" and plain.args.prompt is None  # filler words are no prompt
    assert plan("给最后一个镜头出四宫格", CTX).actions[0].args.prompt is None


def test_the_grid_activity_appends_the_modifier_to_the_description() -> None:
    assert with_modifier("a fox on a rooftop", "keep it simple") == "a fox on a rooftop, keep it simple"
    assert with_modifier("a fox", None) == "a fox"
    assert with_modifier("a fox", "a fox; camera: low angle") == "a fox; camera: low angle"
    assert with_modifier("", "a red car") == "a red car"  # a draft has no description of its own
