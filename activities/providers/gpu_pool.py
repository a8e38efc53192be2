"""GPU pool discipline for the `gpu-image` / `gpu-video` worker processes.

Rules:
- One resident model per process: `resident(key, loader)` keeps a module-level cache keyed by
  (kind, model dir, device, dtype); asking for a different key evicts the old model first
  (`set_max_resident` raises the limit for processes that really have room for two).
- VRAM admission: `admit()` compares `torch.cuda.mem_get_info` with a job's estimated need and
  raises `TransientProviderError(code="gpu_busy")` when it cannot fit, so Temporal retries the
  activity (possibly on another worker) instead of the worker crashing with an OOM.
- `torch.cuda.empty_cache()` is paid only after an out-of-memory error or every N jobs
  (`CacheHygiene`), never on every call.
- `measure()` returns device seconds for task accounting: CUDA events on CUDA, wall time on CPU.
- `PoolGate` lets a worker drain on shutdown: running jobs finish, new ones are handed back
  (`TransientProviderError(code="worker_draining")`) for another worker to pick up.
torch is imported lazily: importing this module never requires the `gpu` extra.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from schema.errors import ProviderUnavailableError, TransientProviderError

__all__ = [
    "CacheHygiene",
    "DeviceTimer",
    "ModelKey",
    "PoolGate",
    "admit",
    "device_name",
    "discover_models",
    "dtype_name",
    "empty_cache",
    "evict_all",
    "exclusive",
    "free_bytes",
    "gpu_extra_available",
    "import_torch",
    "is_oom",
    "measure",
    "resident",
    "resident_keys",
    "resolve_device",
    "resolve_dtype",
    "set_max_resident",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

GPU_EXTRA_HINT = "pip install '.[gpu]' (torch==2.13.0, diffusers, transformers, accelerate)"
ADMISSION_HEADROOM_BYTES = 512 * 1024**2  # kept free for the CUDA context, cuDNN workspaces, fragmentation


def import_torch() -> Any:
    """`torch`, or a ProviderUnavailableError that says how to install the `gpu` extra."""
    try:
        import torch
    except ImportError as exc:  # the default install has no torch on purpose
        raise ProviderUnavailableError(
            f"torch is not installed; the diffusers providers need the 'gpu' extra: {GPU_EXTRA_HINT}",
            code="gpu_extra_missing",
        ) from exc
    return torch


def gpu_extra_available() -> bool:
    """True when torch and diffusers can be imported (without importing them)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("torch", "diffusers", "transformers"))


IMAGE_PIPELINES = frozenset(
    {
        "StableDiffusionPipeline",
        "StableDiffusionXLPipeline",
        "StableDiffusion3Pipeline",
        "PixArtAlphaPipeline",
        "PixArtSigmaPipeline",
        "FluxPipeline",
        "SanaPipeline",
    }
)
VIDEO_PIPELINES = frozenset({"StableVideoDiffusionPipeline"})


def discover_models(model_dir: Path | str | None) -> dict[str, Path]:
    """Which diffusers pipelines a model directory holds: {'image': dir, 'video': dir}.

    Looks at `model_dir/model_index.json` and at each direct sub-directory's (e.g. `image/`,
    `video/`, `sd-turbo/`, `svd-xt/`), classifying by `_class_name`; the first of each kind (sorted
    by name) wins. A missing or empty directory gives {}.
    """
    import json

    if model_dir is None:
        return {}
    root = Path(model_dir).expanduser()
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for candidate in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        index = candidate / "model_index.json"
        try:
            class_name = json.loads(index.read_text()).get("_class_name", "") if index.is_file() else ""
        except (OSError, ValueError):
            continue
        kind = (
            "image" if class_name in IMAGE_PIPELINES else "video" if class_name in VIDEO_PIPELINES else None
        )
        if kind and kind not in found:
            found[kind] = candidate
    return found


# ------------------------------------------------------------------------------------------------
# device and dtype
# ------------------------------------------------------------------------------------------------


def resolve_device(device: str | None = "auto") -> Any:
    """'auto' → cuda:0 when CUDA is available else cpu; 'cuda:N' without CUDA is provider_unavailable."""
    torch = import_torch()
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ProviderUnavailableError(f"Unknown device {device!r}: {exc}", code="device_invalid") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ProviderUnavailableError(
                f"Device {device!r} was asked for but this torch build sees no CUDA GPU "
                f"(torch {torch.__version__}); use --device cpu or install a CUDA build of torch.",
                code="gpu_unavailable",
            )
        index = dev.index if dev.index is not None else 0
        if index >= torch.cuda.device_count():
            raise ProviderUnavailableError(
                f"Device {device!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s).",
                code="gpu_unavailable",
            )
        dev = torch.device("cuda", index)
    return dev


def resolve_dtype(device: Any, dtype: str | None = None) -> Any:
    """fp16 on CUDA by default (bf16 on request where supported); always fp32 on CPU."""
    torch = import_torch()
    if getattr(device, "type", str(device)) != "cuda":
        return torch.float32
    name = (dtype or "fp16").strip().lower()
    if name in ("fp16", "float16", "half"):
        return torch.float16
    if name in ("bf16", "bfloat16"):
        if not torch.cuda.is_bf16_supported():
            log.warning("bf16 is not supported on %s; using fp16", device_name(device))
            return torch.float16
        return torch.bfloat16
    if name in ("fp32", "float32"):
        return torch.float32
    raise ProviderUnavailableError(f"Unknown dtype {dtype!r}; use fp16, bf16 or fp32.", code="dtype_invalid")


def dtype_name(dtype: Any) -> str:
    return {"torch.float16": "fp16", "torch.bfloat16": "bf16", "torch.float32": "fp32"}.get(
        str(dtype), str(dtype)
    )


def device_name(device: Any) -> str:
    """Human name of the device: the GPU's marketing name, or 'cpu (N threads)'."""
    torch = import_torch()
    dev = torch.device(device) if not hasattr(device, "type") else device
    if dev.type == "cuda":
        return str(torch.cuda.get_device_name(dev))
    return f"cpu ({torch.get_num_threads()} threads)"


# ------------------------------------------------------------------------------------------------
# resident models
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelKey:
    """What makes two loaded models the same: kind, model directory, device and dtype."""

    kind: str
    model_dir: str
    device: str
    dtype: str

    @classmethod
    def of(cls, kind: str, model_dir: Path | str, device: Any, dtype: Any) -> ModelKey:
        return cls(kind, str(Path(model_dir).expanduser().resolve()), str(device), dtype_name(dtype))


_resident: dict[ModelKey, Any] = {}
_resident_lock = threading.RLock()
_max_resident = 1


def set_max_resident(n: int) -> None:
    """How many models one process may keep loaded (default 1: one pool process = one model)."""
    global _max_resident
    _max_resident = max(1, int(n))


def resident(key: ModelKey, loader: Callable[[], T]) -> T:
    """The loaded model for `key`, loading it (once per process) with `loader()` if needed.

    Loading a new key evicts the least recently used others beyond the resident limit first, so
    their memory is released before the new weights arrive.
    """
    with _resident_lock:
        if key in _resident:
            model = _resident.pop(key)  # re-insert: most recently used last
            _resident[key] = model
            return model
        while len(_resident) >= _max_resident:
            old_key = next(iter(_resident))
            log.info("evicting resident model %s to load %s", old_key, key)
            _drop(old_key)
        started = time.perf_counter()
        model = loader()
        _resident[key] = model
        log.info("loaded %s in %.1f s", key, time.perf_counter() - started)
        return model


def resident_keys() -> list[ModelKey]:
    with _resident_lock:
        return list(_resident)


def _drop(key: ModelKey) -> None:
    model = _resident.pop(key, None)
    del model
    gc.collect()
    if key.device.startswith("cuda"):
        empty_cache(key.device)


def evict_all() -> None:
    """Unload every resident model (worker shutdown, tests)."""
    with _resident_lock:
        for key in list(_resident):
            _drop(key)


# ------------------------------------------------------------------------------------------------
# memory: admission, OOM detection, cache hygiene
# ------------------------------------------------------------------------------------------------


def free_bytes(device: Any) -> int | None:
    """Free device memory in bytes (`torch.cuda.mem_get_info`); None for CPU devices."""
    torch = import_torch()
    dev = torch.device(device) if not hasattr(device, "type") else device
    if dev.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(dev)
    # memory cached by this process's allocator is reusable by this job: count it as free
    reserved = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
    return int(free + max(0, reserved))


def admit(
    device: Any,
    need_bytes: int,
    *,
    what: str,
    free_fn: Callable[[Any], int | None] | None = None,
    headroom_bytes: int = ADMISSION_HEADROOM_BYTES,
) -> int | None:
    """Refuse a job that cannot fit in free device memory now (TransientProviderError 'gpu_busy').

    Returns the free bytes seen (None on CPU, where nothing is checked). `free_fn` replaces the
    `mem_get_info` query (tests, other accelerators).
    """
    free = (free_fn or free_bytes)(device)
    if free is None:
        return None
    if free < need_bytes + headroom_bytes:
        raise TransientProviderError(
            f"{what} needs about {need_bytes / 1024**3:.1f} GiB on {device} but only "
            f"{free / 1024**3:.1f} GiB is free; handing the job back to be retried.",
            code="gpu_busy",
        )
    return free


def is_oom(exc: BaseException) -> bool:
    """True for CUDA/MPS/XPU out-of-memory errors (typed or by message)."""
    try:
        import torch

        oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
        if isinstance(exc, oom_type):
            return True
    except ImportError:
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def empty_cache(device: Any = None) -> None:
    """Release cached allocator blocks back to the driver (CUDA only; no-op elsewhere)."""
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available() and (device is None or str(device).startswith("cuda")):
        torch.cuda.empty_cache()


@dataclass
class CacheHygiene:
    """Calls `empty_cache` after an OOM or every `every_n_jobs` jobs — not on every call."""

    every_n_jobs: int = 50
    jobs: int = 0
    emptied: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def job_done(self, device: Any, *, oom: bool = False) -> bool:
        with self._lock:
            self.jobs += 1
            due = oom or (self.every_n_jobs > 0 and self.jobs % self.every_n_jobs == 0)
            if due:
                self.emptied += 1
        if due:
            gc.collect()
            empty_cache(device)
        return due


@contextlib.contextmanager
def exclusive(lock: threading.Lock, cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
    """Hold a pipeline's lock (diffusers pipelines keep scheduler state: one call at a time),
    checking `cancelled()` while waiting so a queued job still stops promptly."""
    from schema.errors import CancelledByUser

    while not lock.acquire(timeout=0.2):
        if cancelled is not None and cancelled():
            raise CancelledByUser("Cancelled while waiting for the GPU.")
    try:
        yield
    finally:
        lock.release()


# ------------------------------------------------------------------------------------------------
# device-seconds
# ------------------------------------------------------------------------------------------------


@dataclass
class DeviceTimer:
    """Result of `measure()`: seconds on the device, how they were measured, peak memory (CUDA)."""

    device: str
    method: str = "wall"
    seconds: float = 0.0
    peak_bytes: int | None = None


@contextlib.contextmanager
def measure(device: Any, *, track_peak: bool = False) -> Iterator[DeviceTimer]:
    """Time the body on the device: CUDA events (synchronised at exit) on CUDA, wall time on CPU."""
    torch = import_torch()
    dev = torch.device(device) if not hasattr(device, "type") else device
    timer = DeviceTimer(device=str(dev))
    if dev.type == "cuda":
        timer.method = "cuda_events"
        if track_peak:
            torch.cuda.reset_peak_memory_stats(dev)
        with torch.cuda.device(dev):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            try:
                yield timer
            finally:
                end.record()
                end.synchronize()
                timer.seconds = start.elapsed_time(end) / 1000.0
                if track_peak:
                    timer.peak_bytes = int(torch.cuda.max_memory_allocated(dev))
    else:
        started = time.perf_counter()
        try:
            yield timer
        finally:
            timer.seconds = time.perf_counter() - started


# ------------------------------------------------------------------------------------------------
# graceful drain
# ------------------------------------------------------------------------------------------------


class PoolGate:
    """Counts running jobs; after `drain()` new jobs are handed back and running ones may finish."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self._draining = False

    @property
    def running(self) -> int:
        return self._running

    @contextlib.contextmanager
    def job(self, what: str = "job") -> Iterator[None]:
        with self._cond:
            if self._draining:
                raise TransientProviderError(
                    f"This worker is shutting down; {what} is handed back to be retried elsewhere.",
                    code="worker_draining",
                )
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def drain(self, timeout_s: float | None = None) -> bool:
        """Stop admitting jobs and wait for running ones; True when none is left running."""
        with self._cond:
            self._draining = True
            return self._cond.wait_for(lambda: self._running == 0, timeout=timeout_s)
