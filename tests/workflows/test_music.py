"""Background music on real Temporal + real PostgreSQL: the `music` workflow records an audio_music
node, its asset and a succeeded task; it is cancellable; compose mixes it (or makes one first) so
the music is really in the cut (test_replay.py replays the recorded music histories)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest
from temporalio.client import WorkflowFailureError

from activities.media.ffmpeg import run_ffmpeg
from activities.media.probe import probe
from activities.pipeline import PipelineActivities
from schema.errors import BadInputError, CancelledByUser
from tests.support.ledger_rows import rows, save_history, scalar
from tests.support.seeders import SHOT_S, workspace_with_clips
from workflows.compose import ComposeWorkflow
from workflows.contracts import ComposeWorkflowInput, MusicWorkflowInput
from workflows.music import MusicWorkflow


def audio_levels(mp4: Path, windows: list[tuple[float, float]], work: Path) -> list[float]:
    """RMS in dBFS of the MP4's (mono-mixed) audio over each (start, end) window in seconds."""
    wav = work / f"{mp4.stem}-{uuid.uuid4().hex[:6]}.wav"
    run_ffmpeg(["-i", str(mp4), "-vn", "-ac", "1", "-ar", "48000", "-y", str(wav)], expected_duration_s=None)
    with wave.open(str(wav)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        rate = w.getframerate()
    out = []
    for a, b in windows:
        part = x[int(a * rate) : int(b * rate)]
        out.append(20 * math.log10(max(float(np.sqrt(np.mean(part**2))), 1e-9)))
    return out


async def test_music_workflow_records_a_node_an_asset_and_a_succeeded_task(make_rig) -> None:
    async with make_rig() as rig:
        ws = rig.new_workspace()
        wf_id = f"music-{ws}-{uuid.uuid4()}"
        result = await rig.client.execute_workflow(
            MusicWorkflow.run,
            MusicWorkflowInput(workspace_id=ws, mood="紧张", duration_s=5.0, seed=11, queues=rig.queues),
            id=wf_id,
            task_queue=rig.queues.cpu,
        )
        await save_history(rig.client, wf_id, "music")
    db = rig.db_url
    assert (result.mood, result.key, result.fallback) == ("tense", "D minor", False)
    assert result.duration_s == 5.0 and result.tempo_bpm > 100
    node = rows(db, "select * from node where id = :id", id=result.node_id)[0]
    assert node.type == "audio_music" and node.status == "ok"
    assert node.work_item_id is None and node.track_id is None  # workspace-level, like compose
    assert node.payload["mood"] == "tense" and node.payload["mood_requested"] == "紧张"
    assert (
        node.payload["seed"] == 11
        and node.payload["chords"]
        and node.payload["tempo_bpm"] == result.tempo_bpm
    )
    assert node.result["duration_s"] == 5.0 and node.result["peak_dbfs"] <= -2.99
    asset = rows(db, "select * from asset where id = :id", id=node.asset_id)[0]
    assert (asset.kind, asset.mime, asset.duration_s) == ("audio", "audio/wav", 5.0)
    info = probe(rig.acts.storage.local_path(result.asset_key))
    assert info.has_audio and info.duration_s == pytest.approx(5.0, abs=0.02)
    task = rows(db, "select * from task where workflow_id = :wf", wf=wf_id)[0]
    assert (task.type, task.status) == ("music", "succeeded")
    assert task.result["node_id"] == result.node_id and task.result["mood"] == "tense"
    assert str(node.task_id) == str(task.id)


async def test_music_defaults_to_the_projects_length_and_mood(make_rig) -> None:
    async with make_rig() as rig:
        ws = workspace_with_clips(
            rig.db_url, rig.acts.storage, rig.data_dir / "clips", shots=3, narrated=0, mood="悲伤"
        )
        result = await rig.client.execute_workflow(
            MusicWorkflow.run,
            MusicWorkflowInput(workspace_id=ws, queues=rig.queues),
            id=f"music-{ws}-{uuid.uuid4()}",
            task_queue=rig.queues.cpu,
        )
    assert result.duration_s == pytest.approx(3 * SHOT_S)
    assert result.mood == "melancholy"
    payload = scalar(rig.db_url, "select payload from node where id = :id", id=result.node_id)
    assert payload["mood_source"] == "workspace" and payload["mood_requested"] == "auto"


async def test_bad_duration_fails_with_a_code_and_writes_nothing(make_rig) -> None:
    async with make_rig() as rig:
        ws = rig.new_workspace()
        wf_id = f"music-{ws}-{uuid.uuid4()}"
        with pytest.raises(WorkflowFailureError) as failure:
            await rig.client.execute_workflow(
                MusicWorkflow.run,
                MusicWorkflowInput(workspace_id=ws, duration_s=0.2, queues=rig.queues),
                id=wf_id,
                task_queue=rig.queues.cpu,
            )
    assert failure.value.cause.type == "music_duration_invalid"
    task = rows(rig.db_url, "select status, error, retries from task where workflow_id = :wf", wf=wf_id)[0]
    assert task.status == "failed" and task.error["code"] == "music_duration_invalid" and task.retries == 0
    assert scalar(rig.db_url, "select count(*) from node where workspace_id = :ws", ws=ws) == 0


class EndlessMusic:
    """Test double at the edge: a provider that only stops when its activity is cancelled."""

    name = "endless"
    started = threading.Event()

    def generate(self, mood, duration_s, out_wav, *, seed, hints=(), on_progress=None, cancelled=None):  # type: ignore[no-untyped-def]
        EndlessMusic.started.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if cancelled is not None and cancelled():
                raise CancelledByUser("music generation cancelled")
            time.sleep(0.05)
        raise AssertionError("never cancelled")


class EndlessMusicActivities(PipelineActivities):
    @property
    def music(self) -> EndlessMusic:
        return EndlessMusic()


async def test_cancel_stops_music_and_marks_the_task_canceled(make_rig) -> None:
    EndlessMusic.started.clear()
    async with make_rig(acts_factory=EndlessMusicActivities) as rig:
        ws = rig.new_workspace()
        wf_id = f"music-{ws}-{uuid.uuid4()}"
        handle = await rig.client.start_workflow(
            MusicWorkflow.run,
            MusicWorkflowInput(workspace_id=ws, mood="calm", duration_s=30, queues=rig.queues),
            id=wf_id,
            task_queue=rig.queues.cpu,
        )
        deadline = time.monotonic() + 30
        while not EndlessMusic.started.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert EndlessMusic.started.is_set()
        cancelled_at = time.monotonic()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        stopped_after = time.monotonic() - cancelled_at
    assert stopped_after < 10.0  # within the heartbeat timeout
    assert (
        rows(rig.db_url, "select status from task where workflow_id = :wf", wf=wf_id)[0].status == "canceled"
    )
    assert scalar(rig.db_url, "select count(*) from node where workspace_id = :ws", ws=ws) == 0
    assert not [p for p in (rig.data_dir / "work").glob("*.wav") if p.stat().st_size > 0]


async def test_compose_with_music_puts_music_in_the_mix_and_without_stays_as_before(make_rig) -> None:
    async with make_rig() as rig:
        ws = workspace_with_clips(rig.db_url, rig.acts.storage, rig.data_dir / "clips", shots=2, narrated=1)
        plain = await rig.client.execute_workflow(
            ComposeWorkflow.run,
            ComposeWorkflowInput(workspace_id=ws, subtitles=False, queues=rig.queues),
            id=f"compose-{ws}-{uuid.uuid4()}",
            task_queue=rig.queues.cpu,
        )
        wf_id = f"compose-{ws}-{uuid.uuid4()}"
        scored = await rig.client.execute_workflow(  # no music node yet: one is made first
            ComposeWorkflow.run,
            ComposeWorkflowInput(workspace_id=ws, subtitles=False, music=True, queues=rig.queues),
            id=wf_id,
            task_queue=rig.queues.cpu,
        )
        await save_history(rig.client, wf_id, "compose_music")
        again = await rig.client.execute_workflow(  # a named node: no second track is made
            ComposeWorkflow.run,
            ComposeWorkflowInput(
                workspace_id=ws,
                subtitles=False,
                music=True,
                music_node_id=scored.music_node_id,
                queues=rig.queues,
            ),
            id=f"compose-{ws}-{uuid.uuid4()}",
            task_queue=rig.queues.cpu,
        )
    db = rig.db_url
    assert (
        plain.music_node_id is None and scored.music_node_id and again.music_node_id == scored.music_node_id
    )
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='audio_music'", ws=ws) == 1
    # the music child: its own task row, under the compose task, as long as the cut, mood from the project
    child = rows(db, "select * from task where type = 'music' and workspace_id = :ws", ws=ws)[0]
    parent = rows(db, "select id from task where workflow_id = :wf", wf=wf_id)[0]
    assert child.status == "succeeded" and child.parent_task_id == parent.id
    assert child.workflow_id.startswith(f"music-{ws}-")
    music = rows(db, "select * from node where id = :id", id=scored.music_node_id)[0]
    assert music.result["duration_s"] == pytest.approx(2 * SHOT_S)
    # the compose node says which music it used (payload and a reference edge, never lineage)
    node = rows(db, "select * from node where id = :id", id=scored.node_id)[0]
    assert node.payload["music_node_id"] == scored.music_node_id and node.parent_id is None
    refs = rows(
        db, "select role from node_ref where from_node_id = :a and to_node_id = :b", a=node.id, b=music.id
    )
    assert [r.role for r in refs] == ["audio"]
    plain_node = rows(db, "select payload from node where id = :id", id=plain.node_id)[0]
    assert "music_node_id" not in plain_node.payload
    # the music is really in the mix: shot 2 has no narration, so without music it is silent
    storage = rig.acts.storage
    work = rig.data_dir / "levels"
    work.mkdir()
    speech, gap = (0.2, 1.4), (SHOT_S + 0.5, 2 * SHOT_S - 2.2)
    quiet_speech, quiet_gap = audio_levels(storage.local_path(plain.asset_key), [speech, gap], work)
    loud_speech, loud_gap = audio_levels(storage.local_path(scored.asset_key), [speech, gap], work)
    assert quiet_gap < -60, quiet_gap  # music=False: the gap is silence, as before
    assert loud_gap > -40 and loud_gap > quiet_gap + 25, (loud_gap, quiet_gap)
    assert abs(loud_speech - quiet_speech) < 3.0  # under the narration the music is ducked
    assert probe(storage.local_path(scored.asset_key)).duration_s == pytest.approx(2 * SHOT_S, rel=0.05)


class BrokenMusic:
    """Test double at the edge: a music provider that refuses every request (non-retryable)."""

    name = "broken"

    def generate(self, mood, duration_s, out_wav, *, seed, hints=(), on_progress=None, cancelled=None):  # type: ignore[no-untyped-def]
        raise BadInputError("this synthesiser is broken", code="music_broken")


class BrokenMusicActivities(PipelineActivities):
    @property
    def music(self) -> BrokenMusic:
        return BrokenMusic()


async def test_compose_keeps_the_cut_when_its_music_fails(make_rig) -> None:
    async with make_rig(acts_factory=BrokenMusicActivities) as rig:
        ws = workspace_with_clips(rig.db_url, rig.acts.storage, rig.data_dir / "clips", shots=2, narrated=1)
        wf_id = f"compose-{ws}-{uuid.uuid4()}"
        cut = await rig.client.execute_workflow(
            ComposeWorkflow.run,
            ComposeWorkflowInput(workspace_id=ws, subtitles=False, music=True, queues=rig.queues),
            id=wf_id,
            task_queue=rig.queues.cpu,
        )
    db = rig.db_url
    assert cut.music_node_id is None and cut.node_id  # the cut exists, with narration only
    tasks = {r.type: r for r in rows(db, "select * from task where workspace_id = :ws", ws=ws)}
    assert tasks["compose"].status == "succeeded"
    assert tasks["music"].status == "failed" and tasks["music"].error["code"] == "music_broken"
    assert tasks["music"].parent_task_id == tasks["compose"].id
    assert scalar(db, "select count(*) from node where workspace_id=:ws and type='audio_music'", ws=ws) == 0
    assert probe(rig.acts.storage.local_path(cut.asset_key)).has_audio
