"""Generation cache: an identical generation request reuses the stored result instead of GPU time.

Rules:
- The key is the sha256 of canonical JSON over (provider, model id, weights hash, seed, prompt,
  parameters, reference asset hashes) — every input that changes the pixels, nothing else (no
  device name, no worker id), so the same request hits across workers and retries.
- The weights hash is computed once per model directory per process: the full bytes of every
  small config/tokenizer file plus, for each weight file, its relative path, size and the sha256
  of its first and last MiB. A `directordeck-weights.sha256` file in the directory (written by
  an ops step that hashed the weights fully) takes precedence. File mtimes are deliberately not
  used: copies of the same weights on different workers must give the same key.
- Stores are pluggable (`CacheStore`: get/put of JSON-able dicts). `MemoryStore` and `DiskStore`
  ship here; the ledger can implement the same two methods over its asset table. A hit says so:
  `lookup(key).marker == {"cache": "hit", "key": key}`.
- Both stores are bounded by size (`max_bytes`; workers use DIRECTORDECK_GENERATION_CACHE_MAX_MB):
  a put that goes over evicts least recently used entries (a hit counts as a use; on disk the
  file's mtime is the last use, so workers sharing a directory share one recency order).
- Only good results are stored: the providers raise instead of returning non-finite pixels, and
  KEY_VERSION 2 retired entries stored before that check (they could hold black fp16-overflow
  images).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "KEY_VERSION",
    "WEIGHTS_MANIFEST",
    "CacheLookup",
    "CacheStore",
    "CachedGridProvider",
    "DiskStore",
    "GenerationCache",
    "MemoryStore",
    "asset_hash",
    "generation_key",
    "grid_cache_key",
    "model_identity",
    "weights_fingerprint",
]

KEY_VERSION = 2  # bump when the meaning of a key's inputs (or what a stored entry may hold) changes
WEIGHTS_MANIFEST = "directordeck-weights.sha256"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".gguf", ".onnx")
_SMALL_FILE_LIMIT = 4 * 1024**2
_EDGE_BYTES = 1024**2


def asset_hash(data: bytes) -> str:
    """sha256 hex of an asset's bytes (the same content hash the ledger's asset table uses)."""
    return hashlib.sha256(data).hexdigest()


def _edges_digest(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(_EDGE_BYTES))
        if size > 2 * _EDGE_BYTES:
            fh.seek(size - _EDGE_BYTES)
            h.update(fh.read(_EDGE_BYTES))
        elif size > _EDGE_BYTES:
            h.update(fh.read())
    return h.hexdigest()


@lru_cache(maxsize=32)
def _fingerprint(resolved_dir: str) -> str:
    root = Path(resolved_dir)
    manifest = root / WEIGHTS_MANIFEST
    if manifest.is_file():
        return "manifest:" + hashlib.sha256(manifest.read_bytes()).hexdigest()
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # .cache/, .git/ and friends do not change the weights
        size = path.stat().st_size
        h.update(rel.encode() + b"\0" + str(size).encode() + b"\0")
        if path.suffix in _WEIGHT_SUFFIXES or size > _SMALL_FILE_LIMIT:
            h.update(_edges_digest(path, size).encode())
        else:
            h.update(path.read_bytes())
    return h.hexdigest()


def weights_fingerprint(model_dir: Path | str) -> str:
    """Stable hash of a model directory's weights (cached per process; see the module rules)."""
    root = Path(model_dir).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"model directory not found: {root}")
    return _fingerprint(str(root))


def model_identity(model_dir: Path | str) -> tuple[str, str]:
    """(model id, weights hash). The id is `_name_or_path` from model_index.json, else the dir name."""
    root = Path(model_dir).expanduser().resolve()
    model_id = root.name
    index = root / "model_index.json"
    if index.is_file():
        try:
            data = json.loads(index.read_text())
            name = data.get("_name_or_path")
            if isinstance(name, str) and name and not os.path.isabs(name):
                model_id = name
        except (OSError, ValueError):
            pass
    return model_id, weights_fingerprint(root)


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 4.0 and 4 mean the same parameter
    if isinstance(value, bytes):
        return asset_hash(value)
    if hasattr(value, "model_dump"):
        return _canonical(value.model_dump(mode="json"))
    return value


def generation_key(
    *,
    provider: str,
    model_id: str,
    weights_hash: str,
    seed: int | None,
    prompt: str,
    params: Mapping[str, Any] | None = None,
    reference_hashes: Iterable[str] = (),
) -> str:
    """sha256 over canonical JSON of everything that determines a generation's output."""
    payload = {
        "v": KEY_VERSION,
        "provider": provider,
        "model_id": model_id,
        "weights_hash": weights_hash,
        "seed": seed,
        "prompt": prompt,
        "params": _canonical(dict(params or {})),
        "references": list(reference_hashes),  # order matters: the first reference is the init image
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def grid_cache_key(identity: Mapping[str, Any], req: Any) -> str:
    """Key for one `GridRequest` rendered by a provider whose `cache_identity()` is `identity`."""
    refs = ([asset_hash(req.parent_png)] if req.parent_png else []) + [
        asset_hash(r) for r in req.reference_pngs
    ]
    params = {
        **dict(identity.get("params", {})),
        "grid_size": req.size,
        "width": req.width,
        "height": req.height,
        "camera": _canonical(req.camera),
        "style": req.style,
        "shot_number": req.shot_number,
        "has_parent": req.parent_png is not None,
    }
    return generation_key(
        provider=str(identity["provider"]),
        model_id=str(identity.get("model_id", "")),
        weights_hash=str(identity.get("weights_hash", "")),
        seed=req.seed,
        prompt=req.visual,
        params=params,
        reference_hashes=refs,
    )


# ------------------------------------------------------------------------------------------------
# stores
# ------------------------------------------------------------------------------------------------


@runtime_checkable
class CacheStore(Protocol):
    """Where cached results live: JSON-able dicts by key. The ledger may implement this too."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryStore:
    """In-process store (one worker, tests), least recently used entries evicted past `max_bytes`."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evicted = 0

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._data.get(key)
            if raw is not None:
                self._data.move_to_end(key)  # most recently used last
        return json.loads(raw) if raw is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        raw = json.dumps(value, sort_keys=True)  # stored as JSON: callers cannot alias the entry
        with self._lock:
            old = self._data.pop(key, None)
            self._bytes -= len(old) if old is not None else 0
            self._data[key] = raw
            self._bytes += len(raw)
            while self.max_bytes is not None and self._bytes > self.max_bytes and len(self._data) > 1:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= len(dropped)
                self.evicted += 1

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)


class DiskStore:
    """One JSON file per key under `root/ab/<key>.json`, written atomically (shared volumes work);
    past `max_bytes` the least recently used files (oldest mtime; a hit touches its file) go."""

    def __init__(self, root: Path | str, max_bytes: int | None = None) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes: int | None = None  # total size, scanned on first put, then kept up to date
        self.evicted = 0

    def _path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"cache keys are lowercase hex digests, got {key!r}")
        return self.root / key[:2] / f"{key}.json"

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        for path in self.root.glob("*/*.json"):
            try:
                st = path.stat()
            except FileNotFoundError:  # evicted by another worker meanwhile
                continue
            found.append((st.st_mtime, st.st_size, path))
        return found

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # a torn or corrupt entry is a miss, never an error
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # a use: this entry is now the most recently used
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        data = json.dumps(value, sort_keys=True).encode("utf-8")
        tmp.write_bytes(data)
        with self._lock:
            old = path.stat().st_size if path.exists() else 0
            os.replace(tmp, path)
            if self.max_bytes is None:
                return
            if self._bytes is None:
                self._bytes = self.size_bytes()
            else:
                self._bytes += len(data) - old
            if self._bytes > self.max_bytes:
                self._evict(keep=path)

    def _evict(self, keep: Path) -> None:
        """Remove least recently used entries until the store fits (recounting from disk: other
        workers may share the directory)."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _mtime, size, path in entries:
            if total <= (self.max_bytes or 0):
                break
            if path == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                self.evicted += 1
            total -= size
        self._bytes = total


@dataclass
class CacheLookup:
    """Result of `GenerationCache.lookup`: hit or miss, the stored value, and a marker for results."""

    key: str
    hit: bool
    value: dict[str, Any] | None = None

    @property
    def marker(self) -> dict[str, str]:
        return {"cache": "hit" if self.hit else "miss", "key": self.key}


@dataclass
class GenerationCache:
    """`lookup(key)` / `store(key, value)` over a `CacheStore` backend; counts hits and misses."""

    backend: CacheStore = field(default_factory=MemoryStore)
    hits: int = 0
    misses: int = 0

    def lookup(self, key: str) -> CacheLookup:
        value = self.backend.get(key)
        if value is None:
            self.misses += 1
            return CacheLookup(key=key, hit=False)
        self.hits += 1
        return CacheLookup(key=key, hit=True, value=value)

    def store(self, key: str, value: dict[str, Any]) -> None:
        self.backend.put(key, value)


class CachedGridProvider:
    """Wraps a grid provider (`render_grid` + `cache_identity()`) with a `GenerationCache`.

    A hit returns the stored cells without calling the provider (`params["cache"] == "hit"`,
    `gpu_seconds` 0); a miss renders, stores and marks the cells `"miss"`. PNG bytes are kept in
    the entry (base64) so a `DiskStore` alone can serve hits; a ledger-backed store would keep
    asset ids instead.
    """

    def __init__(self, provider: Any, cache: GenerationCache) -> None:
        self.provider = provider
        self.cache = cache
        self.name = getattr(provider, "name", "unknown")

    def cache_key(self, req: Any) -> str:
        return grid_cache_key(self.provider.cache_identity(), req)

    def render_grid(
        self,
        req: Any,
        on_progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[Any]:
        from activities.providers.cards import RenderedImage

        key = self.cache_key(req)
        found = self.cache.lookup(key)
        if found.hit and found.value is not None:
            cells = []
            for c in found.value["cells"]:
                params = {**c["params"], **found.marker, "gpu_seconds": 0.0}
                png = base64.b64decode(c["png_b64"])
                cells.append(RenderedImage(png, c["width"], c["height"], c["seed"], c["cell"], params))
            if on_progress is not None:
                on_progress(1.0)
            return cells
        images = self.provider.render_grid(req, on_progress, cancelled)
        self.cache.store(
            key,
            {
                "provider": self.name,
                "cells": [
                    {
                        "cell": img.cell,
                        "seed": img.seed,
                        "width": img.width,
                        "height": img.height,
                        "sha256": asset_hash(img.png),
                        "png_b64": base64.b64encode(img.png).decode("ascii"),
                        "params": img.params,
                    }
                    for img in images
                ],
            },
        )
        for img in images:
            img.params.update(found.marker)
        return images
