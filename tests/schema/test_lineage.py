"""Lineage and reference queries on a small tree; each is exactly one SQL statement."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.orm import Session

from schema.enums import NodeType, RefRole
from schema.models import Node
from schema.repositories import nodes, tracks

if TYPE_CHECKING:
    from tests.schema.conftest import Factory


@pytest.fixture
def tree(ledger_db: Session, make: Factory) -> dict[str, Node]:
    """
    grid1 (A) ── c1, c2, c3
                 c2 ── grid2 (A) ── d1, d2
                        d1 ── video (B, forked at d1)
    refs: grid2 --image--> c3 ; video --style--> c1 ; other-shot node --character--> c3
    """
    ws = make.workspace()
    shot, other = make.shot(ws), make.shot(ws)
    a = make.track(shot, "A")
    g1 = nodes.create_grid(
        ledger_db, work_item_id=shot.id, track_id=a.id, parent_id=None, payload={}, cells=[{}, {}, {}]
    )
    c1, c2, c3 = g1.cells
    g2 = nodes.create_grid(
        ledger_db, work_item_id=shot.id, track_id=a.id, parent_id=c2.id, payload={}, cells=[{}, {}]
    )
    d1, d2 = g2.cells
    b = tracks.fork(ledger_db, shot.id, d1.id)
    video = make.node(shot, b, parent=d1, type=NodeType.video)
    outsider = make.node(other)
    nodes.add_reference(ledger_db, g2.group.id, c3.id, RefRole.image)
    nodes.add_reference(ledger_db, video.id, c1.id, RefRole.style)
    nodes.add_reference(ledger_db, outsider.id, c3.id, RefRole.character)
    ledger_db.flush()
    return {
        "g1": g1.group, "c1": c1, "c2": c2, "c3": c3, "g2": g2.group, "d1": d1, "d2": d2,
        "video": video, "outsider": outsider,
    }  # fmt: skip


def _ids(rows: list[Any], tree: dict[str, Node]) -> list[tuple[str, Any]]:
    names = {node.id: name for name, node in tree.items()}
    return [(names[row[0].id], row[1]) for row in rows]


def test_ancestors(ledger_db: Session, tree: dict[str, Node], count_statements: Callable[..., Any]) -> None:
    with count_statements() as counter:
        rows = nodes.ancestors(ledger_db, tree["video"].id)
    assert counter.n == 1
    assert _ids(rows, tree) == [("d1", 1), ("g2", 2), ("c2", 3), ("g1", 4)]
    assert nodes.ancestors(ledger_db, tree["g1"].id) == []


def test_descendants(ledger_db: Session, tree: dict[str, Node], count_statements: Callable[..., Any]) -> None:
    with count_statements() as counter:
        rows = nodes.descendants(ledger_db, tree["g1"].id)
    assert counter.n == 1
    assert _ids(rows, tree) == [
        ("c1", 1),
        ("c2", 1),
        ("c3", 1),
        ("g2", 2),
        ("d1", 3),
        ("d2", 3),
        ("video", 4),
    ]
    assert _ids(nodes.descendants(ledger_db, tree["d1"].id), tree) == [("video", 1)]
    assert nodes.descendants(ledger_db, tree["video"].id) == []


def test_referenced_by_and_references_of(
    ledger_db: Session, tree: dict[str, Node], count_statements: Callable[..., Any]
) -> None:
    with count_statements() as counter:
        users = nodes.referenced_by(ledger_db, tree["c3"].id)
    assert counter.n == 1
    assert _ids(users, tree) == [("g2", RefRole.image), ("outsider", RefRole.character)]
    with count_statements() as counter:
        used = nodes.references_of(ledger_db, tree["video"].id)
    assert counter.n == 1
    assert _ids(used, tree) == [("c1", RefRole.style)]
    assert nodes.references_of(ledger_db, tree["c3"].id) == []


def test_latest_grid_is_one_statement(
    ledger_db: Session, tree: dict[str, Node], count_statements: Callable[..., Any]
) -> None:
    track_a = tree["g1"].track_id
    with count_statements() as counter:
        grid = nodes.latest_grid(ledger_db, tree["g1"].work_item_id, track_a)  # type: ignore[arg-type]
    assert counter.n == 1
    assert grid is not None
    assert grid.group.id == tree["g2"].id
    assert [c.id for c in grid.cells] == [tree["d1"].id, tree["d2"].id]
    assert nodes.get_cell(ledger_db, tree["g1"].id, 2).id == tree["c2"].id  # type: ignore[union-attr]
    assert nodes.latest_grid(ledger_db, tree["outsider"].work_item_id, None) is None  # type: ignore[arg-type]


def test_main_track_is_where_the_selected_node_lives(ledger_db: Session, tree: dict[str, Node]) -> None:
    shot_id = tree["video"].work_item_id
    assert shot_id is not None
    assert tracks.main_track(ledger_db, shot_id) is None
    nodes.select_node(ledger_db, shot_id, tree["video"].id)
    main = tracks.main_track(ledger_db, shot_id)
    assert main is not None and main.name == "B"
    versions = nodes.selected_versions(ledger_db, tree["g1"].workspace_id)
    assert [(v.work_item.idx, v.node.id if v.node else None) for v in versions] == [
        (1, tree["video"].id),
        (2, None),
    ]
