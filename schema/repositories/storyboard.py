"""Storyboard and scenes of a narrative project.

Rule: the storyboard is written in place, position by position (scene k stays scene row k, shot
n stays work item n), so re-running the same storyboard changes nothing and a replacement keeps
each surviving shot's id, nodes, tracks and selection. A workspace that already has shots is
only overwritten with `replace=True`. Scene order, like shot order, is contiguous 1..N and
renumbered in two phases under the workspace lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, DateTime, Double, Table, TextClause, select, text
from sqlalchemy import delete as sa_delete
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from schema.domain_errors import Conflict, InvalidInput, InvariantViolation, NotFound
from schema.enums import WorkItemType, WorkspaceType
from schema.models import Scene, WorkItem, Workspace
from schema.repositories import work_items
from schema.repositories._shared import merge_patch, require

SHOT_FIELDS_OUTSIDE_SPEC = frozenset({"duration_s", "idx", "id"})


SCENE_FIELDS_OUTSIDE_SPEC = frozenset({"title", "goal", "shots", "spec", "idx", "id"})


class StoryboardShots(list[WorkItem]):
    """The shots written, in order (a list), plus the scenes and whether anything changed."""

    def __init__(self, shots: Sequence[WorkItem], *, scenes: Sequence[Scene], changed: bool) -> None:
        super().__init__(shots)
        self.scenes: list[Scene] = list(scenes)
        self.changed = changed  # False when the same storyboard was already stored


# --- storyboard ----------------------------------------------------------------------


def replace_storyboard(
    session: Session, workspace_id: uuid.UUID, storyboard: Mapping[str, Any], *, replace: bool = False
) -> StoryboardShots:
    """Write scenes and shots (idx 1..N across scenes) from
    `{"title", "scenes": [{"title", "goal", "spec", "shots": [{"visual", "camera", "duration_s", ...}]}]}`.
    Every shot key except `duration_s` goes into the shot's spec; scene keys other than title, goal
    and shots (place, time_of_day, mood...) go into the scene's spec. Idempotent; raises
    Conflict(`storyboard_exists`) when different shots exist and `replace` is False."""
    planned_scenes, planned_shots = _plan(storyboard)
    workspace = work_items.lock_shot_order(session, workspace_id)
    if workspace.type != WorkspaceType.narrative_project:
        raise InvariantViolation(
            "only narrative projects have a storyboard", code="shots_need_narrative_project"
        )

    scenes = list_scenes(session, workspace_id)
    shots = work_items.list_shots(session, workspace_id)
    if _same(scenes, shots, planned_scenes, planned_shots):
        return StoryboardShots(shots, scenes=scenes, changed=False)
    if shots and not replace:
        raise Conflict(
            "this workspace already has a storyboard; pass replace=True to overwrite it",
            code="storyboard_exists",
        )

    # Surplus shots go first (their nodes must not be referenced from elsewhere), then surplus scenes.
    surplus = [s.id for s in shots[len(planned_shots) :]]
    if surplus:
        work_items.delete_many(session, workspace_id, surplus)
        shots = shots[: len(planned_shots)]
    if len(scenes) > len(planned_scenes):
        doomed = [s.id for s in scenes[len(planned_scenes) :]]
        session.execute(
            sa_delete(Scene).where(Scene.id.in_(doomed)), execution_options={"synchronize_session": False}
        )
        for scene in scenes[len(planned_scenes) :]:
            session.expunge(scene)
        scenes = scenes[: len(planned_scenes)]

    for scene, plan in zip(scenes, planned_scenes, strict=False):
        scene.title, scene.goal, scene.spec = plan["title"], plan["goal"], plan["spec"]
    for idx, plan in enumerate(planned_scenes[len(scenes) :], start=len(scenes) + 1):
        scene = Scene(
            workspace_id=workspace_id, idx=idx, title=plan["title"], goal=plan["goal"], spec=plan["spec"]
        )
        session.add(scene)
        scenes.append(scene)
    session.flush()

    for shot, plan in zip(shots, planned_shots, strict=False):
        shot.spec, shot.duration_s = plan["spec"], plan["duration_s"]
        shot.scene_id = scenes[plan["scene"]].id
    for idx, plan in enumerate(planned_shots[len(shots) :], start=len(shots) + 1):
        shot = WorkItem(
            workspace_id=workspace_id,
            type=WorkItemType.shot,
            idx=idx,
            scene_id=scenes[plan["scene"]].id,
            spec=plan["spec"],
            duration_s=plan["duration_s"],
        )
        session.add(shot)
        shots.append(shot)
    title = storyboard.get("title")
    if isinstance(title, str) and title.strip() and not workspace.title.strip():
        workspace.title = title.strip()
    session.flush()
    return StoryboardShots(shots, scenes=scenes, changed=True)


def _plan(storyboard: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    raw_scenes = storyboard.get("scenes")
    if not isinstance(raw_scenes, Sequence) or isinstance(raw_scenes, str) or not raw_scenes:
        raise InvalidInput("a storyboard needs at least one scene", code="storyboard_invalid")
    scenes: list[dict[str, Any]] = []
    shots: list[dict[str, Any]] = []
    for number, raw in enumerate(raw_scenes):
        if not isinstance(raw, Mapping):
            raise InvalidInput(f"scene {number + 1} is not an object", code="storyboard_invalid")
        scenes.append(
            {
                "title": str(raw.get("title") or ""),
                "goal": raw.get("goal"),
                "spec": {
                    **{k: v for k, v in raw.items() if k not in SCENE_FIELDS_OUTSIDE_SPEC},
                    **dict(raw.get("spec") or {}),
                },
            }
        )
        for shot in raw.get("shots") or []:
            if not isinstance(shot, Mapping):
                raise InvalidInput(
                    f"a shot of scene {number + 1} is not an object", code="storyboard_invalid"
                )
            duration = shot.get("duration_s")
            if duration is not None:
                work_items._check_duration(float(duration))
            shots.append(
                {
                    "scene": number,
                    "duration_s": None if duration is None else float(duration),
                    "spec": {k: v for k, v in shot.items() if k not in SHOT_FIELDS_OUTSIDE_SPEC},
                }
            )
    if not shots:
        raise InvalidInput("a storyboard needs at least one shot", code="storyboard_invalid")
    return scenes, shots


def _same(
    scenes: Sequence[Scene],
    shots: Sequence[WorkItem],
    planned_scenes: Sequence[Mapping[str, Any]],
    planned_shots: Sequence[Mapping[str, Any]],
) -> bool:
    if len(scenes) != len(planned_scenes) or len(shots) != len(planned_shots):
        return False
    for scene, plan in zip(scenes, planned_scenes, strict=True):
        if (scene.title, scene.goal, scene.spec) != (plan["title"], plan["goal"], plan["spec"]):
            return False
    for shot, plan in zip(shots, planned_shots, strict=True):
        if (shot.spec, shot.duration_s, shot.scene_id) != (
            plan["spec"],
            plan["duration_s"],
            scenes[plan["scene"]].id,
        ):
            return False
    return True


# --- scenes --------------------------------------------------------------------------


def list_scenes(session: Session, workspace_id: uuid.UUID) -> list[Scene]:
    return list(session.scalars(select(Scene).where(Scene.workspace_id == workspace_id).order_by(Scene.idx)))


def get_scene(session: Session, scene_id: uuid.UUID) -> Scene | None:
    return session.get(Scene, scene_id)


def get_scene_by_idx(session: Session, workspace_id: uuid.UUID, idx: int) -> Scene | None:
    return session.scalar(select(Scene).where(Scene.workspace_id == workspace_id, Scene.idx == idx))


def add_scene(
    session: Session,
    workspace_id: uuid.UUID,
    *,
    title: str = "",
    goal: str | None = None,
    spec: Mapping[str, Any] | None = None,
    at_idx: int | None = None,
) -> Scene:
    """Insert a scene at `at_idx` (1..N+1; later scenes move down) or append it."""
    work_items.lock_shot_order(session, workspace_id)
    scenes = list_scenes(session, workspace_id)
    target = len(scenes) + 1 if at_idx is None else at_idx
    if not 1 <= target <= len(scenes) + 1:
        raise InvalidInput(
            f"scene position {target} is outside 1..{len(scenes) + 1}", code="idx_out_of_range"
        )
    _set_scene_positions(session, [(s, i if i < target else i + 1) for i, s in enumerate(scenes, start=1)])
    scene = Scene(workspace_id=workspace_id, idx=target, title=title, goal=goal, spec=dict(spec or {}))
    session.add(scene)
    session.flush()
    return scene


def update_scene(
    session: Session,
    scene_id: uuid.UUID,
    *,
    title: str | None = None,
    goal: str | None = None,
    spec_patch: Mapping[str, Any] | None = None,
) -> Scene:
    """Set title/goal when given; merge-patch the spec."""
    scene = require(session, Scene, scene_id)
    if title is not None:
        scene.title = title
    if goal is not None:
        scene.goal = goal
    if spec_patch:
        scene.spec = merge_patch(scene.spec, spec_patch)
    session.flush()
    return scene


def reorder_scene(session: Session, scene_id: uuid.UUID, to_idx: int) -> list[Scene]:
    """Move a scene to `to_idx`; shots keep their own order (scene order is grouping)."""
    scene = require(session, Scene, scene_id)
    work_items.lock_shot_order(session, scene.workspace_id)
    scenes = list_scenes(session, scene.workspace_id)
    if not 1 <= to_idx <= len(scenes):
        raise InvalidInput(f"scene position {to_idx} is outside 1..{len(scenes)}", code="idx_out_of_range")
    order = [s for s in scenes if s.id != scene_id]
    order.insert(to_idx - 1, scene)
    _set_scene_positions(session, [(s, i) for i, s in enumerate(order, start=1)])
    return order


def delete_scene(session: Session, scene_id: uuid.UUID) -> None:
    """Delete a scene; its shots stay (scene_id becomes NULL); later scenes move up."""
    scene = require(session, Scene, scene_id)
    workspace_id = scene.workspace_id
    work_items.lock_shot_order(session, workspace_id)
    session.delete(scene)
    session.flush()
    for obj in list(session.identity_map.values()):  # the database set their scene_id to NULL
        if isinstance(obj, WorkItem) and obj.scene_id == scene_id:
            session.expire(obj, ["scene_id"])
    scenes = list_scenes(session, workspace_id)
    _set_scene_positions(session, [(s, i) for i, s in enumerate(scenes, start=1)])


def _set_scene_positions(session: Session, assignments: Sequence[tuple[Scene, int]]) -> None:
    changed = [(scene, idx) for scene, idx in assignments if scene.idx != idx]
    if not changed:
        return
    ceiling = max([s.idx for s, _ in assignments] + [i for _, i in assignments])
    for scene, idx in changed:
        scene.idx = ceiling + idx
    session.flush()
    for scene, idx in changed:
        scene.idx = idx
    session.flush()


def require_scene(session: Session, scene_id: uuid.UUID) -> Scene:
    scene = session.get(Scene, scene_id)
    if scene is None:
        raise NotFound("scene", scene_id)
    return scene


# --- the storyboard document, built in PostgreSQL ----------------------------------------------


@dataclass(frozen=True)
class DocumentFields:
    """Which columns the storyboard document shows, in order (the API's response models name them)."""

    workspace: tuple[str, ...]
    scene: tuple[str, ...]
    shot: tuple[str, ...]  # work_item columns; each shot also gets its selected file's id and URLs
    versioned: bool = False  # workspace, scenes, shots end with `version`: updated_at in whole microseconds


@dataclass(frozen=True)
class StoryboardDocument:
    """The parts of one storyboard as JSON text (never parsed in Python) and the shots' total length."""

    workspace: str
    scenes: str
    shots: str
    total_duration_s: float


def storyboard_document(
    conn: Session | Connection,
    workspace_id: uuid.UUID,
    *,
    owner_id: str | None,
    base_url: str,
    fields: DocumentFields,
) -> StoryboardDocument | None:
    """Workspace, scenes in order and shots in order (each with its selected version's file) in ONE
    statement that also checks ownership (`owner_id` None: any owner, for admin reads); None when
    the workspace is not there or not the owner's. The JSON is built by PostgreSQL in the shapes
    pydantic writes (timestamps `…T…[.ffffff]Z`, floats with a fraction), so the API only joins
    the parts; `base_url` prefixes the file URLs (`{base}/workspaces/{ws}/assets/{id}/content`)."""
    row = conn.execute(
        _document_sql(fields),
        {"workspace_id": workspace_id, "owner_id": owner_id, "base": base_url.rstrip("/")},
    ).one_or_none()
    if row is None:
        return None
    return StoryboardDocument(row[0], row[1], row[2], float(row[3] or 0.0))


def storyboard_revision(
    conn: Session | Connection, workspace_id: uuid.UUID, *, owner_id: str | None
) -> str | None:
    """A token that changes whenever the storyboard document can change (None when the workspace
    is not there or not the owner's): the workspace's newest event id (every write emits one in its
    own transaction) joined with the row counts and newest `updated_at` of the workspace, its scenes
    and its shots, so a write that emitted no event still shows. Index probes only: the cheap
    question a cached document is checked with."""
    row = conn.execute(_REVISION_SQL, {"workspace_id": workspace_id, "owner_id": owner_id}).one_or_none()
    return None if row is None else row[0]


async def storyboard_revision_async(
    conn: AsyncConnection, workspace_id: uuid.UUID, *, owner_id: str | None
) -> str | None:
    """`storyboard_revision` on an asyncio connection (the API asks it on its event loop)."""
    result = await conn.execute(_REVISION_SQL, {"workspace_id": workspace_id, "owner_id": owner_id})
    row = result.one_or_none()
    return None if row is None else row[0]


_REVISION_SQL = text(
    """
    SELECT concat_ws('/', w.updated_at,
        (SELECT coalesce(max(e.id), 0) FROM event e WHERE e.workspace_id = w.id),
        (SELECT count(*) || ':' || coalesce(max(s.updated_at)::text, '')
         FROM scene s WHERE s.workspace_id = w.id),
        (SELECT count(*) || ':' || coalesce(max(wi.updated_at)::text, '')
         FROM work_item wi WHERE wi.workspace_id = w.id))
    FROM workspace w
    WHERE w.id = :workspace_id AND (CAST(:owner_id AS text) IS NULL OR w.owner_id = :owner_id)
    """
)


def _json_value(table: Table, alias: str, name: str) -> str:
    """SQL for one column's JSON value, formatted the way pydantic serialises the Python value."""
    column = table.c[name]  # KeyError: a response field that is not a column of the table
    ref = f'{alias}."{name}"'
    if isinstance(column.type, DateTime):
        return (
            f"to_json(to_char({ref}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
            f" || CASE WHEN to_char({ref}, 'US') = '000000' THEN '' ELSE '.' || to_char({ref}, 'US') END"
            f" || CASE to_char({ref}, 'TZH:TZM') WHEN '+00:00' THEN 'Z' ELSE to_char({ref}, 'TZH:TZM') END)"
        )
    if isinstance(column.type, Double):
        return (
            f"CASE WHEN {ref} IS NULL OR {ref} IN ('NaN', 'Infinity', '-Infinity') THEN NULL"
            f" WHEN {ref}::text ~ '^-?[0-9]+$' THEN ({ref}::text || '.0')::json ELSE {ref}::text::json END"
        )
    return ref


def _object(table: Table, alias: str, names: Sequence[str], *extra: tuple[str, str]) -> str:
    pairs = [f"'{n}', {_json_value(table, alias, n)}" for n in names]
    pairs += [f"'{key}', {sql}" for key, sql in extra]
    return f"json_build_object({', '.join(pairs)})"


def _version(alias: str) -> tuple[str, str]:
    """`version`: microseconds since the epoch of `updated_at`, as text (exact: numeric epoch)."""
    return "version", f"to_json(trunc(extract(epoch from {alias}.updated_at) * 1000000)::bigint::text)"


@lru_cache(maxsize=8)
def _document_sql(fields: DocumentFields) -> TextClause:
    files = "CAST(:base AS text) || '/workspaces/' || w.id || '/assets/' || a.id"
    versioned = [_version] if fields.versioned else []
    workspace = _object(cast(Table, Workspace.__table__), "w", fields.workspace, *(v("w") for v in versioned))
    scene = _object(cast(Table, Scene.__table__), "s", fields.scene, *(v("s") for v in versioned))
    shot = _object(
        cast(Table, WorkItem.__table__),
        "wi",
        fields.shot,
        ("selected_asset_id", "a.id"),
        ("selected_url", f"CASE WHEN a.id IS NOT NULL THEN {files} || '/content' END"),
        ("thumbnail_url", f"CASE WHEN a.thumbnail_key <> '' THEN {files} || '/thumbnail' END"),
        *(v("wi") for v in versioned),
    )
    return text(
        f"""
        SELECT {workspace}::text, sc.doc::text, sh.doc::text, sh.total
        FROM workspace w
        CROSS JOIN LATERAL (
            SELECT coalesce(json_agg({scene} ORDER BY s.idx), '[]')
            FROM scene s WHERE s.workspace_id = w.id
        ) AS sc(doc)
        CROSS JOIN LATERAL (
            SELECT coalesce(json_agg({shot} ORDER BY wi.idx), '[]'), sum(wi.duration_s)
            FROM work_item wi
            LEFT JOIN node n ON n.id = wi.selected_node_id
            LEFT JOIN asset a ON a.id = n.asset_id
            WHERE wi.workspace_id = w.id AND wi.type = 'shot'
        ) AS sh(doc, total)
        WHERE w.id = :workspace_id AND (CAST(:owner_id AS text) IS NULL OR w.owner_id = :owner_id)
        """
    )
