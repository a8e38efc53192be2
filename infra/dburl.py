"""One DATABASE_URL, two spellings: SQLAlchemy wants `postgresql+psycopg://`, libpq `postgresql://`."""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^(postgres|postgresql)(\+\w+)?://")


def sqlalchemy_url(url: str) -> str:
    return _SCHEME.sub("postgresql+psycopg://", url, count=1)


def libpq_url(url: str) -> str:
    return _SCHEME.sub("postgresql://", url, count=1)
