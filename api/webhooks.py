"""Signed task-completion callbacks.

A request that starts work may carry ``webhook_url``; one ``api_webhook`` row per (workflow id,
url) is stored, and a small poller in every API process delivers it once the task row is final
(succeeded, failed or canceled).

Delivery contract (what a receiver verifies):
- ``POST <url>`` with a JSON body ``{"event": "task.completed", "delivery_id", "attempt", "task"}``
  where ``task`` is the task as ``GET /workspaces/{ws}/tasks/{id}`` returns it (with result_url);
- header ``X-DirectorDeck-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is
  HMAC-SHA256(secret, ``"<t>." + raw body``); receivers should reject a ``t`` older than 5 min;
- headers ``X-DirectorDeck-Event: task.completed`` and ``X-DirectorDeck-Delivery: <delivery id>``;
- any 2xx is success; anything else (or no answer in 10 s) is retried with exponential backoff
  (2, 4, 8, ... s) up to ``webhook_max_attempts``, then marked ``failed``.

Replicas: a delivery is claimed by pushing its ``next_attempt_at`` forward under
``FOR UPDATE SKIP LOCKED``, so two API processes never send the same attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from api.presenters import task_out  # the same shape as GET /tasks/{id}
from api.schemas import Links
from api.services import Services
from schema.api_models import Webhook
from schema.db import json_dumps, unit_of_work
from schema.enums import TERMINAL_TASK_STATUSES
from schema.models import Task

log = logging.getLogger("directordeck.api.webhooks")

SIGNATURE_HEADER = "X-DirectorDeck-Signature"
EVENT_HEADER = "X-DirectorDeck-Event"
DELIVERY_HEADER = "X-DirectorDeck-Delivery"
CLAIM_S = 60
TIMEOUT_S = 10.0
BATCH = 20


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(
    secret: str, body: bytes, header: str, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a receiver does (also used by the tests)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def register(
    session: Any, *, workspace_id: uuid.UUID, user_id: str, workflow_ids: list[str], url: str
) -> None:
    """Remember a callback for each workflow (idempotent per workflow id and url)."""
    for workflow_id in dict.fromkeys(workflow_ids):
        session.execute(
            pg_insert(Webhook)
            .values(
                id=uuid.uuid4(), workspace_id=workspace_id, user_id=user_id, workflow_id=workflow_id, url=url
            )
            .on_conflict_do_nothing(index_elements=[Webhook.workflow_id, Webhook.url])
        )


@dataclass
class _Due:
    id: uuid.UUID
    url: str
    attempt: int
    task: dict[str, Any]


class WebhookDispatcher:
    def __init__(self, services: Services, *, poll_s: float) -> None:
        self.services = services
        self.poll_s = poll_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="webhooks")

    def poke(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
            while True:
                try:
                    sent = await self.run_once(client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database down, etc.: try again later
                    log.warning("webhook poller failed: %s", exc)
                    sent = 0
                if sent == 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        due = await asyncio.to_thread(self._claim)
        if due:
            await asyncio.gather(*(self._deliver(client, d) for d in due))
        return len(due)

    def _claim(self) -> list[_Due]:

        links = Links(self.services.config.public_url or "")
        with unit_of_work(self.services.sessions) as session:
            rows = session.execute(
                select(Webhook, Task)
                .join(Task, Task.workflow_id == Webhook.workflow_id)
                .where(
                    Webhook.status == "pending",
                    Webhook.next_attempt_at <= datetime.now(UTC),
                    Task.status.in_(list(TERMINAL_TASK_STATUSES)),
                )
                .order_by(Webhook.next_attempt_at)
                .limit(BATCH)
                .with_for_update(of=Webhook, skip_locked=True)
            ).all()
            due = []
            for hook, task in rows:
                hook.attempts += 1
                hook.next_attempt_at = datetime.now(UTC) + timedelta(seconds=CLAIM_S)
                payload = task_out(session, task, links).model_dump(mode="json")
                due.append(_Due(hook.id, hook.url, hook.attempts, payload))
            return due

    async def _deliver(self, client: httpx.AsyncClient, due: _Due) -> None:
        body = json_dumps(
            {"event": "task.completed", "delivery_id": str(due.id), "attempt": due.attempt, "task": due.task}
        ).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(self.services.config.webhook_secret or "", body),
            EVENT_HEADER: "task.completed",
            DELIVERY_HEADER: str(due.id),
            "user-agent": "DirectorDeck-Webhook/1",
        }
        error: str | None = None
        try:
            response = await client.post(due.url, content=body, headers=headers)
            if not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        await asyncio.to_thread(self._record, due, error)

    def _record(self, due: _Due, error: str | None) -> None:
        now = datetime.now(UTC)
        if error is None:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": None}
        elif due.attempt >= self.services.config.webhook_max_attempts:
            values = {"status": "failed", "last_error": error}
        else:
            values = {"last_error": error, "next_attempt_at": now + timedelta(seconds=2**due.attempt)}
        with unit_of_work(self.services.sessions) as session:
            session.execute(update(Webhook).where(Webhook.id == due.id).values(**values))
