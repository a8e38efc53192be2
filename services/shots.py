"""Scene and shot verbs: add, update, split, merge, reorder and delete storyboard rows.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

from schema import actions as A
from schema.enums import WorkspaceType
from schema.repositories import storyboard, work_items
from services.execution import ActionResult, Execution, executes, shots_label


@executes("scene.add")
def scene_add(ex: Execution, a: A.SceneAdd) -> ActionResult:
    spec = a.args.spec.model_dump(exclude_none=True)
    title, goal = spec.pop("title", ""), spec.pop("goal", None)
    at = None if a.args.after is None else a.args.after + 1
    scene = storyboard.add_scene(ex.session, ex.ws.id, title=title, goal=goal, spec=spec, at_idx=at)
    return ex.done(a, f"added scene {scene.idx}", scene=scene.idx, scene_id=str(scene.id))


@executes("scene.update")
def scene_update(ex: Execution, a: A.SceneUpdate) -> ActionResult:
    scene = ex.resolve.scene(a.args.scene)
    patch = a.args.patch.model_dump(exclude_none=True)
    title, goal = patch.pop("title", None), patch.pop("goal", None)
    storyboard.update_scene(ex.session, scene.id, title=title, goal=goal, spec_patch=patch)
    return ex.done(a, f"updated scene {scene.idx}", scene=scene.idx)


@executes("scene.reorder")
def scene_reorder(ex: Execution, a: A.SceneReorder) -> ActionResult:
    scene = ex.resolve.scene(a.args.scene)
    storyboard.reorder_scene(ex.session, scene.id, a.args.to)
    return ex.done(a, f"moved scene {a.args.scene} to position {a.args.to}")


@executes("scene.delete")
def scene_delete(ex: Execution, a: A.SceneDelete) -> ActionResult:
    scene = ex.resolve.scene(a.args.scene)
    storyboard.delete_scene(ex.session, scene.id)
    return ex.done(a, f"deleted scene {a.args.scene} (its shots stay)")


@executes("shot.add")
def shot_add(ex: Execution, a: A.ShotAdd) -> ActionResult:
    spec = a.args.spec.model_dump(mode="json", exclude_none=True)
    duration = spec.pop("duration_s", None)
    if ex.ws.type == WorkspaceType.draft_space:
        item = work_items.create_draft(ex.session, ex.ws.id, spec=spec, duration_s=duration)
        return ex.done(a, "added a draft", work_item_id=str(item.id))
    scene_id = ex.resolve.scene(a.args.scene).id if a.args.scene is not None else None
    at = None if a.args.after is None else a.args.after + 1
    item = work_items.insert_shot(
        ex.session, ex.ws.id, spec=spec, duration_s=duration, scene_id=scene_id, at_idx=at
    )
    return ex.done(a, f"added shot {item.idx}", shot=item.idx, work_item_id=str(item.id))


@executes("shot.update")
def shot_update(ex: Execution, a: A.ShotUpdate) -> ActionResult:
    items = ex.resolve.shots(a.args.shots)
    patch = a.args.patch.model_dump(mode="json", exclude_none=True)
    duration = patch.pop("duration_s", None)
    for item in items:
        if patch:
            work_items.update_spec(ex.session, item.id, patch)
        new = duration
        if new is None and patch.get("pacing") and item.duration_s:
            factor = 0.8 if patch["pacing"] == "faster" else 1.25
            new = round(min(8.0, max(2.0, item.duration_s * factor)), 2)
        if new is not None:
            work_items.set_duration(ex.session, item.id, new)
    full = a.args.patch.model_dump(mode="json", exclude_none=True)
    return ex.done(
        a,
        f"updated {shots_label(items)}",
        shots=[i.idx for i in items],
        work_item_ids=[str(i.id) for i in items],
        patch=full,
    )


@executes("shot.split")
def shot_split(ex: Execution, a: A.ShotSplit) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    parts = work_items.split(ex.session, item.id, parts=a.args.parts)
    return ex.done(a, f"split shot {a.args.shot} into {len(parts)} shots", shots=[p.idx for p in parts])


@executes("shot.merge")
def shot_merge(ex: Execution, a: A.ShotMerge) -> ActionResult:
    items = ex.resolve.shots(a.args.shots)
    merged = work_items.merge(ex.session, ex.ws.id, [i.id for i in items])
    return ex.done(a, f"merged {shots_label(items)} into shot {merged.idx}", shot=merged.idx)


@executes("shot.reorder")
def shot_reorder(ex: Execution, a: A.ShotReorder) -> ActionResult:
    item = ex.resolve.shot(a.args.shot)
    work_items.reorder(ex.session, ex.ws.id, item.id, a.args.to)
    return ex.done(a, f"moved shot {a.args.shot} to position {a.args.to}")


@executes("shot.delete")
def shot_delete(ex: Execution, a: A.ShotDelete) -> ActionResult:
    items = ex.resolve.shots(a.args.shots)
    label = shots_label(items)
    work_items.delete_many(ex.session, ex.ws.id, [i.id for i in items])
    return ex.done(a, f"deleted {label}", work_item_ids=[str(i.id) for i in items])
