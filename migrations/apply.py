"""Run ledger migrations from code (CLI, test fixtures, `directordeck up`).

Rule: no alembic.ini; the configuration is built here and the scripts are found next to this file,
so it works from a source checkout and from an installed wheel alike. Revision files are named
`YYYYMMDD_NNNN_slug.py` with sequential revision ids (`0001`, `0002`, ...).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from schema.db import make_engine

SCRIPT_LOCATION = Path(__file__).parent
FILE_TEMPLATE = "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at this package's scripts and at `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", FILE_TEMPLATE.replace("%", "%%"))
    cfg.set_main_option("truncate_slug_length", "40")
    cfg.set_main_option("timezone", "UTC")
    cfg.attributes["url"] = url  # not set_main_option: a URL may contain '%'
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at (None for an empty/unmigrated database)."""
    engine = make_engine(url, pool_pre_ping=False)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()


def new_revision(url: str, message: str, *, autogenerate: bool = True) -> None:
    """Draft the next revision (id = previous + 1) from the models; hand-check it before committing."""
    cfg = alembic_config(url)
    previous = ScriptDirectory.from_config(cfg).get_current_head()
    rev_id = f"{int(previous or '0') + 1:04d}"
    command.revision(cfg, message=message, autogenerate=autogenerate, rev_id=rev_id)
