"""Production state of a workspace: each shot's stages (grid, clip, narration), staleness, cost,
and the newest cuts with what they were made from.

Rules: read-only, derived from the ledger by ``schema.repositories.stages`` (what each output
records it was made from); a stale clip, narration or cut says why in words a person can act on
("re-compose", "make the clip again").
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from api.deps import SessionDep, WorkspaceDep
from api.presenters import links
from api.schemas import Out
from schema.models import Asset
from schema.repositories import stages as stage_repo

router = APIRouter(prefix="/workspaces/{workspace_id}", tags=["storyboard"])


class StageOut(Out):
    status: str = Field(description="none | queued | running | done | failed")
    node_id: uuid.UUID | None = None
    count: int = Field(default=0, description="How many ok outputs of this kind the shot has")
    stale: bool = False
    reason: str | None = Field(default=None, description="Why it is stale")
    error: dict[str, Any] | None = Field(default=None, description="{code, message} of the last failed try")


class ShotStagesOut(Out):
    work_item_id: uuid.UUID
    idx: int
    grid: StageOut
    clip: StageOut
    voice: StageOut
    cost: float | None = Field(description="USD of this shot's tasks (null when nothing is priced)")
    gpu_seconds: float
    tasks: int


class CutOut(Out):
    node_id: uuid.UUID
    mode: str
    task_id: uuid.UUID | None
    created_at: datetime
    duration_s: float | None
    asset_id: uuid.UUID | None
    content_url: str | None = None
    poster_url: str | None = None
    shots: list[dict[str, Any]] = Field(
        description="Per shot: work_item_id, idx, video_node_id, voice_node_id"
    )
    missing_shots: list[dict[str, Any]] = Field(description="Shots the cut left out, with the reason")
    stale: bool
    reasons: list[str]


class StagesOut(Out):
    shots: list[ShotStagesOut]
    cuts: list[CutOut]


@router.get("/stages", response_model=StagesOut)
def get_stages(request: Request, workspace: WorkspaceDep, session: SessionDep) -> StagesOut:
    """Per shot: grid / clip / narration status (running and failed tasks included), whether the
    clip or narration is stale, and the shot's cost; the newest preview and final cut, whether
    they are stale (and why) and which shots they left out."""
    urls = links(request)
    shots = [
        ShotStagesOut.model_validate(
            {
                **{k: getattr(s, k) for k in ("work_item_id", "idx", "cost", "gpu_seconds", "tasks")},
                **{k: StageOut.model_validate(getattr(s, k).__dict__) for k in ("grid", "clip", "voice")},
            }
        )
        for s in stage_repo.shot_stages(session, workspace.id)
    ]
    cuts = []
    for cut in stage_repo.cut_states(session, workspace.id):
        out = CutOut.model_validate(cut.__dict__)
        if cut.asset_id is not None:
            out.content_url = urls.asset_content(workspace.id, cut.asset_id)
            asset = session.get(Asset, cut.asset_id)
            if asset is not None and asset.thumbnail_key:
                out.poster_url = urls.asset_thumbnail(workspace.id, cut.asset_id)
        cuts.append(out)
    return StagesOut(shots=shots, cuts=cuts)
