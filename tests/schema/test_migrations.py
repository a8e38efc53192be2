"""Migrations: upgrade creates the ledger, downgrade removes every trace, models and migrations agree."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Enum, inspect, text

import migrations
from migrations.apply import alembic_config, current, downgrade, head, upgrade
from schema.db import make_engine
from schema.models import Base

ENUM_TYPES = {
    "workspace_type",
    "work_item_type",
    "node_type",
    "node_status",
    "ref_role",
    "asset_kind",
    "task_type",
    "task_status",
    "conversation_mode",
    "message_role",
}


def _tables_and_enums(url: str) -> tuple[set[str], set[str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            enums = set(conn.scalars(text("SELECT typname FROM pg_type WHERE typtype = 'e'")))
        return tables, enums
    finally:
        engine.dispose()


def test_model_enums_are_the_migrated_enums() -> None:
    declared = {
        col.type.name
        for table in Base.metadata.tables.values()
        for col in table.c
        if isinstance(col.type, Enum)
    }
    assert declared == ENUM_TYPES


def test_upgrade_downgrade_upgrade_round_trip(ledger_empty_url: str) -> None:
    assert current(ledger_empty_url) is None
    upgrade(ledger_empty_url)
    assert current(ledger_empty_url) == head()
    tables, enums = _tables_and_enums(ledger_empty_url)
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert enums == ENUM_TYPES

    downgrade(ledger_empty_url, "base")
    assert current(ledger_empty_url) is None
    tables, enums = _tables_and_enums(ledger_empty_url)
    assert tables == {"alembic_version"}
    assert enums == set()

    upgrade(ledger_empty_url, "head")
    assert current(ledger_empty_url) == head()
    tables, _ = _tables_and_enums(ledger_empty_url)
    assert set(Base.metadata.tables) <= tables


def test_no_drift_between_models_and_migrations(ledger_template_url: str) -> None:
    engine = make_engine(ledger_template_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_scripts_are_found_from_the_package_and_named_by_date() -> None:
    cfg = alembic_config("postgresql://unused/db")
    assert Path(cfg.get_main_option("script_location") or "") == Path(migrations.__file__).parent
    assert (Path(migrations.__file__).parent / "script.py.mako").is_file()
    versions = Path(migrations.__file__).parent / "versions"
    names = sorted(p.name for p in versions.glob("*.py") if p.name != "__init__.py")
    assert names, "no revision files"
    for number, name in enumerate(names, start=1):
        match = re.fullmatch(r"(\d{8})_(\d{4})_([a-z0-9_]+)\.py", name)
        assert match, name
        assert int(match.group(2)) == number
        source = (Path(migrations.__file__).parent / "versions" / name).read_text()
        assert f"revision: str = '{match.group(2)}'" in source
