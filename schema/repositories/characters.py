"""Characters of a workspace: profile, consistency locks and reference assets.

Rule: names are unique per workspace (they are how people address characters); profile and
locks change by JSON merge patch; references are asset ids of the same workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.domain_errors import Conflict, InvalidInput, InvariantViolation, NotFound
from schema.models import Asset, Character
from schema.repositories._shared import merge_patch, require


def create(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    name: str,
    profile: Mapping[str, Any] | None = None,
    locks: Mapping[str, Any] | None = None,
) -> Character:
    if not name.strip():
        raise InvalidInput("a character needs a name", code="character_name_invalid")
    if get_by_name(session, workspace_id, name) is not None:
        raise Conflict(f"character {name!r} already exists", code="character_name_taken")
    character = Character(
        workspace_id=workspace_id, name=name, profile=dict(profile or {}), locks=dict(locks or {})
    )
    session.add(character)
    session.flush()
    return character


def get(session: Session, character_id: uuid.UUID) -> Character | None:
    return session.get(Character, character_id)


def get_by_name(session: Session, workspace_id: uuid.UUID, name: str) -> Character | None:
    return session.scalar(
        select(Character).where(Character.workspace_id == workspace_id, Character.name == name)
    )


def require_by_name(session: Session, workspace_id: uuid.UUID, name: str) -> Character:
    character = get_by_name(session, workspace_id, name)
    if character is None:
        raise NotFound("character", name)
    return character


def list_for_workspace(session: Session, workspace_id: uuid.UUID) -> list[Character]:
    stmt = select(Character).where(Character.workspace_id == workspace_id).order_by(Character.name)
    return list(session.scalars(stmt))


def update(
    session: Session,
    character_id: uuid.UUID,
    *,
    profile_patch: Mapping[str, Any] | None = None,
    locks_patch: Mapping[str, Any] | None = None,
) -> Character:
    character = require(session, Character, character_id)
    if profile_patch:
        character.profile = merge_patch(character.profile, profile_patch)
    if locks_patch:
        character.locks = merge_patch(character.locks, locks_patch)
    session.flush()
    return character


def attach_reference(session: Session, character_id: uuid.UUID, asset_id: uuid.UUID) -> Character:
    character = require(session, Character, character_id)
    asset = session.get(Asset, asset_id)
    if asset is None or asset.workspace_id != character.workspace_id:
        raise InvariantViolation("the asset is not in this workspace", code="asset_wrong_workspace")
    if str(asset_id) not in character.reference_asset_ids:
        character.reference_asset_ids = [*character.reference_asset_ids, str(asset_id)]
        session.flush()
    return character


def delete(session: Session, character_id: uuid.UUID) -> None:
    session.delete(require(session, Character, character_id))
    session.flush()
