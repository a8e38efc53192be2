"""Fixtures for the ledger tests: a real PostgreSQL 18 (embedded), migrated with Alembic.

Self-contained on purpose (names prefixed `ledger_`): one server per test session, a template
database migrated to head, and per test a Session inside an outer transaction that is rolled back
afterwards (repositories' flushes and savepoints run for real, nothing is committed). Tests that
need real commits (concurrency, migrations) get their own database cloned from the template.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from infra.postgres import EmbeddedPostgres
from migrations.apply import upgrade
from schema.db import make_engine
from schema.enums import NodeType, WorkspaceType
from schema.models import Node, Track, WorkItem, Workspace
from schema.repositories import nodes, tracks, work_items, workspaces

TEMPLATE_DB = "ledger_template"
TEST_DB = "ledger_test"
_db_counter = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def ledger_pg() -> Iterator[EmbeddedPostgres]:
    # Not tmp_path_factory: pytest prunes old numbered temp dirs, and concurrent pytest runs of
    # the same user could remove this cluster's directory while it is in use.
    root = Path(tempfile.mkdtemp(prefix="dd-ledger-pg-"))
    pg = EmbeddedPostgres(root / "data", _free_port())
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def ledger_template_url(ledger_pg: EmbeddedPostgres) -> str:
    ledger_pg.ensure_database(TEMPLATE_DB)
    url = ledger_pg.url(TEMPLATE_DB)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def ledger_engine(ledger_pg: EmbeddedPostgres, ledger_template_url: str) -> Iterator[Engine]:
    ledger_pg.ensure_database(TEST_DB, template=TEMPLATE_DB)
    engine = make_engine(ledger_pg.url(TEST_DB))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def ledger_db(ledger_engine: Engine) -> Iterator[Session]:
    """A Session whose work is rolled back after the test."""
    with ledger_engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def ledger_fresh_url(ledger_pg: EmbeddedPostgres, ledger_template_url: str) -> Iterator[str]:
    """A database of its own (cloned from the migrated template) for tests that commit."""
    name = f"ledger_fresh_{next(_db_counter)}"
    ledger_pg.ensure_database(name, template=TEMPLATE_DB)
    try:
        yield ledger_pg.url(name)
    finally:
        ledger_pg.drop_database(name)


@pytest.fixture
def ledger_empty_url(ledger_pg: EmbeddedPostgres) -> Iterator[str]:
    """An empty database (no migrations applied)."""
    name = f"ledger_empty_{next(_db_counter)}"
    ledger_pg.ensure_database(name)
    try:
        yield ledger_pg.url(name)
    finally:
        ledger_pg.drop_database(name)


@pytest.fixture
def count_statements(ledger_engine: Engine) -> Callable[[], Any]:
    """`with count_statements() as counter: ...` then `counter.n` = SQL statements executed."""

    @dataclass
    class Counter:
        n: int = 0
        statements: list[str] | None = None

    @contextmanager
    def counting() -> Iterator[Counter]:
        counter = Counter(statements=[])

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counter.n += 1
            assert counter.statements is not None
            counter.statements.append(statement)

        event.listen(ledger_engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(ledger_engine, "before_cursor_execute", before)

    return counting


@dataclass
class Factory:
    """Small builders for ledger rows (through the repositories)."""

    session: Session

    def workspace(
        self, owner_id: str = "user-1", type: WorkspaceType = WorkspaceType.narrative_project
    ) -> Workspace:
        return workspaces.create(self.session, owner_id=owner_id, type=type, title="Fox steals the moon")

    def shot(self, workspace: Workspace, **spec: Any) -> WorkItem:
        return work_items.insert_shot(
            self.session, workspace.id, spec=spec or {"visual": "a fox"}, duration_s=4.0
        )

    def track(self, item: WorkItem, name: str = "A") -> Track:
        return tracks.get_or_create(self.session, item.id, name)

    def node(
        self,
        item: WorkItem,
        track: Track | None = None,
        parent: Node | None = None,
        type: NodeType = NodeType.image,
        **kwargs: Any,
    ) -> Node:
        return nodes.create_node(
            self.session,
            type=type,
            work_item_id=item.id,
            track_id=None if track is None else track.id,
            parent_id=None if parent is None else parent.id,
            payload=kwargs.pop("payload", {"prompt": f"p-{uuid.uuid4().hex[:6]}"}),
            **kwargs,
        )


@pytest.fixture
def make(ledger_db: Session) -> Factory:
    return Factory(ledger_db)
