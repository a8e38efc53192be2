"""Track and node verbs: fork and switch branches, commit, reference and favorite nodes.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

from schema import actions as A
from schema.enums import NodeType
from schema.repositories import favorites, nodes, tracks, work_items
from services.execution import ActionResult, Execution, executes
from services.resolve import TargetUnresolved


@executes("track.fork")
def track_fork(ex: Execution, a: A.TrackFork) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    source = ex.node_from(item, node=a.args.from_node, cell=a.args.from_cell, track=a.args.track)
    track = tracks.fork(ex.session, item.id, source.id)
    return ex.done(
        a,
        f"started track {track.name} of {ex.resolve.label(item)} from that image",
        track=track.name,
        track_id=str(track.id),
        from_node_id=str(source.id),
        label=a.args.name,
        focus={"work_item_id": str(item.id), "track": track.name},
    )


@executes("track.switch")
def track_switch(ex: Execution, a: A.TrackSwitch) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    track = ex.resolve.track(item, a.args.track)
    return ex.done(
        a,
        f"now working on track {track.name} of {ex.resolve.label(item)}",
        track=track.name,
        track_id=str(track.id),
        focus={"work_item_id": str(item.id), "track": track.name},
    )


@executes("node.commit")
def node_commit(ex: Execution, a: A.NodeCommit) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    node = ex.node_from(item, node=a.args.node, cell=a.args.cell, track=a.args.track)
    if node.type == NodeType.grid_group:
        raise TargetUnresolved("that is a whole grid; pick one image (#N)")
    previous = str(item.selected_node_id) if item.selected_node_id else None
    nodes.select_node(ex.session, item.id, node.id)
    return ex.done(
        a,
        f"{ex.resolve.label(item)} now uses that image",
        node_id=str(node.id),
        previous_node_id=previous,
        track=ex.resolve.track_name_of(node),
    )


@executes("node.reference")
def node_reference(ex: Execution, a: A.NodeReference) -> ActionResult:
    args = a.args
    node = ex.resolve.node(node=args.node, cell=args.cell, shot=args.shot, track=args.track)
    if node.asset_id is None:
        raise TargetUnresolved("that node has no stored image to use as a reference")
    target = ex.resolve.focus_item() or ex.resolve.item_of(node)
    pending = [p for p in target.spec.get("pending_references") or [] if p.get("node_id") != str(node.id)]
    pending.append({"node_id": str(node.id), "role": args.as_})
    work_items.update_spec(ex.session, target.id, {"pending_references": pending})
    return ex.done(
        a,
        f"the next grid of {ex.resolve.label(target)} will use that image as {args.as_} reference",
        node_id=str(node.id),
        role=args.as_,
        for_work_item_id=str(target.id),
    )


@executes("node.favorite")
def node_favorite(ex: Execution, a: A.NodeFavorite) -> ActionResult:
    args = a.args
    node = ex.resolve.node(node=args.node, cell=args.cell, shot=args.shot, track=args.track)
    item = ex.resolve.item_of(node)
    fav = favorites.add(ex.session, item.id, node_id=node.id, tags=list(args.tags))
    return ex.done(a, "added to favorites", favorite_id=str(fav.id), node_id=str(node.id), tags=fav.tags)
