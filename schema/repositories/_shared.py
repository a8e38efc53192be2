"""Helpers shared by the repositories (not part of the public API)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from schema.domain_errors import NotFound
from schema.models import Base

M = TypeVar("M", bound=Base)


def require(session: Session, model: type[M], ident: uuid.UUID, entity: str | None = None) -> M:
    """The row with primary key `ident`, or NotFound(`<entity>_not_found`)."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(entity or model.__tablename__, ident)
    return row


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, `None` deletes a key, anything else
    (lists included) replaces. Returns a new value; `target` is not mutated."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
