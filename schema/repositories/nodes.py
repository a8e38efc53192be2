"""Nodes (artifacts and steps), their lineage and their references.

Rules:
- lineage (`parent_id`) never crosses work items; a node's track is its work item's; a
  reference stays inside one workspace but may cross tracks and work items; a work item's
  selected node is its own and `ok`. Each is checked here first (typed error) and enforced by the
  database (composite foreign keys) for writers that bypass this module;
- a write with an `idempotency_key` lands once: INSERT ... ON CONFLICT DO NOTHING, then the
  existing row is returned, so a retried activity never creates a second node (safe under
  concurrency: the second writer waits on the unique index, then sees the first's row);
- lineage walks (ancestors, descendants) are one recursive CTE each, carrying the node columns
  so every step is an index probe (no join back to the whole `node` table); reference lookups and
  the latest grid are one statement each;
- unbounded listings (lineage, references in and out) also come a page at a time (`*_page`:
  keyset pagination, `limit` + an opaque `cursor`, stable order); the whole-list functions stay
  for callers that need everything.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Generic, NamedTuple, TypedDict, TypeVar

from sqlalchemy import Integer, bindparam, func, literal, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from schema.domain_errors import Conflict, InvalidInput, InvariantViolation, NotFound
from schema.enums import NodeStatus, NodeType, RefRole, WorkItemType
from schema.models import Asset, Node, NodeRef, Track, WorkItem
from schema.repositories._shared import require


class Grid(NamedTuple):
    group: Node
    cells: list[Node]  # ordered by cell number


class LineageRow(NamedTuple):
    node: Node
    depth: int  # 1 = parent/child, 2 = grandparent/grandchild, ...


class RefRow(NamedTuple):
    node: Node
    role: RefRole


DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_CURSOR_LENGTH = 512
# Lineage is acyclic by construction (a parent exists before its child); this bounds a walk
# anyway, should a hand-edited row ever close a loop.
LINEAGE_MAX_DEPTH = 10_000

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One keyset page: `rows` in order, and the cursor of the next page (None: this is the last)."""

    rows: list[T]
    next_cursor: str | None


class ComposeInput(TypedDict):
    work_item_id: str
    idx: int
    duration_s: float
    narration: str
    video_node_id: str
    video_key: str
    voice_node_id: str | None
    audio_key: str | None


class SelectedVersion(NamedTuple):
    work_item: WorkItem
    node: Node | None
    asset: Asset | None


# --- reads ---------------------------------------------------------------------------


def get(session: Session, node_id: uuid.UUID) -> Node | None:
    return session.get(Node, node_id)


def require_node(session: Session, node_id: uuid.UUID) -> Node:
    return require(session, Node, node_id)


def get_by_idempotency_key(session: Session, idempotency_key: str) -> Node | None:
    return session.scalar(select(Node).where(Node.idempotency_key == idempotency_key))


def list_for_track(session: Session, work_item_id: uuid.UUID, track_id: uuid.UUID | None) -> list[Node]:
    """A track's nodes (track_id None: the work item's nodes on no track), oldest first."""
    track_filter = Node.track_id.is_(None) if track_id is None else Node.track_id == track_id
    stmt = (
        select(Node).where(Node.work_item_id == work_item_id, track_filter).order_by(Node.created_at, Node.id)
    )
    return list(session.scalars(stmt))


def list_for_work_item(session: Session, work_item_id: uuid.UUID) -> list[Node]:
    stmt = select(Node).where(Node.work_item_id == work_item_id).order_by(Node.created_at, Node.id)
    return list(session.scalars(stmt))


def get_with_asset(session: Session, node_id: uuid.UUID) -> tuple[Node, Asset | None]:
    """The node and its stored file, in one statement; NotFound when the node does not exist."""
    row = session.execute(
        select(Node, Asset).outerjoin(Asset, Asset.id == Node.asset_id).where(Node.id == node_id)
    ).one_or_none()
    if row is None:
        raise NotFound("node", node_id)
    return row[0], row[1]


def children(session: Session, node_id: uuid.UUID) -> list[Node]:
    """Direct children (what was made from `node_id`): grid cells by cell number, then by age."""
    stmt = (
        select(Node)
        .where(Node.parent_id == node_id)
        .order_by(Node.cell.nulls_last(), Node.created_at, Node.id)
    )
    return list(session.scalars(stmt))


def grid_cells(session: Session, group_id: uuid.UUID) -> list[Node]:
    stmt = (
        select(Node)
        .where(Node.parent_id == group_id, Node.type == NodeType.image)
        .order_by(Node.cell, Node.id)
    )
    return list(session.scalars(stmt))


def get_cell(session: Session, group_id: uuid.UUID, cell: int) -> Node | None:
    """Cell `#n` of a grid."""
    return session.scalar(
        select(Node).where(Node.parent_id == group_id, Node.type == NodeType.image, Node.cell == cell)
    )


def latest_grid(session: Session, work_item_id: uuid.UUID, track_id: uuid.UUID | None) -> Grid | None:
    """The newest grid_group on the track with its cells, in one statement."""
    track_filter = Node.track_id.is_(None) if track_id is None else Node.track_id == track_id
    latest = (
        select(Node.id)
        .where(Node.work_item_id == work_item_id, track_filter, Node.type == NodeType.grid_group)
        .order_by(Node.created_at.desc(), Node.id.desc())
        .limit(1)
        .cte("latest_grid")
    )
    stmt = (
        select(Node)
        .join(
            latest,
            or_(Node.id == latest.c.id, (Node.parent_id == latest.c.id) & (Node.type == NodeType.image)),
        )
        .order_by(Node.cell.nulls_first(), Node.id)
    )
    rows = list(session.scalars(stmt))
    if not rows:
        return None
    group = next(n for n in rows if n.type == NodeType.grid_group)
    return Grid(group=group, cells=[n for n in rows if n is not group])


# --- lineage and references, whole or a page at a time ------------------------------------
#
# Lineage walks carry the node's own columns through the recursive CTE, so each step is one probe
# of an index (`ix_node_parent_id` down, the primary key up) and the result is read straight from
# the walk: no join back to `node` (which the planner answered with a scan of the whole table).
# Pages are keyset pages: the cursor holds the sort key of the last row returned, so page n costs
# what page 1 costs, and rows written meanwhile neither repeat nor shift the following pages.


def _decode_error() -> InvalidInput:
    return InvalidInput("the cursor is malformed or belongs to another listing", code="invalid_cursor")


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    """An opaque cursor for `kind` listings: url-safe base64 of the JSON sort key."""
    values = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v for v in key
    ]
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, kind: str, types: Sequence[type]) -> tuple[Any, ...]:
    """The sort key in `cursor` (each value converted to `types`); InvalidInput `invalid_cursor`
    when it is malformed, too long, or was made by another kind of listing."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, list) or len(data) != len(types) + 1 or data[0] != kind:
            raise ValueError("wrong shape")
        key: list[Any] = []
        for value, typ in zip(data[1:], types, strict=True):
            if typ is int:
                if type(value) is not int:
                    raise ValueError("not an int")
                key.append(value)
            elif typ is datetime:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise ValueError("naive timestamp")
                key.append(moment)
            elif typ is uuid.UUID:
                key.append(uuid.UUID(value))
            else:  # pragma: no cover - programming error
                raise TypeError(typ)
        return tuple(key)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
        raise _decode_error() from exc


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE_SIZE}", code="limit_out_of_range")
    return limit


@cache
def _lineage_statement(direction: str, paged: bool, resumed: bool) -> Any:
    """The lineage walk as a recursive CTE that carries every node column plus `depth` (1 = next
    to the start node), read as `(Node, depth)` in the walk's order. Built once per shape (the
    construct alone costs milliseconds); bound at run time: `node_id`, `max_depth`, and when
    paged `limit`, when resumed `after_0..n` (the sort key of the previous page's last row)."""
    node = Node.__table__
    if direction == "descendants":
        seed = select(*node.c, literal(1).label("depth")).where(node.c.parent_id == bindparam("node_id"))
    else:
        child = node.alias("child")
        seed = (
            select(*node.c, literal(1).label("depth"))
            .join(child, child.c.parent_id == node.c.id)
            .where(child.c.id == bindparam("node_id"))
        )
    walk = seed.cte(f"{direction}_walk", recursive=True)
    step = node.alias("step")
    link = step.c.parent_id == walk.c.id if direction == "descendants" else step.c.id == walk.c.parent_id
    walk = walk.union_all(
        select(*step.c, (walk.c.depth + 1).label("depth"))
        .join(walk, link)
        .where(walk.c.depth < bindparam("max_depth", type_=Integer))
    )
    order: list[Any]
    if direction == "ancestors":
        order = [walk.c.depth]  # a chain: one node per depth
    else:
        order = [walk.c.depth, walk.c.created_at, func.coalesce(walk.c.cell, 0), walk.c.id]
    stmt = select(aliased(Node, walk, name="lineage_node"), walk.c.depth).order_by(*order)
    if resumed:
        after = [bindparam(f"after_{i}", type_=column.type) for i, column in enumerate(order)]
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    if paged:
        stmt = stmt.limit(bindparam("limit", type_=Integer))
    return stmt


def _lineage(
    session: Session, node_id: uuid.UUID, direction: str, limit: int | None, cursor: str | None
) -> Page[LineageRow]:
    kind = f"lineage.{direction}"
    types: list[type] = [int] if direction == "ancestors" else [int, datetime, int, uuid.UUID]
    after = decode_cursor(cursor, kind, types) if cursor is not None else None
    after_depth = 0 if after is None else int(after[0])
    # A level holds at least one node when a deeper one exists, so the next `limit` rows lie
    # within `limit` levels of the cursor (the +1 level tells whether more follow).
    max_depth = LINEAGE_MAX_DEPTH if limit is None else min(LINEAGE_MAX_DEPTH, after_depth + limit + 1)
    params: dict[str, Any] = {"node_id": node_id, "max_depth": max_depth}
    if limit is not None:
        params["limit"] = limit + 1
    if after is not None:
        params.update({f"after_{i}": value for i, value in enumerate(after)})
    stmt = _lineage_statement(direction, limit is not None, after is not None)
    rows = [LineageRow(n, depth) for n, depth in session.execute(stmt, params)]
    if limit is None or len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    key: list[Any] = [last.depth]
    if direction == "descendants":
        key += [last.node.created_at, last.node.cell or 0, last.node.id]
    return Page(rows, encode_cursor(kind, key))


def ancestors(session: Session, node_id: uuid.UUID) -> list[LineageRow]:
    """What `node_id` was iterated from: parent (depth 1), grandparent (2), ... One statement."""
    return _lineage(session, node_id, "ancestors", None, None).rows


def descendants(session: Session, node_id: uuid.UUID) -> list[LineageRow]:
    """Everything iterated from `node_id`, breadth first (depth, then creation order, grid cell,
    id). One statement."""
    return _lineage(session, node_id, "descendants", None, None).rows


def ancestors_page(
    session: Session, node_id: uuid.UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> Page[LineageRow]:
    """One page of `ancestors` (nearest first), after `cursor` (None: the first page)."""
    return _lineage(session, node_id, "ancestors", _page_size(limit), cursor)


def descendants_page(
    session: Session, node_id: uuid.UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> Page[LineageRow]:
    """One page of `descendants` in the same order, after `cursor` (None: the first page)."""
    return _lineage(session, node_id, "descendants", _page_size(limit), cursor)


@cache
def _refs_statement(direction: str, paged: bool, resumed: bool) -> Any:
    """Reference edges at `node_id` (`in`: pointing at it, `out`: leaving it) with the node at
    the other end, oldest edge first ((created_at, id) of the edge), read as (Node, role,
    created_at, ref id). The edges are picked (and cut to the page) before the nodes are joined,
    so a page of `in` edges reads `limit` entries of `ix_node_ref_to_node_id_created_at_id`.
    Built once per shape; bound at run time: `node_id`, `limit`, `after_created_at`, `after_id`."""
    if direction == "in":
        here, there = NodeRef.to_node_id, NodeRef.from_node_id
    else:
        here, there = NodeRef.from_node_id, NodeRef.to_node_id
    edges = (
        select(NodeRef.id, NodeRef.created_at, NodeRef.role, there.label("node_id"))
        .where(here == bindparam("node_id"))
        .order_by(NodeRef.created_at, NodeRef.id)
    )
    if resumed:
        after = tuple_(bindparam("after_created_at", type_=NodeRef.created_at.type), bindparam("after_id"))
        edges = edges.where(tuple_(NodeRef.created_at, NodeRef.id) > after)
    if paged:
        edges = edges.limit(bindparam("limit", type_=Integer))
    page = edges.subquery("edges")
    return (
        select(Node, page.c.role, page.c.created_at, page.c.id)
        .join(page, Node.id == page.c.node_id)
        .order_by(page.c.created_at, page.c.id)
    )


def _refs(
    session: Session, node_id: uuid.UUID, direction: str, limit: int | None, cursor: str | None
) -> Page[RefRow]:
    kind = f"refs.{direction}"
    after = decode_cursor(cursor, kind, [datetime, uuid.UUID]) if cursor is not None else None
    params: dict[str, Any] = {"node_id": node_id}
    if limit is not None:
        params["limit"] = limit + 1
    if after is not None:
        params["after_created_at"], params["after_id"] = after
    stmt = _refs_statement(direction, limit is not None, after is not None)
    found = list(session.execute(stmt, params))
    rows = [RefRow(node, role) for node, role, _, _ in found[:limit]]
    if limit is None or len(found) <= limit:
        return Page(rows, None)
    _, _, created_at, ref_id = found[limit - 1]
    return Page(rows, encode_cursor(kind, [created_at, ref_id]))


def referenced_by(session: Session, node_id: uuid.UUID) -> list[RefRow]:
    """Every node that uses `node_id` as a reference, with the role. One statement; prefer
    `referenced_by_page` where the count is unbounded (a character sheet can have thousands)."""
    return _refs(session, node_id, "in", None, None).rows


def references_of(session: Session, node_id: uuid.UUID) -> list[RefRow]:
    """The nodes `node_id` uses as references, with the role. One statement."""
    return _refs(session, node_id, "out", None, None).rows


def referenced_by_page(
    session: Session, node_id: uuid.UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> Page[RefRow]:
    """One page of `referenced_by` (oldest reference first), after `cursor` (None: the first)."""
    return _refs(session, node_id, "in", _page_size(limit), cursor)


def references_of_page(
    session: Session, node_id: uuid.UUID, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> Page[RefRow]:
    """One page of `references_of` (oldest reference first), after `cursor` (None: the first)."""
    return _refs(session, node_id, "out", _page_size(limit), cursor)


def selected_versions(session: Session, workspace_id: uuid.UUID) -> list[SelectedVersion]:
    """Every shot in order with its selected node and that node's asset (what compose and
    export use). One statement."""
    stmt = (
        select(WorkItem, Node, Asset)
        .outerjoin(Node, Node.id == WorkItem.selected_node_id)
        .outerjoin(Asset, Asset.id == Node.asset_id)
        .where(WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.shot)
        .order_by(WorkItem.idx)
    )
    return [SelectedVersion(*row) for row in session.execute(stmt)]


def compose_inputs(session: Session, workspace_id: uuid.UUID) -> list[ComposeInput]:
    """What compose uses, per shot in order, in one statement: the shot's clip (its selected node
    if that is a video, else the newest ok video made from the selected node; with nothing
    selected, the newest ok video of the shot) and its newest ok narration. Shots without a
    clip are left out."""
    selected = WorkItem.selected_node_id
    video = aliased(Node)
    clip = (
        select(video.id, video.asset_id)
        .where(
            video.work_item_id == WorkItem.id,
            video.type == NodeType.video,
            video.status == NodeStatus.ok,
            video.asset_id.is_not(None),
            or_(selected.is_(None), video.id == selected, video.parent_id == selected),
        )
        .order_by(func.coalesce(video.id == selected, False).desc(), video.created_at.desc(), video.id.desc())
        .limit(1)
        .lateral("clip")
    )
    voice = aliased(Node)
    speech = (
        select(voice.id, voice.asset_id)
        .where(
            voice.work_item_id == WorkItem.id,
            voice.type == NodeType.audio_voice,
            voice.status == NodeStatus.ok,
            voice.asset_id.is_not(None),
        )
        .order_by(voice.created_at.desc(), voice.id.desc())
        .limit(1)
        .lateral("speech")
    )
    clip_file, speech_file = aliased(Asset), aliased(Asset)
    stmt = (
        select(
            WorkItem.id,
            WorkItem.idx,
            WorkItem.duration_s,
            WorkItem.spec,
            clip.c.id,
            clip_file.storage_key,
            speech.c.id,
            speech_file.storage_key,
        )
        .select_from(WorkItem)
        .join(clip, true())
        .join(clip_file, clip_file.id == clip.c.asset_id)
        .outerjoin(speech, true())
        .outerjoin(speech_file, speech_file.id == speech.c.asset_id)
        .where(WorkItem.workspace_id == workspace_id, WorkItem.type == WorkItemType.shot)
        .order_by(WorkItem.idx)
    )
    return [
        ComposeInput(
            work_item_id=str(item_id),
            idx=int(idx),
            duration_s=float(duration or 0.0),
            narration=str((spec or {}).get("narration") or ""),
            video_node_id=str(video_id),
            video_key=video_key,
            voice_node_id=None if voice_id is None else str(voice_id),
            audio_key=audio_key,
        )
        for item_id, idx, duration, spec, video_id, video_key, voice_id, audio_key in session.execute(stmt)
    ]


def with_assets(session: Session, node_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[Node, Asset]]:
    """Nodes and their files by id, in one statement; nodes without a file are left out."""
    if not node_ids:
        return {}
    stmt = select(Node, Asset).join(Asset, Asset.id == Node.asset_id).where(Node.id.in_(list(node_ids)))
    return {node.id: (node, asset) for node, asset in session.execute(stmt)}


def newest_voices(session: Session, workspace_id: uuid.UUID) -> dict[uuid.UUID, tuple[Node, Asset]]:
    """Each shot's newest ok narration with its file (the one compose uses), in one statement."""
    newest = (
        select(
            Node.id,
            func.row_number()
            .over(partition_by=Node.work_item_id, order_by=(Node.created_at.desc(), Node.id.desc()))
            .label("rank"),
        )
        .where(
            Node.workspace_id == workspace_id,
            Node.type == NodeType.audio_voice,
            Node.status == NodeStatus.ok,
            Node.work_item_id.is_not(None),
            Node.asset_id.is_not(None),
        )
        .subquery()
    )
    stmt = (
        select(Node, Asset)
        .join(newest, newest.c.id == Node.id)
        .join(Asset, Asset.id == Node.asset_id)
        .where(newest.c.rank == 1)
    )
    return {node.work_item_id: (node, asset) for node, asset in session.execute(stmt)}


def latest_output(session: Session, workspace_id: uuid.UUID, type: NodeType) -> tuple[Node, Asset] | None:
    """The workspace's newest ok node of `type` that has a file (the latest cut, the latest
    background music), with that file."""
    stmt = (
        select(Node, Asset)
        .join(Asset, Asset.id == Node.asset_id)
        .where(Node.workspace_id == workspace_id, Node.type == type, Node.status == NodeStatus.ok)
        .order_by(Node.created_at.desc(), Node.id.desc())
        .limit(1)
    )
    row = session.execute(stmt).one_or_none()
    return None if row is None else (row[0], row[1])


# --- writes --------------------------------------------------------------------------


def create_node(
    session: Session,
    *,
    type: NodeType,
    work_item_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
    track_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    status: NodeStatus = NodeStatus.ok,
    cell: int | None = None,
    payload: Mapping[str, Any] | None = None,
    result: Mapping[str, Any] | None = None,
    asset_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    trace_id: str | None = None,
) -> Node:
    """Create a node, or return the node already written under `idempotency_key`.
    `workspace_id` is derived from the work item; it is required only for workspace-level
    nodes (work_item_id None, e.g. `compose`)."""
    workspace_id = _check_placement(session, work_item_id, workspace_id, track_id, parent_id)
    _check_cell(cell)
    if asset_id is not None:
        _check_assets(session, workspace_id, [asset_id])
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "work_item_id": work_item_id,
        "track_id": track_id,
        "parent_id": parent_id,
        "type": NodeType(type),
        "status": NodeStatus(status),
        "cell": cell,
        "payload": dict(payload or {}),
        "result": None if result is None else dict(result),
        "asset_id": asset_id,
        "task_id": task_id,
        "idempotency_key": idempotency_key,
        "trace_id": trace_id,
    }
    if idempotency_key is None:
        node = Node(**values)
        session.add(node)
        session.flush()
        return node
    stmt = (
        pg_insert(Node)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Node.idempotency_key])
        .returning(Node)
    )
    inserted = session.scalars(stmt).one_or_none()
    if inserted is not None:
        return inserted
    existing = get_by_idempotency_key(session, idempotency_key)
    assert existing is not None
    if existing.work_item_id != work_item_id or existing.workspace_id != workspace_id:
        raise Conflict(
            f"idempotency key {idempotency_key!r} already names a node of another work item",
            code="idempotency_key_reused",
        )
    return existing


def create_grid(
    session: Session,
    *,
    work_item_id: uuid.UUID,
    track_id: uuid.UUID | None,
    parent_id: uuid.UUID | None,
    payload: Mapping[str, Any],
    cells: Sequence[Mapping[str, Any]],
    idempotency_key: str | None = None,
    task_id: uuid.UUID | None = None,
    trace_id: str | None = None,
    status: NodeStatus = NodeStatus.ok,
    result: Mapping[str, Any] | None = None,
    group_id: uuid.UUID | None = None,
    workspace_id: uuid.UUID | None = None,
) -> Grid:
    """A grid_group node plus one `image` child per cell, in one INSERT statement. Each cell is
    `{"cell"?: 1..9, "payload"?, "result"?, "asset_id"?, "status"?, "idempotency_key"?}`; cell
    numbers default to 1..n. With `idempotency_key` K the group is keyed K and cell n `K/n`
    (unless the cell names its own key); `group_id` may fix the group's id in advance (e.g. from
    the workflow id). Either makes a retry return the grid already written."""
    if not 1 <= len(cells) <= 9:
        raise InvalidInput("a grid has 1 to 9 cells", code="grid_size_out_of_range")
    workspace_id = _check_placement(session, work_item_id, workspace_id, track_id, parent_id)
    numbers = [int(c.get("cell") or i) for i, c in enumerate(cells, start=1)]
    for number in numbers:
        _check_cell(number)
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("grid cell numbers must be distinct", code="grid_cells_not_distinct")
    asset_ids = [c["asset_id"] for c in cells if c.get("asset_id") is not None]
    if asset_ids:
        _check_assets(session, workspace_id, asset_ids)

    retry_safe = idempotency_key is not None or group_id is not None
    group_id = group_id or uuid.uuid4()
    common = {
        "workspace_id": workspace_id,
        "work_item_id": work_item_id,
        "track_id": track_id,
        "task_id": task_id,
    }
    rows: list[dict[str, Any]] = [
        {
            **common,
            "id": group_id,
            "parent_id": parent_id,
            "type": NodeType.grid_group,
            "status": NodeStatus(status),
            "cell": None,
            "payload": dict(payload),
            "result": None if result is None else dict(result),
            "asset_id": None,
            "idempotency_key": idempotency_key,
            "trace_id": trace_id,
        }
    ]
    for number, cell in zip(numbers, cells, strict=True):
        rows.append(
            {
                **common,
                "id": uuid.uuid5(group_id, f"cell/{number}"),  # a retry clashes on every row
                "parent_id": group_id,
                "type": NodeType.image,
                "status": NodeStatus(cell.get("status") or status),
                "cell": number,
                "payload": dict(cell.get("payload") or {}),
                "result": None if cell.get("result") is None else dict(cell["result"]),
                "asset_id": cell.get("asset_id"),
                "idempotency_key": cell.get("idempotency_key")
                or (None if idempotency_key is None else f"{idempotency_key}/{number}"),
                "trace_id": cell.get("trace_id", trace_id),
            }
        )
    stmt = pg_insert(Node).values(rows)
    if retry_safe:  # any unique clash (id or key) means this grid, or a clashing one, exists
        stmt = stmt.on_conflict_do_nothing()
    written = list(session.scalars(stmt.returning(Node)))
    group = next((n for n in written if n.id == group_id), None)
    if group is not None:
        if len(written) != len(rows):
            raise Conflict("some grid cell keys were already used", code="idempotency_key_reused")
        cells_written = sorted((n for n in written if n is not group), key=lambda n: n.cell or 0)
        return Grid(group=group, cells=cells_written)
    if written:
        raise Conflict("some grid cells already exist under another group", code="idempotency_key_reused")
    existing = session.get(Node, group_id)
    if existing is None and idempotency_key is not None:
        existing = get_by_idempotency_key(session, idempotency_key)
    if existing is None or existing.work_item_id != work_item_id or existing.type != NodeType.grid_group:
        raise Conflict(
            "the grid's id or idempotency key is used by another node", code="idempotency_key_reused"
        )
    return Grid(group=existing, cells=grid_cells(session, existing.id))


def set_result(
    session: Session,
    node_id: uuid.UUID,
    *,
    status: NodeStatus,
    result: Mapping[str, Any] | None = None,
    asset_id: uuid.UUID | None = None,
) -> Node:
    """Finish a pending node (ok/failed), attaching its result and asset."""
    node = require_node(session, node_id)
    if asset_id is not None:
        _check_assets(session, node.workspace_id, [asset_id])
        node.asset_id = asset_id
    node.status = NodeStatus(status)
    if result is not None:
        node.result = dict(result)
    session.flush()
    return node


def select_node(session: Session, work_item_id: uuid.UUID, node_id: uuid.UUID) -> WorkItem:
    """Commit `node_id` as the work item's current version (its selected node)."""
    item = require(session, WorkItem, work_item_id)
    node = require_node(session, node_id)
    if node.work_item_id != work_item_id:
        raise InvariantViolation(
            "the selected node must belong to the work item", code="selected_node_wrong_work_item"
        )
    if node.status != NodeStatus.ok:
        raise InvariantViolation("only a finished (ok) node can be selected", code="selected_node_not_ok")
    item.selected_node_id = node_id
    session.flush()
    return item


def clear_selection(session: Session, work_item_id: uuid.UUID) -> WorkItem:
    item = require(session, WorkItem, work_item_id)
    item.selected_node_id = None
    session.flush()
    return item


def add_reference(
    session: Session, from_node_id: uuid.UUID, to_node_id: uuid.UUID, role: RefRole = RefRole.image
) -> NodeRef:
    """`from` uses `to` as a reference (any track or work item of the same workspace). Idempotent."""
    if from_node_id == to_node_id:
        raise InvariantViolation("a node cannot reference itself", code="reference_to_self")
    source = require_node(session, from_node_id)
    target = require_node(session, to_node_id)
    if source.workspace_id != target.workspace_id:
        raise InvariantViolation("references cannot cross workspaces", code="reference_crosses_workspaces")
    stmt = (
        pg_insert(NodeRef)
        .values(
            id=uuid.uuid4(),
            workspace_id=source.workspace_id,
            from_node_id=from_node_id,
            to_node_id=to_node_id,
            role=RefRole(role),
        )
        .on_conflict_do_nothing(index_elements=[NodeRef.from_node_id, NodeRef.to_node_id, NodeRef.role])
        .returning(NodeRef)
    )
    ref = session.scalars(stmt).one_or_none()
    if ref is not None:
        return ref
    existing = session.scalar(
        select(NodeRef).where(
            NodeRef.from_node_id == from_node_id,
            NodeRef.to_node_id == to_node_id,
            NodeRef.role == RefRole(role),
        )
    )
    assert existing is not None
    return existing


def remove_reference(
    session: Session, from_node_id: uuid.UUID, to_node_id: uuid.UUID, role: RefRole | None = None
) -> int:
    """Drop reference edges (all roles when `role` is None); returns how many were removed."""
    refs = session.scalars(
        select(NodeRef).where(
            NodeRef.from_node_id == from_node_id,
            NodeRef.to_node_id == to_node_id,
            *([NodeRef.role == RefRole(role)] if role is not None else []),
        )
    ).all()
    for ref in refs:
        session.delete(ref)
    session.flush()
    return len(refs)


# --- checks --------------------------------------------------------------------------


def _check_placement(
    session: Session,
    work_item_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None,
    track_id: uuid.UUID | None,
    parent_id: uuid.UUID | None,
) -> uuid.UUID:
    """Resolve the workspace and check track and parent against the work item."""
    if work_item_id is not None:
        item = require(session, WorkItem, work_item_id)
        if workspace_id is not None and workspace_id != item.workspace_id:
            raise InvariantViolation(
                "the work item is in another workspace", code="work_item_wrong_workspace"
            )
        workspace_id = item.workspace_id
    elif workspace_id is None:
        raise InvalidInput("a node needs a work item or a workspace", code="node_needs_owner")
    if track_id is not None:
        if work_item_id is None:
            raise InvariantViolation("a workspace-level node has no track", code="track_wrong_work_item")
        track = session.get(Track, track_id)
        if track is None:
            raise NotFound("track", track_id)
        if track.work_item_id != work_item_id:
            raise InvariantViolation("the track belongs to another work item", code="track_wrong_work_item")
    if parent_id is not None:
        parent = session.get(Node, parent_id)
        if parent is None:
            raise NotFound("node", parent_id, code="parent_not_found")
        if parent.workspace_id != workspace_id or (
            work_item_id is not None and parent.work_item_id != work_item_id
        ):
            raise InvariantViolation("lineage never crosses work items", code="lineage_crosses_work_items")
    return workspace_id


def _check_cell(cell: int | None) -> None:
    if cell is not None and not 1 <= cell <= 9:
        raise InvalidInput(f"grid cell {cell} is outside 1..9", code="cell_out_of_range")


def _check_assets(session: Session, workspace_id: uuid.UUID, asset_ids: Sequence[uuid.UUID]) -> None:
    found = set(
        session.scalars(select(Asset.id).where(Asset.id.in_(asset_ids), Asset.workspace_id == workspace_id))
    )
    if found != set(asset_ids):
        raise InvariantViolation("the asset is not in this workspace", code="asset_wrong_workspace")


class TaskOutputRow(NamedTuple):
    task_id: uuid.UUID
    node_id: uuid.UUID
    type: NodeType
    cell: int | None
    asset_id: uuid.UUID
    workspace_id: uuid.UUID


def outputs_of_tasks(session: Session, task_ids: Sequence[uuid.UUID]) -> list[TaskOutputRow]:
    """The nodes with files that these tasks produced, in task, cell and creation order (one query)."""
    if not task_ids:
        return []
    rows = session.execute(
        select(Node.task_id, Node.id, Node.type, Node.cell, Node.asset_id, Node.workspace_id)
        .where(Node.task_id.in_(list(task_ids)), Node.asset_id.is_not(None))
        .order_by(Node.task_id, Node.cell.nulls_first(), Node.created_at, Node.id)
    )
    return [TaskOutputRow(*row) for row in rows]
