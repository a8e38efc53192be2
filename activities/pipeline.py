"""The pipeline's activities: storyboard, grid, voice, video, music, compose, and task mirroring.

Rules: provider work runs in a thread under `run_blocking` (heartbeats, cancellation); files go to
content-addressed storage first, then node + asset + task status + event are written in ONE
transaction keyed by an attempt-independent idempotency key (`<workflow_id>/<step>`), so a retried
attempt returns the committed result instead of writing a second node or asset; if that
transaction fails, stored files that no asset row uses are removed again (no orphans).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from temporalio import activity

from activities.contracts import (
    ComposeInput,
    ComposeResult,
    GridInput,
    GridResult,
    MusicInput,
    MusicResult,
    StoryboardInput,
    StoryboardResult,
    TaskOutcome,
    TaskRef,
    VideoInput,
    VideoResult,
    VoiceInput,
    VoiceResult,
)
from activities.ledger import stored_asset
from activities.providers.choice import Providers, choose_providers
from activities.runtime import GPU_HEARTBEAT_EVERY_S, Cancelled, Progress, coded, progress_sink, run_blocking
from activities.thumbnails import make_all_thumbnails, make_thumbnails
from infra import diskguard
from infra.ledger import unit_of_work
from infra.logging import remember_task_id
from infra.settings import Settings
from infra.storage import Storage, StoredObject, storage_from
from infra.telemetry import current_trace_id, provider_span
from schema.domain_errors import DomainError
from schema.enums import AssetKind, NodeType, RefRole, TaskStatus, TaskType
from schema.errors import BadInputError, DiskFullError
from schema.repositories import assets as asset_repo
from schema.repositories import events as event_repo
from schema.repositories import nodes as node_repo
from schema.repositories import stages as stage_repo
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import tasks as task_repo
from schema.repositories import tracks as track_repo
from schema.repositories import work_items as work_item_repo
from schema.repositories import workspaces as workspace_repo
from schema.text import language_of

log = logging.getLogger(__name__)
T = TypeVar("T")

VOICE_TAIL_S = 0.5  # breathing room after the narration ends
MAX_SHOT_S = 60.0
DEFAULT_MUSIC_S = 30.0  # background music for a workspace with no shots yet
VIDEO_WIDTH, VIDEO_HEIGHT = 1280, 720  # shot clips (the video providers' default size)
PAN_ZOOM = "pan_zoom"  # the video model every pool has: the Ken Burns camera move over the image


def with_modifier(visual: str, prompt: str | None) -> str:
    """A grid prompt extends the shot's description ("keep it simple", "更孤独一点"); it never
    replaces it. A prompt that already starts with the description is used as it is."""
    visual, prompt = (visual or "").strip(), (prompt or "").strip()
    if not prompt or prompt == visual:
        return visual
    if not visual or prompt.startswith(visual):
        return prompt
    return f"{visual}, {prompt}"


def _compute_seconds(params: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """A GPU task's seconds, summed over its outputs' params: GPU seconds (the task row's
    `gpu_seconds`, priced), CPU seconds (a diffusers provider on a CPU device: never priced as GPU
    time) and compile seconds (torch.compile's first call for a shape: not charged)."""
    total = {"gpu_seconds": 0.0, "cpu_seconds": 0.0, "compile_seconds": 0.0}
    for p in params:
        for key in total:
            total[key] += float(p.get(key) or 0.0)
    return {key: round(value, 6) for key, value in total.items()}


def _uuid(value: str | uuid.UUID) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def music_hints(session: Any, workspace_id: uuid.UUID) -> list[str]:
    """What `mood="auto"` listens to: the workspace's style and title, then scene and shot moods."""
    workspace = workspace_repo.get(session, workspace_id)
    hints = [workspace.style or "", workspace.title or ""] if workspace else []
    hints += [
        str((scene.spec or {}).get("mood") or "")
        for scene in storyboard_repo.list_scenes(session, workspace_id)
    ]
    hints += [
        str((shot.spec or {}).get("mood") or "") for shot in work_item_repo.list_shots(session, workspace_id)
    ]
    return [h for h in hints if h.strip()]


def music_duration_s(session: Any, workspace_id: uuid.UUID) -> float:
    """How long background music should last when nobody says: what compose would cut (the shots
    that have a clip), else every shot, else DEFAULT_MUSIC_S; kept within the provider's range."""
    from activities.providers.music import MAX_DURATION_S, MIN_DURATION_S

    plan = node_repo.compose_inputs(session, workspace_id)
    if plan:
        total = sum(float(p["duration_s"]) for p in plan)
    else:
        total = sum(float(s.duration_s or 0.0) for s in work_item_repo.list_shots(session, workspace_id))
    return round(min(MAX_DURATION_S, max(MIN_DURATION_S, total or DEFAULT_MUSIC_S)), 3)


@dataclass
class _ShotView:
    """What an activity needs of a shot, read in one short transaction."""

    id: str
    idx: int
    duration_s: float
    spec: dict[str, Any]
    selected_node_id: str | None
    workspace_style: str | None


class PipelineActivities:
    def __init__(
        self,
        database_url: str,
        storage: Storage,
        providers: Providers,
        work_dir: Path,
        *,
        min_free_disk_mb: int = 0,
    ) -> None:
        self.database_url = database_url
        self.storage = storage
        self.providers = providers
        self.work_dir = work_dir
        self.min_free_disk_mb = min_free_disk_mb  # disk guard (infra.diskguard); 0: off
        work_dir.mkdir(parents=True, exist_ok=True)

    @property
    def music(self) -> Any:
        """The background-music provider (a seam for test doubles, like the other providers)."""
        return self.providers.music

    @classmethod
    def from_settings(
        cls, settings: Settings, database_url: str, device: str | None = None
    ) -> PipelineActivities:
        storage = storage_from(
            settings.storage_backend,
            settings.data_path,
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.aws_region,
        )
        return cls(
            database_url,
            storage,
            choose_providers(settings, device=device),
            settings.data_path / "work",
            min_free_disk_mb=settings.min_free_disk_mb,
        )

    # --- shared steps ---------------------------------------------------------------------

    def _start_task(self, task: TaskRef, payload: dict[str, Any]) -> None:
        info = activity.info()
        with unit_of_work(self.database_url) as session:
            row = task_repo.upsert_running(
                session,
                workspace_id=_uuid(task.workspace_id),
                workflow_id=task.workflow_id,
                run_id=info.workflow_run_id,
                type=TaskType(task.task_type),
                work_item_id=_uuid(task.work_item_id) if task.work_item_id else None,
                parent_workflow_id=task.parent_workflow_id,
                payload=payload,
                retries=info.attempt - 1,
                trace_id=current_trace_id(),
            )
            remember_task_id(task.workflow_id, row.id)
            event_repo.append(
                session,
                row.workspace_id,
                "task.running",
                {
                    "task_id": str(row.id),
                    "workflow_id": task.workflow_id,
                    "type": task.task_type,
                    "attempt": info.attempt,
                },
            )

    async def _begin(self, task: TaskRef, payload: dict[str, Any]) -> None:
        """Mark the task running, and send this activity's progress to its row from now on."""
        await asyncio.to_thread(self._start_task, task, payload)
        progress_sink.set(functools.partial(self._report_progress, task))

    async def _report_progress(self, task: TaskRef, progress: float) -> None:
        await asyncio.to_thread(self._set_progress, task, progress)

    def _set_progress(self, task: TaskRef, progress: float) -> None:
        """Progress on the task row (never backwards) and a `task.progress` event while it runs."""
        with unit_of_work(self.database_url) as session:
            row = task_repo.set_progress(session, task.workflow_id, round(progress, 3))
            if row.status != TaskStatus.running:
                return
            event_repo.append(
                session,
                row.workspace_id,
                "task.progress",
                {
                    "task_id": str(row.id),
                    "workflow_id": task.workflow_id,
                    "type": task.task_type,
                    "progress": row.progress,
                },
            )

    def _finish_task(
        self,
        session: Any,
        task: TaskRef,
        result: dict[str, Any],
        gpu_seconds: float | None = None,
        usages: Iterable[Mapping[str, Any] | None] = (),
    ) -> None:
        """Succeed the task with its result, measured GPU seconds and cost (priced usage of its
        provider calls plus priced GPU time; none without a price table)."""
        cost = self.providers.prices.task_cost(gpu_seconds, usages)
        row = task_repo.mark_succeeded(
            session, task.workflow_id, result=result, gpu_seconds=gpu_seconds, cost=cost
        )
        event_repo.append(
            session,
            row.workspace_id,
            "task.succeeded",
            {
                "task_id": str(row.id),
                "workflow_id": task.workflow_id,
                "type": task.task_type,
                "result": result,
            },
        )

    def _shot(self, work_item_id: str) -> _ShotView:
        with unit_of_work(self.database_url) as session:
            shot = work_item_repo.get(session, _uuid(work_item_id))
            workspace = workspace_repo.get(session, shot.workspace_id)
            return _ShotView(
                id=str(shot.id),
                idx=shot.idx or 0,
                duration_s=float(shot.duration_s or 4.0),
                spec=dict(shot.spec or {}),
                selected_node_id=str(shot.selected_node_id) if shot.selected_node_id else None,
                workspace_style=workspace.style if workspace else None,
            )

    def _asset_path(self, node_id: str) -> tuple[Path, Any]:
        with unit_of_work(self.database_url) as session:
            node, asset = node_repo.get_with_asset(session, _uuid(node_id))
        if asset is None:
            raise BadInputError(f"node {node_id} has no stored file", code="asset_missing")
        path = self.storage.local_path(asset.storage_key)
        if not path.exists():
            raise BadInputError(f"the file of node {node_id} is missing from storage", code="asset_missing")
        return path, node

    def _discard_orphans(self, stored: list[StoredObject]) -> None:
        with unit_of_work(self.database_url) as session:
            used = asset_repo.keys_in_use(session, [s.key for s in stored])
        for obj in stored:
            if obj.key not in used:
                self.storage.delete(obj.key)

    def _require_disk(self) -> None:
        """The disk guard: below its free-space threshold nothing new is rendered (`disk_full`,
        retried with backoff until space is freed)."""
        try:
            diskguard.require(self.work_dir, self.min_free_disk_mb)
        except diskguard.LowDiskSpace as exc:
            raise DiskFullError(str(exc)) from exc

    async def _render_to_storage(
        self,
        ext: str,
        kind: str,
        span: AbstractContextManager[Any],
        render: Callable[[Path, Progress, Cancelled], T],
        prefix: str = "",
        heartbeat_every_s: float | None = None,
    ) -> tuple[T, StoredObject]:
        """Run a blocking renderer into a fresh temp file under the work dir (heartbeating and
        cancellable, inside `span`), then put the file in storage; the temp file never outlives
        the call."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._require_disk()
        fd, name = tempfile.mkstemp(dir=self.work_dir, prefix=prefix, suffix=ext)
        os.close(fd)
        path = Path(name)
        try:
            with span:
                made = await run_blocking(
                    lambda progress, cancelled: render(path, progress, cancelled),
                    **({"heartbeat_every_s": heartbeat_every_s} if heartbeat_every_s else {}),
                )
            stored = await asyncio.to_thread(self.storage.put_file, path, kind=kind, ext=ext)
        finally:
            path.unlink(missing_ok=True)
        return made, stored

    async def _write(self, stored: list[StoredObject], fn: Any, *args: Any) -> Any:
        """Write the result in one transaction; files that ended up in no asset row (the write
        failed, or an earlier attempt's result was kept) are deleted from storage."""
        try:
            result = await asyncio.to_thread(fn, *args)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._discard_orphans, stored)
            raise
        await asyncio.to_thread(self._discard_orphans, stored)
        return result

    # --- task mirroring -------------------------------------------------------------------

    @activity.defn(name="start_task")
    @coded
    async def start_task(self, task: TaskRef) -> None:
        """Mirror an orchestrating workflow (one with no activity of its own) as a running task."""
        await self._begin(task, {})

    @activity.defn(name="record_task")
    @coded
    async def record_task(self, outcome: TaskOutcome) -> None:
        await asyncio.to_thread(self._record_task, outcome)

    def _record_task(self, outcome: TaskOutcome) -> None:
        task = outcome.task
        with unit_of_work(self.database_url) as session:
            before = task_repo.get_by_workflow_id(session, task.workflow_id)
            if before is not None and before.status.is_terminal:
                return  # first final report wins: a repeated one (a shot's backstop) changes nothing
            row = task_repo.record_outcome(
                session,
                workspace_id=_uuid(task.workspace_id),
                workflow_id=task.workflow_id,
                type=TaskType(task.task_type),
                work_item_id=_uuid(task.work_item_id) if task.work_item_id else None,
                status=TaskStatus(outcome.status),
                error={"code": outcome.error_code, "message": outcome.error_message}
                if outcome.error_code
                else None,
                result=outcome.result or None,
                run_id=activity.info().workflow_run_id,  # the run reporting: its late starts stay closed
            )
            event_repo.append(
                session,
                row.workspace_id,
                f"task.{outcome.status}",
                {
                    "task_id": str(row.id),
                    "workflow_id": task.workflow_id,
                    "type": task.task_type,
                    "error": row.error,
                },
            )

    # --- storyboard -----------------------------------------------------------------------

    @activity.defn(name="storyboard")
    @coded
    async def storyboard(self, inp: StoryboardInput) -> StoryboardResult:
        await self._begin(inp.task, {"shot_count": inp.shot_count, "style": inp.style})
        provider = self.providers.storyboard
        kind = "llm" if provider.name.startswith("gemini") else "provider"
        # a provider that reports token usage returns it with the board (no shared "last usage")
        with_usage = getattr(provider, "generate_with_usage", None)
        with provider_span("storyboard.generate", kind=kind, provider=provider.name, shots=inp.shot_count):
            if with_usage is not None:
                board, usage = await run_blocking(
                    lambda _p, _c: with_usage(inp.story, inp.shot_count, inp.style)
                )
            else:
                board = await run_blocking(
                    lambda _p, _c: provider.generate(inp.story, inp.shot_count, inp.style)
                )
                usage = None
        return await asyncio.to_thread(self._write_storyboard, inp, board, provider.name, usage)

    def _write_storyboard(
        self, inp: StoryboardInput, board: Any, provider: str, usage: dict[str, Any] | None = None
    ) -> StoryboardResult:
        data = board.model_dump(mode="json")
        with unit_of_work(self.database_url) as session:
            shots = storyboard_repo.replace_storyboard(
                session, _uuid(inp.task.workspace_id), data, replace=inp.replace
            )
            result = StoryboardResult(
                title=board.title,
                shot_ids=[str(s.id) for s in shots],
                provider=provider,
                total_duration_s=round(sum(float(s.duration_s or 0) for s in shots), 3),
            )
            summary: dict[str, Any] = {"title": result.title, "shots": len(shots), "provider": provider}
            if usage:
                summary["usage"] = usage
            self._finish_task(session, inp.task, summary, usages=[usage])
        return result

    # --- grid -----------------------------------------------------------------------------

    @activity.defn(name="render_grid")
    @coded
    async def render_grid(self, inp: GridInput) -> GridResult:
        from activities.providers.cards import GridRequest
        from schema.storyboard import Camera

        await self._begin(inp.task, {"size": inp.size, "track": inp.track})
        existing = await asyncio.to_thread(self._existing_grid, inp)
        if existing is not None:
            return existing
        self._require_disk()
        shot = await asyncio.to_thread(self._shot, inp.work_item_id)
        parent_png = None
        if inp.parent_node_id:
            parent_png = (await asyncio.to_thread(self._asset_path, inp.parent_node_id))[0].read_bytes()
        ref_pngs = [
            (await asyncio.to_thread(self._asset_path, r))[0].read_bytes() for r in inp.reference_node_ids
        ]
        seed = (
            inp.seed
            if inp.seed is not None
            else int(hashlib.sha256(inp.group_node_id.encode()).hexdigest()[:8], 16)
        )
        camera = Camera.model_validate(shot.spec.get("camera") or {})
        request = GridRequest(
            shot_number=shot.idx,
            visual=with_modifier(shot.spec.get("visual", ""), inp.prompt),
            camera=camera,
            size=inp.size,
            seed=seed,
            style=shot.workspace_style,
            parent_png=parent_png,
            reference_pngs=ref_pngs,
        )
        images, stored = await self.grid_images(request)
        made = await asyncio.to_thread(make_all_thumbnails, self.storage, stored)
        written = stored + [obj for _, objs in made for obj in objs]
        return await self._write(
            written,
            self._write_grid,
            inp,
            request,
            images,
            stored,
            self.providers.images.name,
            [t for t, _ in made],
        )

    async def grid_images(self, request: Any) -> tuple[list[Any], list[StoredObject]]:
        """The GPU part of `render_grid`: the provider call (heartbeating twice a second, cancelled
        at the next denoising step), then the PNGs into storage. No ledger access."""
        provider = self.providers.images
        with provider_span("images.render_grid", provider=provider.name, cells=request.size):
            images = await run_blocking(
                lambda progress, cancelled: provider.render_grid(request, progress, cancelled),
                heartbeat_every_s=GPU_HEARTBEAT_EVERY_S,
            )
        stored = await asyncio.to_thread(
            lambda: [self.storage.put_bytes(img.png, kind="image", ext=".png") for img in images]
        )
        return images, stored

    def _existing_grid(self, inp: GridInput) -> GridResult | None:
        with unit_of_work(self.database_url) as session:
            group = node_repo.get(session, _uuid(inp.group_node_id))
            if group is None:
                return None
            children = node_repo.children(session, group.id)
            shot = work_item_repo.get(session, _uuid(inp.work_item_id))
            return GridResult(
                group_node_id=str(group.id),
                image_node_ids=[str(c.id) for c in children],
                selected_node_id=str(shot.selected_node_id) if shot.selected_node_id else None,
                provider=str((group.result or {}).get("provider", "")),
            )

    def _write_grid(
        self,
        inp: GridInput,
        request: Any,
        images: list[Any],
        stored: list[StoredObject],
        provider: str,
        thumbnails: list[dict[str, Any]] | None = None,
    ) -> GridResult:
        wf = inp.task.workflow_id
        with unit_of_work(self.database_url) as session:
            task = task_repo.get_by_workflow_id(session, wf)
            track = track_repo.get_or_create(session, _uuid(inp.work_item_id), inp.track)
            cells = []
            for n, (img, obj) in enumerate(zip(images, stored, strict=True)):
                asset = stored_asset(
                    session,
                    inp.task.workspace_id,
                    obj,
                    AssetKind.image,
                    "image/png",
                    for_node=f"{wf}/grid/{img.cell}",
                    width=img.width,
                    height=img.height,
                    thumbnails=thumbnails[n] if thumbnails else None,
                )
                cells.append(
                    {
                        "cell": img.cell,
                        "asset_id": asset.id,
                        "payload": {"seed": img.seed, "cell": img.cell, **img.params},
                        "result": {
                            "provider": provider,
                            "width": img.width,
                            "height": img.height,
                            "cache": img.params.get("cache"),
                        },
                        "idempotency_key": f"{wf}/grid/{img.cell}",
                    }
                )
            group, children = node_repo.create_grid(
                session,
                group_id=_uuid(inp.group_node_id),
                workspace_id=_uuid(inp.task.workspace_id),
                work_item_id=_uuid(inp.work_item_id),
                track_id=track.id,
                parent_id=_uuid(inp.parent_node_id) if inp.parent_node_id else None,
                payload={
                    "provider": provider,
                    "size": inp.size,
                    "seed": request.seed,
                    "prompt": request.visual,
                    "camera": request.camera.model_dump(),
                    "style": request.style,
                    "parent_node_id": inp.parent_node_id,
                    "reference_node_ids": inp.reference_node_ids,
                },
                result={"provider": provider, "cells": len(cells)},
                cells=cells,
                idempotency_key=f"{wf}/grid",
                task_id=task.id if task else None,
                trace_id=current_trace_id(),
            )
            for ref in inp.reference_node_ids:
                node_repo.add_reference(session, group.id, _uuid(ref), "image")
            selected = None
            if inp.select_cell:
                chosen = next((c for c in children if c.cell == inp.select_cell), children[0])
                node_repo.select_node(session, _uuid(inp.work_item_id), chosen.id)
                selected = str(chosen.id)
            result = GridResult(
                group_node_id=str(group.id),
                image_node_ids=[str(c.id) for c in children],
                selected_node_id=selected,
                provider=provider,
            )
            compute = _compute_seconds(img.params for img in images)
            gpu_seconds = compute["gpu_seconds"]
            cache = images[0].params.get("cache") if images else None
            summary = {
                "group_node_id": result.group_node_id,
                "cells": len(children),
                "selected_node_id": selected,
                "cache": cache,
            }
            if any(compute.values()):
                summary["compute"] = compute
            self._finish_task(
                session,
                inp.task,
                summary,
                gpu_seconds=gpu_seconds or None,
                # a cache hit made no call: its stored usage is not spent again
                usages=[img.params.get("usage") for img in images if img.params.get("cache") != "hit"],
            )
            return result

    # --- voice ----------------------------------------------------------------------------

    @activity.defn(name="synthesize_voice")
    @coded
    async def synthesize_voice(self, inp: VoiceInput) -> VoiceResult:
        await self._begin(inp.task, {"voice": inp.voice})
        shot = await asyncio.to_thread(self._shot, inp.work_item_id)
        text = (inp.text or shot.spec.get("narration") or "").strip()
        if not text:
            raise BadInputError(f"shot {shot.idx} has no narration to speak", code="narration_empty")
        language = language_of(text)
        voice = self.providers.voice
        duration, stored = await self._render_to_storage(
            ".wav",
            "audio",
            provider_span("voice.synthesize", kind="tts", provider=voice.name, language=language),
            lambda wav, _p, _c: voice.synthesize(text, wav, language),
        )
        return await self._write(
            [stored], self._write_voice, inp, shot, text, language, float(duration), stored
        )

    def _write_voice(
        self,
        inp: VoiceInput,
        shot: _ShotView,
        text: str,
        language: str,
        duration: float,
        stored: StoredObject,
    ) -> VoiceResult:
        wf = inp.task.workflow_id
        with unit_of_work(self.database_url) as session:
            task = task_repo.get_by_workflow_id(session, wf)
            asset = stored_asset(
                session,
                inp.task.workspace_id,
                stored,
                AssetKind.audio,
                "audio/wav",
                for_node=f"{wf}/voice",
                duration_s=duration,
            )
            node = node_repo.create_node(
                session,
                workspace_id=_uuid(inp.task.workspace_id),
                work_item_id=_uuid(inp.work_item_id),
                type=NodeType.audio_voice,
                payload={"text": text, "language": language, "provider": self.providers.voice.name},
                result={"duration_s": duration},
                asset_id=asset.id,
                idempotency_key=f"{wf}/voice",
                task_id=task.id if task else None,
                trace_id=current_trace_id(),
            )
            new_duration = min(MAX_SHOT_S, max(shot.duration_s, round(duration + VOICE_TAIL_S, 2)))
            if new_duration != shot.duration_s:
                work_item_repo.set_duration(session, _uuid(inp.work_item_id), new_duration)
            result = VoiceResult(node_id=str(node.id), duration_s=duration, shot_duration_s=new_duration)
            self._finish_task(
                session,
                inp.task,
                {"node_id": result.node_id, "duration_s": duration, "shot_duration_s": new_duration},
            )
            return result

    # --- video ----------------------------------------------------------------------------

    @activity.defn(name="render_video")
    @coded
    async def render_video(self, inp: VideoInput) -> VideoResult:
        """Animate the source image. A storyboard card's clip carries the card's banner fixed and
        whole on every frame (a `FixedOverlay` composited after the move); other sources get none."""
        from activities.media.kenburns import FixedOverlay
        from activities.providers.cards import card_banner

        await self._begin(inp.task, {"source_node_id": inp.source_node_id})
        shot = await asyncio.to_thread(self._shot, inp.work_item_id)
        source_id = inp.source_node_id or shot.selected_node_id
        if not source_id:
            raise BadInputError(f"shot {shot.idx} has no selected image to animate", code="no_selected_node")
        image_path, source = await asyncio.to_thread(self._asset_path, source_id)
        duration = float(inp.duration_s or shot.duration_s)
        movement = (shot.spec.get("camera") or {}).get("movement", "push_in")
        banner = card_banner(source.payload, VIDEO_WIDTH, VIDEO_HEIGHT)
        overlay = FixedOverlay(banner, label="storyboard_banner") if banner is not None else None
        # only a card source passes `overlay`, so a video callable without that keyword still serves
        # every other source
        extra: dict[str, Any] = {"overlay": overlay} if overlay is not None else {}
        pan_zoom = inp.provider == PAN_ZOOM
        info, stored = await self.video_clip(
            image_path, duration, inp.fps, movement, extra, pan_zoom=pan_zoom
        )
        described = overlay.describe() if overlay is not None else None
        thumbs, thumb_objs = await asyncio.to_thread(
            make_thumbnails, self.storage, stored, video=True, duration_s=info.duration_s
        )
        return await self._write(
            [stored, *thumb_objs], self._write_video, inp, source, info, stored, movement, described, thumbs
        )

    async def video_clip(
        self,
        image_path: Path,
        duration: float,
        fps: int,
        movement: str,
        extra: dict[str, Any],
        *,
        pan_zoom: bool = False,
    ) -> tuple[Any, StoredObject]:
        """The provider part of `render_video`: the clip (a GPU provider heartbeats twice a second
        and is cancelled at the next denoising step or decode chunk), then the file into storage.
        `pan_zoom` asks for the Ken Burns move whatever this pool's provider is. No ledger access."""
        from activities.media.kenburns import kenburns_clip

        gpu = None if pan_zoom else self.providers.video
        clip = gpu or kenburns_clip
        name = self.providers.video_name if gpu is not None else "kenburns"
        return await self._render_to_storage(
            ".mp4",
            "video",
            provider_span("video.render", kind="media", provider=name, fps=fps),
            lambda out, progress, cancelled: clip(
                image_path,
                out,
                duration_s=duration,
                fps=fps,
                width=VIDEO_WIDTH,
                height=VIDEO_HEIGHT,
                movement=movement,
                on_progress=progress,
                cancelled=cancelled,
                **extra,
            ),
            heartbeat_every_s=GPU_HEARTBEAT_EVERY_S if gpu is not None else None,
        )

    def _write_video(
        self,
        inp: VideoInput,
        source: Any,
        info: Any,
        stored: StoredObject,
        movement: str,
        overlay: dict[str, Any] | None = None,
        thumbnails: dict[str, Any] | None = None,
    ) -> VideoResult:
        wf = inp.task.workflow_id
        provider = "kenburns" if inp.provider == PAN_ZOOM else self.providers.video_name
        with unit_of_work(self.database_url) as session:
            task = task_repo.get_by_workflow_id(session, wf)
            asset = stored_asset(
                session,
                inp.task.workspace_id,
                stored,
                AssetKind.video,
                "video/mp4",
                for_node=f"{wf}/video",
                width=info.width,
                height=info.height,
                duration_s=info.duration_s,
                thumbnails=thumbnails,
            )
            node = node_repo.create_node(
                session,
                workspace_id=_uuid(inp.task.workspace_id),
                work_item_id=_uuid(inp.work_item_id),
                track_id=source.track_id,
                parent_id=source.id,
                type=NodeType.video,
                payload={
                    "provider": provider,
                    "movement": movement,
                    "fps": inp.fps,
                    "source_node_id": str(source.id),
                    "duration_s": inp.duration_s,
                    "generation": getattr(info, "params", None),
                    "overlay": overlay,  # the card banner laid over every frame, or None
                },
                result={"duration_s": info.duration_s, "width": info.width, "height": info.height},
                asset_id=asset.id,
                idempotency_key=f"{wf}/video",
                task_id=task.id if task else None,
                trace_id=current_trace_id(),
            )
            result = VideoResult(node_id=str(node.id), duration_s=float(info.duration_s), provider=provider)
            compute = _compute_seconds([getattr(info, "params", None) or {}])
            summary: dict[str, Any] = {"node_id": result.node_id, "duration_s": result.duration_s}
            if any(compute.values()):
                summary["compute"] = compute
            self._finish_task(
                session,
                inp.task,
                summary,
                gpu_seconds=compute["gpu_seconds"] or None,
            )
            return result

    # --- music ----------------------------------------------------------------------------

    @activity.defn(name="generate_music")
    @coded
    async def generate_music(self, inp: MusicInput) -> MusicResult:
        await self._begin(inp.task, {"mood": inp.mood, "duration_s": inp.duration_s, "seed": inp.seed})
        hints, duration = await asyncio.to_thread(self._music_context, inp)
        seed = (
            inp.seed
            if inp.seed is not None
            else int(hashlib.sha256(inp.task.workflow_id.encode()).hexdigest()[:8], 16)
        )
        provider = self.music
        info, stored = await self._render_to_storage(
            ".wav",
            "audio",
            provider_span("music.generate", kind="media", provider=provider.name, mood=inp.mood),
            lambda wav, progress, cancelled: provider.generate(
                inp.mood, duration, wav, seed=seed, hints=hints, on_progress=progress, cancelled=cancelled
            ),
        )
        return await self._write([stored], self._write_music, inp, info, stored, provider.name)

    def _music_context(self, inp: MusicInput) -> tuple[list[str], float]:
        """(mood hints, duration): the duration asked for, else the workspace's length."""
        workspace_id = _uuid(inp.task.workspace_id)
        with unit_of_work(self.database_url) as session:
            hints = music_hints(session, workspace_id)  # used only when the mood is "auto"
            if inp.duration_s is not None:
                return hints, float(inp.duration_s)
            return hints, music_duration_s(session, workspace_id)

    def _write_music(self, inp: MusicInput, info: Any, stored: StoredObject, provider: str) -> MusicResult:
        wf = inp.task.workflow_id
        plan = info.plan
        with unit_of_work(self.database_url) as session:
            task = task_repo.get_by_workflow_id(session, wf)
            asset = stored_asset(
                session,
                inp.task.workspace_id,
                stored,
                AssetKind.audio,
                "audio/wav",
                for_node=f"{wf}/music",
                duration_s=plan.duration_s,
            )
            # a workspace-level node, like compose: background music belongs to the whole cut
            node = node_repo.create_node(
                session,
                workspace_id=_uuid(inp.task.workspace_id),
                work_item_id=None,
                type=NodeType.audio_music,
                payload={"provider": provider, "duration_requested_s": inp.duration_s, **plan.to_payload()},
                result={
                    "duration_s": plan.duration_s,
                    "sample_rate": plan.sample_rate,
                    "channels": plan.channels,
                    "rms_dbfs": info.rms_dbfs,
                    "peak_dbfs": info.peak_dbfs,
                },
                asset_id=asset.id,
                idempotency_key=f"{wf}/music",
                task_id=task.id if task else None,
                trace_id=current_trace_id(),
            )
            result = MusicResult(
                node_id=str(node.id),
                asset_key=stored.key,
                mood=plan.mood,
                duration_s=plan.duration_s,
                key=plan.key,
                tempo_bpm=plan.tempo_bpm,
                fallback=plan.fallback,
            )
            self._finish_task(
                session,
                inp.task,
                {
                    "node_id": result.node_id,
                    "mood": plan.mood,
                    "key": plan.key,
                    "tempo_bpm": plan.tempo_bpm,
                    "duration_s": plan.duration_s,
                    "fallback": plan.fallback,
                },
            )
            return result

    # --- compose --------------------------------------------------------------------------

    @activity.defn(name="compose")
    @coded
    async def compose(self, inp: ComposeInput) -> ComposeResult:
        from activities.media.compose import ComposeJob, ComposeShot
        from activities.media.compose import compose as run_compose

        started: dict[str, Any] = {"mode": inp.mode, "subtitles": inp.subtitles}
        if inp.music_node_id:
            started["music_node_id"] = inp.music_node_id
        await self._begin(inp.task, started)
        plan = await asyncio.to_thread(self._compose_plan, inp)
        music_path = await asyncio.to_thread(self._music_path, inp) if inp.music_node_id else None
        shots = []
        for item in plan:
            video_path = self.storage.local_path(item["video_key"])
            audio_path = self.storage.local_path(item["audio_key"]) if item["audio_key"] else None
            shots.append(
                ComposeShot(
                    video_path=video_path,
                    audio_path=audio_path,
                    narration=item["narration"],
                    duration_s=item["duration_s"],
                )
            )
        job_kwargs: dict[str, Any] = {
            "shots": shots,
            "mode": inp.mode,
            "crossfade_s": inp.crossfade_s,
            "subtitles": inp.subtitles,
        }
        if inp.width and inp.height:
            job_kwargs.update(width=inp.width, height=inp.height)
        if music_path is not None:
            job_kwargs["music_path"] = music_path
        job = ComposeJob(**job_kwargs)
        cache_dir = self.work_dir / "compose-cache"
        composed, stored = await self._render_to_storage(
            ".mp4",
            "video",
            provider_span("compose.ffmpeg", kind="media", mode=inp.mode, shots=len(shots)),
            lambda out, progress, cancelled: run_compose(
                job, out, cache_dir=cache_dir, on_progress=progress, cancelled=cancelled
            ),
        )
        thumbs, thumb_objs = await asyncio.to_thread(
            make_thumbnails, self.storage, stored, video=True, duration_s=composed.duration_s
        )
        return await self._write(
            [stored, *thumb_objs], self._write_compose, inp, plan, composed, stored, thumbs
        )

    def _compose_plan(self, inp: ComposeInput) -> list[dict[str, Any]]:
        with unit_of_work(self.database_url) as session:
            plan = node_repo.compose_inputs(session, _uuid(inp.task.workspace_id))
        if not plan:
            raise BadInputError("no shot has a video to compose yet", code="nothing_to_compose")
        return plan

    def _music_path(self, inp: ComposeInput) -> Path:
        """The stored file of the background-music node compose was given (checked: it is an
        ok audio_music node of this workspace)."""
        assert inp.music_node_id
        try:
            path, node = self._asset_path(inp.music_node_id)
        except DomainError as err:  # no such node
            raise BadInputError(
                f"music node {inp.music_node_id} does not exist", code="music_not_found"
            ) from err
        if node.type != NodeType.audio_music or str(node.workspace_id) != str(inp.task.workspace_id):
            raise BadInputError(
                f"node {inp.music_node_id} is not background music of this workspace", code="music_not_found"
            )
        return path

    def _write_compose(
        self,
        inp: ComposeInput,
        plan: list[dict[str, Any]],
        composed: Any,
        stored: StoredObject,
        thumbnails: dict[str, Any] | None = None,
    ) -> ComposeResult:
        wf = inp.task.workflow_id
        payload: dict[str, Any] = {
            "mode": inp.mode,
            "subtitles": inp.subtitles,
            "crossfade_s": inp.crossfade_s,
            "shots": [
                {
                    "work_item_id": p["work_item_id"],
                    "video_node_id": p["video_node_id"],
                    "voice_node_id": p["voice_node_id"],
                }
                for p in plan
            ],
        }
        if inp.music_node_id:
            payload["music_node_id"] = inp.music_node_id
        with unit_of_work(self.database_url) as session:
            # never drop a shot silently: the cut names every shot it had to leave out, and why
            left_out = stage_repo.missing_from_compose(session, _uuid(inp.task.workspace_id), plan)
            if left_out:
                payload["missing_shots"] = left_out
            task = task_repo.get_by_workflow_id(session, wf)
            asset = stored_asset(
                session,
                inp.task.workspace_id,
                stored,
                AssetKind.video,
                "video/mp4",
                for_node=f"{wf}/compose",
                width=composed.width,
                height=composed.height,
                duration_s=composed.duration_s,
                thumbnails=thumbnails,
            )
            node = node_repo.create_node(
                session,
                workspace_id=_uuid(inp.task.workspace_id),
                work_item_id=None,
                type=NodeType.compose,
                payload=payload,
                result={
                    "duration_s": composed.duration_s,
                    "width": composed.width,
                    "height": composed.height,
                    "reencoded_shots": composed.reencoded_shots,
                    "cached_shots": composed.cached_shots,
                    "subtitle_events": composed.subtitle_events,
                },
                asset_id=asset.id,
                idempotency_key=f"{wf}/compose",
                task_id=task.id if task else None,
                trace_id=current_trace_id(),
            )
            if inp.music_node_id:  # the cut used that music: a reference edge, not lineage
                node_repo.add_reference(session, node.id, _uuid(inp.music_node_id), RefRole.audio)
            result = ComposeResult(
                node_id=str(node.id),
                asset_key=stored.key,
                duration_s=float(composed.duration_s),
                shots=len(plan),
                reencoded_shots=list(composed.reencoded_shots),
                cached_shots=list(composed.cached_shots),
                music_node_id=inp.music_node_id,
                left_out=left_out,
            )
            self._finish_task(
                session,
                inp.task,
                {
                    "node_id": result.node_id,
                    "asset_key": stored.key,
                    "duration_s": result.duration_s,
                    "shots": result.shots,
                    **({"music_node_id": inp.music_node_id} if inp.music_node_id else {}),
                    **({"missing_shots": left_out} if left_out else {}),
                },
            )
            return result
