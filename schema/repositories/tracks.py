"""Tracks: branches of exploration inside one work item (A, B, C, ..., Z, AA, AB, ...).

Rules: the main track is not a flag, it is whichever track holds the work item's selected node.
Deleting a track never loses work that matters: its nodes are deleted EXCEPT those that are
selected, a current clip, referenced (node_ref), favorited, the fork point of another track, or an
ancestor of any of those or of a node on another track; kept nodes stay in the work item with
track_id NULL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from schema.domain_errors import Conflict, InvalidInput, InvariantViolation, NotFound
from schema.models import Favorite, Node, NodeRef, Track, WorkItem
from schema.repositories._shared import require

MAX_NAME_ATTEMPTS = 8


@dataclass(frozen=True)
class TrackDeletion:
    deleted_node_ids: list[uuid.UUID]
    kept_node_ids: list[uuid.UUID]  # now on no track (track_id NULL)


def get(session: Session, track_id: uuid.UUID) -> Track | None:
    return session.get(Track, track_id)


def require_track(session: Session, track_id: uuid.UUID) -> Track:
    return require(session, Track, track_id)


def get_by_name(session: Session, work_item_id: uuid.UUID, name: str) -> Track | None:
    return session.scalar(select(Track).where(Track.work_item_id == work_item_id, Track.name == name))


def list_for_work_item(session: Session, work_item_id: uuid.UUID) -> list[Track]:
    stmt = select(Track).where(Track.work_item_id == work_item_id).order_by(Track.created_at, Track.id)
    return list(session.scalars(stmt))


def main_track(session: Session, work_item_id: uuid.UUID) -> Track | None:
    """The track holding the work item's selected node (None when nothing is selected or the
    selected node is on no track)."""
    stmt = (
        select(Track)
        .join(Node, Node.track_id == Track.id)
        .join(WorkItem, WorkItem.selected_node_id == Node.id)
        .where(WorkItem.id == work_item_id)
    )
    return session.scalar(stmt)


def get_or_create(session: Session, work_item_id: uuid.UUID, name: str = "A") -> Track:
    """The work item's track called `name`, created if missing (safe under concurrency)."""
    _check_name(name)
    require(session, WorkItem, work_item_id)
    track = _insert(session, work_item_id, name, None)
    if track is not None:
        return track
    existing = get_by_name(session, work_item_id, name)
    assert existing is not None
    return existing


def fork(
    session: Session, work_item_id: uuid.UUID, from_node_id: uuid.UUID, name: str | None = None
) -> Track:
    """A new track forked at `from_node_id` (a node of this work item); `name` defaults to the
    next free letter. Raises Conflict(`track_name_taken`) when `name` is in use."""
    node = session.get(Node, from_node_id)
    if node is None:
        raise NotFound("node", from_node_id)
    if node.work_item_id != work_item_id:
        raise InvariantViolation(
            "a track forks from a node of its own work item", code="fork_node_wrong_work_item"
        )
    if name is not None:
        _check_name(name)
        track = _insert(session, work_item_id, name, from_node_id)
        if track is None:
            raise Conflict(f"track {name!r} already exists", code="track_name_taken")
        return track
    for _ in range(MAX_NAME_ATTEMPTS):  # another writer may take the letter we picked
        taken = set(session.scalars(select(Track.name).where(Track.work_item_id == work_item_id)))
        candidate = next(n for n in track_names() if n not in taken)
        track = _insert(session, work_item_id, candidate, from_node_id)
        if track is not None:
            return track
    raise Conflict("could not find a free track name", code="track_name_taken")


def rename(session: Session, track_id: uuid.UUID, name: str) -> Track:
    _check_name(name)
    track = require_track(session, track_id)
    if track.name == name:
        return track
    if get_by_name(session, track.work_item_id, name) is not None:
        raise Conflict(f"track {name!r} already exists", code="track_name_taken")
    track.name = name
    session.flush()
    return track


def delete_track(session: Session, track_id: uuid.UUID) -> TrackDeletion:
    """Delete the track and the nodes on it that nothing needs (see module rule)."""
    track = session.scalar(select(Track).where(Track.id == track_id).with_for_update())  # no new nodes on it
    if track is None:
        raise NotFound("track", track_id)
    session.flush()
    keep_ids = set(session.scalars(_keep_query(track.work_item_id, track_id)))
    kept = list(
        session.scalars(
            update(Node)
            .where(Node.track_id == track_id, Node.id.in_(keep_ids))
            .values(track_id=None)
            .returning(Node.id),
            execution_options={"synchronize_session": "fetch"},
        )
    )
    deleted = list(
        session.scalars(
            sa_delete(Node).where(Node.track_id == track_id).returning(Node.id),
            execution_options={"synchronize_session": "fetch"},
        )
    )
    session.delete(track)
    session.flush()
    return TrackDeletion(deleted_node_ids=deleted, kept_node_ids=kept)


def track_names() -> Iterator[str]:
    """A, B, ..., Z, AA, AB, ... (spreadsheet column names)."""
    n = 1
    while True:
        name, k = "", n
        while k:
            k, rem = divmod(k - 1, 26)
            name = chr(ord("A") + rem) + name
        yield name
        n += 1


def _keep_query(work_item_id: uuid.UUID, track_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    """One recursive CTE: protected nodes of the track, plus parents of nodes on other tracks,
    closed under `parent_id` (ancestors)."""
    child, other_track = aliased(Node), aliased(Track)
    protected = Node.track_id == track_id
    protected = protected & or_(
        exists().where(WorkItem.selected_node_id == Node.id),
        exists().where(WorkItem.current_video_node_id == Node.id),
        exists().where(NodeRef.to_node_id == Node.id),
        exists().where(Favorite.node_id == Node.id),
        exists().where(other_track.created_from_node_id == Node.id, other_track.id != track_id),
    )
    parent_of_other = exists().where(child.parent_id == Node.id, child.track_id.is_distinct_from(track_id))
    keep = (
        select(Node.id, Node.parent_id)
        .where(Node.work_item_id == work_item_id, or_(protected, parent_of_other))
        .cte("keep", recursive=True)
    )
    parent = aliased(Node)
    keep = keep.union(select(parent.id, parent.parent_id).join(keep, parent.id == keep.c.parent_id))
    return select(keep.c.id)


def _insert(
    session: Session, work_item_id: uuid.UUID, name: str, from_node_id: uuid.UUID | None
) -> Track | None:
    stmt = (
        pg_insert(Track)
        .values(id=uuid.uuid4(), work_item_id=work_item_id, name=name, created_from_node_id=from_node_id)
        .on_conflict_do_nothing(index_elements=[Track.work_item_id, Track.name])
        .returning(Track)
    )
    return session.scalars(stmt).one_or_none()


def _check_name(name: str) -> None:
    if not name or not name.strip() or len(name) > 64:
        raise InvalidInput("a track name is 1..64 characters", code="track_name_invalid")
