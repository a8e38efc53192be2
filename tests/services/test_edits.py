"""Id-based edits (the CRUD routes' path through services/): same events, DSL limits, snapshots first."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.schemas import Split, WorkItemCreate, WorkItemUpdate
from schema import actions as A
from schema.domain_errors import Conflict, InvalidInput
from schema.enums import WorkItemType, WorkspaceType
from schema.models import Workspace
from schema.repositories import events as event_repo
from schema.repositories import snapshots as snapshot_repo
from schema.repositories import work_items as work_item_repo
from schema.repositories import workspaces as workspace_repo
from services import project as project_service
from services import shots as shot_service
from services import versions as version_service
from services.router import _coerce_turn
from services.rules import DURATION_MAX_S, DURATION_MIN_S, SPLIT_PARTS_MAX, SPLIT_PARTS_MIN

USER = "edits-user"


def _workspace(
    db: Session, shots: int = 3, type: WorkspaceType = WorkspaceType.narrative_project
) -> Workspace:
    ws = workspace_repo.create(db, owner_id=USER, type=type, title="edits")
    for i in range(shots):
        work_item_repo.insert_shot(db, ws.id, spec={"visual": f"shot {i + 1}"}, duration_s=3.0)
    return ws


def _shot_ids(db: Session, ws: Workspace) -> list[uuid.UUID]:
    return [s.id for s in work_item_repo.list_shots(db, ws.id)]


def _events(db: Session, ws: Workspace) -> list[tuple[str, dict]]:
    return [(e.kind, e.data) for e in event_repo.since(db, ws.id)]


# --- limits: one set of numbers, read from the DSL ------------------------------------------------


def test_limits_are_the_dsl_numbers() -> None:
    parts = A.ShotSplitArgs.model_json_schema()["properties"]["parts"]
    assert (parts["minimum"], parts["maximum"]) == (SPLIT_PARTS_MIN, SPLIT_PARTS_MAX)
    for seconds in (DURATION_MIN_S, DURATION_MAX_S):  # ShotSpec.duration_s: the edges are valid
        A.ShotSpec.model_validate({"duration_s": seconds})
        WorkItemCreate.model_validate({"duration_s": seconds})


def _dsl_split(parts: int) -> None:
    turn = {
        "mode": "execute",
        "intent": "split",
        "message": "",
        "actions": [{"type": "shot.split", "args": {"shot": 1, "parts": parts}}],
    }
    _coerce_turn(turn)


@pytest.mark.parametrize("parts", [SPLIT_PARTS_MIN - 1, SPLIT_PARTS_MAX + 1])
def test_split_beyond_the_dsl_limit_is_rejected_on_both_paths(db: Session, parts: int) -> None:
    # the chat path: the turn does not validate
    with pytest.raises(InvalidInput) as dsl:
        _dsl_split(parts)
    assert dsl.value.code == "invalid_turn"
    # the REST path: the request body does not validate (422 validation_error) ...
    with pytest.raises(ValidationError):
        Split.model_validate({"parts": parts})
    with pytest.raises(ValidationError):
        Split.model_validate({"specs": [{}] * parts})
    # ... and the service refuses it for any other caller, before writing anything
    ws = _workspace(db)
    shot = _shot_ids(db, ws)[0]
    with pytest.raises(InvalidInput) as svc:
        shot_service.split_shot(db, ws, shot, parts=parts, by=USER)
    assert svc.value.code == "split_parts_out_of_range"
    with pytest.raises(InvalidInput):
        shot_service.split_shot(db, ws, shot, specs=[{}] * parts, by=USER)
    assert len(_shot_ids(db, ws)) == 3


def test_split_at_the_dsl_limit_is_accepted_on_both_paths(db: Session) -> None:
    _dsl_split(SPLIT_PARTS_MAX)
    Split.model_validate({"parts": SPLIT_PARTS_MAX})
    ws = _workspace(db, shots=1)
    [shot] = _shot_ids(db, ws)
    parts = shot_service.split_shot(db, ws, shot, parts=SPLIT_PARTS_MAX, by=USER)
    assert [p.idx for p in parts] == list(range(1, SPLIT_PARTS_MAX + 1)) and parts[0].id == shot
    assert _events(db, ws)[-1] == (
        "work_item.split",
        {"work_item_id": str(shot), "parts": [str(p.id) for p in parts]},
    )


@pytest.mark.parametrize("seconds", [DURATION_MIN_S - 0.5, DURATION_MAX_S + 1])
def test_duration_bounds_match_the_dsl(db: Session, seconds: float) -> None:
    with pytest.raises(ValidationError):
        A.ShotSpec.model_validate({"duration_s": seconds})
    with pytest.raises(ValidationError):
        WorkItemCreate.model_validate({"duration_s": seconds})
    with pytest.raises(ValidationError):
        WorkItemUpdate.model_validate({"duration_s": seconds})
    ws = _workspace(db, shots=1)
    [shot] = _shot_ids(db, ws)
    for call in (
        lambda: shot_service.create_work_item(db, ws, duration_s=seconds, by=USER),
        lambda: shot_service.update_work_item(db, ws, shot, {"duration_s": seconds}, by=USER),
        lambda: shot_service.split_shot(db, ws, shot, specs=[{"duration_s": seconds}, {}], by=USER),
    ):
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.code == "duration_out_of_range"


# --- snapshots before destructive edits --------------------------------------------------------


def test_delete_takes_a_snapshot_first(db: Session) -> None:
    ws = _workspace(db)
    ids = _shot_ids(db, ws)
    snap = shot_service.delete_work_item(db, ws, ids[1], by=USER)
    assert snap.note == "before shot.delete shot 2" and snap.created_by == USER
    assert str(ids[1]) in [e["id"] for e in snap.data["work_items"]]
    assert _shot_ids(db, ws) == [ids[0], ids[2]]
    assert _events(db, ws)[-1] == ("work_item.deleted", {"work_item_id": str(ids[1])})


def test_merge_takes_a_snapshot_first(db: Session) -> None:
    ws = _workspace(db)
    ids = _shot_ids(db, ws)
    merged = shot_service.merge_shots(db, ws, ids[:2], by=USER)
    assert merged.id == ids[0] and merged.duration_s == 6.0
    snap = snapshot_repo.latest(db, ws.id)
    assert snap is not None and snap.note == "before shot.merge shots 1–2"
    assert [e["id"] for e in snap.data["work_items"]] == [str(i) for i in ids]
    assert _events(db, ws)[-1] == (
        "work_item.merged",
        {"work_item_id": str(ids[0]), "merged": [str(i) for i in ids[:2]]},
    )


def test_scene_delete_takes_a_snapshot_first(db: Session) -> None:
    ws = _workspace(db, shots=1)
    scene = shot_service.create_scene(db, ws, title="night", by=USER)
    [shot] = _shot_ids(db, ws)
    shot_service.update_work_item(db, ws, shot, {"scene_id": scene.id}, by=USER)
    snap = shot_service.delete_scene(db, ws, scene.id, by=USER)
    assert snap.note == "before scene.delete scene 1"
    assert snap.data["work_items"][0]["scene_id"] == str(scene.id)
    assert work_item_repo.require_work_item(db, shot).scene_id is None
    assert _events(db, ws)[-1] == ("scene.deleted", {"scene_id": str(scene.id)})


def test_rollback_takes_a_safety_snapshot(db: Session) -> None:
    ws = _workspace(db, shots=1)
    [shot] = _shot_ids(db, ws)
    saved = version_service.take_snapshot(db, ws, "v1", by=USER)
    shot_service.update_work_item(db, ws, shot, {"spec": {"visual": "changed"}}, by=USER)
    outcome = version_service.rollback_snapshot(db, ws, saved.id, by=USER)
    assert outcome.safety.note == "before rollback to v1" and outcome.safety.created_by == USER
    assert outcome.result.restored_work_item_ids == [shot]
    assert work_item_repo.require_work_item(db, shot).spec["visual"] == "shot 1"
    kind, data = _events(db, ws)[-1]
    assert kind == "snapshot.rolled_back"
    assert data == {"snapshot_id": str(saved.id), "safety_snapshot_id": str(outcome.safety.id), "restored": 1}


def test_non_destructive_edits_take_no_snapshot(db: Session) -> None:
    ws = _workspace(db)
    ids = _shot_ids(db, ws)
    shot_service.reorder_shot(db, ws, ids[0], 3, by=USER)
    shot_service.split_shot(db, ws, ids[1], parts=2, by=USER)
    shot_service.update_work_item(db, ws, ids[2], {"spec": {"visual": "x"}, "duration_s": 4}, by=USER)
    assert snapshot_repo.latest(db, ws.id) is None


# --- events and rules the routes used to apply -------------------------------------------------


def test_events_keep_the_route_payloads(db: Session) -> None:
    ws = _workspace(db, shots=0)
    item = shot_service.create_work_item(db, ws, spec={"visual": "a"}, duration_s=4, at_idx=1, by=USER)
    shot_service.update_work_item(db, ws, item.id, {"spec": {"visual": "b"}, "duration_s": None}, by=USER)
    shot_service.reorder_shot(db, ws, item.id, 1, by=USER)
    character = project_service.create_character(db, ws, name="Fox", by=USER)
    project_service.update_character(db, ws, character.id, profile={"age": 3}, by=USER)
    project_service.delete_character(db, ws, character.id, by=USER)
    assert _events(db, ws) == [
        ("work_item.created", {"work_item_id": str(item.id), "type": "shot", "idx": 1}),
        ("work_item.updated", {"work_item_id": str(item.id), "fields": ["duration_s", "spec"]}),
        ("work_item.reordered", {"work_item_id": str(item.id), "to": 1}),
        ("character.created", {"character_id": str(character.id), "name": "Fox"}),
        ("character.updated", {"character_id": str(character.id)}),
        ("character.deleted", {"character_id": str(character.id)}),
    ]


def test_rules(db: Session) -> None:
    ws = _workspace(db, shots=1)
    with pytest.raises(InvalidInput) as err:
        shot_service.create_work_item(db, ws, tags=["x"], by=USER)
    assert err.value.code == "shot_tags_unsupported"
    drafts = _workspace(db, shots=0, type=WorkspaceType.draft_space)
    draft = shot_service.create_work_item(db, drafts, type=WorkItemType.draft, tags=["cat"], by=USER)
    with pytest.raises(InvalidInput) as err:
        shot_service.create_work_item(db, drafts, type=WorkItemType.draft, at_idx=1, by=USER)
    assert err.value.code == "draft_has_no_scene"
    with pytest.raises(Conflict) as conflict:
        shot_service.split_shot(db, drafts, draft.id, parts=2, by=USER)
    assert conflict.value.code == "not_a_shot" and conflict.value.http_status == 409
    with pytest.raises(Conflict) as conflict:
        shot_service.create_scene(db, drafts, title="x", by=USER)
    assert conflict.value.code == "scenes_need_narrative_project"
