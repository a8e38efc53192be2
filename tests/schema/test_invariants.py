"""Every ledger invariant (docs/domain.md), proven twice: the repository raises a typed error, and the
database itself rejects the raw write (IntegrityError naming the constraint) when the repository
is bypassed."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from schema.domain_errors import Conflict, InvalidInput, InvariantViolation
from schema.enums import AssetKind, NodeStatus, NodeType, RefRole, WorkspaceType
from schema.models import Asset, Node, NodeRef, Track, WorkItem
from schema.repositories import assets, favorites, nodes, tracks, work_items

if TYPE_CHECKING:
    from tests.schema.conftest import Factory

SHA = "ab" * 32


def rejected(session: Session, sql: str, **params: Any) -> str:
    """Run raw SQL in a savepoint, expect IntegrityError, return the violated constraint's name."""
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        session.execute(text(sql), params)
    return str(caught.value.orig.diag.constraint_name)  # type: ignore[union-attr]


# --- a shot's selected node belongs to that shot ---------------------------------------


def test_selected_node_belongs_to_its_work_item(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot1, shot2 = make.shot(ws), make.shot(ws)
    own, foreign = make.node(shot1), make.node(shot2)

    assert nodes.select_node(ledger_db, shot1.id, own.id).selected_node_id == own.id
    with pytest.raises(InvariantViolation) as err:
        nodes.select_node(ledger_db, shot1.id, foreign.id)
    assert err.value.code == "selected_node_wrong_work_item"

    constraint = rejected(
        ledger_db, "UPDATE work_item SET selected_node_id = :n WHERE id = :w", n=foreign.id, w=shot1.id
    )
    assert constraint == "fk_work_item_selected_node_id_id_node"


def test_selected_node_must_be_ok(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    failed = make.node(shot, status=NodeStatus.failed)
    with pytest.raises(InvariantViolation) as err:
        nodes.select_node(ledger_db, shot.id, failed.id)
    assert err.value.code == "selected_node_not_ok"


def test_selected_node_cannot_be_deleted(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    node = make.node(shot)
    nodes.select_node(ledger_db, shot.id, node.id)
    assert (
        rejected(ledger_db, "DELETE FROM node WHERE id = :n", n=node.id)
        == "fk_work_item_selected_node_id_id_node"
    )


# --- lineage never crosses work items --------------------------------------------------


def test_lineage_never_crosses_work_items(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot1, shot2 = make.shot(ws), make.shot(ws)
    parent = make.node(shot1)
    assert make.node(shot1, parent=parent).parent_id == parent.id

    with pytest.raises(InvariantViolation) as err:
        make.node(shot2, parent=parent)
    assert err.value.code == "lineage_crosses_work_items"

    constraint = rejected(
        ledger_db,
        "INSERT INTO node (workspace_id, work_item_id, parent_id, type) VALUES (:ws, :wi, :p, 'image')",
        ws=ws.id,
        wi=shot2.id,
        p=parent.id,
    )
    assert constraint == "fk_node_parent_id_work_item_id_node"
    child = make.node(shot2)
    constraint = rejected(ledger_db, "UPDATE node SET parent_id = :p WHERE id = :c", p=parent.id, c=child.id)
    assert constraint == "fk_node_parent_id_work_item_id_node"


def test_lineage_never_crosses_workspaces_for_workspace_level_nodes(
    ledger_db: Session, make: Factory
) -> None:
    ws1, ws2 = make.workspace(), make.workspace()
    parent = make.node(make.shot(ws1))
    with pytest.raises(InvariantViolation) as err:
        nodes.create_node(
            ledger_db, type=NodeType.compose, work_item_id=None, workspace_id=ws2.id, parent_id=parent.id
        )
    assert err.value.code == "lineage_crosses_work_items"
    constraint = rejected(
        ledger_db,
        "INSERT INTO node (workspace_id, parent_id, type) VALUES (:ws, :p, 'compose')",
        ws=ws2.id,
        p=parent.id,
    )
    assert constraint == "fk_node_parent_id_workspace_id_node"


def test_parent_cannot_be_deleted_under_its_children(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    parent = make.node(shot)
    make.node(shot, parent=parent)
    assert (
        rejected(ledger_db, "DELETE FROM node WHERE id = :n", n=parent.id)
        == "fk_node_parent_id_work_item_id_node"
    )


def test_node_track_belongs_to_its_work_item(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot1, shot2 = make.shot(ws), make.shot(ws)
    track2 = make.track(shot2)
    with pytest.raises(InvariantViolation) as err:
        make.node(shot1, track=track2)
    assert err.value.code == "track_wrong_work_item"
    constraint = rejected(
        ledger_db,
        "INSERT INTO node (workspace_id, work_item_id, track_id, type) VALUES (:ws, :wi, :t, 'image')",
        ws=ws.id,
        wi=shot1.id,
        t=track2.id,
    )
    assert constraint == "fk_node_track_id_work_item_id_track"


def test_node_asset_stays_in_its_workspace(ledger_db: Session, make: Factory) -> None:
    ws1, ws2 = make.workspace(), make.workspace()
    asset = assets.get_or_create_by_hash(
        ledger_db,
        workspace_id=ws2.id,
        content_hash=SHA,
        storage_key="k",
        kind=AssetKind.image,
        mime="image/png",
        size_bytes=1,
    )
    shot = make.shot(ws1)
    with pytest.raises(InvariantViolation) as err:
        make.node(shot, asset_id=asset.id)
    assert err.value.code == "asset_wrong_workspace"
    node = make.node(shot)
    constraint = rejected(ledger_db, "UPDATE node SET asset_id = :a WHERE id = :n", a=asset.id, n=node.id)
    assert constraint == "fk_node_asset_id_workspace_id_asset"


# --- references may cross tracks, never workspaces -------------------------------------


def test_reference_may_cross_tracks_and_work_items(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot1, shot2 = make.shot(ws), make.shot(ws)
    track_a, track_b = make.track(shot1, "A"), make.track(shot1, "B")
    on_a, on_b, other_shot = make.node(shot1, track_a), make.node(shot1, track_b), make.node(shot2)

    ref = nodes.add_reference(ledger_db, on_a.id, on_b.id, RefRole.image)
    assert (ref.from_node_id, ref.to_node_id, ref.workspace_id) == (on_a.id, on_b.id, ws.id)
    assert nodes.add_reference(ledger_db, on_a.id, on_b.id, RefRole.image).id == ref.id  # idempotent
    nodes.add_reference(ledger_db, on_a.id, other_shot.id, RefRole.character)
    assert ledger_db.scalar(select(func.count()).select_from(NodeRef)) == 2


def test_reference_never_crosses_workspaces(ledger_db: Session, make: Factory) -> None:
    ws1, ws2 = make.workspace(), make.workspace()
    mine, theirs = make.node(make.shot(ws1)), make.node(make.shot(ws2))
    with pytest.raises(InvariantViolation) as err:
        nodes.add_reference(ledger_db, mine.id, theirs.id, RefRole.style)
    assert err.value.code == "reference_crosses_workspaces"
    with pytest.raises(InvariantViolation) as err:
        nodes.add_reference(ledger_db, mine.id, mine.id, RefRole.style)
    assert err.value.code == "reference_to_self"

    constraint = rejected(
        ledger_db,
        "INSERT INTO node_ref (workspace_id, from_node_id, to_node_id, role) VALUES (:ws, :f, :t, 'style')",
        ws=ws1.id,
        f=mine.id,
        t=theirs.id,
    )
    assert constraint == "fk_node_ref_to_node_id_workspace_id_node"
    constraint = rejected(
        ledger_db,
        "INSERT INTO node_ref (workspace_id, from_node_id, to_node_id, role) VALUES (:ws, :f, :f, 'style')",
        ws=ws1.id,
        f=mine.id,
    )
    assert constraint == "ck_node_ref_not_self"


def test_referenced_node_cannot_be_deleted(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    user, used = make.node(shot), make.node(shot)
    nodes.add_reference(ledger_db, user.id, used.id, RefRole.image)
    assert (
        rejected(ledger_db, "DELETE FROM node WHERE id = :n", n=used.id)
        == "fk_node_ref_to_node_id_workspace_id_node"
    )
    # Deleting the referencing node drops its outgoing reference (CASCADE).
    ledger_db.execute(text("DELETE FROM node WHERE id = :n"), {"n": user.id})
    assert ledger_db.scalar(select(func.count()).select_from(NodeRef)) == 0


# --- deleting a track keeps what matters -----------------------------------------------


def test_delete_track_keeps_selected_referenced_favorited_and_ancestors(
    ledger_db: Session, make: Factory
) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    a, b = make.track(shot, "A"), make.track(shot, "B")
    root = make.node(shot, a)  # ancestor of the selected node: kept
    selected = make.node(shot, a, parent=root)  # selected: kept
    sibling = make.node(shot, a, parent=root)  # nothing needs it: deleted
    leaf = make.node(shot, a, parent=sibling)  # nothing needs it: deleted
    referenced = make.node(shot, a)  # referenced from track B: kept
    fork_base = make.node(shot, a)  # parent of a node on track B: kept
    favorite = make.node(shot, a)  # favorited: kept
    lonely = make.node(shot, a)  # deleted
    on_b = make.node(shot, b, parent=fork_base)
    nodes.add_reference(ledger_db, on_b.id, referenced.id, RefRole.image)
    nodes.select_node(ledger_db, shot.id, selected.id)
    favorites.add(ledger_db, shot.id, node_id=favorite.id)

    result = tracks.delete_track(ledger_db, a.id)

    kept = {root.id, selected.id, referenced.id, fork_base.id, favorite.id}
    assert set(result.kept_node_ids) == kept
    assert set(result.deleted_node_ids) == {sibling.id, leaf.id, lonely.id}
    remaining = dict(
        ledger_db.execute(select(Node.id, Node.track_id).where(Node.work_item_id == shot.id)).all()
    )
    assert remaining == {**dict.fromkeys(kept), on_b.id: b.id}
    assert ledger_db.get(Track, a.id) is None
    assert ledger_db.get(WorkItem, shot.id).selected_node_id == selected.id  # type: ignore[union-attr]


def test_database_refuses_to_delete_a_track_that_still_has_nodes(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    a = make.track(shot)
    make.node(shot, a)
    assert (
        rejected(ledger_db, "DELETE FROM track WHERE id = :t", t=a.id)
        == "fk_node_track_id_work_item_id_track"
    )


def test_delete_track_keeps_fork_point_of_another_track(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    a = make.track(shot, "A")
    base = make.node(shot, a)
    forked = tracks.fork(ledger_db, shot.id, base.id)
    assert forked.name == "B"
    result = tracks.delete_track(ledger_db, a.id)
    assert result.kept_node_ids == [base.id]
    ledger_db.refresh(forked)
    assert forked.created_from_node_id == base.id


# --- retries never create two nodes or two assets --------------------------------------


def test_idempotency_key_yields_one_node(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    key = "grid-shot-1/generate_cell/3"
    first = make.node(shot, idempotency_key=key, cell=3)
    again = make.node(shot, idempotency_key=key, cell=3)
    assert again.id == first.id
    assert ledger_db.scalar(select(func.count()).select_from(Node).where(Node.idempotency_key == key)) == 1

    other_shot = make.shot(shot_workspace(ledger_db, shot))
    with pytest.raises(Conflict) as err:
        make.node(other_shot, idempotency_key=key)
    assert err.value.code == "idempotency_key_reused"

    constraint = rejected(
        ledger_db,
        "INSERT INTO node (workspace_id, work_item_id, type, idempotency_key) VALUES (:ws, :wi, 'image', :k)",
        ws=shot.workspace_id,
        wi=shot.id,
        k=key,
    )
    assert constraint == "uq_node_idempotency_key"


def shot_workspace(session: Session, shot: WorkItem) -> Any:
    from schema.models import Workspace

    return session.get(Workspace, shot.workspace_id)


def test_grid_retry_yields_one_group_and_one_node_per_cell(ledger_db: Session, make: Factory) -> None:
    shot = make.shot(make.workspace())
    a = make.track(shot)
    cells = [{"payload": {"seed": i}} for i in range(9)]
    grid = nodes.create_grid(
        ledger_db,
        work_item_id=shot.id,
        track_id=a.id,
        parent_id=None,
        payload={"size": 9},
        cells=cells,
        idempotency_key="grid-wf/generate",
    )
    assert [c.cell for c in grid.cells] == list(range(1, 10))
    assert all(c.parent_id == grid.group.id and c.type == NodeType.image for c in grid.cells)
    retry = nodes.create_grid(
        ledger_db,
        work_item_id=shot.id,
        track_id=a.id,
        parent_id=None,
        payload={"size": 9},
        cells=cells,
        idempotency_key="grid-wf/generate",
    )
    assert retry.group.id == grid.group.id
    assert [c.id for c in retry.cells] == [c.id for c in grid.cells]
    assert ledger_db.scalar(select(func.count()).select_from(Node).where(Node.work_item_id == shot.id)) == 10


def test_asset_by_hash_yields_one_row(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    kwargs: dict[str, Any] = {
        "kind": AssetKind.image,
        "mime": "image/png",
        "size_bytes": 10,
        "width": 8,
        "height": 8,
    }
    first = assets.get_or_create_by_hash(
        ledger_db, workspace_id=ws.id, content_hash=SHA, storage_key="a/1", **kwargs
    )
    again = assets.get_or_create_by_hash(
        ledger_db, workspace_id=ws.id, content_hash=SHA, storage_key="a/2", **kwargs
    )
    assert again.id == first.id and again.storage_key == "a/1"
    assert ledger_db.scalar(select(func.count()).select_from(Asset)) == 1
    with pytest.raises(InvalidInput) as err:
        assets.get_or_create_by_hash(
            ledger_db, workspace_id=ws.id, content_hash="XYZ", storage_key="k", **kwargs
        )
    assert err.value.code == "content_hash_invalid"

    insert = (
        "INSERT INTO asset (workspace_id, storage_key, content_hash, kind, mime, size_bytes) "
        "VALUES (:ws, 'k', :h, 'image', 'image/png', 1)"
    )
    assert rejected(ledger_db, insert, ws=ws.id, h=SHA) == "uq_asset_workspace_id_content_hash"
    assert rejected(ledger_db, insert, ws=ws.id, h="not-a-hash") == "ck_asset_content_hash_sha256_hex"


# --- shot order ------------------------------------------------------------------------


def test_shot_idx_is_unique_per_workspace_but_drafts_share_null(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    d1, d2 = work_items.create_draft(ledger_db, ws.id), work_items.create_draft(ledger_db, ws.id)
    assert d1.idx is None and d2.idx is None

    insert = "INSERT INTO work_item (workspace_id, type, idx) VALUES (:ws, CAST(:t AS work_item_type), :i)"
    assert rejected(ledger_db, insert, ws=ws.id, t="shot", i=shot.idx) == "uq_work_item_workspace_id_idx_shot"
    assert rejected(ledger_db, insert, ws=ws.id, t="shot", i=None) == "ck_work_item_shot_has_idx"
    assert rejected(ledger_db, insert, ws=ws.id, t="draft", i=7) == "ck_work_item_shot_has_idx"
    other = make.workspace()
    ledger_db.execute(text(insert), {"ws": other.id, "t": "shot", "i": shot.idx})  # other workspace: fine


def test_draft_has_no_scene_and_duration_is_bounded(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    draft = work_items.create_draft(ledger_db, ws.id)
    with pytest.raises(InvalidInput) as err:
        work_items.set_duration(ledger_db, draft.id, 61)
    assert err.value.code == "duration_out_of_range"
    assert rejected(ledger_db, "UPDATE work_item SET duration_s = 0.1 WHERE id = :d", d=draft.id) == (
        "ck_work_item_duration_range"
    )
    scene_id = ledger_db.scalar(
        text("INSERT INTO scene (workspace_id, idx) VALUES (:ws, 1) RETURNING id"), {"ws": ws.id}
    )
    with pytest.raises(InvariantViolation):
        work_items.set_scene(ledger_db, draft.id, scene_id)
    assert rejected(
        ledger_db, "UPDATE work_item SET scene_id = :s WHERE id = :d", s=scene_id, d=draft.id
    ) == ("ck_work_item_draft_has_no_scene")


def _order(session: Session, workspace_id: uuid.UUID) -> list[tuple[int | None, str]]:
    return [(s.idx, s.spec["name"]) for s in work_items.list_shots(session, workspace_id)]


def test_reorder_keeps_order_contiguous(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shots = [make.shot(ws, name=n) for n in "abcde"]
    work_items.reorder(ledger_db, ws.id, shots[0].id, 5)
    assert _order(ledger_db, ws.id) == [(1, "b"), (2, "c"), (3, "d"), (4, "e"), (5, "a")]
    work_items.reorder(ledger_db, ws.id, shots[3].id, 2)
    assert _order(ledger_db, ws.id) == [(1, "b"), (2, "d"), (3, "c"), (4, "e"), (5, "a")]
    work_items.reorder(ledger_db, ws.id, shots[3].id, 2)  # no-op
    assert _order(ledger_db, ws.id) == [(1, "b"), (2, "d"), (3, "c"), (4, "e"), (5, "a")]
    with pytest.raises(InvalidInput):
        work_items.reorder(ledger_db, ws.id, shots[0].id, 6)
    ledger_db.expire_all()  # what the database holds, not the identity map
    assert _order(ledger_db, ws.id) == [(1, "b"), (2, "d"), (3, "c"), (4, "e"), (5, "a")]


def test_insert_split_merge_delete_keep_order_contiguous(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    a, b, c = (make.shot(ws, name=n) for n in "abc")
    work_items.insert_shot(ledger_db, ws.id, spec={"name": "x"}, at_idx=2)
    assert _order(ledger_db, ws.id) == [(1, "a"), (2, "x"), (3, "b"), (4, "c")]

    parts = work_items.split(ledger_db, b.id, specs=[{"name": "b1"}, {"name": "b2", "duration_s": 1.5}])
    assert parts[0].id == b.id and [p.duration_s for p in parts] == [2.0, 1.5]
    assert _order(ledger_db, ws.id) == [(1, "a"), (2, "x"), (3, "b1"), (4, "b2"), (5, "c")]

    merged = work_items.merge(ledger_db, ws.id, [parts[1].id, c.id])
    assert merged.id == parts[1].id and merged.duration_s == 5.5
    assert [m["name"] for m in merged.spec["merged_from"]] == ["c"]
    assert _order(ledger_db, ws.id) == [(1, "a"), (2, "x"), (3, "b1"), (4, "b2")]
    with pytest.raises(InvalidInput) as err:
        work_items.merge(ledger_db, ws.id, [a.id, b.id])  # 1 and 3: not consecutive
    assert err.value.code == "shots_not_consecutive"

    work_items.delete(ledger_db, a.id)
    ledger_db.expire_all()
    assert _order(ledger_db, ws.id) == [(1, "x"), (2, "b1"), (3, "b2")]


def test_shots_need_a_narrative_project(ledger_db: Session, make: Factory) -> None:
    board = make.workspace(type=WorkspaceType.draft_space)
    with pytest.raises(InvariantViolation) as err:
        work_items.insert_shot(ledger_db, board.id, spec={})
    assert err.value.code == "shots_need_narrative_project"


def test_favorite_node_belongs_to_its_work_item(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot1, shot2 = make.shot(ws), make.shot(ws)
    node2 = make.node(shot2)
    with pytest.raises(InvariantViolation) as err:
        favorites.add(ledger_db, shot1.id, node_id=node2.id)
    assert err.value.code == "favorite_node_wrong_work_item"
    constraint = rejected(
        ledger_db,
        "INSERT INTO favorite (workspace_id, work_item_id, node_id) VALUES (:ws, :wi, :n)",
        ws=ws.id,
        wi=shot1.id,
        n=node2.id,
    )
    assert constraint == "fk_favorite_node_id_work_item_id_node"
    assert (
        rejected(
            ledger_db,
            "INSERT INTO favorite (workspace_id, work_item_id) VALUES (:ws, :wi)",
            ws=ws.id,
            wi=shot1.id,
        )
        == "ck_favorite_has_target"
    )


def test_pro_conversation_needs_work_item(ledger_db: Session, make: Factory) -> None:
    from schema.enums import ConversationMode
    from schema.repositories import conversations

    ws = make.workspace()
    with pytest.raises(InvariantViolation) as err:
        conversations.create(ledger_db, workspace_id=ws.id, owner_id="u", mode=ConversationMode.pro)
    assert err.value.code == "pro_needs_work_item"
    assert (
        rejected(
            ledger_db,
            "INSERT INTO conversation (workspace_id, owner_id, mode) VALUES (:ws, 'u', 'pro')",
            ws=ws.id,
        )
        == "ck_conversation_pro_has_work_item"
    )
