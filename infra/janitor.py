"""Files nobody owns are collected; caches stay within their size.

Rules: a stored file no asset row points at (as file or thumbnail) is an orphan a failed attempt
left behind (a crash between storing and committing, an outage during clean-up) and is deleted —
but only once it is older than the grace period (one run), since an activity stores its file a
moment before its transaction commits the asset row (storage refreshes a file's time when it is
stored again, so the window restarts). Temp files (`.tmp-*`, `*.partial.*`, renderer temp files in
the work dir, compose scratch folders) older than the grace period are deleted. A cache (compose
segments, the S3 download cache) above its size limit loses its least recently used files first,
never one used within the grace period (a compose in progress still needs its segments). The S3
backend is swept by the same rule: an object older than the grace period (S3's LastModified, which
a repeated put refreshes) that no asset row uses is deleted, and so are multipart uploads abandoned
longer than that (S3's partial files).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.ledger import unit_of_work
from infra.storage import S3Storage, UnsafeKeyError, validate_key
from schema.repositories import assets as asset_repo

log = logging.getLogger("directordeck.janitor")

COMPOSE_CACHE = "compose-cache"
_BATCH = 500


@dataclass
class Sweep:
    """What one pass removed (paths relative to the folder swept)."""

    orphans: list[str] = field(default_factory=list)
    temp: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    freed_bytes: int = 0

    def __bool__(self) -> bool:
        return bool(self.orphans or self.temp or self.evicted)


def _is_temp(name: str) -> bool:
    return name.startswith(".tmp-") or ".partial." in name or name.endswith(".tmp")


def _older(path: Path, cutoff: float) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    return st.st_mtime < cutoff


def _files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            yield Path(dirpath) / name


def _remove(path: Path, sweep: Sweep, bucket: list[str], root: Path) -> None:
    try:
        size = path.stat().st_size if path.is_file() else 0
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return
    sweep.freed_bytes += size
    bucket.append(str(path.relative_to(root)))


def collect_orphans(
    storage_root: Path, database_url: str, *, grace_s: float, sweep: Sweep | None = None
) -> Sweep:
    """Delete stored files older than `grace_s` that no asset row uses, and stale temp files."""
    sweep = sweep if sweep is not None else Sweep()  # an empty Sweep is falsy
    if not storage_root.is_dir():
        return sweep
    cutoff = time.time() - grace_s
    candidates: list[tuple[str, Path]] = []
    for path in _files(storage_root):
        if not _older(path, cutoff):
            continue
        if _is_temp(path.name):
            _remove(path, sweep, sweep.temp, storage_root)
        elif not path.name.startswith("."):
            candidates.append((path.relative_to(storage_root).as_posix(), path))
    for start in range(0, len(candidates), _BATCH):
        batch = candidates[start : start + _BATCH]
        unused = _unused(database_url, [key for key, _ in batch])
        for key, path in batch:
            if key in unused:
                _remove(path, sweep, sweep.orphans, storage_root)
    return sweep


def _unused(database_url: str, keys: list[str]) -> set[str]:
    with unit_of_work(database_url) as session:
        used = asset_repo.keys_in_use(session, keys)
    return {key for key in keys if key not in used}


def collect_s3_orphans(
    storage: S3Storage, database_url: str, *, grace_s: float, sweep: Sweep | None = None
) -> Sweep:
    """Delete bucket objects older than `grace_s` that no asset row uses (and their cached local
    copy), and abort multipart uploads started longer ago than that. Keys that are not storage keys
    (`validate_key`) are not ours and are left alone."""
    sweep = sweep if sweep is not None else Sweep()  # an empty Sweep is falsy
    client, bucket = storage.client, storage.bucket
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_s)
    candidates: list[tuple[str, int]] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            try:
                validate_key(obj["Key"])
            except UnsafeKeyError:
                continue
            if obj["LastModified"] < cutoff:
                candidates.append((obj["Key"], int(obj.get("Size", 0))))
    for start in range(0, len(candidates), _BATCH):
        batch = dict(candidates[start : start + _BATCH])
        for key in sorted(_unused(database_url, list(batch))):
            storage.delete(key)
            sweep.orphans.append(key)
            sweep.freed_bytes += batch[key]
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        if upload["Initiated"] < cutoff:
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            sweep.temp.append(f"{upload['Key']} (multipart upload)")
    return sweep


def sweep_work_dir(work_dir: Path, *, grace_s: float, sweep: Sweep | None = None) -> Sweep:
    """Delete what a killed render left in the work dir: renderer temp files, compose scratch
    folders and partial segments older than `grace_s` (cached segments are bounded separately)."""
    sweep = sweep if sweep is not None else Sweep()  # an empty Sweep is falsy
    if not work_dir.is_dir():
        return sweep
    cutoff = time.time() - grace_s
    for entry in work_dir.iterdir():
        if entry.name == COMPOSE_CACHE:
            continue
        if _older(entry, cutoff):
            _remove(entry, sweep, sweep.temp, work_dir)
    cache = work_dir / COMPOSE_CACHE
    scratch = cache / "work"
    if scratch.is_dir():
        for entry in scratch.iterdir():
            if _older(entry, cutoff):
                _remove(entry, sweep, sweep.temp, work_dir)
    if cache.is_dir():
        for path in _files(cache):
            if _is_temp(path.name) and _older(path, cutoff):
                _remove(path, sweep, sweep.temp, work_dir)
    return sweep


def _last_use(path: Path) -> tuple[float, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return max(st.st_atime, st.st_mtime), st.st_size


def bound_cache(
    cache_dir: Path,
    max_bytes: int,
    *,
    keep_recent_s: float,
    skip: Iterable[str] = (),
    sweep: Sweep | None = None,
    report_root: Path | None = None,
) -> Sweep:
    """Evict least recently used files until `cache_dir` holds at most `max_bytes` (files used in
    the last `keep_recent_s` seconds are kept even if the cache stays above its limit)."""
    sweep = sweep if sweep is not None else Sweep()  # an empty Sweep is falsy
    if max_bytes <= 0 or not cache_dir.is_dir():
        return sweep
    skipped = {cache_dir / s for s in skip}
    entries: list[tuple[float, int, Path]] = []
    for path in _files(cache_dir):
        if any(path.is_relative_to(s) for s in skipped):
            continue
        used = _last_use(path)
        if used is not None:
            entries.append((used[0], used[1], path))
    total = sum(size for _, size, _ in entries)
    cutoff = time.time() - keep_recent_s
    for last, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if last >= cutoff:
            break  # everything after this was used more recently still
        _remove(path, sweep, sweep.evicted, report_root or cache_dir)
        total -= size
    return sweep


def sweep_all(
    *,
    data_path: Path,
    work_dir: Path,
    database_url: str,
    storage_root: Path | None,
    grace_s: float,
    temp_grace_s: float,
    cache_max_mb: int,
    s3: S3Storage | None = None,
) -> Sweep:
    """One pass over the storage backend's objects (filesystem `storage_root` or `s3`: orphans
    older than `grace_s`), the work dir (temp files older than `temp_grace_s`) and the caches
    (entries used within `temp_grace_s` stay)."""
    sweep = Sweep()
    if storage_root is not None:
        collect_orphans(storage_root, database_url, grace_s=grace_s, sweep=sweep)
    if s3 is not None:
        collect_s3_orphans(s3, database_url, grace_s=grace_s, sweep=sweep)
    sweep_work_dir(work_dir, grace_s=temp_grace_s, sweep=sweep)
    limit = cache_max_mb * 1024 * 1024
    bound_cache(
        work_dir / COMPOSE_CACHE,
        limit,
        keep_recent_s=temp_grace_s,
        skip=("work",),
        sweep=sweep,
        report_root=work_dir,
    )
    s3_cache = data_path / "s3-cache"
    bound_cache(s3_cache, limit, keep_recent_s=temp_grace_s, sweep=sweep, report_root=data_path)
    if sweep:
        log.info(
            "janitor: %d orphan files, %d temp files, %d cache entries removed (%.1f MiB)",
            len(sweep.orphans),
            len(sweep.temp),
            len(sweep.evicted),
            sweep.freed_bytes / 2**20,
        )
    return sweep
