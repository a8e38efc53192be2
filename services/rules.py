"""The rules every edit shares, whichever path it comes by (sentence, button, CRUD route).

Rules: a limit is written once, in the action DSL (:mod:`schema.actions`); everything else reads it
from here, so "split shot 2 into 7" is refused the same way whether it arrives as a sentence or as
``POST .../split``. A destructive direct edit takes a snapshot first (``before <verb> …``), and
every edit appends the event SSE clients see.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from schema import actions as A
from schema.domain_errors import InvalidInput
from schema.models import Snapshot, Workspace
from schema.repositories import events as event_repo
from schema.repositories import snapshots as snapshot_repo


def dsl_bounds(model: type[BaseModel], field: str) -> tuple[Any, Any]:
    """(minimum, maximum) of one DSL argument, read from the model's own validators."""
    prop = model.model_json_schema(by_alias=True)["properties"][field]
    for option in (prop, *prop.get("anyOf", [])):
        if "minimum" in option and "maximum" in option:
            return option["minimum"], option["maximum"]
    raise LookupError(f"{model.__name__}.{field} has no numeric bounds")


#: ``shot.split`` parts (and the number of per-part specs the REST split accepts).
SPLIT_PARTS_MIN, SPLIT_PARTS_MAX = dsl_bounds(A.ShotSplitArgs, "parts")
#: A shot's (or draft's) duration in seconds, as ``shot.add`` / ``shot.update`` accept it.
DURATION_MIN_S, DURATION_MAX_S = dsl_bounds(A.ShotSpec, "duration_s")
#: 1-based positions of shots and scenes.
MAX_POSITION = A.MAX_SHOT_NUMBER


def emit(session: Session, workspace: Workspace, kind: str, **data: Any) -> int:
    return event_repo.append(session, workspace.id, kind, data)


def snapshot_before(session: Session, workspace: Workspace, note: str, by: str | None) -> Snapshot:
    return snapshot_repo.take(session, workspace.id, ("before " + note)[:500], created_by=by)


def check_duration(value: float | None) -> None:
    """The DSL's duration bounds (``shot.add``/``shot.update``); None clears."""
    if value is not None and not DURATION_MIN_S <= value <= DURATION_MAX_S:
        raise InvalidInput(
            f"duration {value}s is outside {DURATION_MIN_S}..{DURATION_MAX_S}s", code="duration_out_of_range"
        )


def check_split_parts(count: int) -> None:
    """The DSL's ``shot.split`` bounds."""
    if not SPLIT_PARTS_MIN <= count <= SPLIT_PARTS_MAX:
        raise InvalidInput(
            f"a shot splits into {SPLIT_PARTS_MIN}..{SPLIT_PARTS_MAX} parts", code="split_parts_out_of_range"
        )
