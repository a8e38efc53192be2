"""Planners turn one user sentence into one validated Action DSL :class:`~schema.actions.Turn`.

Rule: every planner (offline grammar or LLM) takes a sentence and a :class:`PlanningContext` and
returns a ``Turn``; nothing here touches the ledger, the network or the shell.
"""

from agent.planner.offline import (
    FocusInfo,
    GridInfo,
    OfflinePlanner,
    PlanningContext,
    SnapshotInfo,
    TaskCounts,
    WorkspaceInfo,
    plan,
)

__all__ = [
    "FocusInfo",
    "GridInfo",
    "OfflinePlanner",
    "PlanningContext",
    "SnapshotInfo",
    "TaskCounts",
    "WorkspaceInfo",
    "plan",
]
