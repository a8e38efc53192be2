"""Characters of a workspace: profile, consistency locks, reference assets."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from api.concurrency import check_if_match, set_etag
from api.deps import CallerDep, SessionDep, WorkspaceDep, scoped
from api.errors import responses
from api.schemas import CharacterCreate, CharacterOut, CharacterReference, CharacterUpdate
from schema.models import Asset, Character
from schema.repositories import characters as character_repo
from services import project as project_service

router = APIRouter(prefix="/workspaces/{workspace_id}/characters", tags=["characters"])


@router.get("", response_model=list[CharacterOut])
def list_characters(workspace: WorkspaceDep, session: SessionDep) -> list[Character]:
    return character_repo.list_for_workspace(session, workspace.id)


@router.post("", response_model=CharacterOut, status_code=status.HTTP_201_CREATED, responses=responses(409))
def create_character(
    body: CharacterCreate, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> Character:
    character = project_service.create_character(
        session, workspace, name=body.name, profile=body.profile, locks=body.locks, by=caller.user_id
    )
    session.commit()
    return character


@router.get("/{character_id}", response_model=CharacterOut)
def get_character(
    character_id: uuid.UUID, response: Response, workspace: WorkspaceDep, session: SessionDep
) -> Character:
    """The character; `ETag` is its version (send it back as `If-Match` when you PATCH)."""
    character = scoped(session, Character, character_id, workspace, "character")
    set_etag(response, character.updated_at)
    return character


@router.patch("/{character_id}", response_model=CharacterOut, responses=responses(412))
def update_character(
    request: Request,
    response: Response,
    character_id: uuid.UUID,
    body: CharacterUpdate,
    workspace: WorkspaceDep,
    session: SessionDep,
    caller: CallerDep,
) -> Character:
    """Merge-patch the profile and/or the locks. With `If-Match: "<version>"`, 412
    `version_mismatch` when the character changed since that version."""
    scoped(session, Character, character_id, workspace, "character")
    check_if_match(request, session, Character, character_id)
    character = project_service.update_character(
        session, workspace, character_id, profile=body.profile, locks=body.locks, by=caller.user_id
    )
    session.commit()
    session.refresh(character)
    set_etag(response, character.updated_at)
    return character


@router.post("/{character_id}/references", response_model=CharacterOut)
def attach_reference(
    character_id: uuid.UUID,
    body: CharacterReference,
    workspace: WorkspaceDep,
    session: SessionDep,
    caller: CallerDep,
) -> Character:
    """Attach a stored image of this workspace as a reference of the character."""
    scoped(session, Character, character_id, workspace, "character")
    scoped(session, Asset, body.asset_id, workspace, "asset")
    character = project_service.attach_character_reference(
        session, workspace, character_id, body.asset_id, by=caller.user_id
    )
    session.commit()
    return character


@router.delete("/{character_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_character(
    character_id: uuid.UUID, workspace: WorkspaceDep, session: SessionDep, caller: CallerDep
) -> Response:
    scoped(session, Character, character_id, workspace, "character")
    project_service.delete_character(session, workspace, character_id, by=caller.user_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
