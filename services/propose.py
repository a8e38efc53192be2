"""Execute or propose, and when to snapshot: the confirmation policy of the action router.

Rules (docs/actions.md): a turn is *proposed* (runs only after the user confirms) when any action is
destructive or batch (:func:`schema.actions.requires_confirmation`), when the planner itself
proposed it, when it rebuilds the storyboard of a project that has shots (destructive), or when its
estimated cost is over the workspace's ``cost_limit``. A snapshot (one
row, cheap) is taken before every turn that changes something — single-shot edits included — so
every applied turn can be undone; only reads, cancels, retries, exports and manual snapshots skip it.
"""

from __future__ import annotations

from schema.actions import AnyAction, Turn, cost_units, requires_confirmation

_DESTRUCTIVE = {"shot.delete", "scene.delete", "shot.merge", "version.rollback"}
_NO_SNAPSHOT = {"task.list", "task.status", "task.cancel", "task.retry", "version.snapshot", "export.package"}


def shots_touched(action: AnyAction, total_shots: int) -> int:
    shots = getattr(action.args, "shots", None)
    if shots == "all":
        return total_shots
    if isinstance(shots, list):
        return len(shots)
    return 1 if getattr(action.args, "shot", None) is not None else 0


def _rebuilds_storyboard(turn: Turn, index: int, total_shots: int) -> bool:
    """A gen.storyboard on a project that has shots (not after a project.create in the turn)
    rebuilds its board: destructive, so it is proposed, and snapshotted first."""
    return (
        turn.actions[index].type == "gen.storyboard"
        and total_shots > 0
        and not any(a.type == "project.create" for a in turn.actions[:index])
    )


def proposal_reason(turn: Turn, *, total_shots: int, cost_limit: int | None) -> str | None:
    """Why this turn must be confirmed first, or None when it may run now."""
    reasons: list[str] = []
    for i, action in enumerate(turn.actions):
        if _rebuilds_storyboard(turn, i, total_shots):
            reasons.append(f"gen.storyboard rebuilds the storyboard and replaces its {total_shots} shots")
            continue
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
    """Snapshot before every turn that changes the workspace (undo for everything)."""
    return any(a.type not in _NO_SNAPSHOT for a in turn.actions)


def estimated_cost(turn: Turn, total_shots: int) -> int:
    return sum(cost_units(a, total_shots or None) for a in turn.actions)


__all__ = ["estimated_cost", "needs_snapshot", "proposal_reason", "shots_touched"]
