"""The verb registry: one row per Action DSL verb, joining every part a verb needs.

Rule: a verb is declared once in ``schema.actions.VERBS`` (args model, confirmation rule, cost,
example); its executor registers in the action service (``@executes`` in services/), its planner
entry and its EN/ZH summary live in agent/planner/. ``check_registry`` fails when any verb lacks a
part, so a half-added verb cannot ship (it runs at worker and API start and in the test suite).
Adding a verb: an args model + a ``Verb`` row + an ``@executes`` function + planner phrases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.planner.offline import PLANNER_ENTRIES, describe
from schema.actions import ACTION_MODELS, VERBS, AnyAction, Verb
from services.execution import EXECUTORS, Executor
from services.router import ActionRouter  # noqa: F401 - importing the router registers every executor


@dataclass(frozen=True)
class VerbRow:
    """Everything about one verb: what it takes, who runs it, how it is said, who plans it."""

    verb: Verb
    executor: Executor
    summary: Callable[[AnyAction, str], str]
    planner_entry: Callable[..., Any]

    def example_action(self) -> AnyAction:
        data = {"type": self.verb.name, "args": self.verb.example}
        return ACTION_MODELS[self.verb.name].model_validate(data)


class RegistryIncomplete(RuntimeError):
    """A verb lacks one of its parts; the message lists every gap."""


def _gaps(verb: Verb) -> list[str]:
    gaps = []
    if verb.name not in EXECUTORS:
        gaps.append(f"{verb.name}: no executor (@executes in services/)")
    if verb.name not in PLANNER_ENTRIES:
        gaps.append(f"{verb.name}: no planner entry (PLANNER_ENTRIES in agent/planner/offline.py)")
    try:
        action = ACTION_MODELS[verb.name].model_validate({"type": verb.name, "args": verb.example})
    except ValueError as exc:
        return [*gaps, f"{verb.name}: its example args do not validate: {exc}"]
    for lang in ("en", "zh"):
        if describe(action, lang) == verb.name:  # type: ignore[arg-type]
            gaps.append(f"{verb.name}: no {lang} summary (describe in agent/planner/offline.py)")
    return gaps


def check_registry() -> dict[str, VerbRow]:
    """Every verb with all its parts, in DSL order; raises RegistryIncomplete listing every gap."""
    gaps = [gap for verb in VERBS for gap in _gaps(verb)]
    extra = sorted(set(EXECUTORS) - {v.name for v in VERBS}) + sorted(
        set(PLANNER_ENTRIES) - {v.name for v in VERBS}
    )
    gaps += [f"{name}: has an executor or planner entry but no Verb row" for name in extra]
    if gaps:
        raise RegistryIncomplete("the verb registry is incomplete:\n  " + "\n  ".join(gaps))
    return {
        v.name: VerbRow(v, EXECUTORS[v.name], describe, PLANNER_ENTRIES[v.name])  # type: ignore[arg-type]
        for v in VERBS
    }
