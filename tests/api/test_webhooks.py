"""Signed task-completion webhooks, delivered by the API's poller to a local HTTP server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from api import webhooks
from infra.ledger import unit_of_work
from schema.api_models import Webhook
from schema.enums import TaskType
from schema.repositories import tasks as task_repo
from tests.api.conftest import Stack, uid
from tests.support.api_rig import SECRET, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _running_task(stack: Stack, workspace: str) -> str:
    workflow_id = f"grid-hook-{uuid.uuid4()}"
    with unit_of_work(stack.db_url) as s:
        task = task_repo.create(
            s, workspace_id=uuid.UUID(workspace), type=TaskType.grid, workflow_id=workflow_id
        )
        task_repo.mark_running(s, task.id)
    return workflow_id


def _register(stack: Stack, workspace: str, owner: str, workflow_id: str, url: str) -> None:
    with unit_of_work(stack.db_url) as s:
        webhooks.register(
            s, workspace_id=uuid.UUID(workspace), user_id=owner, workflow_ids=[workflow_id], url=url
        )
        webhooks.register(
            s, workspace_id=uuid.UUID(workspace), user_id=owner, workflow_ids=[workflow_id], url=url
        )


async def test_signed_callback_once_the_task_ends(stack: Stack, seeded, receiver: Receiver) -> None:
    s = seeded(uid())
    workflow_id = _running_task(stack, s.workspace)
    _register(stack, s.workspace, s.owner, workflow_id, f"{receiver.url}/done")
    await asyncio.sleep(0.8)  # several poller rounds: a running task is not reported
    assert receiver.for_path("/done") == []
    with unit_of_work(stack.db_url) as session:
        task_repo.mark_succeeded(session, workflow_id, result={"cells": 4})
    await wait_for(lambda: len(receiver.for_path("/done")) == 1)
    headers, body = receiver.for_path("/done")[0]
    raw = next(b for p, _, b in receiver.calls if p == "/done")
    assert webhooks.verify(SECRET, raw, headers["X-DirectorDeck-Signature"])
    assert not webhooks.verify("wrong-secret", raw, headers["X-DirectorDeck-Signature"])
    assert not webhooks.verify(SECRET, raw + b" ", headers["X-DirectorDeck-Signature"])
    assert headers["X-DirectorDeck-Event"] == "task.completed"
    assert body["event"] == "task.completed" and body["attempt"] == 1
    assert body["task"]["workflow_id"] == workflow_id and body["task"]["status"] == "succeeded"
    assert body["task"]["result"] == {"cells": 4}
    await asyncio.sleep(0.6)
    assert len(receiver.for_path("/done")) == 1  # delivered once (registered twice: one row)
    with unit_of_work(stack.db_url) as session:
        hook = session.scalar(select(Webhook).where(Webhook.workflow_id == workflow_id))
        assert hook is not None and hook.status == "delivered" and hook.delivered_at is not None


async def test_failed_delivery_is_retried(stack: Stack, seeded, receiver: Receiver) -> None:
    s = seeded(uid())
    workflow_id = _running_task(stack, s.workspace)
    receiver.fail_first.add("/flaky")
    _register(stack, s.workspace, s.owner, workflow_id, f"{receiver.url}/flaky")
    with unit_of_work(stack.db_url) as session:
        task_repo.mark_failed(session, workflow_id, "provider_unavailable", "no GPU")
    await wait_for(lambda: len(receiver.for_path("/flaky")) == 2, timeout=15)
    (_, first), (_, second) = receiver.for_path("/flaky")
    assert first["attempt"] == 1 and second["attempt"] == 2
    assert second["task"]["status"] == "failed" and second["task"]["error"]["code"] == "provider_unavailable"


def test_signature_tolerance() -> None:
    header = webhooks.sign("s", b"{}", timestamp=1000)
    assert webhooks.verify("s", b"{}", header, now=1100)
    assert not webhooks.verify("s", b"{}", header, now=2000)
    assert not webhooks.verify("s", b"{}", "garbage")
