"""Execute or propose, and when to snapshot: the confirmation policy of the action router.

Rules (docs/actions.md): a turn is *proposed* (runs only after the user confirms) when any action is
destructive or batch (:func:`schema.actions.requires_confirmation`), when the planner itself
proposed it, or when its estimated cost is over the workspace's ``cost_limit``. A snapshot is
taken before any batch change: more than one shot touched, a delete, a merge or a rollback.
"""

from __future__ import annotations

from schema.actions import AnyAction, Turn, cost_units, requires_confirmation

_DESTRUCTIVE = {"shot.delete", "scene.delete", "shot.merge", "version.rollback"}


def shots_touched(action: AnyAction, total_shots: int) -> int:
    shots = getattr(action.args, "shots", None)
    if shots == "all":
        return total_shots
    if isinstance(shots, list):
        return len(shots)
    return 1 if getattr(action.args, "shot", None) is not None else 0


def proposal_reason(turn: Turn, *, total_shots: int, cost_limit: int | None) -> str | None:
    """Why this turn must be confirmed first, or None when it may run now."""
    reasons: list[str] = []
    for action in turn.actions:
        if not requires_confirmation(action):
            continue
        if action.type in _DESTRUCTIVE:
            reasons.append(f"{action.type} cannot be redone by itself")
        else:
            n = shots_touched(action, total_shots)
            what = "all shots" if getattr(action.args, "shots", None) == "all" else f"{n} shots"
            reasons.append(f"{action.type} touches {what}")
    cost = turn.total_cost_units(total_shots or None)
    if cost_limit is not None and cost > cost_limit:
        reasons.append(f"estimated cost {cost} units is over this project's limit of {cost_limit}")
    if not reasons and turn.mode == "propose":
        reasons.append("the planner asked for confirmation")
    return "; ".join(dict.fromkeys(reasons)) or None


def needs_snapshot(turn: Turn, *, total_shots: int) -> bool:
    """Snapshot before any batch change (>1 shot touched), delete, merge or rollback."""
    return any(
        a.type in _DESTRUCTIVE or (a.type != "task.cancel" and shots_touched(a, total_shots) > 1)
        for a in turn.actions
    )


def estimated_cost(turn: Turn, total_shots: int) -> int:
    return sum(cost_units(a, total_shots or None) for a in turn.actions)


__all__ = ["estimated_cost", "needs_snapshot", "proposal_reason", "shots_touched"]
