"""`directordeck plan` / `directordeck schema actions` (agent.dry_run): output and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent.dry_run import print_action_schema, run_plan
from schema.actions import Turn

CONTEXT = {
    "workspace": {"type": "narrative_project", "shots": 12},
    "focus": {"shot": 3, "track": "B"},
    "latest_grid": {"shot": 3, "track": "B", "cells": 9},
}


def _run(sentence: str, context: Path | None, as_json: bool) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_plan(sentence, context, as_json, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def context_file(tmp_path: Path) -> Path:
    path = tmp_path / "ctx.json"
    path.write_text(json.dumps(CONTEXT), encoding="utf-8")
    return path


def test_json_output_is_a_valid_turn(context_file: Path) -> None:
    code, out, err = _run("Iterate on image #2 of the last grid", context_file, True)
    assert (code, err) == (0, "")
    turn = Turn.model_validate_json(out)
    assert [a.type for a in turn.actions] == ["gen.grid"]
    data = json.loads(out)
    assert data["actions"][0]["args"] == {"shots": [3], "size": 9, "refs": [], "track": "B", "from_cell": 2}
    assert out.startswith("{\n  ")


def test_json_keeps_chinese_readable(context_file: Path) -> None:
    code, out, _ = _run("删除第5个分镜", context_file, True)
    assert code == 0
    assert "删除" in out and "\\u" not in out
    assert json.loads(out)["mode"] == "propose"


def test_human_summary(context_file: Path) -> None:
    code, out, _ = _run("Change shots 8 to 12 to night with neon lights", context_file, False)
    assert code == 0
    assert "mode:    propose" in out
    assert 'shot.update {"shots": [8, 9, 10, 11, 12]' in out
    assert "message: Updating shots 8–12" in out


def test_no_context_and_unsupported_still_exit_zero() -> None:
    code, out, _ = _run("Order me a pizza", None, False)
    assert code == 0
    assert "actions: (none)" in out and "intent:  unsupported" in out


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"workspace": {"shots": -1}}', "invalid"),
    ],
)
def test_bad_context_file_exits_2_with_one_line(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "ctx.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = _run("Delete shot 5", path, True)
    assert code == 2
    assert out == ""
    assert needle in err and err.count("\n") == 1 and err.startswith("error: ")


def test_print_action_schema() -> None:
    out = io.StringIO()
    assert print_action_schema(out=out) == 0
    schema = json.loads(out.getvalue())
    assert schema["title"] == "Turn"
    assert "ShotUpdate" in schema["$defs"]
