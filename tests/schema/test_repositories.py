"""Repository behaviour beyond the invariants: storyboard, tasks, events, chats, snapshots,
favorites, tracks, workspaces and cascades."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.domain_errors import Conflict, InvalidTransition, InvariantViolation, NotFound
from schema.enums import (
    AssetKind,
    ConversationMode,
    MessageRole,
    NodeStatus,
    NodeType,
    RefRole,
    TaskStatus,
    TaskType,
    WorkspaceType,
)
from schema.models import Node, Scene, Track, WorkItem, Workspace
from schema.repositories import (
    assets,
    characters,
    conversations,
    events,
    favorites,
    nodes,
    snapshots,
    storyboard,
    tasks,
    tracks,
    work_items,
    workspaces,
)

if TYPE_CHECKING:
    from tests.schema.conftest import Factory

STORYBOARD: dict[str, Any] = {
    "title": "The Fox Who Stole the Moon",
    "scenes": [
        {
            "title": "Night",
            "goal": "meet the fox",
            "spec": {"place": "forest", "time": "night"},
            "shots": [
                {
                    "visual": "fox looks up",
                    "camera": {"size": "wide"},
                    "duration_s": 3,
                    "narration": "Once...",
                },
                {"visual": "moon close-up", "camera": {"size": "close"}, "duration_s": 2.5},
            ],
        },
        {
            "title": "Heist",
            "goal": "steal it",
            "place": "rooftop",  # scene-level keys (schema.storyboard.SceneSpec) land in the spec
            "mood": "tense",
            "shots": [
                {"visual": "fox climbs", "camera": {"angle": "low"}, "duration_s": 4, "characters": ["fox"]}
            ],
        },
    ],
}


# --- workspaces ----------------------------------------------------------------------


def test_workspace_is_visible_to_its_owner_only(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace(owner_id="alice")
    make.workspace(owner_id="bob")
    assert workspaces.get_for_owner(ledger_db, "alice", ws.id) is ws
    assert workspaces.get_for_owner(ledger_db, "bob", ws.id) is None
    assert [w.id for w in workspaces.list_for_owner(ledger_db, "alice")] == [ws.id]
    updated = workspaces.update(ledger_db, ws.id, {"style": "ink-wash", "meta": {"aspect_ratio": "9:16"}})
    assert (updated.style, updated.meta) == ("ink-wash", {"aspect_ratio": "9:16"})


def test_deleting_a_workspace_cascades_through_everything(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    a = make.track(shot)
    root = make.node(shot, a)
    child = make.node(shot, a, parent=root)
    nodes.add_reference(ledger_db, child.id, root.id, RefRole.image)
    nodes.select_node(ledger_db, shot.id, child.id)
    favorites.add(ledger_db, shot.id, node_id=child.id)
    tasks.create(
        ledger_db, workspace_id=ws.id, type=TaskType.grid, workflow_id="grid-x", work_item_id=shot.id
    )
    events.append(ledger_db, ws.id, "shot.updated", {"id": shot.id})
    other = make.node(make.shot(ws))
    nodes.add_reference(ledger_db, other.id, root.id, RefRole.style)  # across shots
    nodes.create_node(
        ledger_db, type=NodeType.compose, work_item_id=None, workspace_id=ws.id, parent_id=child.id
    )
    workspaces.delete(ledger_db, ws.id)
    ledger_db.expire_all()
    assert ledger_db.scalar(select(func.count()).select_from(Node)) == 0
    assert ledger_db.scalar(select(func.count()).select_from(WorkItem)) == 0
    with pytest.raises(NotFound):
        workspaces.delete(ledger_db, ws.id)


def test_deleting_a_shot_with_selection_lineage_and_refs(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot, keep = make.shot(ws, name="a"), make.shot(ws, name="b")
    root = make.node(shot)
    child = make.node(shot, parent=root)
    nodes.add_reference(ledger_db, child.id, root.id, RefRole.image)  # internal reference: fine
    nodes.select_node(ledger_db, shot.id, child.id)
    used_elsewhere = make.node(shot)
    user = make.node(keep)
    nodes.add_reference(ledger_db, user.id, used_elsewhere.id, RefRole.image)
    with pytest.raises(InvariantViolation) as err:
        work_items.delete(ledger_db, shot.id)
    assert err.value.code == "work_item_nodes_referenced"
    nodes.remove_reference(ledger_db, user.id, used_elsewhere.id)
    compose = nodes.create_node(
        ledger_db, type=NodeType.compose, work_item_id=None, workspace_id=ws.id, parent_id=root.id
    )
    with pytest.raises(InvariantViolation) as err:
        work_items.delete(ledger_db, shot.id)
    assert err.value.code == "work_item_nodes_are_parents"
    ledger_db.delete(compose)
    work_items.delete(ledger_db, shot.id)
    ledger_db.expire_all()
    assert [(s.idx, s.spec["name"]) for s in work_items.list_shots(ledger_db, ws.id)] == [(1, "b")]
    assert ledger_db.scalar(select(func.count()).select_from(Node)) == 1


# --- storyboard ----------------------------------------------------------------------


def test_storyboard_is_written_once_and_idempotent(ledger_db: Session, make: Factory) -> None:
    ws = workspaces.create(ledger_db, owner_id="u", type=WorkspaceType.narrative_project, title="")
    first = storyboard.replace_storyboard(ledger_db, ws.id, STORYBOARD)
    assert first.changed
    assert [s.idx for s in first] == [1, 2, 3]
    assert [s.duration_s for s in first] == [3.0, 2.5, 4.0]
    assert first[2].spec == {"visual": "fox climbs", "camera": {"angle": "low"}, "characters": ["fox"]}
    assert first[2].scene_id == first.scenes[1].id
    assert first.scenes[0].spec == {"place": "forest", "time": "night"}
    assert ws.title == "The Fox Who Stole the Moon"
    assert first.scenes[1].spec == {"place": "rooftop", "mood": "tense"}

    again = storyboard.replace_storyboard(ledger_db, ws.id, copy.deepcopy(STORYBOARD))
    assert not again.changed
    assert [s.id for s in again] == [s.id for s in first]
    assert ledger_db.scalar(select(func.count()).select_from(WorkItem)) == 3
    assert ledger_db.scalar(select(func.count()).select_from(Scene)) == 2


def test_storyboard_replacement_needs_consent_and_keeps_surviving_shots(
    ledger_db: Session, make: Factory
) -> None:
    ws = make.workspace()
    first = storyboard.replace_storyboard(ledger_db, ws.id, STORYBOARD)
    shot1 = first[0]
    image = make.node(shot1)
    nodes.select_node(ledger_db, shot1.id, image.id)
    shorter = {"title": "t", "scenes": [{"title": "Only", "shots": [{"visual": "new", "duration_s": 5}]}]}
    with pytest.raises(Conflict) as err:
        storyboard.replace_storyboard(ledger_db, ws.id, shorter)
    assert err.value.code == "storyboard_exists"

    result = storyboard.replace_storyboard(ledger_db, ws.id, shorter, replace=True)
    assert [s.id for s in result] == [shot1.id]
    assert shot1.spec == {"visual": "new"} and shot1.selected_node_id == image.id
    ledger_db.expire_all()
    assert len(work_items.list_shots(ledger_db, ws.id)) == 1
    assert [s.title for s in storyboard.list_scenes(ledger_db, ws.id)] == ["Only"]


def test_scenes_are_ordered_and_deleting_one_detaches_its_shots(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    board = storyboard.replace_storyboard(ledger_db, ws.id, STORYBOARD)
    extra = storyboard.add_scene(ledger_db, ws.id, title="Prologue", at_idx=1)
    assert [(s.idx, s.title) for s in storyboard.list_scenes(ledger_db, ws.id)] == [
        (1, "Prologue"),
        (2, "Night"),
        (3, "Heist"),
    ]
    storyboard.reorder_scene(ledger_db, extra.id, 3)
    assert [s.title for s in storyboard.list_scenes(ledger_db, ws.id)] == ["Night", "Heist", "Prologue"]
    storyboard.delete_scene(ledger_db, board.scenes[0].id)
    assert [(s.idx, s.title) for s in storyboard.list_scenes(ledger_db, ws.id)] == [
        (1, "Heist"),
        (2, "Prologue"),
    ]
    assert [s.scene_id for s in work_items.list_shots(ledger_db, ws.id)] == [None, None, board.scenes[1].id]


# --- work item fields ----------------------------------------------------------------


def test_update_spec_is_a_merge_patch(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace(), visual="fox", camera={"size": "wide", "angle": "eye"})
    work_items.update_spec(ledger_db, shot.id, {"camera": {"angle": "low", "size": None}, "mood": "neon"})
    ledger_db.expire_all()
    assert work_items.get(ledger_db, shot.id).spec == {  # type: ignore[union-attr]
        "visual": "fox",
        "camera": {"angle": "low"},
        "mood": "neon",
    }


# --- tracks --------------------------------------------------------------------------


def test_fork_names_and_rename(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    a = make.track(shot)
    assert tracks.get_or_create(ledger_db, shot.id).id == a.id
    base = make.node(shot, a)
    assert [tracks.fork(ledger_db, shot.id, base.id).name for _ in range(3)] == ["B", "C", "D"]
    with pytest.raises(Conflict) as err:
        tracks.fork(ledger_db, shot.id, base.id, name="A")
    assert err.value.code == "track_name_taken"
    with pytest.raises(Conflict):
        tracks.rename(ledger_db, a.id, "B")
    assert tracks.rename(ledger_db, a.id, "main").name == "main"
    other = make.node(make.shot(make.workspace()))
    with pytest.raises(InvariantViolation) as err2:
        tracks.fork(ledger_db, shot.id, other.id)
    assert err2.value.code == "fork_node_wrong_work_item"
    names = tracks.track_names()
    assert [next(names) for _ in range(28)][-3:] == ["Z", "AA", "AB"]


# --- tasks ---------------------------------------------------------------------------


def test_task_is_idempotent_by_workflow_id_and_follows_its_state_machine(
    ledger_db: Session, make: Factory
) -> None:
    ws = make.workspace()
    task = tasks.create(ledger_db, workspace_id=ws.id, type=TaskType.video, workflow_id="video-s1-n1")
    assert (
        tasks.create(ledger_db, workspace_id=ws.id, type=TaskType.video, workflow_id="video-s1-n1").id
        == task.id
    )
    assert task.status == TaskStatus.queued and task.retries == 0

    running = tasks.mark_running(ledger_db, task.id, run_id="run-1")
    assert running.status == TaskStatus.running and running.started_at is not None
    assert tasks.mark_running(ledger_db, task.id).status == TaskStatus.running  # repeat: no-op
    assert tasks.set_progress(ledger_db, task.id, 0.5).progress == 0.5
    assert tasks.set_progress(ledger_db, task.id, 0.2).progress == 0.5  # never backwards
    assert tasks.record_retry(ledger_db, task.id).retries == 1
    done = tasks.mark_succeeded(ledger_db, task.id, result={"node_id": "n"}, cost=0.25, gpu_seconds=3.5)
    assert (done.status, done.progress, done.cost) == (TaskStatus.succeeded, 1.0, Decimal("0.2500"))
    assert tasks.mark_succeeded(ledger_db, task.id).status == TaskStatus.succeeded  # repeat: no-op
    with pytest.raises(InvalidTransition) as err:
        tasks.mark_canceled(ledger_db, task.id)
    assert err.value.code == "task_already_finished"
    with pytest.raises(InvalidTransition):
        tasks.requeue(ledger_db, task.id)


def test_failed_task_records_error_and_can_be_requeued(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    task = tasks.create(ledger_db, workspace_id=ws.id, type=TaskType.grid, work_item_id=shot.id)
    failed = tasks.mark_failed(ledger_db, task.id, "provider_unavailable", "no GPU")
    assert failed.error == {"code": "provider_unavailable", "message": "no GPU"}
    again = tasks.requeue(ledger_db, task.id)
    assert (again.status, again.retries, again.error, again.finished_at) == (TaskStatus.queued, 1, None, None)
    tasks.create(ledger_db, workspace_id=ws.id, type=TaskType.voice)
    assert [t.id for t in tasks.list_tasks(ledger_db, ws.id, type=TaskType.grid, work_item_id=shot.id)] == [
        task.id
    ]
    assert len(tasks.list_active(ledger_db, ws.id)) == 2
    assert tasks.list_tasks(ledger_db, ws.id, status=TaskStatus.failed) == []
    with pytest.raises(NotFound):
        tasks.mark_running(ledger_db, make.workspace().id)


# --- events --------------------------------------------------------------------------


def test_events_are_read_back_after_an_id(ledger_db: Session, make: Factory) -> None:
    ws, other = make.workspace(), make.workspace()
    ids = [events.append(ledger_db, ws.id, "task.progress", {"p": i / 10}) for i in range(5)]
    events.append(ledger_db, other.id, "noise")
    assert ids == sorted(ids)
    assert [e.id for e in events.since(ledger_db, ws.id, ids[1])] == ids[2:]
    assert [e.data["p"] for e in events.since(ledger_db, ws.id, 0, limit=2)] == [0.0, 0.1]
    assert events.latest_id(ledger_db, ws.id) == ids[-1]


# --- conversations -------------------------------------------------------------------


def test_messages_get_consecutive_seq(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    a = make.track(shot)
    chat = conversations.create(
        ledger_db, workspace_id=ws.id, owner_id="u", mode=ConversationMode.pro, work_item_id=shot.id,
        track_id=a.id, workflow_id="chat-1",
    )  # fmt: skip
    same = conversations.create(
        ledger_db, workspace_id=ws.id, owner_id="u", mode=ConversationMode.pro, work_item_id=shot.id,
        workflow_id="chat-1",
    )  # fmt: skip
    assert same.id == chat.id
    node = make.node(shot, a)
    m1 = conversations.append_message(ledger_db, chat.id, role=MessageRole.user, content="9-grid, low angle")
    m2 = conversations.append_message(
        ledger_db, chat.id, role=MessageRole.assistant, content="done", node_id=node.id, track_id=a.id
    )
    assert (m1.seq, m2.seq) == (1, 2)
    assert [m.seq for m in conversations.messages(ledger_db, chat.id, after_seq=1)] == [2]
    assert conversations.get_for_owner(ledger_db, "someone-else", chat.id) is None
    other = make.track(make.shot(ws), "A")
    with pytest.raises(InvariantViolation):
        conversations.bind_track(ledger_db, chat.id, other.id)


# --- snapshots -----------------------------------------------------------------------


def test_snapshot_rollback_restores_selection_spec_duration_order_and_style(
    ledger_db: Session, make: Factory
) -> None:
    ws = make.workspace()
    s1, s2, s3 = (make.shot(ws, name=n) for n in "abc")
    first = make.node(s1)
    nodes.select_node(ledger_db, s1.id, first.id)
    workspaces.update(ledger_db, ws.id, {"style": "ink-wash"})
    snap = snapshots.take(ledger_db, ws.id, "before neon", created_by="u")

    second = make.node(s1)
    nodes.select_node(ledger_db, s1.id, second.id)
    for shot in (s2, s3):
        work_items.update_spec(ledger_db, shot.id, {"mood": "neon"})
        work_items.set_duration(ledger_db, shot.id, 1.0)
    work_items.reorder(ledger_db, ws.id, s3.id, 1)
    workspaces.update(ledger_db, ws.id, {"style": "neon"})
    new_shot = make.shot(ws, name="d")
    assert snapshots.latest(ledger_db, ws.id).id == snap.id  # type: ignore[union-attr]

    result = snapshots.rollback(ledger_db, snap.id)
    assert set(result.restored_work_item_ids) == {s1.id, s2.id, s3.id}
    assert result.missing_work_item_ids == [] and result.missing_node_ids == []
    ledger_db.expire_all()
    shots = work_items.list_shots(ledger_db, ws.id)
    assert [(s.idx, s.spec["name"]) for s in shots] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert shots[3].id == new_shot.id
    assert shots[0].selected_node_id == first.id
    assert all("mood" not in s.spec and s.duration_s == 4.0 for s in shots[:3])
    assert ledger_db.get(Workspace, ws.id).style == "ink-wash"  # type: ignore[union-attr]


def test_rollback_reports_what_no_longer_exists(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    s1, s2 = make.shot(ws, name="a"), make.shot(ws, name="b")
    gone = make.node(s2)
    nodes.select_node(ledger_db, s2.id, gone.id)
    snap = snapshots.take(ledger_db, ws.id)
    nodes.clear_selection(ledger_db, s2.id)
    ledger_db.delete(gone)
    work_items.delete(ledger_db, s1.id)
    result = snapshots.rollback(ledger_db, snap.id)
    assert result.missing_work_item_ids == [s1.id]
    assert result.missing_node_ids == [gone.id]
    assert result.restored_work_item_ids == [s2.id]


# --- favorites, characters, assets ---------------------------------------------------


def test_favorites_are_idempotent_and_exportable(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    asset = assets.get_or_create_by_hash(
        ledger_db, workspace_id=ws.id, content_hash="cd" * 32, storage_key="k/1", kind=AssetKind.image,
        mime="image/png", size_bytes=5,
    )  # fmt: skip
    node = make.node(shot, asset_id=asset.id)
    fav = favorites.add(ledger_db, shot.id, node_id=node.id, tags=["hero"])
    again = favorites.add(ledger_db, shot.id, node_id=node.id, tags=["night"])
    assert again.id == fav.id and again.tags == ["hero", "night"]
    pin = favorites.add(ledger_db, shot.id, asset_id=asset.id)
    assert favorites.add(ledger_db, shot.id, asset_id=asset.id).id == pin.id
    assert [f.id for f in favorites.list_for_workspace(ledger_db, ws.id, tag="night")] == [fav.id]
    export = favorites.list_for_export(ledger_db, ws.id)
    assert [(e.favorite.id, e.asset.id if e.asset else None) for e in export] == [
        (fav.id, asset.id),
        (pin.id, asset.id),
    ]


def test_characters(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    fox = characters.create(ledger_db, ws.id, name="Fox", profile={"fur": "red"})
    with pytest.raises(Conflict):
        characters.create(ledger_db, ws.id, name="Fox")
    characters.update(ledger_db, fox.id, locks_patch={"face": "sharp"}, profile_patch={"eyes": "amber"})
    asset = assets.get_or_create_by_hash(
        ledger_db, workspace_id=ws.id, content_hash="ef" * 32, storage_key="k", kind=AssetKind.image,
        mime="image/png", size_bytes=1,
    )  # fmt: skip
    characters.attach_reference(ledger_db, fox.id, asset.id)
    characters.attach_reference(ledger_db, fox.id, asset.id)
    assert characters.require_by_name(ledger_db, ws.id, "Fox").reference_asset_ids == [str(asset.id)]
    assert fox.profile == {"fur": "red", "eyes": "amber"} and fox.locks == {"face": "sharp"}


def test_pending_node_is_finished_with_its_asset(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    pending = make.node(shot, status=NodeStatus.pending)
    asset = assets.get_or_create_by_hash(
        ledger_db, workspace_id=ws.id, content_hash="01" * 32, storage_key="k", kind=AssetKind.video,
        mime="video/mp4", size_bytes=9, duration_s=2.0,
    )  # fmt: skip
    done = nodes.set_result(
        ledger_db, pending.id, status=NodeStatus.ok, result={"fps": 24}, asset_id=asset.id
    )
    assert (done.status, done.asset_id, done.result) == (NodeStatus.ok, asset.id, {"fps": 24})
    assert ledger_db.get(Track, shot.id) is None


# --- what the activities call -------------------------------------------------------


def test_tasks_mirrored_by_workflow_id(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    parent = tasks.create(ledger_db, workspace_id=ws.id, type=TaskType.pipeline, workflow_id="pipeline-1")
    row = tasks.upsert_running(
        ledger_db, workspace_id=ws.id, workflow_id="grid-1", type=TaskType.grid, run_id="r1",
        parent_workflow_id="pipeline-1", payload={"size": 4},
    )  # fmt: skip
    assert (row.status, row.parent_task_id, row.retries, row.payload) == (
        TaskStatus.running,
        parent.id,
        0,
        {"size": 4},
    )
    again = tasks.upsert_running(
        ledger_db, workspace_id=ws.id, workflow_id="grid-1", type=TaskType.grid, run_id="r1", retries=2
    )
    assert again.id == row.id and again.retries == 2
    done = tasks.mark_succeeded(ledger_db, "grid-1", result={"cells": 4})
    assert (done.id, done.status) == (row.id, TaskStatus.succeeded)
    late = tasks.upsert_running(  # a late attempt of the same run does not reopen the task
        ledger_db, workspace_id=ws.id, workflow_id="grid-1", type=TaskType.grid, run_id="r1", retries=3
    )
    assert late.status == TaskStatus.succeeded
    rerun = tasks.upsert_running(  # a new run of the same workflow id does
        ledger_db, workspace_id=ws.id, workflow_id="grid-1", type=TaskType.grid, run_id="r2"
    )
    assert (rerun.status, rerun.retries, rerun.finished_at) == (TaskStatus.running, 3, None)

    failed = tasks.record_outcome(
        ledger_db, workspace_id=ws.id, workflow_id="grid-1", type=TaskType.grid, status=TaskStatus.failed,
        error={"code": "provider_transient", "message": "timeout"},
    )  # fmt: skip
    assert failed.status == TaskStatus.failed and failed.error["code"] == "provider_transient"  # type: ignore[index]
    canceled_late = tasks.record_outcome(
        ledger_db, workspace_id=ws.id, workflow_id="grid-1", type=TaskType.grid, status=TaskStatus.canceled
    )
    assert canceled_late.status == TaskStatus.failed  # first final report wins
    never_started = tasks.record_outcome(
        ledger_db, workspace_id=ws.id, workflow_id="video-9", type=TaskType.video, status=TaskStatus.canceled
    )
    assert never_started.status == TaskStatus.canceled
    # cancelled before its worker got to it: the run's own late activity start must not reopen it
    stale = tasks.record_outcome(
        ledger_db, workspace_id=ws.id, workflow_id="voice-7", type=TaskType.voice, status=TaskStatus.canceled,
        run_id="v1",
    )  # fmt: skip
    late_start = tasks.upsert_running(
        ledger_db, workspace_id=ws.id, workflow_id="voice-7", type=TaskType.voice, run_id="v1"
    )
    assert late_start.id == stale.id and late_start.status == TaskStatus.canceled
    queued = tasks.create(ledger_db, workspace_id=ws.id, type=TaskType.video, workflow_id="video-8")
    tasks.record_outcome(  # a queued row cancelled by its run keeps that run's id too
        ledger_db, workspace_id=ws.id, workflow_id="video-8", type=TaskType.video, status=TaskStatus.canceled,
        run_id="w1",
    )  # fmt: skip
    assert (
        tasks.upsert_running(
            ledger_db, workspace_id=ws.id, workflow_id="video-8", type=TaskType.video, run_id="w1"
        ).status
        == TaskStatus.canceled
    )
    assert queued.id == tasks.require_task(ledger_db, "video-8").id
    assert tasks.count_by_status(ledger_db, ws.id) == {"queued": 1, "failed": 1, "canceled": 3}
    with pytest.raises(Conflict):
        tasks.upsert_running(
            ledger_db, workspace_id=make.workspace().id, workflow_id="grid-1", type=TaskType.grid
        )


def test_grid_with_a_fixed_group_id_is_retry_safe_without_keys(ledger_db: Session, make: Factory) -> None:
    import uuid

    shot = make.shot(make.workspace())
    group_id = uuid.uuid4()
    kwargs: dict[str, Any] = {"work_item_id": shot.id, "track_id": None, "parent_id": None, "payload": {}}
    group, cells = nodes.create_grid(ledger_db, group_id=group_id, cells=[{}, {}, {}, {}], **kwargs)
    assert group.id == group_id and [c.cell for c in cells] == [1, 2, 3, 4]
    retry = nodes.create_grid(ledger_db, group_id=group_id, cells=[{}, {}, {}, {}], **kwargs)
    assert [c.id for c in retry.cells] == [c.id for c in cells]
    assert [c.id for c in nodes.children(ledger_db, group_id)] == [c.id for c in cells]
    assert ledger_db.scalar(select(func.count()).select_from(Node)) == 5


def test_compose_inputs_follow_the_selected_versions(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    s1, s2, s3 = make.shot(ws, narration="one"), make.shot(ws), make.shot(ws)

    def file(kind: AssetKind, n: int) -> Any:
        return assets.get_or_create_by_hash(
            ledger_db, workspace_id=ws.id, content_hash=f"{n:064x}", storage_key=f"k/{n}", kind=kind,
            mime="x/y", size_bytes=1,
        )  # fmt: skip

    image = make.node(s1, asset_id=file(AssetKind.image, 1).id)
    make.node(s1, type=NodeType.video, asset_id=file(AssetKind.video, 2).id)  # made from nothing selected
    clip = make.node(s1, parent=image, type=NodeType.video, asset_id=file(AssetKind.video, 3).id)
    voice = make.node(s1, type=NodeType.audio_voice, asset_id=file(AssetKind.audio, 4).id)
    nodes.select_node(ledger_db, s1.id, image.id)
    only_video = make.node(s3, type=NodeType.video, asset_id=file(AssetKind.video, 5).id)
    make.node(s2, type=NodeType.image, asset_id=file(AssetKind.image, 6).id)  # no clip: left out

    plan = nodes.compose_inputs(ledger_db, ws.id)
    assert [
        (p["idx"], p["video_node_id"], p["video_key"], p["voice_node_id"], p["audio_key"]) for p in plan
    ] == [
        (1, str(clip.id), "k/3", str(voice.id), "k/4"),
        (3, str(only_video.id), "k/5", None, None),
    ]
    assert plan[0]["narration"] == "one" and plan[0]["duration_s"] == 4.0
    node, asset = nodes.get_with_asset(ledger_db, clip.id)
    assert node.id == clip.id and asset is not None and asset.storage_key == "k/3"
    assert assets.keys_in_use(ledger_db, ["k/3", "k/404"]) == {"k/3"}
