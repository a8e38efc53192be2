"""Project and character verbs: create a project, its meta, style, rules and characters.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from schema import actions as A
from schema.enums import WorkspaceType
from schema.models import Character, Conversation, Workspace
from schema.repositories import characters, storyboard, work_items, workspaces
from schema.repositories import characters as character_repo
from schema.repositories import conversations as conversation_repo
from schema.repositories import workspaces as workspace_repo
from schema.repositories._shared import merge_patch
from services.execution import ActionResult, Execution, executes
from services.generation import start_storyboard
from services.resolve import TargetUnresolved, as_uuid
from services.rules import (
    emit,
)


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


# --- id-based edits: the CRUD routes' path (same rules, see services/rules.py) -----------------


def create_character(
    session: Session,
    workspace: Workspace,
    *,
    name: str,
    profile: Mapping[str, Any] | None = None,
    locks: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> Character:
    character = character_repo.create(
        session, workspace.id, name=name, profile=dict(profile or {}), locks=dict(locks or {})
    )
    emit(session, workspace, "character.created", character_id=str(character.id), name=character.name)
    return character


def update_character(
    session: Session,
    workspace: Workspace,
    character_id: uuid.UUID,
    *,
    profile: Mapping[str, Any] | None = None,
    locks: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> Character:
    """Merge-patch the profile and/or the locks."""
    character = character_repo.update(session, character_id, profile_patch=profile, locks_patch=locks)
    emit(session, workspace, "character.updated", character_id=str(character_id))
    return character


def attach_character_reference(
    session: Session,
    workspace: Workspace,
    character_id: uuid.UUID,
    asset_id: uuid.UUID,
    *,
    by: str | None = None,
) -> Character:
    character = character_repo.attach_reference(session, character_id, asset_id)
    emit(session, workspace, "character.updated", character_id=str(character_id))
    return character


def delete_character(
    session: Session, workspace: Workspace, character_id: uuid.UUID, *, by: str | None = None
) -> None:
    character_repo.delete(session, character_id)
    emit(session, workspace, "character.deleted", character_id=str(character_id))


JSON_PATCH_FIELDS = frozenset({"meta", "style_spec", "rules", "model_defaults"})  # merge-patched


def create_workspace(session: Session, *, owner_id: str, **fields: Any) -> Workspace:
    """A new workspace owned by `owner_id` (its storyboard, if any, starts through the router)."""
    workspace = workspace_repo.create(session, owner_id=owner_id, **fields)
    emit(session, workspace, "workspace.created", title=workspace.title)
    return workspace


def update_workspace(session: Session, workspace: Workspace, body: Mapping[str, Any]) -> Workspace:
    """Apply the fields given: JSON fields merge-patch (null keeps them), a null title is ignored."""
    changes: dict[str, Any] = {}
    for field, value in body.items():
        if field in JSON_PATCH_FIELDS:
            if value is None:
                continue
            value = merge_patch(getattr(workspace, field), value)
        elif field == "title" and value is None:
            continue
        changes[field] = value
    if not changes:
        return workspace
    workspace = workspace_repo.update(session, workspace.id, changes)
    emit(session, workspace, "workspace.updated", fields=sorted(changes))
    return workspace


def delete_workspace(session: Session, workspace: Workspace) -> None:
    """Delete the workspace and everything in it (its events too: streams end)."""
    workspace_repo.delete(session, workspace.id)


def create_conversation(
    session: Session,
    workspace: Workspace,
    *,
    owner_id: str,
    mode: Any,
    work_item_id: uuid.UUID | None,
    track_id: uuid.UUID | None,
    title: str | None,
    workflow_id_for: Callable[[str], str],
) -> Conversation:
    """A chat on `workspace` (Pro mode: bound to a work item and track); `workflow_id_for` names
    the durable conversation workflow that will serve it."""
    conversation = conversation_repo.create(
        session,
        workspace_id=workspace.id,
        owner_id=owner_id,
        mode=mode,
        work_item_id=work_item_id,
        track_id=track_id,
        title=title,
    )
    conversation.workflow_id = workflow_id_for(str(conversation.id))
    session.flush()
    return conversation
