"""Generation endpoints: one per `gen.*` action of the Action DSL, run through the ActionRouter.

Rules: each body is the action's DSL args (same names, same validation, shot numbers as people
say them: `3`, `"8-12"`, `"all"`), plus `webhook_url` for a signed completion callback; the
response lists the tasks and workflow ids the router started (202). Every endpoint honours
`Idempotency-Key` (same key + same body → the same task and workflow id) and the per-user rate
limit. `?confirmed=false` asks for a proposal instead of running a costly action.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import AnyHttpUrl, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.actions import run_actions
from api.deps import CallerDep, IdempotencyDep, RateLimited, ServicesDep, SessionDep, WorkspaceDep, scoped
from api.errors import ApiError, responses
from api.schemas import In, TurnOut
from schema.actions import (
    GenCompose,
    GenComposeArgs,
    GenGrid,
    GenGridArgs,
    GenMusic,
    GenMusicArgs,
    GenStoryboard,
    GenStoryboardArgs,
    GenVideo,
    GenVideoArgs,
    GenVoice,
    GenVoiceArgs,
    TrackName,
)
from schema.enums import WorkItemType
from schema.models import WorkItem

router = APIRouter(
    prefix="/workspaces/{workspace_id}",
    tags=["generation"],
    dependencies=[RateLimited],
    responses=responses(409, 429, 503),
)

EXTRA_FIELDS = {"webhook_url", "work_item_id"}
Confirmed = Annotated[
    bool, Query(description="false: answer with a proposal for costly/destructive actions instead of running")
]


WebhookUrl = Annotated[
    AnyHttpUrl | None, Field(description="POSTed a signed JSON body when each started task ends")
]


class StoryboardRequest(GenStoryboardArgs):
    webhook_url: WebhookUrl = None


class GridRequest(GenGridArgs):
    webhook_url: WebhookUrl = None
    work_item_id: uuid.UUID | None = Field(
        default=None, description="Pro mode: the work item in focus (a draft, or the shot)"
    )


class VideoRequest(GenVideoArgs):
    webhook_url: WebhookUrl = None


class VoiceRequest(GenVoiceArgs):
    webhook_url: WebhookUrl = None


class MusicRequest(GenMusicArgs):
    webhook_url: WebhookUrl = None


class ComposeRequest(GenComposeArgs):
    """`music: true` mixes in the workspace's latest background music (made first if none)."""

    webhook_url: WebhookUrl = None


def _args(body: BaseModel, model: type[BaseModel]) -> Any:
    return model.model_validate(body.model_dump(by_alias=True, exclude=EXTRA_FIELDS, exclude_unset=True))


async def _run(
    services: ServicesDep,
    caller: CallerDep,
    workspace_id: uuid.UUID,
    idem: IdempotencyDep,
    action: Any,
    *,
    confirmed: bool,
    webhook_url: AnyHttpUrl | None,
    work_item_id: uuid.UUID | None = None,
    track: str | None = None,
) -> TurnOut:
    async def handler() -> TurnOut:
        return await run_actions(
            services,
            caller,
            workspace_id,
            [action],
            intent=action.type,
            confirmed=confirmed,
            work_item_id=work_item_id,
            track=track,
            webhook_url=str(webhook_url) if webhook_url else None,
            idempotency_key=idem.turn_key,
        )

    return await idem.run(status.HTTP_202_ACCEPTED, handler)  # type: ignore[no-any-return]


def _generate_route(
    verb: str, request: type[BaseModel], action: type[BaseModel], args: type[BaseModel]
) -> None:
    """Register `POST /generate/{verb}`: the body is `action`'s DSL args (+ `webhook_url`), run as one
    action through the router; the OpenAPI description is `GENERATE_DOCS[verb]`."""

    async def endpoint(
        body: BaseModel,
        workspace: WorkspaceDep,
        caller: CallerDep,
        services: ServicesDep,
        idem: IdempotencyDep,
        confirmed: Confirmed = True,
    ) -> TurnOut:
        return await _run(
            services,
            caller,
            workspace.id,
            idem,
            action(args=_args(body, args)),
            confirmed=confirmed,
            webhook_url=getattr(body, "webhook_url", None),
        )

    endpoint.__annotations__["body"] = request  # FastAPI reads the body model from the signature
    endpoint.__name__ = f"generate_{verb}"
    endpoint.__doc__ = GENERATE_DOCS[verb]
    router.post(f"/generate/{verb}", response_model=TurnOut, status_code=status.HTTP_202_ACCEPTED)(endpoint)


GENERATE_DOCS = {
    "storyboard": "`gen.storyboard`: story → scenes and shots.",
    "video": "`gen.video`: a clip per shot from its selected image.",
    "voice": "`gen.voice`: narration (or dialogue) per shot.",
    "music": "`gen.music`: offline background music for the workspace, from a mood (English or Chinese\n"
    "    words, or \"auto\": from the project's style and moods); `duration_s` defaults to the cut's length.",
    "compose": "`gen.compose`: the selected clips → one MP4 (preview or final); `music: true` mixes in the\n"
    "    latest background music, ducked under the narration (generating a track first if none).",
}
_generate_route("storyboard", StoryboardRequest, GenStoryboard, GenStoryboardArgs)


@router.post("/generate/grid", response_model=TurnOut, status_code=status.HTTP_202_ACCEPTED)
async def generate_grid(
    body: GridRequest,
    workspace: WorkspaceDep,
    caller: CallerDep,
    services: ServicesDep,
    session: SessionDep,
    idem: IdempotencyDep,
    confirmed: Confirmed = True,
) -> TurnOut:
    """`gen.grid`: a 4- or 9-image grid per shot (optionally iterating from a node or cell)."""
    if body.work_item_id is not None:
        await run_in_threadpool(scoped, session, WorkItem, body.work_item_id, workspace, "work_item")
    action = GenGrid(args=_args(body, GenGridArgs))
    return await _run(
        services,
        caller,
        workspace.id,
        idem,
        action,
        confirmed=confirmed,
        webhook_url=body.webhook_url,
        work_item_id=body.work_item_id,
        track=body.track,
    )


_generate_route("video", VideoRequest, GenVideo, GenVideoArgs)
_generate_route("voice", VoiceRequest, GenVoice, GenVoiceArgs)
_generate_route("music", MusicRequest, GenMusic, GenMusicArgs)
_generate_route("compose", ComposeRequest, GenCompose, GenComposeArgs)


# --- one work item (the seed contract: "generate image/video for a shot") ---------------------


class WorkItemGenerate(In):
    kind: Literal["image", "video", "voice"] = Field(
        description="image = a grid; video = a clip; voice = narration"
    )
    size: Literal[4, 9] = 4
    prompt: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    track: TrackName | None = None
    webhook_url: AnyHttpUrl | None = None


@router.post(
    "/work-items/{work_item_id}/generate", response_model=TurnOut, status_code=status.HTTP_202_ACCEPTED
)
async def generate_for_work_item(
    work_item_id: uuid.UUID,
    body: WorkItemGenerate,
    workspace: WorkspaceDep,
    caller: CallerDep,
    services: ServicesDep,
    session: SessionDep,
    idem: IdempotencyDep,
) -> TurnOut:
    """Generate an image grid, a clip or narration for one shot or draft, addressed by id."""
    item = await run_in_threadpool(scoped, session, WorkItem, work_item_id, workspace, "work_item")
    if item.type == WorkItemType.shot and item.idx is not None:
        shots: list[int] | Literal["all"] = [item.idx]
    elif body.kind == "image":
        shots = [1]  # drafts are addressed by the focus; the shot number is a placeholder
    else:
        raise ApiError(409, "not_a_shot", f"{body.kind} generation needs a shot")
    action: Any
    if body.kind == "image":
        action = GenGrid(args=GenGridArgs(shots=shots, size=body.size, prompt=body.prompt, track=body.track))
    elif body.kind == "video":
        action = GenVideo(args=GenVideoArgs(shots=shots))
    else:
        action = GenVoice(args=GenVoiceArgs(shots=shots))
    return await _run(
        services,
        caller,
        workspace.id,
        idem,
        action,
        confirmed=True,
        webhook_url=body.webhook_url,
        work_item_id=item.id,
        track=body.track,
    )
