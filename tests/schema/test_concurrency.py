"""Committed, concurrent writers (own database per test): idempotent writes stay single under
races, event ids become visible in commit order, the unit of work commits or rolls back whole."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from schema.db import make_engine, session_factory, unit_of_work
from schema.enums import AssetKind, NodeType, WorkspaceType
from schema.models import Asset, Node, Workspace
from schema.repositories import assets, events, nodes, work_items, workspaces


@pytest.fixture
def sessions(ledger_fresh_url: str) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(ledger_fresh_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def _shot(sessions: sessionmaker[Session]) -> tuple[uuid.UUID, uuid.UUID]:
    with unit_of_work(sessions) as session:
        ws = workspaces.create(session, owner_id="u", type=WorkspaceType.narrative_project, title="t")
        shot = work_items.insert_shot(session, ws.id, spec={})
        return ws.id, shot.id


def _race(sessions: sessionmaker[Session], write: Callable[[Session], Any]) -> tuple[Any, Any, float]:
    """A writes and holds its transaction open; B writes the same thing meanwhile (and must wait
    on the unique index); A commits; B then commits. Returns (A's result, B's result, B's wait)."""
    results: dict[str, Any] = {}
    first = sessions()
    results["a"] = write(first).id
    started = threading.Event()

    def second() -> None:
        started.set()
        t0 = time.monotonic()
        with unit_of_work(sessions) as session:
            results["b"] = write(session).id
        results["waited"] = time.monotonic() - t0

    thread = threading.Thread(target=second)
    thread.start()
    started.wait()
    time.sleep(0.3)
    assert thread.is_alive(), "the second writer should wait for the first transaction"
    first.commit()
    first.close()
    thread.join(10)
    return results["a"], results["b"], results["waited"]


def test_racing_retries_create_one_node(sessions: sessionmaker[Session]) -> None:
    _, shot_id = _shot(sessions)

    def write(session: Session) -> Node:
        return nodes.create_node(
            session, type=NodeType.image, work_item_id=shot_id, idempotency_key="wf/act/1"
        )

    a, b, waited = _race(sessions, write)
    assert a == b and waited >= 0.25
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Node)) == 1


def test_racing_writes_of_the_same_bytes_create_one_asset(sessions: sessionmaker[Session]) -> None:
    ws_id, _ = _shot(sessions)

    def write(session: Session) -> Asset:
        return assets.get_or_create_by_hash(
            session, workspace_id=ws_id, content_hash="aa" * 32, storage_key=f"k/{uuid.uuid4()}",
            kind=AssetKind.image, mime="image/png", size_bytes=3,
        )  # fmt: skip

    a, b, _ = _race(sessions, write)
    assert a == b
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 1


def test_event_ids_become_visible_in_commit_order(sessions: sessionmaker[Session]) -> None:
    ws_id, _ = _shot(sessions)
    first = sessions()
    first_id = events.append(first, ws_id, "a")
    second_id: list[int] = []
    thread = threading.Thread(target=lambda: second_id.append(_append(sessions, ws_id)))
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), "a second appender of the same workspace waits for the first to commit"
    with sessions() as reader:
        assert events.since(reader, ws_id, 0) == []  # nothing committed yet: no gap can be skipped
    first.commit()
    first.close()
    thread.join(10)
    assert second_id[0] > first_id
    with sessions() as reader:
        assert [e.id for e in events.since(reader, ws_id, 0)] == [first_id, second_id[0]]


def _append(sessions: sessionmaker[Session], ws_id: uuid.UUID) -> int:
    with unit_of_work(sessions) as session:
        return events.append(session, ws_id, "b")


def test_unit_of_work_commits_on_success_and_rolls_back_on_error(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        kept = workspaces.create(session, owner_id="u", type=WorkspaceType.draft_space, title="kept")
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        workspaces.create(session, owner_id="u", type=WorkspaceType.draft_space, title="lost")
        raise RuntimeError("activity failed")
    with sessions() as session:
        assert session.scalars(select(Workspace.title)).all() == ["kept"]
        assert kept.title == "kept"  # usable after commit (expire_on_commit=False)
