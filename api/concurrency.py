"""Optimistic concurrency for edits: a row's version, its ETag, and the If-Match check.

Rules: a work item's (or workspace's) ``version`` is its ``updated_at`` in microseconds — every
change to the row (an edit, a new selection, a duration set by a narration) moves it, in the
same transaction as the change; GET and PATCH answer it as ``ETag: "<version>"`` and in the
body. A PATCH with ``If-Match`` locks the row (``SELECT … FOR UPDATE``) and answers **412**
``version_mismatch`` (with the current version in ``details``) when someone changed it since —
so two tabs cannot overwrite each other unnoticed. Without ``If-Match`` the edit applies as
before (scripts keep working); ``If-Match: *`` matches any version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from api.errors import ApiError
from schema.base import version_of


def etag_of(version: str) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()]


def check_if_match(request: Request, session: Session, model: type[Any], row_id: Any) -> None:
    """Lock the row and compare its version with If-Match (412 on a mismatch)."""
    header = request.headers.get("if-match")
    if not header:
        return
    row = session.get(model, row_id, with_for_update=True, populate_existing=True)
    if row is None:
        return  # the route's own lookup answers 404
    current = version_of(row.updated_at)
    tags = _tags(header)
    if "*" in tags or current in tags:
        return
    raise ApiError(
        412,
        "version_mismatch",
        "this was changed since you loaded it (another tab or a task); reload and try again",
        headers={"ETag": etag_of(current)},
        details={"current_version": current},
    )


def set_etag(response: Response, updated_at: datetime | None) -> None:
    response.headers["ETag"] = etag_of(version_of(updated_at))


__all__ = ["check_if_match", "etag_of", "set_etag", "version_of"]
