"""The context builder stays bounded and scoped; snapshot matching for "before <change>"."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from agent.context import MAX_SHOT_LINES, build_context
from agent.planner import PlanningContext
from infra.ledger import unit_of_work
from schema.enums import WorkspaceType
from schema.repositories import nodes, snapshots, storyboard, tracks, workspaces
from services.resolve import Focus, match_snapshot


def test_context_is_bounded_scoped_and_accepted_by_the_planner(fresh_db_url: str) -> None:
    with unit_of_work(fresh_db_url) as s:
        ws = workspaces.create(
            s, owner_id="alice", type=WorkspaceType.narrative_project, title="long", style="ink"
        )
        shots = [{"visual": "x" * 500, "duration_s": 3.0} for _ in range(MAX_SHOT_LINES + 5)]
        board = storyboard.replace_storyboard(s, ws.id, {"scenes": [{"title": "all", "shots": shots}]})
        third = board[2]
        track = tracks.get_or_create(s, third.id, "B")
        grid = nodes.create_grid(
            s, work_item_id=third.id, track_id=track.id, parent_id=None, payload={}, cells=[{}] * 9
        )
        for i in range(15):
            snapshots.take(s, ws.id, f"note {i}")
        ws_id = str(ws.id)
    with unit_of_work(fresh_db_url) as s:
        ctx = build_context(s, "alice", ws_id, Focus(work_item_id=str(third.id), track="B"))
        other = build_context(s, "mallory", ws_id)
        nonsense = build_context(s, "alice", "not-a-uuid", Focus(work_item_id="nope"))

    assert other == {} and nonsense == {}
    assert ctx["workspace"]["shots"] == MAX_SHOT_LINES + 5 and ctx["workspace"]["style"] == "ink"
    assert len(ctx["shot_index"]) == MAX_SHOT_LINES + 1 and ctx["shot_index"][-1] == "… and 5 more shots"
    assert all(len(line) < 160 for line in ctx["shot_index"])
    assert ctx["focus"] == {"shot": 3, "track": "B", "work_item_id": str(third.id)}
    assert ctx["tracks"] == {"3": ["B"]}
    assert ctx["latest_grid"] == {"shot": 3, "track": "B", "cells": 9, "node": str(grid.group.id)}
    assert [x["note"] for x in ctx["snapshots"]][-1] == "note 14" and len(ctx["snapshots"]) == 10
    parsed = PlanningContext.model_validate(ctx)
    assert parsed.latest_grid is not None and parsed.latest_grid.cells == 9
    assert len(str(ctx)) < 12_000  # bounded whatever the project size


def test_before_change_matches_the_newest_snapshot_with_all_the_words() -> None:
    snaps = [  # newest first
        SimpleNamespace(id=uuid.uuid4(), note="before rollback"),
        SimpleNamespace(id=uuid.uuid4(), note="before shot.update 把第8到12个分镜改成霓虹夜景 night, neon"),
        SimpleNamespace(id=uuid.uuid4(), note="before shot.update Change shots 8 to 12 to neon night"),
        SimpleNamespace(id=uuid.uuid4(), note="before shot.delete Delete shot 5"),
    ]
    assert match_snapshot(snaps, "neon change") is snaps[1]  # type: ignore[arg-type]
    assert match_snapshot(snaps, "改霓虹") is snaps[1]  # type: ignore[arg-type]
    assert match_snapshot(snaps, "the delete of shot 5") is snaps[3]  # type: ignore[arg-type]
    assert match_snapshot(snaps, "the change") is None  # type: ignore[arg-type]
