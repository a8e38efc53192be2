"""Ledger repositories: every query of the ledger lives in these modules.

Rule: each function takes the caller's Session, flushes (never commits; the unit of work in
schema.db commits) and raises typed errors from schema.domain_errors. One module per aggregate:

    from schema.repositories import nodes, work_items
    with unit_of_work(sessions) as session:
        node = nodes.create_node(session, type=NodeType.image, work_item_id=shot.id, idempotency_key=key)
"""

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

__all__ = [
    "assets",
    "characters",
    "conversations",
    "events",
    "favorites",
    "nodes",
    "snapshots",
    "storyboard",
    "tasks",
    "tracks",
    "work_items",
    "workspaces",
]
