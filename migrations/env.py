"""Alembic environment for the ledger (configured programmatically by migrations.apply).

Rule: migrations run online only, against the URL in `config.attributes["url"]` (or a connection in
`config.attributes["connection"]`), in one transaction holding a cluster-wide advisory lock, so
several processes starting at once (API, workers) migrate exactly once.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from schema.db import make_engine
from schema.models import Base

MIGRATION_LOCK_KEY = 0x44445F4C45444752  # "DD_LEDGR": serialises concurrent upgrades

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use migrations.apply (alembic_config(url))")
    engine = make_engine(url, pool_pre_ping=False)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run migrations.apply.upgrade(url)")
run_migrations_online()
