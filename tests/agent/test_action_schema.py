"""The Action DSL (schema.actions): validation, targets, confirmation rule, cost, JSON Schema."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from schema.actions import (
    ACTION_MODELS,
    ACTION_TYPES,
    GenGrid,
    ShotUpdate,
    Turn,
    action_json_schema,
    cost_units,
    parse_action,
    requires_confirmation,
)

# One valid example per action type: the table doubles as documentation of the DSL.
EXAMPLES: dict[str, dict[str, Any]] = {
    "project.create": {
        "title": "Moon Thief",
        "story": "a fox steals the moon",
        "style": "ink-wash",
        "shot_count": 12,
    },
    "project.update_meta": {"aspect_ratio": "9:16"},
    "project.set_style": {"style": "watercolor"},
    "project.set_rules": {"rules": ["no blood"]},
    "character.create": {"name": "Mia", "profile": "a red fox"},
    "character.update": {"name": "Mia", "patch": {"outfit": "blue scarf"}},
    "character.attach_reference": {"name": "Mia", "cell": 3, "shot": 2},
    "character.lock": {"name": "Mia", "locks": ["face", "outfit"]},
    "scene.add": {"after": 2, "spec": {"place": "rooftop", "time_of_day": "night"}},
    "scene.update": {"scene": 2, "patch": {"mood": "tense"}},
    "scene.reorder": {"scene": 3, "to": 1},
    "scene.delete": {"scene": 3},
    "shot.add": {"after": 4, "spec": {"visual": "close-up of the fox", "camera": {"size": "close-up"}}},
    "shot.update": {
        "shots": "8-12",
        "patch": {"time_of_day": "night", "lighting": "neon", "pacing": "faster"},
    },
    "shot.split": {"shot": 4, "parts": 3},
    "shot.merge": {"shots": [3, 4]},
    "shot.reorder": {"shot": 5, "to": 2},
    "shot.delete": {"shots": [5]},
    "gen.storyboard": {"story": "a fox steals the moon", "shot_count": 12},
    "gen.grid": {"shots": [3], "size": 9, "camera": {"angle": "low angle"}},
    "gen.video": {"shots": "all"},
    "gen.voice": {"shots": "all", "voice": "female"},
    "gen.music": {"mood": "calm", "duration_s": 30},
    "gen.compose": {"mode": "final", "resolution": "1080p", "subtitles": True},
    "track.fork": {"shot": 3, "from_cell": 7, "track": "b"},
    "track.switch": {"shot": 3, "track": "A"},
    "node.commit": {"shot": 3, "cell": 4},
    "node.reference": {"cell": 7, "track": "B", "shot": 3, "as": "style"},
    "node.favorite": {"cell": 2, "shot": 3, "tags": ["hero"]},
    "task.status": {"task_id": "grid-3-abc"},
    "task.list": {"status": "running"},
    "task.cancel": {"kind": "video"},
    "task.retry": {"status_filter": "failed"},
    "version.snapshot": {"note": "before neon"},
    "version.rollback": {"before": "neon change"},
    "export.package": {"selection": "favorites"},
}


def test_every_action_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(ACTION_TYPES) == set(ACTION_MODELS)
    assert len(ACTION_TYPES) == len(set(ACTION_TYPES))
    assert all(re.fullmatch(r"[a-z]+\.[a-z_]+", t) for t in ACTION_TYPES)


@pytest.mark.parametrize("action_type", sorted(EXAMPLES))
def test_examples_validate_and_round_trip(action_type: str) -> None:
    action = parse_action({"type": action_type, "args": EXAMPLES[action_type], "reason": "test"})
    assert action.type == action_type
    assert isinstance(action, ACTION_MODELS[action_type])
    dumped = action.model_dump(mode="json")
    assert next(iter(dumped)) == "type"
    assert parse_action(json.dumps(dumped)) == action


@pytest.mark.parametrize(
    ("shots", "expected"),
    [
        ([3], [3]),
        (3, [3]),
        ("3", [3]),
        ("8-12", [8, 9, 10, 11, 12]),
        ("12-8", [8, 9, 10, 11, 12]),
        ("2, 4 and 6", [2, 4, 6]),
        ([6, "2", "3-4", 6], [2, 3, 4, 6]),
        ("all", "all"),
        ("ALL", "all"),
    ],
)
def test_shot_targets_are_normalised(shots: Any, expected: Any) -> None:
    action = parse_action({"type": "shot.delete", "args": {"shots": shots}})
    assert action.args.shots == expected  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data",
    [
        {"type": "shot.delete", "args": {"shots": [0]}},
        {"type": "shot.delete", "args": {"shots": []}},
        {"type": "shot.delete", "args": {"shots": [True]}},
        {"type": "shot.delete", "args": {"shots": "some"}},
        {"type": "shot.delete", "args": {"shots": [1000]}},
        {"type": "shot.update", "args": {"shots": [1], "patch": {}}},
        {"type": "shot.update", "args": {"shots": [1], "patch": {"mood": None}}},
        {"type": "shot.update", "args": {"shots": [1], "patch": {"colour": "red"}}},
        {"type": "shot.update", "args": {"shots": [1], "patch": {"duration_s": 12}}},
        {"type": "shot.update", "args": {"shots": [1], "patch": {"camera": {}}}},
        {"type": "shot.update", "args": {"shots": [1], "patch": {"camera": {"angle": "sideways"}}}},
        {"type": "shot.merge", "args": {"shots": [3]}},
        {"type": "shot.merge", "args": {"shots": "all"}},
        {"type": "gen.grid", "args": {"shots": [3], "size": 6}},
        {"type": "gen.grid", "args": {"shots": [3, 4], "from_cell": 2}},
        {"type": "gen.grid", "args": {"shots": [3], "from_cell": 2, "from_node": "n1"}},
        {"type": "gen.grid", "args": {"shots": [3], "from_cell": 10}},
        {"type": "gen.storyboard", "args": {"story": "x", "shot_count": 61}},
        {"type": "gen.storyboard", "args": {"story": ""}},
        {"type": "gen.compose", "args": {"mode": "draft"}},
        {"type": "track.fork", "args": {"shot": 3}},
        {"type": "track.switch", "args": {"shot": 3, "track": "track b"}},
        {"type": "node.commit", "args": {"shot": 3, "cell": 1, "node": "n1"}},
        {"type": "node.reference", "args": {"cell": 1, "as": "sound"}},
        {"type": "task.cancel", "args": {}},
        {"type": "task.cancel", "args": {"kind": "everything"}},
        {"type": "task.retry", "args": {}},
        {"type": "version.rollback", "args": {}},
        {"type": "character.lock", "args": {"name": "Mia", "locks": []}},
        {"type": "project.update_meta", "args": {}},
        {"type": "project.create", "args": {"title": "x", "aspect_ratio": "wide"}},
        {"type": "shot.delete", "args": {"shots": [1]}, "extra": 1},
        {"type": "shot.explode", "args": {}},
        {"args": {"shots": [1]}},
    ],
)
def test_invalid_actions_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_action(data)


def test_camera_words_are_normalised() -> None:
    action = parse_action(
        {
            "type": "shot.update",
            "args": {"shots": [1], "patch": {"camera": {"size": "Close up", "angle": "Low angle"}}},
        }
    )
    assert isinstance(action, ShotUpdate)
    assert action.args.patch.camera is not None
    assert (action.args.patch.camera.size, action.args.patch.camera.angle) == ("close-up", "low")


@pytest.mark.parametrize(
    ("data", "propose"),
    [
        ({"type": "shot.delete", "args": {"shots": [5]}}, True),
        ({"type": "scene.delete", "args": {"scene": 2}}, True),
        ({"type": "version.rollback", "args": {"before": "neon change"}}, True),
        ({"type": "shot.merge", "args": {"shots": [3, 4]}}, True),
        ({"type": "shot.update", "args": {"shots": [3], "patch": {"mood": "tense"}}}, False),
        ({"type": "shot.update", "args": {"shots": [3, 4], "patch": {"mood": "tense"}}}, True),
        ({"type": "shot.update", "args": {"shots": "all", "patch": {"mood": "tense"}}}, True),
        ({"type": "gen.grid", "args": {"shots": [3], "size": 9}}, False),
        ({"type": "gen.grid", "args": {"shots": [1, 2]}}, True),
        ({"type": "gen.video", "args": {"shots": [2]}}, False),
        ({"type": "gen.video", "args": {"shots": "all"}}, True),
        ({"type": "gen.voice", "args": {"shots": "all"}}, True),
        ({"type": "gen.compose", "args": {"mode": "final"}}, False),
        ({"type": "task.cancel", "args": {"kind": "all"}}, False),
        ({"type": "node.commit", "args": {"shot": 3, "cell": 4}}, False),
        ({"type": "project.create", "args": {"title": "x"}}, False),
    ],
)
def test_requires_confirmation(data: dict[str, Any], propose: bool) -> None:
    action = parse_action(data)
    assert requires_confirmation(action) is propose
    turn = Turn(mode="execute", intent="t", actions=[action], message="m")
    assert turn.decide_mode() == ("propose" if propose else "execute")


@pytest.mark.parametrize(
    ("data", "total", "units"),
    [
        ({"type": "gen.grid", "args": {"shots": [3], "size": 4}}, None, 4),
        ({"type": "gen.grid", "args": {"shots": [3, 4], "size": 9}}, None, 18),
        ({"type": "gen.grid", "args": {"shots": "all", "size": 9}}, 12, 108),
        ({"type": "gen.video", "args": {"shots": [1, 2, 3]}}, None, 30),
        ({"type": "gen.video", "args": {"shots": "all"}}, 12, 120),
        ({"type": "gen.video", "args": {"shots": "all"}}, None, 10),
        ({"type": "gen.voice", "args": {"shots": "all"}}, 12, 12),
        ({"type": "gen.compose", "args": {"mode": "preview"}}, None, 5),
        ({"type": "shot.delete", "args": {"shots": [1]}}, None, 0),
    ],
)
def test_cost_units(data: dict[str, Any], total: int | None, units: int) -> None:
    assert cost_units(parse_action(data), total) == units


def test_turn_round_trips_through_json() -> None:
    actions = [parse_action({"type": t, "args": a}) for t, a in EXAMPLES.items()]
    turn = Turn(mode="propose", intent="everything", actions=actions, message="确认吗？")
    again = Turn.model_validate_json(turn.model_dump_json())
    assert again == turn
    assert json.loads(turn.model_dump_json())["actions"][27]["args"]["as"] == "style"
    assert turn.total_cost_units(total_shots=12) > 0


def test_turn_rejects_unknown_mode_and_keys() -> None:
    with pytest.raises(ValidationError):
        Turn.model_validate({"mode": "maybe", "intent": "", "actions": [], "message": ""})
    with pytest.raises(ValidationError):
        Turn.model_validate({"mode": "execute", "intent": "", "actions": [], "message": "", "sql": "x"})


# --- JSON Schema ------------------------------------------------------------------------------------
# A small validator for the subset of JSON Schema that pydantic emits, so the test needs no extra
# dependency: $ref, anyOf/oneOf, const, enum, type, properties/required/additionalProperties,
# items, min/max, minLength/maxLength, minItems/maxItems, pattern.

_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def _errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return _errors(value, root["$defs"][name], root, path)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matches = [s for s in schema[key] if not _errors(value, s, root, path)]
            if key == "anyOf" and not matches:
                return [f"{path}: matches no anyOf branch"]
            if key == "oneOf" and len(matches) != 1:
                return [f"{path}: matches {len(matches)} oneOf branches"]
    out: list[str] = []
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: != const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: not in enum")
    if "type" in schema:
        py = _TYPES[schema["type"]]
        if not isinstance(value, py) or (schema["type"] in ("integer", "number") and isinstance(value, bool)):
            return [*out, f"{path}: not {schema['type']}"]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{path}: missing {r}" for r in schema.get("required", []) if r not in value]
        for k, v in value.items():
            if k in props:
                out += _errors(v, props[k], root, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: extra key {k}")
    if isinstance(value, list):
        if "items" in schema:
            for i, item in enumerate(value):
                out += _errors(item, schema["items"], root, f"{path}[{i}]")
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 10**9):
            out.append(f"{path}: bad length")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
            out.append(f"{path}: bad length")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: pattern")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{path}: < minimum")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{path}: > maximum")
    return out


def test_json_schema_describes_the_turn() -> None:
    schema = action_json_schema()
    json.dumps(schema)  # serialisable
    assert set(schema["required"]) >= {"mode", "intent", "message"}
    action_defs = [d for d in schema["$defs"].values() if "type" in d.get("properties", {})]
    consts = {d["properties"]["type"]["const"] for d in action_defs if "const" in d["properties"]["type"]}
    assert consts == set(ACTION_TYPES)
    assert all(
        "type" in d["required"] and "args" in d["required"] for d in action_defs if "args" in d["properties"]
    )


def test_json_schema_validates_a_sample_turn() -> None:
    schema = action_json_schema()
    actions = [parse_action({"type": t, "args": a}) for t, a in EXAMPLES.items()]
    sample = Turn(mode="propose", intent="all", actions=actions, message="ok").model_dump(
        mode="json", exclude_none=True
    )
    assert _errors(sample, schema, schema) == []
    bad = json.loads(json.dumps(sample))
    bad["actions"][0]["args"]["bogus"] = 1
    bad["mode"] = "later"
    errors = _errors(bad, schema, schema)
    assert any("mode" in e for e in errors)
    assert any("actions[0]" in e for e in errors)


def test_grid_iteration_targets_one_shot() -> None:
    grid = parse_action({"type": "gen.grid", "args": {"shots": [3], "from_cell": 2, "track": "b"}})
    assert isinstance(grid, GenGrid)
    assert (grid.args.track, grid.args.from_cell, grid.args.size) == ("B", 2, 4)
