"""The DSL's limits, as numbers the REST request models and the edit services share.

Rule: a limit is written once, in the action DSL (:mod:`schema.actions`); everything else reads it
from there, so "split shot 2 into 7" is refused the same way whether it arrives as a sentence or as
``POST .../split``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schema import actions as A


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

__all__ = [
    "DURATION_MAX_S",
    "DURATION_MIN_S",
    "MAX_POSITION",
    "SPLIT_PARTS_MAX",
    "SPLIT_PARTS_MIN",
    "dsl_bounds",
]
