"""ActionRouter on real PostgreSQL and a real Temporal dev server (offline providers)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.client import WorkflowFailureError

from agent.planner import OfflinePlanner
from infra.ledger import unit_of_work
from infra.queues import QUEUE_CPU, QUEUE_GPU_IMAGE, QUEUE_TTS
from schema.actions import Turn
from schema.domain_errors import NotFound
from schema.enums import TaskStatus, WorkspaceType
from schema.repositories import events, snapshots, tasks, work_items
from schema.repositories import workspaces as workspace_repo
from services.execution import Caller, TurnResult
from services.resolve import Focus
from tests.support.agent_rig import OWNER

# Workflows evicted from a stopped Worker's cache are closed when garbage-collected; LangGraph's
# stream generators and temporalio-langgraph's interceptor then log "Exception ignored" noise.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ALICE = Caller(OWNER)


def turn(*actions: dict[str, Any], mode: str = "execute") -> Turn:
    return Turn.model_validate({"mode": mode, "intent": "test", "actions": list(actions), "message": ""})


def planned(sentence: str, shots: int = 3) -> Turn:
    return OfflinePlanner().plan(sentence, {"workspace": {"type": "narrative_project", "shots": shots}})


def shots_of(db_url: str, ws: str) -> list[dict[str, Any]]:
    with unit_of_work(db_url) as s:
        return [
            {"idx": w.idx, "spec": dict(w.spec), "duration_s": w.duration_s, "selected": w.selected_node_id}
            for w in work_items.list_shots(s, uuid.UUID(ws))
        ]


def count(db_url: str, sql: str, **params: Any) -> int:
    with unit_of_work(db_url) as s:
        return int(s.execute(text(sql), params).scalar() or 0)


async def wait_task(db_url: str, task_id: str, status: TaskStatus, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with unit_of_work(db_url) as s:
            row = tasks.get(s, uuid.UUID(task_id))
            assert row is not None
            if row.status == status:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"task {task_id} is {row.status}, not {status}")
        await asyncio.sleep(0.1)


async def test_single_shot_update_executes_with_a_snapshot_that_undoes_it(make_agent_rig) -> None:
    """Issue 13: single-shot edits are snapshotted too, and the rollback says what it restored."""
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        result = await rig.router.run(ALICE, ws, planned("Make shot 2 last 5 seconds"))
        patch = turn({"type": "shot.update", "args": {"shots": [3], "patch": {"lighting": "golden hour"}}})
        result2 = await rig.router.run(ALICE, ws, patch)
        shots = shots_of(rig.db_url, ws)
        snaps = count(rig.db_url, "select count(*) from snapshot")
        undo = turn({"type": "version.rollback", "args": {"snapshot_id": result.snapshot_id}}, mode="propose")
        preview = await rig.router.run(ALICE, ws, undo)
        undone = await rig.router.run(ALICE, ws, undo, confirmed=True)
        restored = shots_of(rig.db_url, ws)

    assert result.mode == "execute" and result.snapshot_id is not None
    assert result2.snapshot_id is not None and snaps == 2
    assert [r.status for r in result.results] == ["done"]
    assert result.results[0].data["shots"] == [2]
    assert result2.results[0].status == "done"
    assert [s["duration_s"] for s in shots] == [4.0, 5.0, 4.0]
    assert shots[2]["spec"]["lighting"] == "golden hour" and "lighting" not in shots[1]["spec"]
    # the proposal shows what the rollback would change; the rollback says what it restored
    assert "shot 2: duration 5 s → 4 s" in preview.proposal["preview"][0]
    assert "shot 3: lighting removed" in preview.proposal["preview"][0]
    summary = undone.results[0].data["summary"]
    assert "shot 2: duration 5 s → 4 s" in summary and "shot 3: lighting removed" in summary
    assert [s["duration_s"] for s in restored] == [4.0, 4.0, 4.0]
    assert "lighting" not in restored[2]["spec"]


async def test_batch_update_is_proposed_then_confirmed_with_snapshot_then_rolled_back(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        neon = planned("Change shots 1 to 2 to night with neon lights")
        proposal = await rig.router.run(ALICE, ws, neon)
        before = shots_of(rig.db_url, ws)
        done = await rig.router.run(ALICE, ws, neon, confirmed=True)
        after = shots_of(rig.db_url, ws)
        back = planned("Go back to before the neon change")
        back_proposal = await rig.router.run(ALICE, ws, back)
        undone = await rig.router.run(ALICE, ws, back, confirmed=True)
        restored = shots_of(rig.db_url, ws)

    assert proposal.mode == "propose" and proposal.snapshot_id is None
    assert [r.status for r in proposal.results] == ["proposed"]
    assert "touches 2 shots" in proposal.proposal["reason"]
    assert proposal.proposal["turn"]["actions"][0]["args"]["shots"] == [1, 2]
    assert all("lighting" not in s["spec"] for s in before)  # nothing written by the proposal

    assert done.mode == "execute" and done.snapshot_id and done.ok
    assert [s["spec"].get("lighting") for s in after] == ["neon", "neon", None]
    with unit_of_work(rig.db_url) as s:
        snap = snapshots.get(s, uuid.UUID(done.snapshot_id))
        assert snap is not None and "neon" in snap.note

    assert back_proposal.mode == "propose"
    assert undone.ok and undone.snapshot_id and undone.snapshot_id != done.snapshot_id
    assert undone.results[0].data["restored_snapshot_id"] == done.snapshot_id
    assert restored == before
    assert count(rig.db_url, "select count(*) from snapshot") == 2  # before neon, before the rollback


async def test_gen_grid_starts_a_workflow_whose_task_is_queued_then_succeeds(make_agent_rig) -> None:
    async with make_agent_rig() as rig:
        ws = rig.workspace(2)
        result = await rig.router.run(ALICE, ws, planned("Generate a 4-grid for shot 1 from a low angle", 2))
        r = result.results[0]
        assert r.status == "started", r
        [task_id], [wf_id] = r.task_ids, r.workflow_ids
        with unit_of_work(rig.db_url) as s:
            first_event = events.since(s, uuid.UUID(ws))[0]
            row = tasks.get(s, uuid.UUID(task_id))
            wi = str(work_items.get_shot_by_idx(s, uuid.UUID(ws), 1).id)  # type: ignore[union-attr]
        assert row is not None and row.workflow_id == wf_id and row.payload["workflow"] == "grid"
        assert first_event.kind == "actions.applied"
        assert any(
            e.kind == "task.queued" and e.data["task_id"] == task_id for e in events_of(rig.db_url, ws)
        )
        grid = await rig.client.get_workflow_handle(wf_id).result()
        await wait_task(rig.db_url, task_id, TaskStatus.succeeded)

    assert wf_id.startswith(f"grid-{wi}-")
    assert len(grid["image_node_ids"]) == 4
    assert "low angle" in row.payload["input"]["prompt"]
    assert count(rig.db_url, "select count(*) from node where type='image'") == 4


def events_of(db_url: str, ws: str) -> list[Any]:
    with unit_of_work(db_url) as s:
        return list(events.since(s, uuid.UUID(ws)))


async def test_task_cancel_cancels_the_running_grid_workflow(make_agent_rig) -> None:
    # no gpu-image worker: the grid's render activity waits in its queue until cancelled
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2)
        started = await rig.router.run(
            ALICE, ws, turn({"type": "gen.grid", "args": {"shots": [1, 2]}}), confirmed=True
        )
        assert [r.status for r in started.results] == ["started"]
        assert started.snapshot_id  # batch over two shots
        canceled = await rig.router.run(ALICE, ws, planned("Cancel all grid jobs", 2))
        for wf_id in started.results[0].workflow_ids:
            with pytest.raises(WorkflowFailureError):
                await rig.client.get_workflow_handle(wf_id).result()
        for task_id in started.results[0].task_ids:
            await wait_task(rig.db_url, task_id, TaskStatus.canceled)
        nothing = await rig.router.run(ALICE, ws, turn({"type": "task.cancel", "args": {"kind": "grid"}}))

    assert canceled.results[0].status == "done"
    assert sorted(canceled.results[0].data["canceled_task_ids"]) == sorted(started.results[0].task_ids)
    assert nothing.results[0].data["canceled_task_ids"] == []


async def test_another_caller_gets_not_found_and_nothing_is_written(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        with pytest.raises(NotFound) as err:
            await rig.router.run(Caller("mallory"), ws, planned("Make shot 2 last 5 seconds"), confirmed=True)
        with pytest.raises(NotFound):
            await rig.router.run(Caller("mallory"), str(uuid.uuid4()), planned("What is running?"))
    assert err.value.code == "workspace_not_found"
    assert [s["duration_s"] for s in shots_of(rig.db_url, ws)] == [4.0, 4.0, 4.0]


async def test_unresolvable_target_fails_the_turn_and_writes_nothing(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        bad = turn(
            {"type": "shot.update", "args": {"shots": [1], "patch": {"mood": "tense"}}},
            {"type": "shot.update", "args": {"shots": [7], "patch": {"mood": "calm"}}},
            {"type": "version.snapshot", "args": {}},
        )
        result = await rig.router.run(ALICE, ws, bad, confirmed=True)
        cell = await rig.router.run(ALICE, ws, turn({"type": "node.commit", "args": {"shot": 1, "cell": 2}}))

    assert [r.status for r in result.results] == ["failed", "failed", "failed"]
    assert [r.error["code"] for r in result.results] == ["rolled_back", "target_unresolved", "not_run"]
    assert "3 shots" in result.results[1].error["message"]
    assert cell.results[0].error["code"] == "target_unresolved"
    assert "no track" in cell.results[0].error["message"]
    assert all("mood" not in s["spec"] for s in shots_of(rig.db_url, ws))
    assert count(rig.db_url, "select count(*) from snapshot") == 0
    assert count(rig.db_url, "select count(*) from event") == 0


async def test_project_create_with_story_makes_an_owned_workspace_and_a_storyboard(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        sentence = "Make a 3-shot storyboard about a fox who steals the moon, ink-wash style"
        result = await rig.router.run(ALICE, None, OfflinePlanner().plan(sentence))
        ws = result.workspace_id
        assert ws and [r.status for r in result.results] == ["done", "started"]
        await rig.client.get_workflow_handle(f"storyboard-{ws}").result()
        await wait_task(rig.db_url, result.results[1].task_ids[0], TaskStatus.succeeded)
        listed = await rig.router.run(ALICE, ws, planned("What is running?"))

    assert result.results[0].data["created"] is True
    assert len(shots_of(rig.db_url, ws)) == 3
    assert count(rig.db_url, "select count(*) from workspace where owner_id='alice'") == 1
    assert listed.results[0].status == "done"


async def test_idempotency_key_runs_a_turn_once(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2)
        add = turn({"type": "shot.add", "args": {"spec": {"visual": "the moon, stolen"}}})
        first = await rig.router.run(ALICE, ws, add, idempotency_key="k-1")
        again = await rig.router.run(ALICE, ws, add, idempotency_key="k-1")
        with pytest.raises(NotFound):
            await rig.router.run(Caller("mallory"), None, add, idempotency_key="k-1")

    assert first.ok and isinstance(again, TurnResult)
    assert again.to_dict() == first.to_dict()
    assert len(shots_of(rig.db_url, ws)) == 3


async def test_retry_restarts_a_failed_task_with_a_new_workflow_id(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU, QUEUE_TTS]) as rig:
        ws = rig.workspace(1)
        with unit_of_work(rig.db_url) as s:  # the narration is gone by the time the voice runs
            shot = work_items.get_shot_by_idx(s, uuid.UUID(ws), 1)
            assert shot is not None
            wi = shot.id
        started = await rig.router.run(ALICE, ws, planned("Add narration to shot 1", 1))
        with unit_of_work(rig.db_url) as s:
            work_items.update_spec(s, wi, {"narration": None})
        [task_id] = started.results[0].task_ids
        with pytest.raises(WorkflowFailureError):
            await rig.client.get_workflow_handle(started.results[0].workflow_ids[0]).result()
        await wait_task(rig.db_url, task_id, TaskStatus.failed)
        retried = await rig.router.run(ALICE, ws, planned("Retry the failed ones", 1))
        again = await rig.router.run(ALICE, ws, planned("Retry the failed ones", 1))

    r = retried.results[0]
    assert r.status == "started" and r.workflow_ids[0] != started.results[0].workflow_ids[0]
    with unit_of_work(rig.db_url) as s:
        row = tasks.get(s, uuid.UUID(r.task_ids[0]))
        assert row is not None and row.payload["retry_of"] == task_id
    # the retry itself may have failed again by now; it is retried, the original is not re-run twice
    assert again.results[0].status in ("started", "done")
    assert task_id not in (again.results[0].data.get("skipped_task_ids") or [])


async def test_a_turn_is_one_transaction_that_sees_its_own_changes(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        build = turn(
            {"type": "shot.add", "args": {"after": 3, "spec": {"visual": "the moon in a jar"}}},
            {"type": "shot.update", "args": {"shots": [4], "patch": {"duration_s": 6}}},
            {"type": "character.create", "args": {"name": "Fox", "profile": "a red fox thief"}},
            {"type": "character.lock", "args": {"name": "Fox", "locks": ["face", "outfit"]}},
            {"type": "scene.update", "args": {"scene": 1, "patch": {"mood": "moonlit"}}},
        )
        built = await rig.router.run(ALICE, ws, build)
        clash = turn(
            {"type": "character.create", "args": {"name": "Moon"}},
            {"type": "character.create", "args": {"name": "Fox"}},
        )
        clashed = await rig.router.run(ALICE, ws, clash)

    assert [r.status for r in built.results] == ["done"] * 5, built.results
    assert [(s["idx"], s["duration_s"]) for s in shots_of(rig.db_url, ws)][-1] == (4, 6.0)
    assert [r.error["code"] for r in clashed.results] == ["rolled_back", "character_name_taken"]
    names = count(rig.db_url, "select count(*) from character where name in ('Fox', 'Moon')")
    assert names == 1  # Moon was rolled back with the turn
    assert count(rig.db_url, "select count(*) from character where locks->>'face' = 'true'") == 1


async def test_cost_over_the_workspace_limit_is_proposed(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2, cost_limit=5)
        result = await rig.router.run(ALICE, ws, planned("Generate a 9-grid for shot 1", 2))

    assert result.mode == "propose"
    assert "estimated cost 9 units is over this project's limit of 5" in result.proposal["reason"]
    assert count(rig.db_url, "select count(*) from task") == 0
    # and the estimate in money and GPU time, at the configured rates (services/estimate.py)
    est, rates = result.proposal["estimate"], rig.router.rates
    gpu = 9 * rates.gpu_seconds["gen.grid"]
    assert est["cost_units"] == 9 and est["gpu_seconds"] == gpu
    assert est["cost_usd"] == round(gpu * rates.gpu_second_usd, 4) > 0


async def test_pro_focus_addresses_a_draft_of_a_draft_space(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU, QUEUE_GPU_IMAGE]) as rig:
        with unit_of_work(rig.db_url) as s:
            space = workspace_repo.create(s, owner_id=OWNER, type=WorkspaceType.draft_space, title="board")
            draft = work_items.create_draft(s, space.id, spec={"visual": "a neon fox poster"})
            ws, wi = str(space.id), str(draft.id)
        grid = turn({"type": "gen.grid", "args": {"shots": [1], "size": 4}})
        unfocused = await rig.router.run(ALICE, ws, grid)
        focused = await rig.router.run(ALICE, ws, grid, focus=Focus(work_item_id=wi, track="A"))
        await rig.client.get_workflow_handle(focused.results[0].workflow_ids[0]).result()
        fav = await rig.router.run(
            ALICE,
            ws,
            turn({"type": "node.favorite", "args": {"cell": 3, "tags": ["poster"]}}),
            focus=Focus(wi, "A"),
        )

    assert unfocused.results[0].error["code"] == "target_unresolved"
    assert "drafts have no shot numbers" in unfocused.results[0].error["message"]
    assert focused.results[0].status == "started" and focused.results[0].workflow_ids[0].startswith(
        f"grid-{wi}-"
    )
    assert fav.results[0].status == "done", fav.results[0]
    assert count(rig.db_url, "select count(*) from favorite where tags @> '[\"poster\"]'") == 1


async def test_gen_music_starts_a_music_workflow_and_says_what_it_makes(make_agent_rig) -> None:
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        calm = await rig.router.run(ALICE, ws, planned("Add calm background music"))
        odd = await rig.router.run(
            ALICE, ws, turn({"type": "gen.music", "args": {"mood": "zorblax", "duration_s": 2.5}})
        )
        r = calm.results[0]
        assert r.status == "started", r
        made = await rig.client.get_workflow_handle(r.workflow_ids[0]).result()
        await wait_task(rig.db_url, r.task_ids[0], TaskStatus.succeeded)
        await rig.client.get_workflow_handle(odd.results[0].workflow_ids[0]).result()
        with unit_of_work(rig.db_url) as s:
            row = tasks.get(s, uuid.UUID(r.task_ids[0]))
            assert row is not None

    # three 4 s shots and no clips yet: as long as the storyboard
    assert r.data["summary"] == "started calm background music (12 s)"
    assert r.workflow_ids[0].startswith(f"music-{ws}-")
    assert row.type.value == "music" and row.payload["workflow"] == "music"
    assert row.payload["input"]["mood"] == "calm" and row.payload["input"]["duration_s"] == 12.0
    assert made["mood"] == "calm" and made["duration_s"] == 12.0
    o = odd.results[0]
    assert o.status == "started" and o.data["mood"] == "calm" and o.data["mood_fallback"] is True
    assert "“zorblax” is not a mood I know" in o.data["summary"] and "(2.5 s)" in o.data["summary"]
    assert count(rig.db_url, "select count(*) from node where type = 'audio_music'") == 2


async def test_gen_compose_with_music_uses_the_latest_track_or_makes_one(make_agent_rig) -> None:
    from tests.support.seeders import workspace_with_clips

    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = workspace_with_clips(rig.db_url, rig.acts.storage, rig.acts.work_dir / "clips", owner=OWNER)
        plain = await rig.router.run(ALICE, ws, planned("Compose a preview", 2))
        first = await rig.router.run(ALICE, ws, turn({"type": "gen.compose", "args": {"music": True}}))
        first_done = await rig.client.get_workflow_handle(first.results[0].workflow_ids[0]).result()
        second = await rig.router.run(
            ALICE, ws, turn({"type": "gen.compose", "args": {"mode": "preview", "music": True}})
        )
        for result in (plain, second):
            await rig.client.get_workflow_handle(result.results[0].workflow_ids[0]).result()
        inputs = {}
        with unit_of_work(rig.db_url) as s:
            for name, result in (("plain", plain), ("first", first), ("second", second)):
                row = tasks.get(s, uuid.UUID(result.results[0].task_ids[0]))
                assert row is not None and row.status == TaskStatus.succeeded, (name, row)
                inputs[name] = row.payload["input"]

    p, f, s2 = plain.results[0], first.results[0], second.results[0]
    assert p.data["summary"] == "started the preview compose of 2 shots"  # music=false: as before
    assert (inputs["plain"]["music"], inputs["plain"]["music_node_id"]) == (False, None)
    assert "not available" not in f.data["summary"] and "made first" in f.data["summary"]
    assert (inputs["first"]["music"], inputs["first"]["music_node_id"]) == (True, None)
    music_node = first_done["music_node_id"]
    assert music_node
    assert (
        s2.data["summary"] == "started the preview compose of 2 shots with the latest calm background music"
    )
    assert s2.data["music_node_id"] == music_node and inputs["second"]["music_node_id"] == music_node
    # one track: the second compose reused it
    assert count(rig.db_url, "select count(*) from node where type = 'audio_music'") == 1
    assert count(rig.db_url, "select count(*) from node_ref where role = 'audio'") == 2


async def test_export_package_packages_the_selected_versions(make_agent_rig) -> None:
    import io
    import json
    import zipfile

    from tests.support.seeders import workspace_with_clips

    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = workspace_with_clips(rig.db_url, rig.acts.storage, rig.acts.work_dir / "clips", owner=OWNER)
        bad = await rig.router.run(
            ALICE, ws, turn({"type": "export.package", "args": {"naming": "{title.__class__}"}})
        )
        result = await rig.router.run(ALICE, ws, planned("Download the selected images", 2))
        r = result.results[0]
        assert r.status == "started", r
        done = await rig.client.get_workflow_handle(r.workflow_ids[0]).result()
        await wait_task(rig.db_url, r.task_ids[0], TaskStatus.succeeded)
        with unit_of_work(rig.db_url) as s:
            row = tasks.get(s, uuid.UUID(r.task_ids[0]))
            assert row is not None
            asset_key = s.execute(
                text("select storage_key from asset where id = :id"), {"id": done["asset_id"]}
            ).scalar()

    assert bad.results[0].status == "failed" and bad.results[0].error["code"] == "naming_invalid"
    assert r.data["summary"] == "started packaging 2 selected shots" and r.data["shots"] == [1, 2]
    assert row.type.value == "export" and row.payload["workflow"] == "export"
    assert row.payload["input"]["selection"] == "selected"
    archive = zipfile.ZipFile(io.BytesIO(rig.acts.storage.local_path(asset_key).read_bytes()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["selection"] == "selected" and manifest["files"] == r.data["files"]
    assert sorted({e["shot"] for e in manifest["items"] if e.get("shot")}) == [1, 2]


def _voice(db_url: str, ws: str, idx: int, n: int) -> str:
    """A finished narration for shot `idx` (as the voice activity writes it: it becomes current)."""
    from schema.enums import AssetKind, NodeType
    from schema.repositories import assets, nodes

    with unit_of_work(db_url) as s:
        item = work_items.get_shot_by_idx(s, uuid.UUID(ws), idx)
        assert item is not None
        asset = assets.get_or_create_by_hash(
            s, workspace_id=uuid.UUID(ws), content_hash=f"{n:064x}", storage_key=f"k/{n}",
            kind=AssetKind.audio, mime="audio/wav", size_bytes=1,
        )  # fmt: skip
        return str(
            nodes.create_node(s, type=NodeType.audio_voice, work_item_id=item.id, asset_id=asset.id).id
        )


def _current_voices(db_url: str, ws: str) -> dict[int, str]:
    with unit_of_work(db_url) as s:
        return {w.idx: str(w.current_voice_node_id) for w in work_items.list_shots(s, uuid.UUID(ws))}  # type: ignore[misc]


async def test_rollback_before_the_narration_restores_the_narration_and_the_proposal_says_so(
    make_agent_rig,
) -> None:
    """Issue 13: undo covers generations: the snapshot records which narration is current."""
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(2)
        first = _voice(rig.db_url, ws, 1, 1)
        saved = await rig.router.run(
            ALICE, ws, turn({"type": "version.snapshot", "args": {"note": "narration"}})
        )
        second = _voice(rig.db_url, ws, 1, 2)
        third = _voice(rig.db_url, ws, 2, 3)
        assert _current_voices(rig.db_url, ws) == {1: second, 2: third}  # the newest became current
        back = planned("go back to before the narration", 2)
        proposal = await rig.router.run(ALICE, ws, back)
        after_proposal = _current_voices(rig.db_url, ws)
        undone = await rig.router.run(ALICE, ws, back, confirmed=True)
        restored = _current_voices(rig.db_url, ws)

    assert saved.ok and second != first
    assert proposal.mode == "propose" and after_proposal[1] == second  # the proposal changed nothing
    preview = proposal.proposal["preview"][0]
    assert "shot 1: narration back to the earlier one" in preview
    assert "shot 2: narration unset (there was none)" in preview
    assert undone.ok and restored == {1: first, 2: "None"}
    assert "shot 1: narration back to the earlier one" in undone.results[0].data["summary"]
    assert undone.results[0].data["restored"] == [
        "shot 1: narration back to the earlier one",
        "shot 2: narration unset (there was none)",
    ]


async def test_storyboard_rebuild_is_proposed_snapshotted_then_undoable(make_agent_rig) -> None:
    """Issue 13: a storyboard rebuild with another shot count is a proposal (destructive, confirm
    first, snapshot first), not a storyboard_exists refusal."""
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(4)
        rebuild = turn(
            {"type": "gen.storyboard", "args": {"story": "a fox steals the moon", "shot_count": 3}}
        )
        proposal = await rig.router.run(ALICE, ws, rebuild)
        untouched = shots_of(rig.db_url, ws)
        done = await rig.router.run(ALICE, ws, rebuild, confirmed=True)
        [task_id] = done.results[0].task_ids
        await wait_task(rig.db_url, task_id, TaskStatus.succeeded, timeout=60)
        rebuilt = shots_of(rig.db_url, ws)
        undo = turn({"type": "version.rollback", "args": {"snapshot_id": done.snapshot_id}})
        undone = await rig.router.run(ALICE, ws, undo, confirmed=True)
        restored = shots_of(rig.db_url, ws)

    assert proposal.mode == "propose" and proposal.snapshot_id is None
    assert "rebuilds the storyboard and replaces its 4 shots" in proposal.proposal["reason"]
    assert (
        "4 shots → 3" in proposal.proposal["preview"][0]
        and "shot 4 is deleted" in proposal.proposal["preview"][0]
    )
    assert proposal.proposal["snapshot_first"] is True
    assert [s["spec"]["visual"] for s in untouched] == [f"the fox on rooftop {i}" for i in range(1, 5)]
    assert done.ok and done.snapshot_id and done.results[0].status == "started"
    assert done.results[0].workflow_ids[0].startswith(f"storyboard-{ws}-rebuild-")
    assert len(rebuilt) == 3 and all("rooftop" not in s["spec"].get("visual", "") for s in rebuilt)
    assert undone.ok and len(undone.results[0].data["missing_work_item_ids"]) == 1  # shot 4 is gone
    assert [s["spec"]["visual"] for s in restored] == [f"the fox on rooftop {i}" for i in range(1, 4)]


async def test_batch_selection_uses_the_same_cell_of_each_latest_grid_and_is_undoable(make_agent_rig) -> None:
    """Issue 13: "use the first image for every shot" — one proposed node.commit over many shots;
    shots without a grid are skipped and named; the snapshot taken first undoes it."""
    from schema.repositories import nodes, tracks

    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        firsts: dict[int, str] = {}
        with unit_of_work(rig.db_url) as s:
            for idx in (1, 2):
                item = work_items.get_shot_by_idx(s, uuid.UUID(ws), idx)
                assert item is not None
                track = tracks.get_or_create(s, item.id, "A")
                grid = nodes.create_grid(
                    s, work_item_id=item.id, track_id=track.id, parent_id=None, payload={}, cells=[{}] * 4
                )
                firsts[idx] = str(grid.cells[0].id)
        batch = planned("use the first image for every shot")
        proposal = await rig.router.run(ALICE, ws, batch)
        unchanged = shots_of(rig.db_url, ws)
        done = await rig.router.run(ALICE, ws, batch, confirmed=True)
        chosen = shots_of(rig.db_url, ws)
        undo = turn({"type": "version.rollback", "args": {"snapshot_id": done.snapshot_id}})
        undone = await rig.router.run(ALICE, ws, undo, confirmed=True)
        restored = shots_of(rig.db_url, ws)

    assert batch.actions[0].type == "node.commit" and batch.actions[0].args.shots == "all"
    assert proposal.mode == "propose" and "touches all shots" in proposal.proposal["reason"]
    assert "shots 1–2 now use image #1" in proposal.proposal["preview"][0]
    assert "shot 3 skipped" in proposal.proposal["preview"][0]
    assert [s["selected"] for s in unchanged] == [None, None, None]
    assert done.ok and done.snapshot_id and done.results[0].data["shots"] == [1, 2]
    assert done.results[0].data["skipped"] == [3]
    assert [str(s["selected"]) for s in chosen[:2]] == [firsts[1], firsts[2]] and chosen[2][
        "selected"
    ] is None
    assert undone.ok and [s["selected"] for s in restored] == [None, None, None]
    assert "shot 1: selected image" in undone.results[0].data["summary"]


async def test_generation_options_reach_the_work_or_are_refused_saying_why(make_agent_rig) -> None:
    from tests.support.seeders import workspace_with_clips

    async with make_agent_rig(pools=[QUEUE_CPU, QUEUE_TTS]) as rig:
        ws = workspace_with_clips(rig.db_url, rig.acts.storage, rig.acts.work_dir / "clips", owner=OWNER)
        small = await rig.router.run(
            ALICE, ws, turn({"type": "gen.compose", "args": {"mode": "preview", "resolution": "480p"}})
        )
        done = await rig.client.get_workflow_handle(small.results[0].workflow_ids[0]).result()
        unknown = await rig.router.run(
            ALICE, ws, turn({"type": "gen.video", "args": {"shots": [1], "model": "sora"}})
        )
        voiced = await rig.router.run(
            ALICE, ws, turn({"type": "gen.voice", "args": {"shots": [1], "voice": "female"}})
        )
        await rig.client.get_workflow_handle(voiced.results[0].workflow_ids[0]).result()

    assert small.results[0].data["summary"] == "started the preview compose of 2 shots at 480p"
    with unit_of_work(rig.db_url) as s:
        cut = s.execute(
            text("select a.width, a.height from node n join asset a on a.id = n.asset_id where n.id = :id"),
            {"id": done["node_id"]},
        ).one()
    assert tuple(cut) == (854, 480)  # the resolution asked for, not the preview's 640x360
    assert unknown.results[0].status == "failed"
    assert unknown.results[0].error["code"] == "unknown_video_model"
    assert "pan_zoom" in unknown.results[0].error["message"]
    # one voice is installed: the narration is made with it and the summary says so
    assert "a 'female' voice is not installed" in voiced.results[0].data["summary"]


async def test_applied_results_name_the_shots_images_and_tasks_they_touched(make_agent_rig) -> None:
    """The links a chat result shows come from here: ids the router resolved or started."""
    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:  # no gpu-image worker: the grid stays queued
        ws = rig.workspace(3)
        with unit_of_work(rig.db_url) as s:
            ids = {w.idx: str(w.id) for w in work_items.list_shots(s, uuid.UUID(ws))}
        neon = planned("Change shots 2 to 3 to night with neon lights")
        proposed = await rig.router.run(ALICE, ws, neon)
        edited = await rig.router.run(ALICE, ws, neon, confirmed=True)
        grid = await rig.router.run(ALICE, ws, turn({"type": "gen.grid", "args": {"shots": [1]}}))
        [task_id] = grid.results[0].task_ids
        await rig.router.run(ALICE, ws, turn({"type": "task.cancel", "args": {"task_id": task_id}}))

    assert proposed.results[0].touched == {}  # a proposal wrote nothing: nothing to link
    touched = edited.results[0].touched
    assert touched["shots"] == [{"work_item_id": ids[2], "idx": 2}, {"work_item_id": ids[3], "idx": 3}]
    assert touched["nodes"] == [] and touched["tasks"] == [] and touched["exports"] == []
    started = grid.results[0].touched
    assert started["shots"] == [{"work_item_id": ids[1], "idx": 1}]
    assert [(t["task_id"], t["type"], t["work_item_id"]) for t in started["tasks"]] == [
        (task_id, "grid", ids[1])
    ]
    # the same ids reach the chat: the stored turn outcome carries them
    assert TurnResult.from_dict(edited.to_dict()).results[0].touched == touched


async def test_versions_given_with_a_turn_are_checked_under_a_lock(make_agent_rig) -> None:
    """The board's batch edit sends the versions it edited from: a shot changed since → 412
    version_mismatch and nothing of the turn is written (no snapshot either)."""
    from schema.base import version_of
    from schema.domain_errors import VersionMismatch

    async with make_agent_rig(pools=[QUEUE_CPU]) as rig:
        ws = rig.workspace(3)
        with unit_of_work(rig.db_url) as s:
            items = work_items.list_shots(s, uuid.UUID(ws))
            versions = {str(w.id): version_of(w.updated_at) for w in items[:2]}
        edit = turn({"type": "shot.update", "args": {"shots": [1, 2], "patch": {"weather": "rain"}}})
        done = await rig.router.run(ALICE, ws, edit, confirmed=True, expected_versions=versions)
        snaps = count(rig.db_url, "select count(*) from snapshot")
        again = turn({"type": "shot.update", "args": {"shots": [1, 2], "patch": {"weather": "snow"}}})
        with pytest.raises(VersionMismatch) as refused:
            await rig.router.run(ALICE, ws, again, confirmed=True, expected_versions=versions)  # stale now
        after = shots_of(rig.db_url, ws)

    assert done.ok and done.results[0].status == "done"
    assert refused.value.http_status == 412 and refused.value.code == "version_mismatch"
    assert set(refused.value.details["current_versions"]) == set(versions)
    assert [s["spec"].get("weather") for s in after] == ["rain", "rain", None]
    assert count(rig.db_url, "select count(*) from snapshot") == snaps
