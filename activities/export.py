"""Export packages: a workspace's favorites, or each shot's selected version, as one zip.

One builder serves both ways a package is made: the favorites batch download
(``GET /workspaces/{id}/favorites/download``, built while the request waits) and the durable
``export`` workflow (``ExportActivities.export_package``, stored as an ``archive`` asset).

Rules:
- a package is planned from the ledger in one short transaction (``plan_package``), then written
  from storage with no database connection held (``write_package``);
- selections: ``favorites`` — every favorite, grouped by shot order (drafts last), one folder per
  shot or draft; ``selected`` — per shot in order, the shot's selected version (the node
  ``work_item.selected_node_id`` points at), its clip and its narration as compose picks them
  (``nodes.compose_inputs``: the shot's current clip and current narration pointers), then the
  workspace's current cut (``workspace.current_cut_node_id``);
- ``naming`` is an optional pattern for file names (``PLACEHOLDERS``; ``/`` makes folders, the
  stored file's extension is always appended; a pattern without a placeholder gets ``-{n}``);
  without it the layout is the favorites download's (``shot-03/hero-cell2-1a2b3c4d.png``) or, for
  ``selected``, ``shot-03/image.png``, ``shot-03/video.mp4``, ``shot-03/voice.wav``, ``compose.mp4``;
- every name is sanitised: placeholder values never carry separators, no component is empty,
  ``.`` or ``..`` or starts with a dot, components are bounded in bytes, depth is bounded,
  Windows device names are defused, and names are unique (case-insensitively) within the zip —
  nothing can land outside the archive root;
- ``manifest.json`` describes the package (workspace, selection, naming, generated_at and, per
  item, shot, node, kind, content hash and size); its hashes are those of the bytes written;
- files are streamed from storage in 1 MiB chunks (never whole in memory), stored uncompressed
  (media is compressed already), with a fixed timestamp — so the same plan makes the same bytes,
  and a retried activity lands on the same content-addressed asset;
- the activity heartbeats progress (bytes written / bytes planned) and stops within a chunk when
  cancelled; nothing to export is ``nothing_to_export`` (non-retryable);
- ``formats`` say what the package holds (``EXPORT_FORMATS``; default ``media`` alone, today's
  zip): ``media`` is the selection's files; ``otio``/``fcpxml``/``fcp7xml``/``edl`` are timelines of
  the cut (``activities.timeline``) written at the package root next to the cut's media (each
  shot's clip and narration as compose joins them, and the current cut's music), which they name
  by relative path; ``srt``/``vtt`` are its subtitles; ``capcut`` is a draft folder under
  ``capcut/<title>/`` with its own copy of the media in ``materials/``. Unknown formats are
  ``format_invalid``; a timeline or subtitles with no clip to cut are ``nothing_to_export``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import string
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity

from activities.contracts import (
    DEFAULT_FORMATS,
    EXPORT_FORMATS,
    EXPORT_SELECTIONS,
    ExportInput,
    ExportResult,
)
from activities.ledger import stored_asset
from activities.media.compose import MODE_DEFAULTS
from activities.runtime import Cancelled, Progress, coded
from activities.timeline import (
    CAPCUT_FOLDER,
    DRAFT_FORMATS,
    FILE_NAMES,
    SUBTITLE_FORMATS,
    TIMELINE_FORMATS,
    Cut,
    CutShot,
    Media,
    build_timeline,
    capcut_media_name,
    render,
    write_capcut_draft,
)
from infra.ledger import unit_of_work
from infra.storage import Storage, StoredObject
from infra.telemetry import provider_span
from schema.enums import AssetKind, NodeType, TaskStatus, WorkItemType
from schema.errors import BadInputError, CancelledByUser
from schema.models import Asset, Favorite, Node, WorkItem
from schema.repositories import assets as asset_repo
from schema.repositories import favorites as favorite_repo
from schema.repositories import nodes as node_repo
from schema.repositories import tasks as task_repo
from schema.repositories import workspaces as workspace_repo

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "directordeck.export/1"
ZIP_MIME = "application/zip"
CHUNK = 1 << 20
MAX_PATTERN_CHARS = 200
MAX_COMPONENT_BYTES = 150  # UTF-8 bytes per folder or file stem (file systems allow 255)
MAX_DEPTH = 4  # folders + file
MAX_VALUE_CHARS = 60  # one placeholder's value

PLACEHOLDERS: dict[str, str] = {
    "shot": "shot number, zero-padded (03); drafts d01, d02…; workspace-level files (compose) all",
    "folder": "the default folder: shot-03, draft-01-<id8>, or nothing for workspace-level files",
    "kind": "image | video | voice | music | sfx | compose | grid | … (what the file is)",
    "label": "favorites: the first two tags, else the kind; selected: the kind",
    "tags": "favorites: every tag, joined by '-' (empty otherwise)",
    "title": "the workspace title",
    "n": "running number of the file in the package, zero-padded (01, 02…)",
    "cell": "grid cell number (empty when the file is not a grid cell)",
    "role": "selected | video | voice | compose | favorite (why the file is in the package)",
    "hash": "first 8 hex digits of the file's sha256",
    "node": "first 8 hex digits of the node id (empty for asset-only favorites)",
}

KIND_OF_NODE: dict[NodeType, str] = {
    NodeType.image: "image",
    NodeType.video: "video",
    NodeType.audio_voice: "voice",
    NodeType.audio_music: "music",
    NodeType.audio_sfx: "sfx",
    NodeType.compose: "compose",
    NodeType.grid_group: "grid",
}

_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)
_DASHES = re.compile(r"-{2,}")


class NothingToExport(BadInputError):
    code = "nothing_to_export"


class NamingInvalid(BadInputError):
    code = "naming_invalid"


class SelectionInvalid(BadInputError):
    code = "selection_invalid"


class AssetCorrupt(BadInputError):
    code = "asset_corrupt"


class FormatInvalid(BadInputError):
    code = "format_invalid"


# --- names ---------------------------------------------------------------------------------


def safe_label(text: str, limit: int = 40) -> str:
    """Letters, digits, `-` and `_` only (anything else becomes `-`); never empty."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in unicodedata.normalize("NFC", text))
    return cleaned.strip("-")[:limit] or "x"


def _value(text: Any) -> str:
    """A placeholder's value: no separators, no dots, bounded; may be empty."""
    if text is None:
        return ""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in unicodedata.normalize("NFC", str(text)))
    return _DASHES.sub("-", cleaned).strip("-")[:MAX_VALUE_CHARS]


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def _component(text: str) -> str:
    """One folder or file stem: letters, digits, `-`, `_` and inner dots; never `.`/`..`/hidden."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in unicodedata.normalize("NFC", text))
    cleaned = _DASHES.sub("-", cleaned).strip("-.")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    cleaned = _truncate_bytes(cleaned, MAX_COMPONENT_BYTES).strip("-.")
    if cleaned.split(".")[0].lower() in _WINDOWS_DEVICES:
        cleaned = f"_{cleaned}"
    return cleaned


def _extension(storage_key: str) -> str:
    ext = PurePosixPath(storage_key).suffix.lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,8}", ext) else ""


def parse_naming(pattern: str) -> list[tuple[str, str | None]]:
    """Validate a naming pattern into (literal, placeholder) pairs. Only the names in
    PLACEHOLDERS are allowed, with no format spec, conversion, index or attribute access (the
    pattern is never handed to str.format)."""
    if not pattern or not pattern.strip():
        raise NamingInvalid("the naming pattern is empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise NamingInvalid(f"the naming pattern is longer than {MAX_PATTERN_CHARS} characters")
    if any(unicodedata.category(c) == "Cc" for c in pattern):
        raise NamingInvalid("the naming pattern contains control characters")
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as err:
        raise NamingInvalid(
            f"the naming pattern is malformed ({err}); write placeholders as {{shot}}"
        ) from err
    tokens: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise NamingInvalid(
                f"unknown placeholder {shown} in the naming pattern; use "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            )
        tokens.append((literal, name))
    if not any(name for _, name in tokens):
        tokens.append(("-", "n"))  # a fixed name still needs to tell files apart
    return tokens


def check_naming(pattern: str | None) -> None:
    """Raise NamingInvalid (code `naming_invalid`) for a pattern that cannot be used."""
    if pattern is not None:
        parse_naming(pattern)


class _Namer:
    """Turns candidate names into sanitised, unique archive paths."""

    def __init__(self) -> None:
        self.used: set[str] = {MANIFEST}
        self.by_content: dict[tuple[str, str], str] = {}

    @staticmethod
    def clean(candidate: str) -> tuple[list[str], str]:
        parts = [_component(p) for p in re.split(r"[/\\]+", candidate)]
        parts = [p for p in parts if p]
        if not parts:
            parts = ["file"]
        if len(parts) > MAX_DEPTH:  # fold the deepest folders into the file name
            parts = [*parts[: MAX_DEPTH - 1], _component("-".join(parts[MAX_DEPTH - 1 :])) or "file"]
        return parts[:-1], parts[-1]

    def place(self, candidate: str, ext: str, content_hash: str | None) -> tuple[str, bool]:
        """(path inside the zip, True when it is new; False when these bytes already sit under
        that candidate name, which is then reused)."""
        folders, stem = self.clean(candidate)
        first = "/".join([*folders, stem + ext])
        if content_hash is not None and (first.lower(), content_hash) in self.by_content:
            return self.by_content[(first.lower(), content_hash)], False
        name, k = first, 1
        while name.lower() in self.used:
            k += 1
            suffix = f"-{k}"
            short = _truncate_bytes(stem, MAX_COMPONENT_BYTES - len(suffix))
            name = "/".join([*folders, short + suffix + ext])
        self.used.add(name.lower())
        if content_hash is not None:
            self.by_content[(first.lower(), content_hash)] = name
        return name, True


def is_inside_archive(name: str) -> bool:
    """The invariant every entry name satisfies: a relative POSIX path with no empty, `.` or `..`
    component, no backslash, colon or control character."""
    if not name or name.startswith("/") or "\\" in name or ":" in name:
        return False
    if any(unicodedata.category(c) == "Cc" for c in name):
        return False
    return all(part not in ("", ".", "..") and not part.startswith(".") for part in name.split("/"))


def _confine(name: str) -> None:
    """Never rely on the namer alone: refuse a name that could leave the archive root."""
    if not is_inside_archive(name):
        raise NamingInvalid(f"refusing an archive entry name outside the root: {name!r}")


# --- plan ----------------------------------------------------------------------------------


@dataclass
class PackageEntry:
    """One manifest item, and the file that goes with it (name None: listed, not included)."""

    manifest: dict[str, Any]
    name: str | None = None
    storage_key: str | None = None
    content_hash: str | None = None
    size_bytes: int = 0
    write: bool = True  # False: the same bytes are already in the zip under `name`


@dataclass
class PackagePlan:
    workspace_id: str
    title: str
    selection: str
    naming: str | None
    generated_at: datetime
    entries: list[PackageEntry] = field(default_factory=list)
    formats: tuple[str, ...] = DEFAULT_FORMATS
    cut: Cut | None = None  # the cut, its media named by their paths in the package
    draft_name: str | None = None  # capcut: the draft folder's name

    @property
    def generated(self) -> list[str]:
        """The files written from the cut (timelines, subtitles, draft JSON), in package order."""
        names = [FILE_NAMES[f] for f in (*TIMELINE_FORMATS, *SUBTITLE_FORMATS) if f in self.formats]
        if "capcut" in self.formats and self.draft_name:
            folder = f"{CAPCUT_FOLDER}/{self.draft_name}"
            names += [f"{folder}/{n}" for n in CAPCUT_JSON]
        return names

    @property
    def files(self) -> list[PackageEntry]:
        return [e for e in self.entries if e.name is not None and e.write]

    @property
    def total_bytes(self) -> int:
        return sum(e.size_bytes for e in self.files)


CAPCUT_JSON = ("draft_content.json", "draft_info.json", "draft_meta_info.json")


@dataclass
class PackageStats:
    files: int  # files written (manifest.json not counted)
    missing: int  # manifest items without a file
    content_bytes: int  # bytes of the files written
    manifest: dict[str, Any]
    generated: list[str] = field(default_factory=list)


@dataclass
class _Item:
    work_item: WorkItem | None
    node: Node | None
    asset: Asset | None
    role: str
    folder: str
    shot: str
    favorite: Favorite | None = None
    missing: str | None = None

    @property
    def kind(self) -> str:
        if self.node is not None:
            return KIND_OF_NODE.get(self.node.type, self.node.type.value)
        if self.asset is not None:
            return self.asset.kind.value
        return "none"

    @property
    def tags(self) -> list[str]:
        return [str(t) for t in (self.favorite.tags if self.favorite else [])]


def _as_uuid(value: str | uuid.UUID) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _shot_folder(item: WorkItem) -> tuple[str, str]:
    number = item.idx or 0
    return f"shot-{number:02d}", f"{number:02d}"


def _favorite_items(session: Session, workspace_id: uuid.UUID) -> list[_Item]:
    items: list[_Item] = []
    drafts: dict[uuid.UUID, int] = {}
    for row in favorite_repo.list_for_export(session, workspace_id):
        work_item = row.work_item
        if work_item.type == WorkItemType.shot:
            folder, shot = _shot_folder(work_item)
        else:
            number = drafts.setdefault(work_item.id, len(drafts) + 1)
            folder, shot = f"draft-{number:02d}-{str(work_item.id)[:8]}", f"d{number:02d}"
        items.append(
            _Item(
                work_item=work_item,
                node=row.node,
                asset=row.asset,
                role="favorite",
                folder=folder,
                shot=shot,
                favorite=row.favorite,
                missing=None if row.asset is not None else "no file",
            )
        )
    return items


def _selected_items(session: Session, workspace_id: uuid.UUID) -> list[_Item]:
    versions = node_repo.selected_versions(session, workspace_id)
    clips = {c["work_item_id"]: c["video_node_id"] for c in node_repo.compose_inputs(session, workspace_id)}
    clip_rows = {
        str(node_id): row
        for node_id, row in node_repo.with_assets(session, [uuid.UUID(v) for v in clips.values()]).items()
    }
    voices = node_repo.current_voices(session, workspace_id)  # the narration compose uses
    items: list[_Item] = []
    for version in versions:
        shot = version.work_item
        folder, number = _shot_folder(shot)
        found: list[_Item] = []
        if version.node is not None:
            found.append(
                _Item(
                    shot,
                    version.node,
                    version.asset,
                    "selected",
                    folder,
                    number,
                    missing=None if version.asset is not None else "no file",
                )
            )
        clip = clip_rows.get(clips.get(str(shot.id), ""))
        if clip is not None and (version.node is None or clip[0].id != version.node.id):
            found.append(_Item(shot, clip[0], clip[1], "video", folder, number))
        voice = voices.get(shot.id)
        if voice is not None:
            found.append(_Item(shot, voice[0], voice[1], "voice", folder, number))
        if not found:
            found.append(_Item(shot, None, None, "selected", folder, number, missing="no selected version"))
        items.extend(found)
    composed = node_repo.current_output(session, workspace_id, NodeType.compose)
    if composed is not None:
        items.append(_Item(None, composed[0], composed[1], "compose", "", "all"))
    return items


def _default_name(item: _Item, selection: str) -> str:
    assert item.asset is not None
    if selection == "favorites":  # the batch download's layout, unchanged
        label = "-".join(safe_label(t) for t in item.tags[:2]) or (
            item.node.type.value if item.node else item.asset.kind.value
        )
        cell = f"-cell{item.node.cell}" if item.node and item.node.cell else ""
        return f"{item.folder}/{label}{cell}-{item.asset.content_hash[:8]}"
    return f"{item.folder}/{item.kind}" if item.folder else item.kind


def _render(tokens: list[tuple[str, str | None]], values: dict[str, str]) -> str:
    return "".join(literal + (values[name] if name else "") for literal, name in tokens)


def plan_package(
    session: Session,
    workspace_id: str | uuid.UUID,
    selection: str,
    naming: str | None = None,
    *,
    generated_at: datetime | None = None,
    formats: Sequence[str] | None = None,
) -> PackagePlan:
    """What goes into the package and under which names (ledger reads only)."""
    if selection not in EXPORT_SELECTIONS:
        raise SelectionInvalid(f"selection is one of {', '.join(EXPORT_SELECTIONS)}, not {selection!r}")
    wanted = check_formats(formats)
    tokens = parse_naming(naming) if naming is not None else None
    ws_id = _as_uuid(workspace_id)
    workspace = workspace_repo.require_workspace(session, ws_id)
    items: list[_Item] = []
    if "media" in wanted:
        items = (
            _favorite_items(session, ws_id) if selection == "favorites" else _selected_items(session, ws_id)
        )
    cut = _cut_rows(session, ws_id) if any(f != "media" for f in wanted) else None
    if cut is not None:
        if not cut.shots:
            raise NothingToExport("nothing to export: no shot has a clip to put on a timeline yet")
        if any(f in TIMELINE_FORMATS or f in DRAFT_FORMATS for f in wanted):
            items += _cut_items(cut, {i.asset.id for i in items if i.asset is not None})
    plan = PackagePlan(
        workspace_id=str(ws_id),
        title=workspace.title,
        selection=selection,
        naming=naming,
        generated_at=(generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0),
        formats=wanted,
    )
    with_files = sum(1 for i in items if i.asset is not None)
    width = max(2, len(str(with_files)))
    namer = _Namer()
    n = 0
    for item in items:
        node, asset = item.node, item.asset
        manifest: dict[str, Any] = {
            "folder": item.folder,
            "work_item_id": str(item.work_item.id) if item.work_item else None,
            "shot": item.work_item.idx if item.work_item else None,
            "role": item.role,
            "kind": item.kind,
            "node_id": str(node.id) if node else None,
            "cell": node.cell if node else None,
            "prompt": (node.payload or {}).get("prompt") if node else None,
        }
        if item.favorite is not None:
            manifest.update(favorite_id=str(item.favorite.id), tags=item.favorite.tags)
        entry = PackageEntry(manifest=manifest)
        if asset is None:
            manifest["missing"] = item.missing or "no file"
            plan.entries.append(entry)
            continue
        n += 1
        if tokens is None:
            candidate = _default_name(item, selection)
        else:
            label = "-".join(item.tags[:2]) if item.tags else item.kind
            candidate = _render(
                tokens,
                {
                    "shot": _value(item.shot),
                    "folder": item.folder,
                    "kind": _value(item.kind),
                    "label": _value(label),
                    "tags": _value("-".join(item.tags)),
                    "title": _value(workspace.title),
                    "n": f"{n:0{width}d}",
                    "cell": str(node.cell) if node and node.cell else "",
                    "role": item.role,
                    "hash": asset.content_hash[:8],
                    "node": str(node.id)[:8] if node else "",
                },
            )
        name, new = namer.place(candidate, _extension(asset.storage_key), asset.content_hash)
        _confine(name)
        entry.name, entry.write = name, new
        entry.storage_key, entry.content_hash, entry.size_bytes = (
            asset.storage_key,
            asset.content_hash,
            asset.size_bytes if new else 0,
        )
        manifest.update(
            file=name,
            asset_id=str(asset.id),
            mime=asset.mime,
            content_hash=asset.content_hash,
            size_bytes=asset.size_bytes,
        )
        plan.entries.append(entry)
    if cut is not None:
        _place_cut(plan, cut, workspace.title)
    return plan


def check_formats(formats: Sequence[str] | None) -> tuple[str, ...]:
    """The requested formats, deduplicated in EXPORT_FORMATS order; FormatInvalid otherwise."""
    if formats is None:
        return DEFAULT_FORMATS
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        shown = ", ".join(map(repr, unknown)) if unknown else "none"
        raise FormatInvalid(f"export formats are some of {', '.join(EXPORT_FORMATS)}; got {shown}")
    return tuple(f for f in EXPORT_FORMATS if f in formats)


@dataclass
class _CutShotRow:
    work_item: WorkItem
    duration_s: float
    narration: str
    video: tuple[Node, Asset]
    voice: tuple[Node, Asset] | None


@dataclass
class _CutRows:
    shots: list[_CutShotRow]
    music: tuple[Node, Asset] | None
    mode: str
    width: int
    height: int


def _cut_rows(session: Session, workspace_id: uuid.UUID) -> _CutRows:
    """The cut as compose makes it (``nodes.compose_inputs``), and the current cut's music/size."""
    inputs = node_repo.compose_inputs(session, workspace_id)
    ids = [uuid.UUID(i["video_node_id"]) for i in inputs]
    ids += [uuid.UUID(i["voice_node_id"]) for i in inputs if i["voice_node_id"]]
    current = node_repo.current_output(session, workspace_id, NodeType.compose)
    music_id = str((current[0].payload or {}).get("music_node_id") or "") if current else ""
    if music_id:
        ids.append(uuid.UUID(music_id))
    found = node_repo.with_assets(session, ids)
    shots = []
    for i in inputs:
        item = session.get(WorkItem, uuid.UUID(i["work_item_id"]))
        video = found.get(uuid.UUID(i["video_node_id"]))
        if item is None or video is None:
            continue
        voice = found.get(uuid.UUID(i["voice_node_id"])) if i["voice_node_id"] else None
        shots.append(_CutShotRow(item, float(i["duration_s"]), i["narration"], video, voice))
    mode = str((current[0].payload or {}).get("mode") or "preview") if current else "preview"
    defaults = MODE_DEFAULTS.get(mode, MODE_DEFAULTS["preview"])
    width = int(current[1].width or defaults["width"]) if current else defaults["width"]
    height = int(current[1].height or defaults["height"]) if current else defaults["height"]
    music = found.get(uuid.UUID(music_id)) if music_id else None
    return _CutRows(shots, music, mode, width, height)


def _cut_items(cut: _CutRows, already: set[uuid.UUID]) -> list[_Item]:
    """The cut's media not already in the package (a timeline names every file it uses)."""
    items: list[_Item] = []
    for row in cut.shots:
        folder, number = _shot_folder(row.work_item)
        for node, asset in [row.video, *([row.voice] if row.voice else [])]:
            if asset.id not in already:
                already.add(asset.id)
                items.append(_Item(row.work_item, node, asset, "cut", folder, number))
    if cut.music is not None and cut.music[1].id not in already:
        items.append(_Item(None, cut.music[0], cut.music[1], "cut", "", "all"))
    return items


def _place_cut(plan: PackagePlan, cut: _CutRows, title: str) -> None:
    """The Cut model with each medium named by its path in the package (or, for subtitles alone,
    where it would be), and the CapCut draft's copies of the media."""
    names = {e.storage_key: e.name for e in plan.entries if e.name is not None}

    def media(node: Node, asset: Asset, fallback: str, seconds: float) -> Media:
        name = names.get(asset.storage_key) or fallback + _extension(asset.storage_key)
        return Media(name, float(asset.duration_s or seconds))

    shots = []
    for row in cut.shots:
        folder, _ = _shot_folder(row.work_item)
        voice = media(*row.voice, f"{folder}/voice", 0.0) if row.voice is not None else None
        shots.append(
            CutShot(
                number=row.work_item.idx or 0,
                video=media(*row.video, f"{folder}/video", row.duration_s),
                duration_s=row.duration_s,
                narration=row.narration,
                voice=voice,
            )
        )
    music = media(*cut.music, "music", 0.0) if cut.music is not None else None
    fps = MODE_DEFAULTS.get(cut.mode, MODE_DEFAULTS["preview"])["fps"]
    plan.cut = Cut(title, shots, fps=fps, width=cut.width, height=cut.height, music=music)
    if "capcut" not in plan.formats:
        return
    plan.draft_name = _component(title) or "directordeck"
    by_name = {e.name: e for e in plan.entries if e.name is not None and e.write}
    used = sorted(
        {s.video.path for s in shots}
        | {s.voice.path for s in shots if s.voice}
        | ({music.path} if music else set())
    )
    for path in used:
        source = by_name[path]
        name = f"{CAPCUT_FOLDER}/{plan.draft_name}/{capcut_media_name(path)}"
        _confine(name)
        plan.entries.append(
            PackageEntry(
                manifest={"role": "capcut", "file": name, "copy_of": path},
                name=name,
                storage_key=source.storage_key,
                content_hash=source.content_hash,
                size_bytes=source.size_bytes,
            )
        )


def require_files(plan: PackagePlan) -> None:
    if plan.generated:
        return
    if not plan.files:
        what = "no favorites with a file" if plan.selection == "favorites" else "no shot has a selected file"
        raise NothingToExport(f"nothing to export: {what} yet")


# --- write ---------------------------------------------------------------------------------


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    t = moment.astimezone(UTC)
    if t.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)


def _open_stored(storage: Storage, key: str) -> Any | None:
    """The stored file opened for reading, or None when storage does not have it."""
    try:
        return open(storage.local_path(key), "rb")  # closed by the caller
    except FileNotFoundError:
        return None
    except Exception:
        if not storage.exists(key):  # e.g. an S3 404 on download
            return None
        raise


def write_package(
    plan: PackagePlan,
    storage: Storage,
    out: Path,
    *,
    on_progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> PackageStats:
    """Write the zip to `out`: the planned files (streamed from storage, uncompressed), then
    manifest.json. Raises CancelledByUser within one chunk of `cancelled()` turning true."""
    stamp = _zip_time(plan.generated_at)
    total = max(1, plan.total_bytes)
    done = 0
    written = 0
    dropped: set[str] = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in plan.entries:
            if cancelled is not None and cancelled():
                raise CancelledByUser("export canceled")
            if entry.name is None:
                continue
            if not entry.write:
                if entry.name in dropped:
                    entry.manifest.pop("file", None)
                    entry.manifest["missing"] = "file not in storage"
                continue
            _confine(entry.name)
            assert entry.storage_key is not None
            source = _open_stored(storage, entry.storage_key)
            if source is None:
                dropped.add(entry.name)
                entry.manifest.pop("file", None)
                entry.manifest["missing"] = "file not in storage"
                continue
            info = zipfile.ZipInfo(entry.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            digest = hashlib.sha256()
            size = 0
            with source:
                info.file_size = entry.size_bytes  # > 4 GiB switches the entry to zip64 up front
                with archive.open(info, "w", force_zip64=entry.size_bytes > (1 << 31)) as sink:
                    while chunk := source.read(CHUNK):
                        if cancelled is not None and cancelled():
                            raise CancelledByUser("export canceled")
                        sink.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        done += len(chunk)
                        if on_progress is not None:
                            on_progress(min(done / total, 0.99))
            if entry.content_hash is not None and digest.hexdigest() != entry.content_hash:
                raise AssetCorrupt(f"stored file {entry.storage_key} does not match its content hash")
            entry.manifest["size_bytes"] = size
            written += 1
        generated = _write_generated(plan, storage, archive, stamp, dropped)
        items = [e.manifest for e in plan.entries]
        manifest = {
            "format": MANIFEST_FORMAT,
            "workspace_id": plan.workspace_id,
            "title": plan.title,
            "selection": plan.selection,
            "naming": plan.naming,
            "generated_at": plan.generated_at.isoformat().replace("+00:00", "Z"),
            "files": written,
            "items": items,
        }
        if plan.formats != DEFAULT_FORMATS:
            manifest.update(formats=list(plan.formats), generated=generated)
        info = zipfile.ZipInfo(MANIFEST, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, json.dumps(manifest, indent=2, ensure_ascii=False))
    if on_progress is not None:
        on_progress(1.0)
    missing = sum(1 for item in items if "missing" in item)
    return PackageStats(
        files=written, missing=missing, content_bytes=done, manifest=manifest, generated=generated
    )


def _write_generated(
    plan: PackagePlan,
    storage: Storage,
    archive: zipfile.ZipFile,
    stamp: tuple[int, int, int, int, int, int],
    dropped: set[str],
) -> list[str]:
    """The timeline, subtitle and draft files of `plan.formats`, written into `archive`."""
    if plan.cut is None:
        return []
    if dropped & {s.video.path for s in plan.cut.shots}:
        raise NothingToExport("a clip of the cut is not in storage; the timeline cannot name it")
    timeline = build_timeline(plan.cut)
    written: list[str] = []

    def add(name: str, text: str) -> None:
        _confine(name)
        info = zipfile.ZipInfo(name, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, text.encode("utf-8"))
        written.append(name)

    for fmt in (*TIMELINE_FORMATS, *SUBTITLE_FORMATS):
        if fmt in plan.formats:
            add(FILE_NAMES[fmt], render(timeline, fmt))
    if "capcut" in plan.formats and plan.draft_name:
        keys = {e.name: e.storage_key for e in plan.entries if e.name is not None and e.storage_key}
        with tempfile.TemporaryDirectory(prefix="capcut-") as tmp:
            write_capcut_draft(
                timeline, Path(tmp), plan.draft_name, lambda path: storage.local_path(str(keys[path]))
            )
            for json_name in CAPCUT_JSON:
                text = (Path(tmp) / plan.draft_name / json_name).read_text(encoding="utf-8")
                add(f"{CAPCUT_FOLDER}/{plan.draft_name}/{json_name}", text)
    return written


# --- the activity --------------------------------------------------------------------------


class ExportActivities:
    """`export_package` (cpu pool). Shares the pipeline activities' ledger URL, storage, work
    directory and task-row mirroring (`_start_task`, `_finish_task`, orphan-free `_write`)."""

    def __init__(self, pipeline: Any) -> None:  # activities.pipeline.PipelineActivities
        self.pipeline = pipeline

    @property
    def database_url(self) -> str:
        return str(self.pipeline.database_url)

    @property
    def storage(self) -> Storage:
        return self.pipeline.storage  # type: ignore[no-any-return]

    @property
    def work_dir(self) -> Path:
        return Path(self.pipeline.work_dir)

    @activity.defn(name="export_package")
    @coded
    async def export_package(self, inp: ExportInput) -> ExportResult:
        await self.pipeline._begin(
            inp.task,
            {"selection": inp.selection, "naming": inp.naming, "formats": list(inp.formats)},
        )
        committed = await asyncio.to_thread(self._committed, inp)
        if committed is not None:  # an earlier attempt finished; its worker never reported it
            return committed
        generated_at = (
            datetime.fromisoformat(inp.generated_at) if inp.generated_at else activity.info().scheduled_time
        )
        plan = await asyncio.to_thread(self._plan, inp, generated_at)

        def package(out: Path, progress: Progress, cancelled: Cancelled) -> PackageStats:
            stats = write_package(plan, self.storage, out, on_progress=progress, cancelled=cancelled)
            if stats.files == 0 and not stats.generated:
                raise NothingToExport("nothing to export: none of the planned files is in storage")
            return stats

        stats, stored = await self.pipeline._render_to_storage(
            ".zip",
            "archive",
            provider_span("export.package", kind="media", selection=inp.selection, files=len(plan.files)),
            package,
            prefix="export-",
        )
        result: ExportResult = await self.pipeline._write([stored], self._write_export, inp, stats, stored)
        return result

    def _plan(self, inp: ExportInput, generated_at: datetime) -> PackagePlan:
        with unit_of_work(self.database_url) as session:
            plan = plan_package(
                session,
                inp.task.workspace_id,
                inp.selection,
                inp.naming,
                generated_at=generated_at,
                formats=inp.formats,
            )
        require_files(plan)
        return plan

    def _committed(self, inp: ExportInput) -> ExportResult | None:
        with unit_of_work(self.database_url) as session:
            row = task_repo.get_by_workflow_id(session, inp.task.workflow_id)
            done = (row.result or {}) if row is not None else {}
            if row is None or row.status != TaskStatus.succeeded or not done.get("asset_id"):
                return None
            asset = asset_repo.get(session, _as_uuid(done["asset_id"]))
            if asset is None or asset.workspace_id != row.workspace_id:
                return None
            return ExportResult(
                asset_id=str(asset.id),
                storage_key=asset.storage_key,
                content_hash=asset.content_hash,
                size_bytes=asset.size_bytes,
                files=int(done.get("files", 0)),
                missing=int(done.get("missing", 0)),
                selection=str(done.get("selection", inp.selection)),
                formats=list(done.get("formats") or inp.formats),
                generated=list(done.get("generated") or []),
            )

    def _write_export(self, inp: ExportInput, stats: PackageStats, stored: StoredObject) -> ExportResult:
        with unit_of_work(self.database_url) as session:
            asset = stored_asset(
                session,
                inp.task.workspace_id,
                stored,
                AssetKind.archive,
                ZIP_MIME,
            )
            result = ExportResult(
                asset_id=str(asset.id),
                storage_key=asset.storage_key,
                content_hash=asset.content_hash,
                size_bytes=asset.size_bytes,
                files=stats.files,
                missing=stats.missing,
                selection=inp.selection,
                formats=list(inp.formats),
                generated=stats.generated,
            )
            self.pipeline._finish_task(
                session,
                inp.task,
                {**asdict(result), "naming": inp.naming, "content_bytes": stats.content_bytes},
            )
            return result
