"""One pipeline run, two properties. The real pipeline (offline providers, real FFmpeg, real
Temporal and PostgreSQL) makes a 3-shot cut with music; an `export.package` with every format,
run through the ActionRouter like a button or a sentence, packages it.

- Timeline exports: the package is read back with OpenTimelineIO and its adapters, `srt`,
  `webvtt` and the CapCut draft's JSON (clip count, order and durations match the cut; media
  relink from the unzipped package).
- The Temporal UI's search (dev server registered as `directordeck up` does): a
  `WorkspaceId = '…'` query finds every workflow of the run — pipeline, storyboard, shots,
  grids, voices, videos, music, compose — and the export, each with its task type, work item,
  user and memo (workspace title, shot number)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from pathlib import Path

import opentimelineio as otio
import srt
import webvtt

from activities.contracts import EXPORT_FORMATS, ExportResult
from activities.timeline import FILE_NAMES, OTIO_ADAPTERS, capcut_material_paths
from infra.ledger import unit_of_work
from infra.search_attributes import (
    TASK_TYPE,
    USER_ID,
    WORK_ITEM_ID,
    WORKSPACE_ID,
    start_options,
    workspace_query,
)
from infra.settings import Settings
from schema.enums import NodeType
from schema.repositories import nodes as node_repo
from services.execution import Caller
from services.router import ActionRouter
from tests.support.ledger_rows import rows
from workflows.contracts import PipelineInput
from workflows.export import ExportWorkflow
from workflows.project_pipeline import ProjectPipelineWorkflow

FPS = 24  # the pipeline's preview cut
OWNER = "tester"  # Rig.new_workspace's owner


async def _listed(client, query: str, expected: int) -> list:  # type: ignore[no-untyped-def]
    """Visibility is eventually consistent: wait (briefly) until `expected` executions are listed."""
    found: list = []
    for _ in range(100):
        found = [w async for w in client.list_workflows(query)]
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.1)
    return found


async def test_a_pipeline_run_exports_to_every_editor_format_and_is_found_by_workspace(
    make_rig, data_dir: Path, tmp_path: Path
) -> None:
    async with make_rig() as rig:
        ws = rig.new_workspace("Fox & Moon")
        await rig.client.execute_workflow(
            ProjectPipelineWorkflow.run,
            PipelineInput(
                workspace_id=ws,
                story="a fox steals the moon",
                shot_count=3,
                shot_concurrency=3,
                compose_music=True,
                queues=rig.queues,
            ),
            id=f"pipeline-{ws}",
            task_queue=rig.queues.cpu,
            **start_options(True, ws, "pipeline", user_id=OWNER, title="Fox & Moon"),
        )
        router = ActionRouter(rig.db_url, rig.client, rig.queues, Settings(data_dir=data_dir))
        export = {"type": "export.package", "args": {"formats": list(EXPORT_FORMATS)}}
        turn = await router.run(
            Caller(OWNER), ws, {"mode": "execute", "intent": "export", "actions": [export], "message": ""}
        )
        assert turn.ok, turn
        [export_wf] = turn.results[0].workflow_ids
        result: ExportResult = await rig.client.get_workflow_handle_for(
            ExportWorkflow.run, export_wf
        ).result()

        tasks = rows(
            rig.db_url, "select workflow_id, type, work_item_id from task where workspace_id=:ws", ws=ws
        )
        shots = rows(rig.db_url, "select id, idx from work_item where workspace_id=:ws", ws=ws)
        expected = {t.workflow_id: t for t in tasks} | {f"shot-{s.id}": s for s in shots}
        listed = await _listed(rig.client, workspace_query(ws), len(expected))
        failed = await _listed(rig.client, workspace_query(ws, "ExecutionStatus = 'Failed'"), 0)
        memos = {w.id: await w.memo() for w in listed}
        with unit_of_work(rig.db_url) as session:
            cut = node_repo.compose_inputs(session, uuid.UUID(ws))
            compose, _ = node_repo.current_output(session, uuid.UUID(ws), NodeType.compose)
            music_node = compose.payload.get("music_node_id")
        archive = zipfile.ZipFile(io.BytesIO(rig.acts.storage.local_path(result.storage_key).read_bytes()))
    assert music_node, "the cut was composed with music"
    _check_search(ws, tasks, shots, expected, listed, failed, memos)
    root = tmp_path / "package"
    archive.extractall(root)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["formats"] == list(EXPORT_FORMATS)
    assert result.generated == manifest["generated"]
    assert set(FILE_NAMES.values()) <= set(result.generated)
    expected_frames = [round(c["duration_s"] * FPS) for c in cut]
    assert len(cut) == 3

    for fmt, adapter in OTIO_ADAPTERS.items():
        timeline = otio.adapters.read_from_file(str(root / FILE_NAMES[fmt]), adapter)
        [video] = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
        clips = list(video.find_clips())
        assert [c.name for c in clips] == ["shot-01", "shot-02", "shot-03"], fmt
        assert [round(c.source_range.duration.rescaled_to(FPS).value) for c in clips] == expected_frames, fmt
        for clip in clips:  # media relink from the unzipped package
            assert (root / clip.media_reference.target_url).is_file(), (fmt, clip.media_reference.target_url)
        if fmt != "edl":
            audio = [
                c for t in timeline.tracks if t.kind == otio.schema.TrackKind.Audio for c in t.find_clips()
            ]
            assert len(audio) == 3 + 1  # narration per shot, and the music
            assert all((root / c.media_reference.target_url).is_file() for c in audio)

    subs = list(srt.parse((root / FILE_NAMES["srt"]).read_text()))
    cues = list(webvtt.read(str(root / FILE_NAMES["vtt"])))
    assert len(subs) == len(cues) >= 3  # one narration line per shot at least
    assert [s.content for s in subs] == [c.text for c in cues]
    total = sum(expected_frames) / FPS
    assert all(0 <= s.start.total_seconds() < s.end.total_seconds() <= total + 1e-6 for s in subs)

    [draft_dir] = [p for p in (root / "capcut").iterdir() if p.is_dir()]
    content = json.loads((draft_dir / "draft_content.json").read_text())
    paths = capcut_material_paths(content)
    assert len(paths) == 3 + 3 + 1  # clips, narration, music
    assert all((draft_dir / p).is_file() for p in paths)
    video_track = next(t for t in content["tracks"] if t["type"] == "video")
    assert [round(s["target_timerange"]["duration"] * FPS / 1_000_000) for s in video_track["segments"]] == (
        expected_frames
    )


def _check_search(ws, tasks, shots, expected, listed, failed, memos) -> None:  # type: ignore[no-untyped-def]
    assert {t.type for t in tasks} >= {"pipeline", "storyboard", "grid", "voice", "video", "music", "compose"}
    assert "export" in {t.type for t in tasks}
    assert sorted(w.id for w in listed) == sorted(expected)  # every workflow, and only this workspace's
    assert failed == []
    shot_numbers = {str(s.id): s.idx for s in shots}
    for execution in listed:
        attrs = execution.typed_search_attributes
        assert attrs.get(WORKSPACE_ID) == ws and attrs.get(USER_ID) == OWNER, execution.id
        memo = memos[execution.id]
        assert memo["workspace_title"] == "Fox & Moon"
        row = expected[execution.id]
        if execution.id.startswith("shot-"):
            assert attrs.get(TASK_TYPE) == "shot" and attrs.get(WORK_ITEM_ID) == str(row.id)
            assert memo["shot_number"] == row.idx
            continue
        assert attrs.get(TASK_TYPE) == row.type, execution.id
        if row.work_item_id is not None:  # grid, voice, video: their shot, and its number
            assert attrs.get(WORK_ITEM_ID) == str(row.work_item_id)
            assert memo["shot_number"] == shot_numbers[str(row.work_item_id)]
        else:
            assert attrs.get(WORK_ITEM_ID) is None and "shot_number" not in memo
