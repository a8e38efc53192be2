"""Benchmark figures for the offline generation pipeline, as plain dicts (pytest and `directordeck bench`).

Two measurements, each a function that returns a JSON-ready dict (compose is `bench_compose.py`'s):

- `pipeline_figures`: an N-shot offline `project_pipeline` on real Temporal + PostgreSQL with real
  workers for every pool. Every provider call (storyboard, grid images, voice, Ken Burns video,
  compose), the derived media (thumbnails and clip posters, made when a file is stored), every
  ledger method and every storage write is timed on a shared timeline; the wall time is then
  partitioned instant by instant — provider if any provider call runs, else media, else storage,
  else ledger, else orchestration (Temporal round trips, task dispatch, thread hops). So with
  shot_concurrency=1 the parts add up to the wall time, and
  overhead = storage + ledger + orchestration (the `pipeline_overhead_share_12_shots` figure);
  the media share is reported beside it, not hidden in either.
  (Inside a shot, grid and voice run in parallel, so the plain sum of provider time can exceed
  the provider-busy time; both are reported.)
- `activity_overhead_figures`: a bench-only workflow runs a no-op activity N times one after the
  other, then N at once (fanned out), with the activity on the workflow's own task queue and on
  another one (as in the pipeline); ms per activity over an empty-workflow baseline.

`format_table` and `write_json` render the result. Other load on the
machine skews every figure, so `machine_info` records the load average with the CPU and cores.

Nothing here edits the product code: providers and storage are wrapped on the activities
instance, ledger methods by a subclass, and `kenburns_clip`/`compose` by swapping the module
attribute the activities import at call time, restored afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from activities.pipeline import PipelineActivities

__all__ = [
    "STORY",
    "BenchSizes",
    "NoopChainWorkflow",
    "TimedPipelineActivities",
    "Timeline",
    "activity_overhead_figures",
    "bench_noop",
    "bench_sizes",
    "format_table",
    "machine_info",
    "partition",
    "pipeline_figures",
    "pipeline_rig",
    "quick_mode",
    "write_json",
]

STORY = "a fox steals the moon"


# ------------------------------------------------------------------------------------------------
# sizes
# ------------------------------------------------------------------------------------------------


def quick_mode() -> bool:
    """BENCH_QUICK=1 shrinks every size for a fast check (figures are then rough)."""
    return os.environ.get("BENCH_QUICK", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class BenchSizes:
    shots: int = 12
    concurrencies: tuple[int, ...] = (1, 4)
    warmup_shots: int = 3
    pipeline_repeats: int = 2
    noop_activities: int = 200
    noop_repeats: int = 3
    quick: bool = False


def bench_sizes(quick: bool | None = None) -> BenchSizes:
    if quick if quick is not None else quick_mode():
        return BenchSizes(
            shots=3,
            concurrencies=(1, 4),
            warmup_shots=3,
            pipeline_repeats=1,
            noop_activities=20,
            noop_repeats=1,
            quick=True,
        )
    return BenchSizes()


# ------------------------------------------------------------------------------------------------
# machine
# ------------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    with contextlib.suppress(OSError, AttributeError):
        # other work on the machine skews every figure: a load above the core count means contention
        info["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    with contextlib.suppress(Exception):
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    with contextlib.suppress(Exception):
        import imageio_ffmpeg

        info["ffmpeg"] = imageio_ffmpeg.get_ffmpeg_version()
    for package in ("temporalio", "moviepy"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            info[package] = version(package)
    return info


# ------------------------------------------------------------------------------------------------
# timeline
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    category: str  # provider | media | storage | ledger
    label: str
    start: float
    end: float


class Timeline:
    """Thread-safe list of timed spans (time.perf_counter seconds)."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def span(self, category: str, label: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            end = time.perf_counter()
            with self._lock:
                self._spans.append(Span(category, label, start, end))

    def window(self, start: float, end: float) -> list[Span]:
        with self._lock:
            spans = list(self._spans)
        return [
            Span(s.category, s.label, max(s.start, start), min(s.end, end))
            for s in spans
            if s.end > start and s.start < end
        ]


PRIORITY = ("provider", "media", "storage", "ledger")


def partition(spans: list[Span], start: float, end: float) -> dict[str, float]:
    """Split [start, end] into provider | media | storage | ledger | orchestration, by priority at
    each instant."""
    points = sorted({start, end, *(s.start for s in spans), *(s.end for s in spans)})
    totals = dict.fromkeys((*PRIORITY, "orchestration"), 0.0)
    for a, b in itertools.pairwise(points):
        if b <= a:
            continue
        mid = (a + b) / 2
        active = {s.category for s in spans if s.start <= mid < s.end}
        owner = next((c for c in PRIORITY if c in active), "orchestration")
        totals[owner] += b - a
    return totals


class _Timed:
    """Delegates to `inner`; the named methods run inside a timeline span."""

    def __init__(self, inner: Any, timeline: Timeline, category: str, label: str, methods: set[str]) -> None:
        self._inner = inner
        self._timeline = timeline
        self._category = category
        self._label = label
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in self._methods or not callable(value):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self._timeline.span(self._category, self._label):
                return value(*args, **kwargs)

        return timed


# ledger work of the activities: each of these opens one unit of work on PostgreSQL
LEDGER_METHODS = (
    "_start_task",
    "_shot",
    "_asset_path",
    "_discard_orphans",
    "_record_task",
    "_write_storyboard",
    "_existing_grid",
    "_write_grid",
    "_write_voice",
    "_write_video",
    "_compose_plan",
    "_write_compose",
)


class TimedPipelineActivities(PipelineActivities):
    """PipelineActivities whose providers, storage and ledger methods record into a Timeline."""

    def __init__(self, *args: Any, timeline: Timeline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from activities.providers.choice import Providers

        self.timeline = timeline
        p = self.providers
        self.providers = Providers(
            storyboard=_Timed(p.storyboard, timeline, "provider", "storyboard", {"generate"}),
            images=_Timed(p.images, timeline, "provider", "images", {"render_grid"}),
            voice=_Timed(p.voice, timeline, "provider", "voice", {"synthesize"}),
            video_name=p.video_name,
        )
        self.storage = _Timed(
            self.storage, timeline, "storage", "storage", {"put_bytes", "put_file", "delete"}
        )


def _ledger_timed(name: str) -> Any:
    def method(self: TimedPipelineActivities, *args: Any, **kwargs: Any) -> Any:
        with self.timeline.span("ledger", name):
            return getattr(super(TimedPipelineActivities, self), name)(*args, **kwargs)

    method.__name__ = name
    return method


for _name in LEDGER_METHODS:
    setattr(TimedPipelineActivities, _name, _ledger_timed(_name))


@contextlib.contextmanager
def timed_media(timeline: Timeline) -> Iterator[None]:
    """Time kenburns_clip and compose (the activities import them from their modules at call time)
    as providers, and the thumbnails (imported by activities.pipeline) as derived media."""
    import activities.media.compose as compose_module
    import activities.media.kenburns as kenburns_module
    import activities.pipeline as pipeline_module

    kenburns, compose = kenburns_module.kenburns_clip, compose_module.compose
    thumbnails = {name: getattr(pipeline_module, name) for name in ("make_thumbnails", "make_all_thumbnails")}

    def timed_thumbnails(name: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with timeline.span("media", "thumbnails"):
                return thumbnails[name](*args, **kwargs)

        return timed

    def timed_kenburns(*args: Any, **kwargs: Any) -> Any:
        with timeline.span("provider", "video"):
            return kenburns(*args, **kwargs)

    def timed_compose(*args: Any, **kwargs: Any) -> Any:
        with timeline.span("provider", "compose"):
            return compose(*args, **kwargs)

    kenburns_module.kenburns_clip = timed_kenburns  # type: ignore[assignment]
    compose_module.compose = timed_compose  # type: ignore[assignment]
    for name in thumbnails:
        setattr(pipeline_module, name, timed_thumbnails(name))
    try:
        yield
    finally:
        kenburns_module.kenburns_clip = kenburns  # type: ignore[assignment]
        compose_module.compose = compose  # type: ignore[assignment]
        for name, original in thumbnails.items():
            setattr(pipeline_module, name, original)


# ------------------------------------------------------------------------------------------------
# 1. the pipeline
# ------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def pipeline_rig(
    client: Any, db_url: str, data_dir: Path, timeline: Timeline, **settings_overrides: Any
) -> AsyncIterator[tuple[TimedPipelineActivities, Any]]:
    """Real workers for every pool on uuid task queues, timed activities, offline providers."""
    from activities.providers.choice import choose_providers
    from infra.queues import POOLS, Queues
    from infra.settings import Settings
    from infra.storage import FileSystemStorage
    from workers.pools import build_worker

    settings = Settings(data_dir=data_dir, **settings_overrides)
    acts = TimedPipelineActivities(
        db_url,
        FileSystemStorage(data_dir / "storage"),
        choose_providers(settings),
        data_dir / "work",
        timeline=timeline,
    )
    queues = Queues.prefixed(f"bench-{uuid.uuid4()}-")
    async with contextlib.AsyncExitStack() as stack:
        for pool in POOLS:
            await stack.enter_async_context(build_worker(client, pool, acts, settings, queues))
        with timed_media(timeline):
            yield acts, queues


def _new_workspace(db_url: str, title: str) -> str:
    from infra.ledger import unit_of_work
    from schema.enums import WorkspaceType
    from schema.repositories import workspaces as workspace_repo

    with unit_of_work(db_url) as session:
        ws = workspace_repo.create(
            session,
            owner_id="bench",
            type=WorkspaceType.narrative_project,
            title=title,
            meta={"source": "bench"},
        )
        return str(ws.id)


async def _run_pipeline(
    client: Any, db_url: str, queues: Any, shots: int, concurrency: int, story: str
) -> tuple[str, Any, float, float]:
    from workflows.contracts import PipelineInput
    from workflows.project_pipeline import ProjectPipelineWorkflow, pipeline_workflow_id

    ws = await asyncio.to_thread(_new_workspace, db_url, f"bench {shots} shots c{concurrency}")
    start = time.perf_counter()
    result = await client.execute_workflow(
        ProjectPipelineWorkflow.run,
        PipelineInput(
            workspace_id=ws, story=story, shot_count=shots, shot_concurrency=concurrency, queues=queues
        ),
        id=pipeline_workflow_id(ws),
        task_queue=queues.cpu,
    )
    end = time.perf_counter()
    if result.status != "succeeded" or result.compose is None:
        raise RuntimeError(f"bench pipeline did not succeed: {result.status}")
    return ws, result, start, end


def _run_figures(
    timeline: Timeline, start: float, end: float, shots: int, concurrency: int, result: Any
) -> dict:
    spans = timeline.window(start, end)
    parts = partition(spans, start, end)
    wall = end - start
    by_label: dict[str, dict[str, float]] = {}
    for s in spans:
        entry = by_label.setdefault(f"{s.category}:{s.label}", {"calls": 0, "seconds": 0.0})
        entry["calls"] += 1
        entry["seconds"] += s.end - s.start
    providers = {
        k.split(":", 1)[1]: {"calls": v["calls"], "seconds": round(v["seconds"], 3)}
        for k, v in sorted(by_label.items())
        if k.startswith("provider:")
    }
    ledger_calls = sum(v["calls"] for k, v in by_label.items() if k.startswith("ledger:"))
    ledger_sum = sum(v["seconds"] for k, v in by_label.items() if k.startswith("ledger:"))
    overhead = parts["storage"] + parts["ledger"] + parts["orchestration"]
    return {
        "shots": shots,
        "shot_concurrency": concurrency,
        "wall_s": round(wall, 3),
        "provider_sum_s": round(sum(v["seconds"] for v in providers.values()), 3),
        "provider_busy_s": round(parts["provider"], 3),
        "media_s": round(parts["media"], 3),
        "media_pct": round(100 * parts["media"] / wall, 1),
        "storage_s": round(parts["storage"], 3),
        "ledger_s": round(parts["ledger"], 3),
        "orchestration_s": round(parts["orchestration"], 3),
        "overhead_s": round(overhead, 3),
        "overhead_pct": round(100 * overhead / wall, 1),
        "providers": providers,
        "ledger_calls": ledger_calls,
        "ledger_sum_s": round(ledger_sum, 3),
        "compose_cached_shots": len(result.compose.cached_shots),  # 0: the compose ran cold
        "video_duration_s": round(float(result.compose.duration_s), 3),
        "x_realtime": round(float(result.compose.duration_s) / wall, 3),
    }


async def pipeline_figures(
    client: Any,
    db_url: str,
    data_dir: Path,
    *,
    shots: int = 6,
    concurrencies: tuple[int, ...] = (1, 4),
    repeats: int = 2,
    warmup_shots: int | None = 3,
    story: str = STORY,
) -> dict[str, Any]:
    """Run the pipeline `repeats` times per shot concurrency (after a warm-up run) and split its
    wall time; each concurrency reports its fastest run (all walls are listed in `walls_s`).

    The returned dict's `inputs` names the workspace of the first measured run and the storage root.
    """
    timeline = Timeline()
    runs = []
    first_ws = None
    warmup = None
    async with pipeline_rig(client, db_url, Path(data_dir), timeline) as (_acts, queues):
        if warmup_shots:
            # loads the Piper voice, imports the workflow sandbox's modules, warms the DB pool
            _, _, start, end = await _run_pipeline(client, db_url, queues, warmup_shots, 4, story)
            warmup = {"shots": warmup_shots, "shot_concurrency": 4, "wall_s": round(end - start, 3)}
        for concurrency in concurrencies:
            measured = []
            for _ in range(max(1, repeats)):
                ws, result, start, end = await _run_pipeline(
                    client, db_url, queues, shots, concurrency, story
                )
                measured.append(_run_figures(timeline, start, end, shots, concurrency, result))
                first_ws = first_ws or ws
            best = min(measured, key=lambda r: r["wall_s"])
            runs.append({**best, "walls_s": [r["wall_s"] for r in measured]})
    sequential = next((r for r in runs if r["shot_concurrency"] == 1), runs[0])
    return {
        "story": story,
        "shots": shots,
        "warmup": warmup,
        "runs": runs,
        "sequential_overhead_pct": sequential["overhead_pct"],
        "inputs": {
            "workspace_id": first_ws,
            "db_url": db_url,
            "storage_root": str(Path(data_dir) / "storage"),
        },
    }


# ------------------------------------------------------------------------------------------------
# 3. per-activity orchestration overhead
# ------------------------------------------------------------------------------------------------


@activity.defn(name="bench_noop")
async def bench_noop(i: int) -> int:
    return i


@dataclass
class NoopChainInput:
    n: int
    fan_out: bool
    activity_queue: str | None = None  # None: the workflow's own queue (eager dispatch applies)


@workflow.defn(name="bench_noop_chain")
class NoopChainWorkflow:
    @workflow.run
    async def run(self, inp: NoopChainInput) -> int:
        opts: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=30)}
        if inp.activity_queue:
            opts["task_queue"] = inp.activity_queue
        if inp.fan_out:
            calls = [workflow.execute_activity(bench_noop, i, **opts) for i in range(inp.n)]
            done = await asyncio.gather(*calls)
            return len(done)
        for i in range(inp.n):
            await workflow.execute_activity(bench_noop, i, **opts)
        return inp.n


OVERHEAD_CASES = {
    "sequential": "sequential, same queue",
    "fanned_out": "fanned out, same queue",
    "sequential_other_queue": "sequential, other queue",
    "fanned_out_other_queue": "fanned out, other queue",
}


async def activity_overhead_figures(client: Any, *, n: int = 200, repeats: int = 3) -> dict[str, Any]:
    """ms per no-op activity over an empty-workflow baseline (median of `repeats`).

    Four cases: sequential and fanned out, with the activity on the workflow's own task queue (the
    SDK then dispatches it eagerly, in the workflow task's reply) and on another queue, as every
    pipeline activity is (workflows on `cpu`, providers on `gpu-image`, `gpu-video`, `tts`).
    """
    from temporalio.worker import Worker

    queue = f"bench-noop-{uuid.uuid4()}"
    other = f"bench-noop-acts-{uuid.uuid4()}"

    async def wall(count: int, fan_out: bool, activity_queue: str | None = None) -> float:
        start = time.perf_counter()
        await client.execute_workflow(
            NoopChainWorkflow.run,
            NoopChainInput(n=count, fan_out=fan_out, activity_queue=activity_queue),
            id=f"bench-noop-{uuid.uuid4()}",
            task_queue=queue,
        )
        return time.perf_counter() - start

    async def median(count: int, fan_out: bool, activity_queue: str | None = None) -> float:
        return statistics.median([await wall(count, fan_out, activity_queue) for _ in range(repeats)])

    slots = max(100, n)
    async with (
        Worker(
            client,
            task_queue=queue,
            workflows=[NoopChainWorkflow],
            activities=[bench_noop],
            max_concurrent_activities=slots,
        ),
        Worker(client, task_queue=other, activities=[bench_noop], max_concurrent_activities=slots),
    ):
        for activity_queue in (None, other):  # warm-up: sandbox imports, first task-queue polls
            await wall(5, False, activity_queue)
            await wall(5, True, activity_queue)
        base = await median(0, False)
        walls = {
            "sequential": await median(n, False),
            "fanned_out": await median(n, True),
            "sequential_other_queue": await median(n, False, other),
            "fanned_out_other_queue": await median(n, True, other),
        }

    def figures(total: float) -> dict[str, float]:
        return {
            "wall_s": round(total, 3),
            "ms_per_activity": round(1000 * (total - base) / n, 2),
            "activities_per_s": round(n / max(total - base, 1e-9), 1),
        }

    return {
        "activities": n,
        "repeats": repeats,
        "empty_workflow_ms": round(1000 * base, 1),
        **{case: figures(total) for case, total in walls.items()},
    }


# ------------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------------


def write_json(figures: dict[str, Any], path: Path | str) -> None:
    public = json.loads(json.dumps(figures, default=str))
    with contextlib.suppress(KeyError, TypeError):
        public["pipeline"]["inputs"].pop("db_url")  # may carry a password
    Path(path).write_text(json.dumps(public, indent=2) + "\n")


def _rows(title: str, rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(k) for k, _ in rows), default=0)
    return [title, *(f"  {k.ljust(width)}  {v}" for k, v in rows), ""]


def format_table(figures: dict[str, Any]) -> str:
    """A plain-text table of whatever parts of the figures are present."""
    lines: list[str] = []
    m = figures.get("machine")
    if m:
        lines += _rows(
            "machine",
            [
                ("cpu", f"{m.get('cpu_model')} x {m.get('cores')} cores ({m.get('usable_cores')} usable)"),
                ("memory", f"{m.get('memory_gib', '?')} GiB"),
                (
                    "load avg",
                    f"{' / '.join(str(x) for x in m.get('load_avg', []))} at start, "
                    f"{' / '.join(str(x) for x in m.get('load_avg_end', []))} at end (1/5/15 min)",
                ),
                (
                    "software",
                    f"Python {m.get('python')}, FFmpeg {m.get('ffmpeg', '?')}, "
                    f"temporalio {m.get('temporalio', '?')}, moviepy {m.get('moviepy', '?')}",
                ),
                (
                    "mode",
                    "QUICK (BENCH_QUICK=1: small sizes, rough figures)" if figures.get("quick") else "full",
                ),
            ],
        )
    p = figures.get("pipeline")
    if p:
        rows: list[tuple[str, str]] = []
        if p.get("warmup"):
            w = p["warmup"]
            rows.append(
                (
                    "warm-up run (not counted)",
                    f"{w['shots']} shots, c={w['shot_concurrency']}: {w['wall_s']:.1f} s",
                )
            )
        for r in p["runs"]:
            c = r["shot_concurrency"]
            rows += [
                (
                    f"c={c} wall",
                    f"{r['wall_s']:.2f} s for {r['video_duration_s']:.1f} s of video "
                    f"({r['x_realtime']:.2f}x realtime; best of "
                    f"{', '.join(f'{w:.2f}' for w in r.get('walls_s', [r['wall_s']]))} s)",
                ),
                (
                    f"c={c} provider busy",
                    f"{r['provider_busy_s']:.2f} s (sum of calls {r['provider_sum_s']:.2f} s)",
                ),
                (
                    f"c={c}   by provider",
                    ", ".join(f"{k} {v['seconds']:.2f} s/{v['calls']}" for k, v in r["providers"].items()),
                ),
                (
                    f"c={c} thumbnails",
                    f"{r['media_s']:.2f} s = {r['media_pct']:.1f}% of wall (images and clip posters, "
                    "made when a file is stored; not counted in the overhead)",
                ),
                (
                    f"c={c} overhead",
                    f"{r['overhead_s']:.2f} s = {r['overhead_pct']:.1f}% of wall "
                    f"(storage {r['storage_s']:.2f} + ledger {r['ledger_s']:.2f} "
                    f"+ orchestration {r['orchestration_s']:.2f})",
                ),
                (
                    f"c={c}   ledger calls",
                    f"{r['ledger_calls']} units of work, {r['ledger_sum_s']:.2f} s in all",
                ),
            ]
        lines += _rows(f'pipeline: {p["shots"]}-shot offline demo ("{p["story"]}")', rows)
    a = figures.get("activity_overhead")
    if a:
        rows = [
            ("empty workflow", f"{a['empty_workflow_ms']:.1f} ms"),
            *(
                (
                    label,
                    f"{a[case]['ms_per_activity']:.2f} ms/activity ({a[case]['activities_per_s']:.0f}/s)",
                )
                for case, label in OVERHEAD_CASES.items()
                if case in a
            ),
        ]
        lines += _rows(
            f"per-activity orchestration overhead: no-op activity x {a['activities']} "
            f"(median of {a['repeats']})",
            rows,
        )
    if figures.get("ledger"):
        from tests.bench.bench_ledger import format_ledger

        lines.append(format_ledger(figures["ledger"]))
    return "\n".join(lines).rstrip() + "\n"
