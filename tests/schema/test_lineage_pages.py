"""Keyset pages of lineage and references: every row exactly once, in the whole-list order, one
statement per page; malformed cursors are typed errors; deep chains and loops terminate."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from schema.domain_errors import InvalidInput
from schema.enums import NodeType, RefRole
from schema.models import Node, NodeRef, WorkItem
from schema.repositories import nodes

if TYPE_CHECKING:
    from tests.schema.conftest import Factory


def _walk(fetch: Callable[..., nodes.Page[Any]], limit: int) -> tuple[list[Any], list[str | None]]:
    """Every page of `fetch` (rows concatenated) and the cursors it handed out."""
    rows: list[Any] = []
    cursors: list[str | None] = []
    cursor: str | None = None
    for _ in range(10_000):
        page = fetch(limit=limit, cursor=cursor)
        assert len(page.rows) <= limit
        rows.extend(page.rows)
        cursors.append(page.next_cursor)
        if page.next_cursor is None:
            return rows, cursors
        assert page.rows, "a page with a next cursor is never empty"
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def _keys(rows: list[Any]) -> list[tuple[Any, Any]]:
    return [(row[0].id, row[1]) for row in rows]


@pytest.fixture
def sheet_refs(ledger_db: Session, make: Factory) -> tuple[Node, list[Node]]:
    """A character sheet referenced by 23 nodes on two shots and two roles; edge timestamps are
    rewritten so that creation order differs from id order and some edges tie on created_at."""
    ws = make.workspace()
    shot, other = make.shot(ws), make.shot(ws)
    sheet = make.node(shot)
    users = [make.node(shot if i % 2 else other) for i in range(20)]
    for user in users:
        nodes.add_reference(ledger_db, user.id, sheet.id, RefRole.character)
    for user in users[:3]:
        nodes.add_reference(ledger_db, user.id, sheet.id, RefRole.style)
    refs = ledger_db.query(NodeRef).filter(NodeRef.to_node_id == sheet.id).order_by(NodeRef.id).all()
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i, ref in enumerate(reversed(refs)):
        ref.created_at = base + dt.timedelta(seconds=i // 3)  # triples tie: id breaks the tie
    ledger_db.flush()
    return sheet, users


def test_referenced_by_pages_cover_every_edge_once_in_order(
    ledger_db: Session, sheet_refs: tuple[Node, list[Node]], count_statements: Callable[..., Any]
) -> None:
    sheet, _ = sheet_refs
    whole = nodes.referenced_by(ledger_db, sheet.id)
    assert len(whole) == 23
    edges = ledger_db.query(NodeRef).filter(NodeRef.to_node_id == sheet.id).all()
    expected = sorted(edges, key=lambda r: (r.created_at, r.id))
    assert _keys(whole) == [(r.from_node_id, r.role) for r in expected]
    for limit in (1, 2, 3, 5, 7, 22, 23, 24, 500):
        with count_statements() as counter:
            rows, cursors = _walk(lambda **kw: nodes.referenced_by_page(ledger_db, sheet.id, **kw), limit)
        assert _keys(rows) == _keys(whole), limit
        assert counter.n == len(cursors)  # one statement per page
        assert len(cursors) == max(1, -(-23 // limit))  # no empty trailing page, even at 23 = k*limit
        assert cursors[-1] is None and len(set(cursors[:-1])) == len(cursors) - 1


def test_a_page_is_stable_when_edges_are_added_later(
    ledger_db: Session, make: Factory, sheet_refs: tuple[Node, list[Node]]
) -> None:
    sheet, _ = sheet_refs
    first = nodes.referenced_by_page(ledger_db, sheet.id, limit=10)
    shot = ledger_db.get(WorkItem, sheet.work_item_id)
    assert shot is not None
    newcomer = make.node(shot)
    edge = nodes.add_reference(ledger_db, newcomer.id, sheet.id, RefRole.image)
    edge.created_at = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)  # the newest edge: it sorts last
    ledger_db.flush()
    rest, _ = _walk(
        lambda limit, cursor: nodes.referenced_by_page(
            ledger_db, sheet.id, limit=limit, cursor=cursor or first.next_cursor
        ),
        10,
    )
    seen = _keys(first.rows) + _keys(rest)
    assert len(seen) == len(set(seen)) == 24
    assert seen[-1] == (newcomer.id, RefRole.image)
    assert seen == _keys(nodes.referenced_by(ledger_db, sheet.id))


def test_references_of_pages(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    user = make.node(shot)
    used = [make.node(shot) for _ in range(6)]
    for node in used:
        nodes.add_reference(ledger_db, user.id, node.id, RefRole.image)
    whole = nodes.references_of(ledger_db, user.id)
    assert [r.node.id for r in whole] == [n.id for n in used]  # oldest edge first
    rows, cursors = _walk(lambda **kw: nodes.references_of_page(ledger_db, user.id, **kw), 4)
    assert _keys(rows) == _keys(whole) and len(cursors) == 2
    assert nodes.references_of_page(ledger_db, used[0].id).rows == []
    assert nodes.referenced_by_page(ledger_db, user.id) == nodes.Page([], None)


@pytest.fixture
def tree(ledger_db: Session, make: Factory) -> dict[str, Node]:
    """root grid (4 cells) ── each cell has a 2-cell grid; cell 2's first sub-cell has a video;
    the video has 3 edit steps. 4 levels, 16 descendants of the root."""
    ws = make.workspace()
    shot = make.shot(ws)
    track = make.track(shot)
    root = nodes.create_grid(
        ledger_db, work_item_id=shot.id, track_id=track.id, parent_id=None, payload={}, cells=[{}] * 4
    )
    named: dict[str, Node] = {"root": root.group}
    for i, cell in enumerate(root.cells, start=1):
        named[f"c{i}"] = cell
        sub = nodes.create_grid(
            ledger_db, work_item_id=shot.id, track_id=track.id, parent_id=cell.id, payload={}, cells=[{}, {}]
        )
        named[f"g{i}"] = sub.group
        named[f"g{i}.1"], named[f"g{i}.2"] = sub.cells
    video = make.node(shot, track, parent=named["g2.1"], type=NodeType.video)
    named["video"] = video
    for i in range(3):
        named[f"edit{i}"] = make.node(shot, track, parent=video, type=NodeType.edit_step)
    return named


def test_lineage_pages_match_the_whole_walk(
    ledger_db: Session, tree: dict[str, Node], count_statements: Callable[..., Any]
) -> None:
    whole = nodes.descendants(ledger_db, tree["root"].id)
    names = {n.id: k for k, n in tree.items()}
    assert [(names[r.node.id], r.depth) for r in whole] == [
        ("c1", 1), ("c2", 1), ("c3", 1), ("c4", 1),
        ("g1", 2), ("g2", 2), ("g3", 2), ("g4", 2),
        ("g1.1", 3), ("g1.2", 3), ("g2.1", 3), ("g2.2", 3),
        ("g3.1", 3), ("g3.2", 3), ("g4.1", 3), ("g4.2", 3),
        ("video", 4), ("edit0", 5), ("edit1", 5), ("edit2", 5),
    ]  # fmt: skip
    for limit in (1, 3, 4, 19, 20, 21):
        with count_statements() as counter:
            rows, cursors = _walk(
                lambda **kw: nodes.descendants_page(ledger_db, tree["root"].id, **kw), limit
            )
        assert _keys(rows) == _keys(whole), limit
        assert counter.n == len(cursors) == max(1, -(-20 // limit))
    up = nodes.ancestors(ledger_db, tree["edit2"].id)
    assert [(names[r.node.id], r.depth) for r in up] == [
        ("video", 1),
        ("g2.1", 2),
        ("g2", 3),
        ("c2", 4),
        ("root", 5),
    ]
    for limit in (1, 2, 5, 6):
        rows, _ = _walk(lambda **kw: nodes.ancestors_page(ledger_db, tree["edit2"].id, **kw), limit)
        assert _keys(rows) == _keys(up), limit
    assert nodes.ancestors_page(ledger_db, tree["root"].id) == nodes.Page([], None)
    assert nodes.descendants_page(ledger_db, tree["edit0"].id) == nodes.Page([], None)


def test_descendants_order_cells_then_creation(ledger_db: Session, tree: dict[str, Node]) -> None:
    """Breadth first: depth, then created_at, then cell number (cells written at the same
    instant), then id."""
    rows = nodes.descendants(ledger_db, tree["g3"].id)
    assert [r.node.cell for r in rows] == [1, 2]
    ledger_db.execute(
        update(Node)
        .where(Node.id.in_([tree["c1"].id, tree["c2"].id]))
        .values(created_at=tree["c3"].created_at)
    )
    ledger_db.expire_all()
    ledger_db.execute(update(Node).where(Node.id == tree["c1"].id).values(created_at=tree["c4"].created_at))
    ledger_db.expire_all()
    first = nodes.descendants_page(ledger_db, tree["root"].id, limit=4).rows
    assert [r.node.cell for r in first] == [2, 3, 1, 4]  # c2, c3 tie, c1 now ties with c4


def test_deep_chain(ledger_db: Session, make: Factory, count_statements: Callable[..., Any]) -> None:
    """A 300-node chain (no loop): whole walks and pages of 7 in depth order, one statement each."""
    ws = make.workspace()
    shot = make.shot(ws)
    chain = [make.node(shot)]
    for _ in range(299):
        chain.append(make.node(shot, parent=chain[-1]))
    with count_statements() as counter:
        up = nodes.ancestors(ledger_db, chain[-1].id)
        down = nodes.descendants(ledger_db, chain[0].id)
    assert counter.n == 2
    assert [(r.node.id, r.depth) for r in up] == [(n.id, d) for d, n in enumerate(reversed(chain[:-1]), 1)]
    assert [(r.node.id, r.depth) for r in down] == [(n.id, d) for d, n in enumerate(chain[1:], 1)]
    rows, cursors = _walk(lambda **kw: nodes.ancestors_page(ledger_db, chain[-1].id, **kw), 7)
    assert _keys(rows) == _keys(up) and len(cursors) == 43
    rows, _ = _walk(lambda **kw: nodes.descendants_page(ledger_db, chain[0].id, **kw), 7)
    assert _keys(rows) == _keys(down)
    middle = nodes.descendants_page(ledger_db, chain[150].id, limit=500)
    assert [r.depth for r in middle.rows] == list(range(1, 150)) and middle.next_cursor is None


def test_a_lineage_loop_still_ends(ledger_db: Session, make: Factory) -> None:
    """Lineage cannot loop through the repositories; a hand-made loop is cut at the depth cap."""
    ws = make.workspace()
    shot = make.shot(ws)
    a = make.node(shot)
    b = make.node(shot, parent=a)
    ledger_db.execute(update(Node).where(Node.id == a.id).values(parent_id=b.id))
    rows = nodes.ancestors(ledger_db, b.id)
    assert len(rows) == nodes.LINEAGE_MAX_DEPTH
    assert [r.node.id for r in rows[:3]] == [a.id, b.id, a.id]
    page = nodes.descendants_page(ledger_db, a.id, limit=5)
    assert [r.depth for r in page.rows] == [1, 2, 3, 4, 5] and page.next_cursor is not None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor!",
        "%%%",
        _b64(b"\xff\xfe"),
        _b64(b"{}"),
        _b64(b"[]"),
        _b64(json.dumps(["refs.in", "2026-01-01T00:00:00+00:00"]).encode()),  # too short
        _b64(json.dumps(["refs.in", "yesterday", "0b7f6c2e-6c3a-4f57-9e3c-4b3f7a1f2d10"]).encode()),
        _b64(json.dumps(["refs.in", "2026-01-01T00:00:00", "0b7f6c2e-6c3a-4f57-9e3c-4b3f7a1f2d10"]).encode()),
        _b64(json.dumps(["refs.in", "2026-01-01T00:00:00+00:00", "not-a-uuid"]).encode()),
        _b64(json.dumps(["refs.in", 5, "0b7f6c2e-6c3a-4f57-9e3c-4b3f7a1f2d10"]).encode()),
        _b64(
            json.dumps(
                ["refs.out", "2026-01-01T00:00:00+00:00", "0b7f6c2e-6c3a-4f57-9e3c-4b3f7a1f2d10"]
            ).encode()
        ),
        _b64(json.dumps(["lineage.ancestors", 3]).encode()),
        "A" * 600,
    ],
)
def test_malformed_cursors_are_typed_errors(ledger_db: Session, make: Factory, cursor: str) -> None:
    ws = make.workspace()
    node = make.node(make.shot(ws))
    with pytest.raises(InvalidInput) as err:
        nodes.referenced_by_page(ledger_db, node.id, cursor=cursor)
    assert err.value.code == "invalid_cursor"


def test_cursors_belong_to_their_listing(ledger_db: Session, make: Factory) -> None:
    ws = make.workspace()
    shot = make.shot(ws)
    chain = [make.node(shot)]
    for _ in range(3):
        chain.append(make.node(shot, parent=chain[-1]))
    up = nodes.ancestors_page(ledger_db, chain[-1].id, limit=1).next_cursor
    down = nodes.descendants_page(ledger_db, chain[0].id, limit=1).next_cursor
    assert up is not None and down is not None
    for fetch, cursor in [
        (nodes.descendants_page, up),
        (nodes.ancestors_page, down),
        (nodes.referenced_by_page, down),
        (nodes.references_of_page, up),
    ]:
        with pytest.raises(InvalidInput) as err:
            fetch(ledger_db, chain[0].id, cursor=cursor)
        assert err.value.code == "invalid_cursor"
    ancestors_cursor = _b64(json.dumps(["lineage.ancestors", True]).encode())  # bool is not a depth
    with pytest.raises(InvalidInput):
        nodes.ancestors_page(ledger_db, chain[-1].id, cursor=ancestors_cursor)
    for limit in (0, -1, nodes.MAX_PAGE_SIZE + 1):
        with pytest.raises(InvalidInput) as err:
            nodes.referenced_by_page(ledger_db, chain[0].id, limit=limit)
        assert err.value.code == "limit_out_of_range"
