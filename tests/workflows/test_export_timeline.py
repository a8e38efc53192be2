"""Timeline exports of a pipeline-made project: the real pipeline (offline providers, real
FFmpeg, real Temporal and PostgreSQL) makes a 3-shot cut with music, the `export` workflow
packages it with every format, and the package is read back with OpenTimelineIO and its
adapters, `srt`, `webvtt` and the CapCut draft's JSON."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import opentimelineio as otio
import srt
import webvtt

from activities.ledger import unit_of_work
from activities.timeline import FILE_NAMES, OTIO_ADAPTERS, capcut_material_paths
from schema.enums import NodeType
from schema.repositories import nodes as node_repo
from workflows.contracts import PipelineInput
from workflows.export import ExportWorkflow
from workflows.export_contracts import EXPORT_FORMATS, ExportResult, ExportWorkflowInput
from workflows.project_pipeline import ProjectPipelineWorkflow

FPS = 24  # the pipeline's preview cut


async def test_a_pipeline_cut_exports_to_every_editor_format(make_rig, tmp_path: Path) -> None:
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
        )
        result: ExportResult = await rig.client.execute_workflow(
            ExportWorkflow.run,
            ExportWorkflowInput(workspace_id=ws, formats=list(EXPORT_FORMATS), queues=rig.queues),
            id=f"export-{ws}-all",
            task_queue=rig.queues.cpu,
        )
        with unit_of_work(rig.db_url) as session:
            cut = node_repo.compose_inputs(session, uuid.UUID(ws))
            compose, _ = node_repo.latest_output(session, uuid.UUID(ws), NodeType.compose)
            music_node = compose.payload.get("music_node_id")
        archive = zipfile.ZipFile(io.BytesIO(rig.acts.storage.local_path(result.storage_key).read_bytes()))
    assert music_node, "the cut was composed with music"
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
