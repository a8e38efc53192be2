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
  (``nodes.compose_inputs``: the selected video, else the newest ok video made from the selected
  node; the newest ok narration), then the newest compose output of the workspace;
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
  cancelled; nothing to export is ``nothing_to_export`` (non-retryable).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import string
import unicodedata
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session
from temporalio import activity

from activities.contracts import EXPORT_SELECTIONS, ExportInput, ExportResult
from activities.ledger import stored_asset
from activities.runtime import Cancelled, Progress, coded
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

    @property
    def files(self) -> list[PackageEntry]:
        return [e for e in self.entries if e.name is not None and e.write]

    @property
    def total_bytes(self) -> int:
        return sum(e.size_bytes for e in self.files)


@dataclass
class PackageStats:
    files: int  # files written (manifest.json not counted)
    missing: int  # manifest items without a file
    content_bytes: int  # bytes of the files written
    manifest: dict[str, Any]


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
    voices = node_repo.newest_voices(session, workspace_id)  # the narration compose uses
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
    composed = node_repo.latest_output(session, workspace_id, NodeType.compose)
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
) -> PackagePlan:
    """What goes into the package and under which names (ledger reads only)."""
    if selection not in EXPORT_SELECTIONS:
        raise SelectionInvalid(f"selection is one of {', '.join(EXPORT_SELECTIONS)}, not {selection!r}")
    tokens = parse_naming(naming) if naming is not None else None
    ws_id = _as_uuid(workspace_id)
    workspace = workspace_repo.require_workspace(session, ws_id)
    items = _favorite_items(session, ws_id) if selection == "favorites" else _selected_items(session, ws_id)
    plan = PackagePlan(
        workspace_id=str(ws_id),
        title=workspace.title,
        selection=selection,
        naming=naming,
        generated_at=(generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0),
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
    return plan


def require_files(plan: PackagePlan) -> None:
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
        info = zipfile.ZipInfo(MANIFEST, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        archive.writestr(info, json.dumps(manifest, indent=2, ensure_ascii=False))
    if on_progress is not None:
        on_progress(1.0)
    missing = sum(1 for item in items if "missing" in item)
    return PackageStats(files=written, missing=missing, content_bytes=done, manifest=manifest)


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
        await asyncio.to_thread(
            self.pipeline._start_task, inp.task, {"selection": inp.selection, "naming": inp.naming}
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
            if stats.files == 0:
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
                session, inp.task.workspace_id, inp.selection, inp.naming, generated_at=generated_at
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
            )
            self.pipeline._finish_task(
                session,
                inp.task,
                {**asdict(result), "naming": inp.naming, "content_bytes": stats.content_bytes},
            )
            return result
