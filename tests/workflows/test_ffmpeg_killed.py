"""SIGKILL of FFmpeg mid-clip (what the OOM killer does): the clip activity is retried (the code is
`ffmpeg_killed`, retryable) and the cut has every shot — before issue 15 the shot was lost for good
(`ffmpeg_failed`, non-retryable) and the cut came out short."""

from __future__ import annotations

import asyncio
import contextlib

import psutil

from activities.media.ffmpeg import live_ffmpeg_pids
from tests.support.ledger_rows import rows


async def _kill_first_clip_ffmpeg(killed: list[int]) -> None:
    """SIGKILL the first live FFmpeg writing a clip (not the final cut)."""
    while not killed:
        for pid in live_ffmpeg_pids():
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                args = " ".join(proc.cmdline())
                if ".mp4" in args and "compose" not in args and proc.status() != psutil.STATUS_ZOMBIE:
                    proc.kill()
                    killed.append(pid)
                    return
        await asyncio.sleep(0.005)


async def test_sigkilled_ffmpeg_mid_clip_is_retried_and_the_cut_has_every_shot(make_rig) -> None:
    killed: list[int] = []
    async with make_rig() as rig:
        ws, handle = await rig.start_pipeline(shots=3, concurrency=3)
        killer = asyncio.create_task(_kill_first_clip_ffmpeg(killed))
        try:
            result = await asyncio.wait_for(handle.result(), timeout=240)
        finally:
            killer.cancel()
    assert killed, "no clip FFmpeg was seen to kill"
    assert result.status == "succeeded", result.shots
    assert [s.status for s in result.shots] == ["succeeded"] * 3
    assert result.compose is not None and result.compose.shots == 3 and result.compose.left_out == []
    statuses = dict(
        rows(rig.db_url, "select status, count(*) from task where workspace_id=:ws group by 1", ws=ws)
    )
    assert set(statuses) == {"succeeded"}, statuses  # nothing failed, nothing left running
    retried = rows(rig.db_url, "select count(*) from task where workspace_id=:ws and retries > 0", ws=ws)[0][
        0
    ]
    assert retried >= 1  # the killed clip's task row shows its retry
