"""The verb registry is complete: every verb has args, an executor, EN/ZH summaries and a planner entry."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from agent import registry
from agent.prompts import action_catalogue
from schema import actions as A


def test_every_verb_has_every_part() -> None:
    rows = registry.check_registry()
    assert list(rows) == [v.name for v in A.VERBS]
    for name, row in rows.items():
        action = row.example_action()
        assert action.type == name
        assert row.summary(action, "en") != name and row.summary(action, "zh") != name
        assert callable(row.executor) and callable(row.planner_entry)


def test_a_verb_without_executor_summary_or_planner_entry_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    class EchoArgs(BaseModel):
        text: str = "hi"

    half_added = A.Verb("shot.echo", "ShotEcho", EchoArgs, args_optional=True)
    monkeypatch.setattr(registry, "VERBS", (*A.VERBS, half_added))
    monkeypatch.setitem(
        registry.ACTION_MODELS, "shot.echo", A._action_model(half_added)
    )  # the model exists, nothing else does
    with pytest.raises(registry.RegistryIncomplete) as err:
        registry.check_registry()
    message = str(err.value)
    assert "shot.echo: no executor" in message
    assert "shot.echo: no planner entry" in message
    assert "shot.echo: no en summary" in message and "shot.echo: no zh summary" in message


def test_an_executor_for_an_undeclared_verb_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.EXECUTORS, "shot.ghost", lambda ex, a: None)
    with pytest.raises(registry.RegistryIncomplete, match=r"shot\.ghost: has an executor"):
        registry.check_registry()


def test_union_schema_and_catalogue_derive_from_the_verb_table() -> None:
    verbs = [v.name for v in A.VERBS]
    assert [m.model_fields["type"].default for m in typing.get_args(A.AnyAction)] == verbs
    schema = A.action_json_schema()
    in_schema = {
        d["properties"]["type"]["const"]
        for d in schema["$defs"].values()
        if "type" in d.get("properties", {}) and "const" in d["properties"]["type"]
    }
    assert in_schema == set(verbs)
    text = action_catalogue()
    assert all(v in text for v in verbs)


def test_confirmation_rule_comes_from_the_row() -> None:
    one = A.parse_action({"type": "gen.video", "args": {"shots": [1]}})
    many = A.parse_action({"type": "gen.video", "args": {"shots": [1, 2]}})
    delete = A.parse_action({"type": "shot.delete", "args": {"shots": [1]}})
    assert A.VERBS_BY_NAME["gen.video"].confirm == "many_shots"
    assert (A.requires_confirmation(one), A.requires_confirmation(many), A.requires_confirmation(delete)) == (
        False,
        True,
        True,
    )
