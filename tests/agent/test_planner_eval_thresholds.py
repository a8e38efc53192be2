"""CI gate on the planner evaluation sets (``directordeck eval planner FILE``).

planner_set.jsonl is the set the planner was developed against; holdout_set.jsonl was written after
that work and run once before any fix (85.2 % on its first run, see tests/agent/eval/RESULTS.md);
fresh_set.jsonl was written after the merge with main and run once before any fix (81.9 % as
labelled, 90.3 % with six over-literal labels corrected); the planner was then fixed on what it
showed; unseen_set_2.jsonl (170 sentences, written by another helper without reading the planner)
was run once before any change it prompted (64.1 %, see RESULTS.md), then the generic gaps it
showed were fixed; unseen_set_3.jsonl (150 sentences in creators' voices) scored 61.3 % on its first
run and 98.0 % after round 3's generic fixes; unseen_set_4.jsonl (170 sentences in creators' casual
voices) scored 81.8 % on its first run and 100 % after round 4's generic fixes. All six sets are now
tuned-on: the next honest figure needs a new unseen set (set 5 is held out for it).
The thresholds are the levels reached, less a small margin; the safety bars have no margin.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.eval import load_cases, offline_plan_fn, run_eval, run_eval_cli, score_case, summarize
from agent.planner import OfflinePlanner

EVAL = Path(__file__).parent / "eval"
SETS = {
    "planner_set.jsonl": 0.97,
    "holdout_set.jsonl": 0.95,
    "fresh_set.jsonl": 0.95,
    "unseen_set_2.jsonl": 0.95,
    "unseen_set_3.jsonl": 0.95,
    "unseen_set_4.jsonl": 0.95,
}
MIN_CASES = {
    "planner_set.jsonl": 300,
    "holdout_set.jsonl": 80,
    "unseen_set_2.jsonl": 150,
    "unseen_set_3.jsonl": 140,
    "unseen_set_4.jsonl": 160,
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_offline_planner_meets_the_bars_on_the_set(name: str) -> None:
    cases = load_cases(EVAL / name)
    summary = summarize(run_eval(cases, offline_plan_fn()))
    total = summary["total"]
    assert total["n"] >= MIN_CASES.get(name, 60)
    assert total["accuracy"] >= SETS[name], summary["family"]
    assert total["wrong_executed"] == 0  # never a wrong action without confirmation
    assert summary["refused_or_clarified_unsupported"] == 1.0  # unsupported and injection: 100 %
    for lang in ("en", "zh"):
        assert summary["lang"][lang]["accuracy"] >= SETS[name] - 0.02, lang
    assert summary["tag"]["injection"]["accuracy"] == 1.0
    assert summary["lang"]["zh"]["n"] >= 25  # both languages, not an English set with a few Chinese lines


def test_the_precision_gate_rarely_holds_back_a_right_plan() -> None:
    """The coverage check proposes instead of executing when part of a sentence is unexplained;
    on the sets, at most 3 % of the right plans are held back by it (a confirm card too many)."""
    planner = OfflinePlanner()
    right = held = 0
    for name in SETS:
        for case in load_cases(EVAL / name):
            turn = planner.plan(case.sentence, case.context)
            if score_case(case, turn).outcome != "correct" or not turn.actions:
                continue
            right += 1
            held += any("not explained" in e or "not planned" in e for e in turn.evidence)
    assert right > 400 and held / right <= 0.03, (held, right)


def test_the_set_covers_the_styles_the_issue_names() -> None:
    cases = load_cases(EVAL / "planner_set.jsonl")
    tags = {t for c in cases for t in c.tags}
    assert {
        "casual",
        "typo",
        "multi",
        "polite",
        "numerals",
        "reference",
        "negation",
        "relative",
        "range",
        "unsupported",
        "injection",
        "followup",
        "modifier",
    } <= tags
    assert sum(c.lang == "zh" for c in cases) >= 100 and sum(c.lang == "en" for c in cases) >= 150


def test_eval_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_eval_cli(EVAL / "holdout_set.jsonl", failures=True) == 0
    out = capsys.readouterr().out
    assert "accuracy:" in out and "wrong-action rate:" in out and "clarification rate:" in out
    assert "per family" in out and "per lang" in out


def test_a_wrong_action_that_would_run_is_counted_as_such(tmp_path: Path) -> None:
    (tmp_path / "s.jsonl").write_text(
        '{"sentence": "make shot 2 night", "lang": "en", "context": {"workspace": {"shots": 5}},'
        ' "expect": [{"type": "shot.update", "args": {"shots": [3]}}]}\n'
        '{"sentence": "post it on tiktok", "lang": "en", "context": {}, "expect": "refuse"}\n',
        encoding="utf-8",
    )
    summary = summarize(run_eval(load_cases(tmp_path / "s.jsonl"), offline_plan_fn()))
    assert summary["total"]["wrong_executed"] == 1 and summary["total"]["correct"] == 1


def test_a_malformed_set_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.jsonl").write_text('{"sentence": "x", "expect": "maybe"}\n', encoding="utf-8")
    assert run_eval_cli(tmp_path / "bad.jsonl") == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
