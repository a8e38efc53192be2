"""Test session harness: one real PostgreSQL and one real Temporal dev server per pytest session.

Rules: no mocks of either; the ledger is migrated to head once into a template database; unit
tests run inside a transaction that is rolled back; workflow tests get their own database cloned
from the template and a real Worker on a uuid task queue.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from infra.postgres import EmbeddedPostgres
from infra.temporal_server import dynamic_config_args, temporal_cli_path

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pg() -> Iterator[EmbeddedPostgres]:
    # not tmp_path_factory: pytest prunes old basetemp dirs, which a concurrent session may still use
    root = Path(tempfile.mkdtemp(prefix="dd-test-pg-"))
    server = EmbeddedPostgres(root / "data", free_port(), database="postgres")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template_url(pg: EmbeddedPostgres) -> str:
    """A database migrated to head; never connected to by tests, only cloned."""
    from migrations.apply import upgrade

    pg.ensure_database("dd_template")
    url = pg.url("dd_template")
    upgrade(url)
    # close every pooled connection so the template can be cloned
    return url


def clone_database(pg: EmbeddedPostgres, name: str) -> str:
    pg.ensure_database(name, template="dd_template")
    return pg.url(name)


@pytest.fixture(scope="session")
def pg_test_url(pg: EmbeddedPostgres, pg_template_url: str) -> str:
    return clone_database(pg, "dd_test")


@pytest.fixture(scope="session")
def _test_engine(pg_test_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(pg_test_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(_test_engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A Session whose work is rolled back after the test (commits become savepoints)."""
    connection = _test_engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def fresh_db_url(pg: EmbeddedPostgres, pg_template_url: str) -> Iterator[str]:
    """A whole database of its own (cloned from the migrated template), for workflow tests."""
    name = f"dd_{uuid.uuid4().hex[:12]}"
    url = clone_database(pg, name)
    yield url
    from infra.ledger import dispose_engines

    dispose_engines(url)
    pg.drop_database(name)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[object]:
    from temporalio.testing import WorkflowEnvironment

    from infra.search_attributes import dev_server_args
    from infra.temporal_client import data_converter

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        data_converter=data_converter(),
        dev_server_extra_args=[
            *dynamic_config_args(),  # the same server settings as `directordeck up`
            *dev_server_args(),  # the search attributes `directordeck up` registers
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
