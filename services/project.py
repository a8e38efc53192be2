"""Project and character verbs: create a project, its meta, style, rules and characters.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

from typing import Any

from schema import actions as A
from schema.enums import WorkspaceType
from schema.repositories import characters, storyboard, work_items, workspaces
from services.execution import ActionResult, Execution, executes
from services.generation import start_storyboard
from services.resolve import TargetUnresolved, as_uuid


@executes("project.create")
def project_create(ex: Execution, a: A.ProjectCreate) -> ActionResult:
    args = a.args
    meta = {k: v for k, v in {"aspect_ratio": args.aspect_ratio, "language": args.language}.items() if v}
    current = ex.workspace
    reuse = (
        current is not None
        and current.type == WorkspaceType(args.workspace_type)
        and not work_items.list_shots(ex.session, current.id)
        and not storyboard.list_scenes(ex.session, current.id)
    )
    if reuse and current is not None:
        ws = workspaces.update(
            ex.session,
            current.id,
            {"title": args.title, "style": args.style or current.style, "meta": {**current.meta, **meta}},
        )
    else:
        ws = workspaces.create(
            ex.session,
            owner_id=ex.caller.user_id,
            type=WorkspaceType(args.workspace_type),
            title=args.title,
            meta=meta,
            style=args.style,
        )
    ex.set_workspace(ws)
    data = {"workspace_id": str(ws.id), "title": ws.title, "created": not reuse}
    storyboard_follows = any(x.type == "gen.storyboard" for x in ex.turn.actions[ex.index + 1 :])
    if args.story.strip() and not storyboard_follows and ws.type == WorkspaceType.narrative_project:
        started = start_storyboard(ex, args.story, args.shot_count)
        return ex.started(
            a, [started], summary=f"created project “{ws.title}” and started its storyboard", **data
        )
    verb = "created" if not reuse else "set up"
    return ex.done(a, f"{verb} project “{ws.title}”", **data)


@executes("project.update_meta")
def project_update_meta(ex: Execution, a: A.ProjectUpdateMeta) -> ActionResult:
    changes = a.args.model_dump(exclude_none=True)
    update: dict[str, Any] = {}
    if "title" in changes:
        update["title"] = changes.pop("title")
    if changes:
        update["meta"] = {**ex.ws.meta, **changes}
    workspaces.update(ex.session, ex.ws.id, update)
    return ex.done(
        a, "updated the project settings", changes=a.args.model_dump(mode="json", exclude_none=True)
    )


@executes("project.set_style")
def project_set_style(ex: Execution, a: A.ProjectSetStyle) -> ActionResult:
    previous = ex.ws.style
    workspaces.update(ex.session, ex.ws.id, {"style": a.args.style})
    return ex.done(a, f"set the style to “{a.args.style}”", style=a.args.style, previous=previous)


@executes("project.set_rules")
def project_set_rules(ex: Execution, a: A.ProjectSetRules) -> ActionResult:
    existing = [] if a.args.replace else list((ex.ws.rules or {}).get("items", []))
    items = list(dict.fromkeys([*existing, *a.args.rules]))
    workspaces.update(ex.session, ex.ws.id, {"rules": {**(ex.ws.rules or {}), "items": items}})
    return ex.done(a, f"the project now has {len(items)} rules", rules=items)


@executes("character.create")
def character_create(ex: Execution, a: A.CharacterCreate) -> ActionResult:
    profile = {"description": a.args.profile} if a.args.profile else {}
    row = characters.create(ex.session, ex.ws.id, name=a.args.name, profile=profile)
    return ex.done(a, f"added character {row.name}", character_id=str(row.id))


@executes("character.update")
def character_update(ex: Execution, a: A.CharacterUpdate) -> ActionResult:
    row = ex.resolve.character(a.args.name)
    patch = a.args.patch.model_dump(exclude_none=True)
    if "profile" in patch:
        patch["description"] = patch.pop("profile")
    characters.update(ex.session, row.id, profile_patch=patch)
    return ex.done(a, f"updated character {row.name}", character_id=str(row.id), patch=patch)


@executes("character.attach_reference")
def character_attach_reference(ex: Execution, a: A.CharacterAttachReference) -> ActionResult:
    row = ex.resolve.character(a.args.name)
    if a.args.asset is not None:
        asset_id = as_uuid(a.args.asset, "asset")
    else:
        node = ex.resolve.node(node=a.args.node, cell=a.args.cell, shot=a.args.shot, track=a.args.track)
        if node.asset_id is None:
            raise TargetUnresolved("that image has no stored file yet")
        asset_id = node.asset_id
    characters.attach_reference(ex.session, row.id, asset_id)
    return ex.done(a, f"attached a reference image to {row.name}", asset_id=str(asset_id))


@executes("character.lock")
def character_lock(ex: Execution, a: A.CharacterLock) -> ActionResult:
    row = ex.resolve.character(a.args.name)
    characters.update(ex.session, row.id, locks_patch={k: True for k in a.args.locks})
    return ex.done(a, f"locked {', '.join(a.args.locks)} of {row.name}", locks=list(a.args.locks))
