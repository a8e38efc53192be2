"""Shared test helpers (moved out of test modules so tests never import each other)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text


def scalar(db_url: str, sql: str, **params: object) -> object:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(db_url: str, sql: str, **params: object) -> list:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


async def save_history(client, workflow_id: str, name: str) -> None:
    """With DD_RECORD_HISTORIES=1, refresh the committed histories the replay test guards."""
    if os.environ.get("DD_RECORD_HISTORIES") != "1":
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    HISTORY_DIR.mkdir(exist_ok=True)
    (HISTORY_DIR / f"{name}.json").write_text(history.to_json())


HISTORY_DIR = Path(__file__).parents[1] / "workflows" / "histories"
