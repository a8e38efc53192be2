"""The self-healing loop of a process running the cpu pool (`up`, `worker --pool cpu`).

Rule: every `maintenance_interval_s` (and once at start), task rows whose workflow closed without
recording it are settled (services/reconcile.py), then orphan and temp files are collected and the
caches bounded (infra/janitor.py). Both passes are idempotent, so several cpu workers may run them
at once; a pass that fails (the database or Temporal is down) is logged and tried again next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from temporalio.client import Client

from activities.pipeline import PipelineActivities
from infra import janitor
from infra.metrics import JANITOR_REMOVED, TASKS_SETTLED
from infra.settings import Settings
from infra.storage import FileSystemStorage, S3Storage
from services.reconcile import Settled, reconcile_once

log = logging.getLogger("directordeck.maintenance")


async def maintain_once(client: Client, acts: PipelineActivities, settings: Settings) -> list[Settled]:
    """One reconcile pass and one janitor pass; each failure is logged, never raised."""
    settled: list[Settled] = []
    try:
        settled = await reconcile_once(client, acts.database_url, grace_s=settings.reconcile_grace_s)
        for row in settled:
            TASKS_SETTLED.labels(row.status).inc()
    except Exception as exc:  # the ledger is down: the next pass tries again
        log.warning("reconcile pass failed: %s", exc)
    storage_root = acts.storage.root if isinstance(acts.storage, FileSystemStorage) else None
    try:
        sweep = await asyncio.to_thread(
            janitor.sweep_all,
            data_path=settings.data_path,
            work_dir=acts.work_dir,
            database_url=acts.database_url,
            storage_root=storage_root,
            grace_s=settings.janitor_grace_s,
            temp_grace_s=settings.janitor_temp_grace_s,
            cache_max_mb=settings.cache_max_mb,
            s3=acts.storage if isinstance(acts.storage, S3Storage) else None,
        )
        for what, paths in (("orphan", sweep.orphans), ("temp", sweep.temp), ("evicted", sweep.evicted)):
            if paths:
                JANITOR_REMOVED.labels(what).inc(len(paths))
    except Exception as exc:
        log.warning("janitor pass failed: %s", exc)
    return settled


async def maintain(client: Client, acts: PipelineActivities, settings: Settings, stop: asyncio.Event) -> None:
    """Run passes until `stop` is set."""
    while not stop.is_set():
        await maintain_once(client, acts, settings)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.maintenance_interval_s)
