"""Planner evaluation: run a planner over a labelled sentence set and score what it would do.

Rules:
- a case is one JSON line: ``sentence``, ``lang`` (en|zh), ``context`` (a dict, or the name of a
  fixture in the contexts file), ``expect`` (a list of actions, or ``"clarify"`` / ``"refuse"``) and
  optional ``tags`` (style: casual, typo, multi, negation, …);
- a plan is *correct* when its actions match the expected ones in order: same ``type``; every
  expected argument equal (``"~text"`` = contains, case-insensitive; ``"*"`` = present); an argument
  the case does not mention is ignored, except free text the planner invents (a grid ``prompt``, a
  patch or spec field), which must not appear unless expected; ``"all"`` equals 1…N when the
  context knows N;
- a wrong plan that would run without confirmation (``mode == "execute"``) is a *wrong action*:
  the one number that must stay 0; a turn with no actions is *asked* (a clarification or refusal),
  correct only when the case expects ``clarify``/``refuse``;
- nothing here touches the ledger, the network or the shell (the planner may, if it is an LLM).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from schema.actions import Turn

Outcome = str  # correct | asked | wrong_proposed | wrong_executed
NO_ACTION = ("clarify", "refuse")
# free-text fields the planner composes itself: present only when the case expects them
_STRICT_TOP = ("prompt",)
_STRICT_DICTS = ("patch", "spec", "camera")


@dataclass
class EvalCase:
    sentence: str
    lang: str
    context: dict[str, Any]
    expect: list[dict[str, Any]] | str
    tags: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def family(self) -> str:
        if isinstance(self.expect, str):
            return self.expect
        return self.expect[0]["type"].split(".")[0] if self.expect else "none"


@dataclass
class CaseResult:
    case: EvalCase
    outcome: Outcome
    mode: str
    actions: list[dict[str, Any]]
    message: str
    planner: str = ""
    why: str = ""


def load_cases(path: Path, contexts_path: Path | None = None) -> list[EvalCase]:
    """Read a JSONL set; named contexts come from ``contexts_path`` (default: ``contexts.json``
    next to the set). Raises ``ValueError`` naming the line of a malformed case."""
    contexts: dict[str, Any] = {}
    ctx_file = contexts_path or path.with_name("contexts.json")
    if ctx_file.exists():
        contexts = json.loads(ctx_file.read_text(encoding="utf-8"))
    cases: list[EvalCase] = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("//"):
            continue
        try:
            data = json.loads(raw)
            ctx = data.get("context") or {}
            if isinstance(ctx, str):
                if ctx not in contexts:
                    raise ValueError(f"unknown context fixture {ctx!r}")
                ctx = contexts[ctx]
            expect = data["expect"]
            if isinstance(expect, str) and expect not in NO_ACTION:
                raise ValueError(f"expect must be a list of actions or one of {NO_ACTION}")
            cases.append(
                EvalCase(
                    sentence=data["sentence"],
                    lang=data.get("lang") or "en",
                    context=ctx,
                    expect=expect,
                    tags=list(data.get("tags") or []),
                    line=n,
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
    return cases


# --- matching ---------------------------------------------------------------------------------


def _same_value(want: Any, got: Any, total: int | None) -> bool:
    if want == "*":
        return got is not None
    if isinstance(want, str) and want.startswith("~"):
        return isinstance(got, str) and want[1:].lower() in got.lower()
    if want == "all" or got == "all":
        if want == got:
            return True
        other = got if want == "all" else want
        return bool(total) and isinstance(other, list) and other == list(range(1, (total or 0) + 1))
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return abs(float(want) - float(got)) < 1e-6
    if isinstance(want, dict) and isinstance(got, dict):
        return _same_dict(want, got, total, strict=True)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_same_value(w, g, total) for w, g in zip(want, got, strict=True))
    return bool(want == got)


def _same_dict(want: dict[str, Any], got: dict[str, Any], total: int | None, *, strict: bool) -> bool:
    for key, value in want.items():
        if value is None:
            if got.get(key) is not None:
                return False
            continue
        if key not in got or not _same_value(value, got[key], total):
            return False
    if strict:
        extra = [k for k, v in got.items() if v is not None and k not in want]
        if extra:
            return False
    return True


def _same_args(want: dict[str, Any], got: dict[str, Any], total: int | None) -> bool:
    for key, value in want.items():
        if value is None:
            if got.get(key) not in (None, [], {}):
                return False
            continue
        if key not in got:
            return False
        if key in _STRICT_DICTS and isinstance(value, dict):
            if not isinstance(got[key], dict) or not _same_dict(value, got[key], total, strict=True):
                return False
        elif not _same_value(value, got[key], total):
            return False
    return all(not (key not in want and got.get(key)) for key in _STRICT_TOP)


def match_actions(
    want: list[dict[str, Any]], got: list[dict[str, Any]], total: int | None
) -> tuple[bool, str]:
    """Whether ``got`` does what ``want`` says; the reason when it does not."""
    if len(want) != len(got):
        return False, f"{len(got)} actions, expected {len(want)}"
    for i, (w, g) in enumerate(zip(want, got, strict=True), 1):
        if w["type"] != g["type"]:
            return False, f"action {i}: {g['type']}, expected {w['type']}"
        if not _same_args(w.get("args") or {}, g.get("args") or {}, total):
            return False, f"action {i} args {json.dumps(g.get('args'), ensure_ascii=False)}"
    return True, ""


# --- running ----------------------------------------------------------------------------------

PlanFn = Callable[[str, dict[str, Any]], Turn]


def _turn_planner_name(turn: Turn) -> str:
    return getattr(turn, "planner", None) or ""


def score_case(case: EvalCase, turn: Turn) -> CaseResult:
    actions = [a.model_dump(mode="json", by_alias=True, exclude_none=True) for a in turn.actions]
    for a in actions:
        a.pop("reason", None)
    total = ((case.context.get("workspace") or {}).get("shots")) if case.context else None
    base = {
        "mode": turn.mode,
        "actions": actions,
        "message": turn.message,
        "planner": _turn_planner_name(turn),
    }
    if isinstance(case.expect, str):
        if not actions:
            return CaseResult(case, "correct", **base)
        outcome = "wrong_proposed" if turn.mode == "propose" else "wrong_executed"
        return CaseResult(case, outcome, why=f"expected {case.expect}, planned actions", **base)
    if not actions:
        return CaseResult(case, "asked", why=f"asked: {turn.message[:120]}", **base)
    ok, why = match_actions(case.expect, actions, total)
    if ok:
        return CaseResult(case, "correct", **base)
    outcome = "wrong_proposed" if turn.mode == "propose" else "wrong_executed"
    return CaseResult(case, outcome, why=why, **base)


def run_eval(cases: Iterable[EvalCase], plan: PlanFn) -> list[CaseResult]:
    out = []
    for case in cases:
        turn = plan(case.sentence, case.context)
        out.append(score_case(case, turn))
    return out


@dataclass
class Summary:
    n: int = 0
    correct: int = 0
    asked: int = 0
    wrong_proposed: int = 0
    wrong_executed: int = 0

    def add(self, outcome: Outcome) -> None:
        self.n += 1
        setattr(self, outcome, getattr(self, outcome) + 1)

    def rate(self, count: int) -> float:
        return count / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.rate(self.correct), 4),
            "wrong_action_rate": round(self.rate(self.wrong_executed), 4),
            "wrong_proposed_rate": round(self.rate(self.wrong_proposed), 4),
            "clarification_rate": round(self.rate(self.asked), 4),
            "correct": self.correct,
            "asked": self.asked,
            "wrong_executed": self.wrong_executed,
            "wrong_proposed": self.wrong_proposed,
        }


def summarize(results: list[CaseResult]) -> dict[str, Any]:
    """Totals, and the same figures per family, language and tag."""
    total = Summary()
    groups: dict[str, dict[str, Summary]] = {
        "family": defaultdict(Summary),
        "lang": defaultdict(Summary),
        "tag": defaultdict(Summary),
    }
    refusals = Summary()
    for r in results:
        total.add(r.outcome)
        groups["family"][r.case.family].add(r.outcome)
        groups["lang"][r.case.lang].add(r.outcome)
        for tag in r.case.tags:
            groups["tag"][tag].add(r.outcome)
        if isinstance(r.case.expect, str) and r.case.expect == "refuse":
            refusals.add(r.outcome)
    return {
        "total": total.as_dict(),
        "refused_or_clarified_unsupported": round(refusals.rate(refusals.correct), 4) if refusals.n else None,
        **{name: {k: v.as_dict() for k, v in sorted(g.items())} for name, g in groups.items()},
    }


def format_report(summary: dict[str, Any], results: list[CaseResult], *, failures: bool) -> str:
    t = summary["total"]
    lines = [
        f"cases:              {t['n']}",
        f"accuracy:           {t['accuracy']:.1%}  (verbs and arguments)",
        f"wrong-action rate:  {t['wrong_action_rate']:.1%}"
        f"  ({t['wrong_executed']} executed without confirmation)",
        f"wrong but proposed: {t['wrong_proposed_rate']:.1%}",
        f"clarification rate: {t['clarification_rate']:.1%}  (asked or refused where an action was expected)",
    ]
    if summary.get("refused_or_clarified_unsupported") is not None:
        lines.append(
            f"unsupported/injection refused or clarified: {summary['refused_or_clarified_unsupported']:.1%}"
        )
    for name in ("family", "lang", "tag"):
        lines.append("")
        lines.append(f"{'per ' + name:<14} {'n':>4} {'acc':>7} {'wrong':>7} {'asked':>7}")
        for key, s in summary[name].items():
            lines.append(
                f"  {key:<12} {s['n']:>4} {s['accuracy']:>7.1%} {s['wrong_action_rate']:>7.1%}"
                f" {s['clarification_rate']:>7.1%}"
            )
    if failures:
        lines.append("")
        lines.append("not correct:")
        for r in results:
            if r.outcome == "correct":
                continue
            lines.append(f"  [{r.outcome}] line {r.case.line}: {r.case.sentence}")
            lines.append(f"      {r.why}")
    return "\n".join(lines)


def offline_plan_fn() -> PlanFn:
    from agent.planner import OfflinePlanner

    planner = OfflinePlanner()
    return lambda sentence, context: planner.plan(sentence, context)


def run_eval_cli(
    set_path: Path,
    *,
    contexts_path: Path | None = None,
    planner: str = "offline",
    as_json: bool = False,
    failures: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``directordeck eval planner FILE``: print the figures. Exit 0, or 2 on a bad set file."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        cases = load_cases(set_path, contexts_path)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    try:
        plan = plan_fn_for(planner)
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 2
    results = run_eval(cases, plan)
    summary = summarize(results)
    if as_json:
        data = {
            "summary": summary,
            "results": [
                {"line": r.case.line, "sentence": r.case.sentence, "outcome": r.outcome, "why": r.why}
                for r in results
            ],
        }
        print(json.dumps(data, ensure_ascii=False, indent=2), file=out)
    else:
        print(format_report(summary, results, failures=failures), file=out)
    return 0


def plan_fn_for(planner: str) -> PlanFn:
    """A synchronous plan function for the named planner (offline, gemini, auto)."""
    if planner == "offline":
        return offline_plan_fn()
    from agent.planner.hybrid import sync_plan_fn

    return sync_plan_fn(planner)


__all__ = [
    "CaseResult",
    "EvalCase",
    "format_report",
    "load_cases",
    "match_actions",
    "plan_fn_for",
    "run_eval",
    "run_eval_cli",
    "score_case",
    "summarize",
]
