"""`directordeck demo "<story>"`: run project_pipeline for a new workspace and hand back an MP4.

Rules: uses the configured services, else a running `up` for the data directory, else starts the
embedded stack itself and stops what it started; progress goes to stderr, the result (a path, or
one JSON object with --json) to stdout; a failure prints its stable code and exits non-zero. The
finished cut has background music (offline synthesis in a mood from the story, ducked under the
narration): the pipeline is asked for it (`compose_music`) and its compose makes the track; if
the music fails, the cut keeps the narration only and the demo says why. Attached to a stack, an
outage (PostgreSQL or Temporal restarting under `up`) is waited out — one line says so, one line
says it is back — and following the workflow resumes; after STACK_WAIT_S it ends with one line
(`stack_unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from activities.contracts import ComposeResult
from infra.errors import StackError
from infra.queues import Queues
from infra.search_attributes import start_options
from infra.search_attributes import ui_url as ui_link
from infra.settings import Settings
from infra.stack import EmbeddedServices, read_running_stack
from infra.temporal_client import connect
from schema.errors import BadInputError
from workflows.contracts import PipelineInput, PipelineProgress, PipelineResult
from workflows.project_pipeline import ProjectPipelineWorkflow, pipeline_workflow_id

DEMO_OWNER = "demo"
T = TypeVar("T")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _services(settings: Settings) -> Iterator[tuple[str, str, str | None, bool]]:
    """(database_url, temporal_address, ui_url, run_workers_here)."""
    running = read_running_stack(settings)
    if settings.database_url and settings.temporal_address:
        yield settings.database_url, settings.temporal_address, None, True
    elif running is not None and not settings.database_url and not settings.temporal_address:
        _say(f"using the running stack (pid {running.pid}) for {settings.data_path}")
        yield running.database_url, running.temporal_address, running.temporal_ui_url, False
    else:
        _say("starting the embedded stack for this demo (PostgreSQL, Temporal dev server)…")
        services = EmbeddedServices(settings, api=False, ui=True)
        with services.running() as endpoints:
            yield endpoints.database_url, endpoints.temporal_address, endpoints.temporal_ui_url, True
        _say("stopped the embedded stack")


STACK_WAIT_S = 600.0  # how long an attached demo waits for the stack to come back
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RPCError, OSError, DBAPIError)


class _Outage:
    """Says once that the stack is gone, once that it is back, and gives up after STACK_WAIT_S."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None

    def hit(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            _say(f"the stack is unreachable ({first}); waiting for it to come back to {self.what}…")
        elif now - self.since > STACK_WAIT_S:
            raise StackError(
                f"the stack did not come back within {STACK_WAIT_S:.0f}s (trying to {self.what})",
                fix="check `directordeck up` (its log says what died); the workflow keeps its state",
                code="stack_unavailable",
            ) from exc

    def cleared(self) -> None:
        if self.since is not None:
            _say(f"the stack is back after {time.monotonic() - self.since:.0f}s; resuming")
            self.since = None


async def _across_outages(what: str, fn: Callable[[], T]) -> T:
    """Run blocking ledger work `fn`, waiting out a database outage (`up` restarts PostgreSQL)."""
    outage = _Outage(what)
    while True:
        try:
            value = await asyncio.to_thread(fn)
        except _OUTAGE_ERRORS as exc:
            outage.hit(exc)
            await asyncio.sleep(1.0)
            continue
        outage.cleared()
        return value


async def _follow(handle: WorkflowHandle, started: float) -> PipelineResult:
    """The pipeline's result, printing its progress; a Temporal outage (the server restarting) is
    waited out and following resumes where it was (the workflow itself never stopped)."""
    outage = _Outage(f"follow workflow {handle.id}")
    last = ""
    while True:
        result_task = asyncio.create_task(handle.result())
        while not result_task.done():
            await asyncio.wait({result_task}, timeout=1.0)
            with contextlib.suppress(Exception):
                line = _progress_line(await handle.query(ProjectPipelineWorkflow.progress))
                if line != last:
                    _say(f"{time.monotonic() - started:6.1f}s {line}")
                    last = line
        try:
            result: PipelineResult = result_task.result()
        except WorkflowFailureError:
            raise
        except _OUTAGE_ERRORS as exc:
            outage.hit(exc)
            await asyncio.sleep(1.0)
            continue
        outage.cleared()
        return result


def _progress_line(p: PipelineProgress) -> str:
    if p.stage == "shots":
        running = sum(1 for s in p.shots if s.status == "running")
        return (
            f"[shots] {p.shots_done}/{p.shots_total} done, {running} running, "
            f"{p.shots_failed} failed, {p.shots_canceled} canceled"
        )
    return f"[{p.stage}]"


def _export_name(title: str, workspace_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48] or "directordeck"
    return f"{slug}-{workspace_id[:8]}.mp4"


async def _run(
    settings: Settings, story: str, shots: int, database_url: str, temporal: str, run_workers: bool
) -> tuple[dict, int]:
    from activities.pipeline import PipelineActivities
    from infra.ledger import unit_of_work
    from infra.queues import POOLS
    from schema.repositories import tasks as task_repo
    from schema.repositories import workspaces as workspace_repo
    from workers.pools import run_pools

    client = await connect(settings, temporal)

    def create_workspace() -> str:
        with unit_of_work(database_url) as session:
            workspace = workspace_repo.create(
                session,
                owner_id=DEMO_OWNER,
                type="narrative_project",
                title=story[:80],
                meta={"source": "demo"},
            )
            return str(workspace.id)

    workspace_id = await _across_outages("create the workspace", create_workspace)
    workflow_id = pipeline_workflow_id(workspace_id)
    acts = PipelineActivities.from_settings(settings, database_url)
    chosen = acts.providers
    _say(
        f"providers: storyboard={chosen.storyboard.name}, images={chosen.images.name}, "
        f"video={chosen.video_name}, voice={chosen.voice.name}"
    )
    for note in chosen.notes:
        _say(f"providers: {note}")
    stop = asyncio.Event()
    workers = asyncio.create_task(run_pools(client, POOLS, acts, settings, stop)) if run_workers else None
    started = time.monotonic()
    outcome: dict = {"workspace_id": workspace_id, "workflow_id": workflow_id}
    code = 0
    try:
        handle = await client.start_workflow(
            ProjectPipelineWorkflow.run,
            PipelineInput(
                workspace_id=workspace_id,
                story=story,
                shot_count=shots,
                shot_concurrency=settings.shot_concurrency,
                queues=Queues.prefixed(settings.task_queue_prefix),
                compose_music=True,
            ),
            id=workflow_id,
            task_queue=Queues.prefixed(settings.task_queue_prefix).cpu,
            **start_options(
                settings.temporal_search_attributes,
                workspace_id,
                "pipeline",
                user_id=DEMO_OWNER,
                title=story[:80],
            ),
        )
        _say(f"workflow {workflow_id} started")
        try:
            result: PipelineResult = await _follow(handle, started)
        except WorkflowFailureError as err:
            from workflows.common import failure_code

            error_code, message = failure_code(err.cause) if err.cause else ("pipeline_failed", str(err))
            outcome["error"] = {"code": error_code, "message": message}
            code = 1
        else:
            assert result.compose is not None
            composed = result.compose
            await _across_outages(
                "read the music", lambda: _report_music(database_url, workspace_id, composed, outcome)
            )
            path = acts.storage.local_path(composed.asset_key)
            export = settings.data_path / "exports" / _export_name(result.title, workspace_id)
            export.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, export)
            outcome.update(
                video_path=str(export),
                shots=len(result.shots),
                duration_s=round(composed.duration_s, 3),
                title=result.title,
                status=result.status,
            )
    finally:
        stop.set()
        if workers is not None:
            await workers

    def count() -> dict[str, int]:
        with unit_of_work(database_url) as session:
            return task_repo.count_by_status(session, workspace_id)

    counts = await _across_outages("read the task counts", count)
    outcome["tasks"] = {s: counts.get(s, 0) for s in ("succeeded", "failed", "canceled")}
    outcome["wall_s"] = round(time.monotonic() - started, 2)
    return outcome, code


def _report_music(database_url: str, workspace_id: str, cut: ComposeResult, outcome: dict) -> None:
    """Say which background music the cut has, or why it has none (the failed music task)."""
    from infra.ledger import unit_of_work
    from schema.enums import TaskType
    from schema.repositories import nodes as node_repo
    from schema.repositories import tasks as task_repo

    with unit_of_work(database_url) as session:
        if cut.music_node_id is None:
            failed = task_repo.list_tasks(session, uuid.UUID(workspace_id), type=TaskType.music, limit=1)
            error = (failed[0].error or {}) if failed else {}
            code = str(error.get("code") or "music_missing")
            message = str(error.get("message") or "the workers ignored compose_music (restart `up`)")
            outcome["music_error"] = {"code": code, "message": message}
            _say(f"background music skipped: {message} (code {code}); the cut has narration only")
            return
        music = node_repo.get(session, uuid.UUID(cut.music_node_id))
        plan = dict(music.payload or {}) if music is not None else {}
    outcome["music"] = {
        "node_id": cut.music_node_id,
        **{k: plan.get(k) for k in ("mood", "key", "tempo_bpm", "duration_s")},
    }
    _say(
        f"background music: {plan.get('mood', 'background')} ({plan.get('key')}, "
        f"{plan.get('tempo_bpm')} bpm), ducked under the narration"
    )


async def _run_traced(
    settings: Settings, story: str, shots: int, database_url: str, temporal: str, run_workers: bool
) -> tuple[dict, int]:
    """One trace for the whole demo: the start, progress queries, every workflow and activity."""
    from infra.telemetry import current_trace_id, tracer

    with tracer().start_as_current_span("demo", attributes={"directordeck.shots": shots}):
        trace_id = current_trace_id()
        if trace_id:
            _say(f"trace {trace_id}")
        outcome, code = await _run(settings, story, shots, database_url, temporal, run_workers)
    outcome["trace_id"] = trace_id
    return outcome, code


def studio_url(settings: Settings, workspace_id: str) -> str:
    """The demo project in the web studio (signed in as the demo's owner on a dev stack)."""
    base = (settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    return f"{base}/?user={DEMO_OWNER}#/p/{workspace_id}"


def run_demo(settings: Settings, story: str, *, shots: int, as_json: bool) -> int:
    from schema.storyboard import validate_story_request

    try:
        story = validate_story_request(story, shots)
    except BadInputError as err:
        _say(f"error: {err.message} (code {err.code})")
        return 2
    with _stdout_kept_for_the_result() as result_out:
        with _services(settings) as (database_url, temporal, ui_url, run_workers):
            outcome, code = asyncio.run(
                _run_traced(settings, story, shots, database_url, temporal, run_workers)
            )
            if ui_url:
                namespace = settings.temporal_namespace
                outcome["temporal_ui"] = f"{ui_url}/namespaces/{namespace}/workflows/{outcome['workflow_id']}"
                outcome["temporal_ui_workspace"] = ui_link(ui_url, namespace, outcome["workspace_id"])
        outcome["studio_url"] = studio_url(settings, outcome["workspace_id"])
        if as_json:
            print(json.dumps(outcome), file=result_out, flush=True)
            return code
        if code == 0:
            print(outcome["video_path"], file=result_out, flush=True)
    if code == 0:
        _say(f"done in {outcome['wall_s']}s: {outcome['shots']} shots, {outcome['duration_s']}s of video")
        _say(f"tasks: {outcome['tasks']}")
        if outcome.get("temporal_ui"):
            _say(f"Temporal UI: {outcome['temporal_ui']} (live while a stack runs: `directordeck up`)")
            _say(f"every workflow of this workspace: {outcome['temporal_ui_workspace']}")
        _say(f"Studio: {outcome['studio_url']} (with `directordeck up` running)")
    else:
        _say(f"error: {outcome['error']['message']} (code {outcome['error']['code']})")
    return code


@contextlib.contextmanager
def _stdout_kept_for_the_result() -> Iterator[Any]:
    """While the demo runs, file descriptor 1 points at stderr (the Temporal SDK core writes its
    warnings, e.g. during an outage, straight to fd 1); the result goes to the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with os.fdopen(os.dup(saved), "w", closefd=True) as result_out:
            yield result_out
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
