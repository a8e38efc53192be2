"""A ledger outage held for minutes is waited out, not recorded as the user's failure.

Real PostgreSQL, real Temporal, real workers: mid-pipeline the test's own database refuses every
connection for 70 s (`ALLOW_CONNECTIONS false`, its sessions terminated) — longer than the whole
retry budget activities had before issue 15 (5 attempts in ~15 s, after which the pipeline failed
for good and its task rows stayed `running`). Now activities retry with backoff for ~5.5 minutes
(workflows/common.py RETRY): the pipeline is still running when the database comes back, then
finishes with every shot, and no task row stays queued/running — without the reconciler's help.
Marked `slow` (~2 min: the outage itself is 70 s).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from temporalio.client import WorkflowExecutionStatus

from infra import janitor
from infra.postgres import EmbeddedPostgres
from tests.support.ledger_rows import rows, scalar
from tests.support.storage_check import orphan_keys

OUTAGE_S = 70.0  # > the old ~15 s retry budget, and past a minute


def _block(pg: EmbeddedPostgres, database: str, *, blocked: bool) -> None:
    """Refuse (or allow again) every connection to `database`; a refusal ends its open sessions."""
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(not blocked).lower()}')
        if blocked:
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (database,)
            )


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_a_ledger_outage_of_over_a_minute_is_waited_out_and_no_task_row_stays_running(
    make_rig, pg: EmbeddedPostgres
) -> None:
    async with make_rig() as rig:
        database = urlsplit(rig.db_url).path.lstrip("/")
        ws, handle = await rig.start_pipeline(shots=3, concurrency=3)  # the fewest a story may have
        deadline = time.monotonic() + 120
        while not scalar(rig.db_url, "select count(*) from task where type='grid' and status='succeeded'"):
            assert time.monotonic() < deadline, "no grid finished"
            await asyncio.sleep(0.2)
        _block(pg, database, blocked=True)
        try:
            await asyncio.sleep(1.0)
            _block(pg, database, blocked=True)  # a session that was connecting meanwhile ends too
            await asyncio.sleep(OUTAGE_S - 1.0)
            during = await handle.describe()
        finally:
            _block(pg, database, blocked=False)
        # the outage outlasted the old retry budget, and the run was still waiting it out
        assert during.status == WorkflowExecutionStatus.RUNNING
        result = await asyncio.wait_for(handle.result(), timeout=300)
    assert result.status == "succeeded", result.shots
    assert [s.status for s in result.shots] == ["succeeded"] * 3
    assert result.compose is not None and result.compose.shots == 3

    statuses = dict(
        rows(rig.db_url, "select status, count(*) from task where workspace_id=:ws group by 1", ws=ws)
    )
    assert set(statuses) == {"succeeded"}, statuses  # nothing failed, nothing left queued/running
    # some activity ran into the outage and kept retrying past the old 5-attempt budget
    assert scalar(rig.db_url, "select max(retries) from task where workspace_id=:ws", ws=ws) >= 5

    # nothing lost: every asset row's file is there; what the outage left unowned, the janitor takes
    storage_root = rig.data_dir / "storage"
    keys = [r[0] for r in rows(rig.db_url, "select storage_key from asset where workspace_id=:ws", ws=ws)]
    assert keys and all((storage_root / key).is_file() for key in keys)
    janitor.collect_orphans(storage_root, rig.db_url, grace_s=0)
    assert orphan_keys(storage_root, rig.db_url) == []
    assert all((storage_root / key).is_file() for key in keys)
