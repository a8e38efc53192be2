"""Ledger sessions by database URL: one engine per URL per process, one unit of work per write.

Rule: every layer above the repositories (activities, the action service, the API, metrics) opens
its transactions here, so a process holds one connection pool per database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from schema import db

_lock = threading.Lock()
_engines: dict[str, tuple[Engine, sessionmaker[Session]]] = {}


def _factory(url: str) -> sessionmaker[Session]:
    key = db.normalize_url(url)
    with _lock:
        if key not in _engines:
            engine = db.make_engine(key, pool_size=5, max_overflow=10)
            _engines[key] = (engine, db.session_factory(engine))
        return _engines[key][1]


@contextmanager
def unit_of_work(url: str) -> Iterator[Session]:
    """Commit on success, roll back on any error."""
    with db.unit_of_work(_factory(url)) as session:
        yield session


def dispose_engines(url: str | None = None) -> None:
    with _lock:
        for key in [k for k in _engines if url is None or k == db.normalize_url(url)]:
            _engines.pop(key)[0].dispose()
