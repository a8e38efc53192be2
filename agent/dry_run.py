"""``directordeck plan`` / ``directordeck schema actions``: run the offline planner without side effects.

Rule: this prints what the agent *would* do (and which planner said so); it never executes an
action, touches the ledger or starts a workflow; ``--planner gemini|auto`` may call the LLM.
Exit codes: 0 planned (including "unsupported" / clarifying turns), 2 bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from agent.planner import OfflinePlanner, PlanningContext
from schema.actions import Turn, action_json_schema


def load_context(context_path: Path | None) -> PlanningContext:
    """Read a context JSON file (the context builder's shape); ``None`` → empty context.

    Raises ``ValueError`` with a one-line reason when the file is missing or invalid.
    """
    if context_path is None:
        return PlanningContext()
    try:
        raw = Path(context_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read context file {context_path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"context file {context_path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from exc
    if not isinstance(data, dict):
        raise ValueError(f"context file {context_path} must hold a JSON object")
    try:
        return PlanningContext.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"context file {context_path} is invalid at {where}: {first['msg']}") from exc


def format_turn(turn: Turn) -> str:
    """A short human summary: mode, intent, one line per action, the message."""
    lines = [f"mode:    {turn.mode}", f"intent:  {turn.intent}"]
    if turn.actions:
        lines.append("actions:")
        for i, action in enumerate(turn.actions, 1):
            args = action.args.model_dump(mode="json", exclude_none=True, by_alias=True)
            lines.append(
                f"  {i}. {action.type} {json.dumps(args, ensure_ascii=False, separators=(', ', ': '))}"
            )
    else:
        lines.append("actions: (none)")
    lines.append(f"message: {turn.message}")
    if turn.planner:
        lines.append(f"planner: {turn.planner}")
    if turn.confidence is not None:
        lines.append(f"confidence: {turn.confidence:.2f}")
    if turn.evidence:
        lines.append("evidence:")
        lines.extend(f"  - {e}" for e in turn.evidence)
    if turn.question is not None and turn.question.choices:
        lines.append("choices:")
        lines.extend(f"  {i}) {c.label}" for i, c in enumerate(turn.question.choices, 1))
    return "\n".join(lines)


def turn_json(turn: Turn) -> str:
    """The turn as pretty JSON (``None`` fields left out, aliases used)."""
    return json.dumps(
        turn.model_dump(mode="json", exclude_none=True, by_alias=True), indent=2, ensure_ascii=False
    )


def run_plan(
    sentence: str,
    context_path: Path | None,
    as_json: bool,
    *,
    planner: str = "offline",
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Plan one sentence against an optional context file and print the turn (``planner``:
    offline, gemini or auto — the turn says which one answered). Returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        context = load_context(context_path)
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if planner == "offline":
        turn = OfflinePlanner().plan(sentence, context).model_copy(update={"planner": "offline"})
    else:
        from agent.planner.hybrid import sync_plan_fn

        try:
            plan = sync_plan_fn(planner)
        except ValueError as exc:
            print(f"error: {exc}", file=err)
            return 2
        turn = plan(sentence, context.model_dump(mode="json"))
    print(turn_json(turn) if as_json else format_turn(turn), file=out)
    return 0


def print_action_schema(*, out: TextIO | None = None) -> int:
    """Print the JSON Schema of the Action DSL envelope (``Turn``)."""
    print(json.dumps(action_json_schema(), indent=2, ensure_ascii=False), file=out or sys.stdout)
    return 0


__all__ = ["format_turn", "load_context", "print_action_schema", "run_plan", "turn_json"]
