"""GPU pool discipline for the `gpu-image` / `gpu-video` worker processes.

Rules:
- One resident model per kind (slot) per process: `lease(key, loader)` / `resident(key, loader)`
  keep a module-level cache keyed by (kind, model dir, device, dtype). Asking for another model of
  the same kind evicts the old one first, and only once no job holds a lease on it; a grid model
  and a video model never evict each other (alternating grids and clips reloads nothing). Under
  memory pressure (`evict_idle`) idle models of other kinds are unloaded; `evict_all` on shutdown.
- VRAM admission, after the weights are loaded: `admit()` compares `torch.cuda.mem_get_info` with
  a job's estimated need and raises `TransientProviderError(code="gpu_busy")` when it cannot fit,
  so Temporal retries the activity (possibly on another worker) instead of the worker crashing.
- `torch.cuda.empty_cache()` is paid only after an out-of-memory error or every N jobs
  (`CacheHygiene`), never on every call.
- `measure()` returns device seconds for task accounting: CUDA events recorded on the job's own
  stream (`job_stream`) on CUDA; on CPU only wall time, never counted as GPU seconds.
- Draining on shutdown is Temporal's (worker graceful shutdown); models are evicted after it.
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
    "admit",
    "device_name",
    "discover_models",
    "dtype_name",
    "empty_cache",
    "evict_all",
    "evict_idle",
    "exclusive",
    "free_bytes",
    "gpu_extra_available",
    "import_torch",
    "is_oom",
    "job_stream",
    "lease",
    "load_count",
    "measure",
    "module_bytes",
    "resident",
    "resident_keys",
    "resolve_device",
    "resolve_dtype",
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


IMAGE_PIPELINES = frozenset(  # UNet-based (SD, SDXL) and transformer-based (SD3, Flux, Sana)
    {
        "StableDiffusionPipeline",
        "StableDiffusionXLPipeline",
        "StableDiffusion3Pipeline",
        "FluxPipeline",
        "SanaPipeline",
    }
)
# PixArt pipelines have no `callback_on_step_end` (no per-step cancellation): not discovered, and
# refused at load with `model_unsupported` (diffusers_common.denoiser_of)
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


_resident: dict[ModelKey, Any] = {}  # insertion order = least recently used first
_users: dict[ModelKey, int] = {}  # jobs holding a lease on each resident model
_loads: dict[ModelKey, int] = {}  # how many times each key was loaded in this process
_resident_cond = threading.Condition(threading.Lock())  # guards the three dicts (held briefly)
_kind_locks: dict[str, threading.Lock] = {}  # one load/eviction at a time per kind (slot)


def resident(key: ModelKey, loader: Callable[[], T]) -> T:
    """The loaded model for `key`, loading it (once per process) with `loader()` if needed.

    One slot per kind: loading a new key evicts the other model of the SAME kind (waiting until no
    job uses it), never a model of another kind, so a process serving grids and clips keeps both.
    Prefer `lease()` around a job: it keeps the model from being evicted while the job runs.
    """
    with lease(key, loader) as model:
        return model


@contextlib.contextmanager
def lease(key: ModelKey, loader: Callable[[], T]) -> Iterator[T]:
    """Hold the resident model for `key` for the body (loading it first if needed)."""
    with _resident_cond:
        kind_lock = _kind_locks.setdefault(key.kind, threading.Lock())
    with kind_lock:
        with _resident_cond:
            present = key in _resident
            if not present:
                for old_key in [k for k in _resident if k.kind == key.kind]:
                    log.info("evicting resident model %s to load %s", old_key, key)
                    _resident_cond.wait_for(lambda k=old_key: _users.get(k, 0) == 0)
                    _drop(old_key)
        if not present:  # loading takes seconds: other kinds' jobs are not held up meanwhile
            started = time.perf_counter()
            loaded = loader()
            log.info("loaded %s in %.1f s", key, time.perf_counter() - started)
        with _resident_cond:
            if not present:
                _resident[key] = loaded
                _loads[key] = _loads.get(key, 0) + 1
            model = _resident.pop(key)  # re-insert: most recently used last
            _resident[key] = model
            _users[key] = _users.get(key, 0) + 1
    try:
        yield model
    finally:
        with _resident_cond:
            _users[key] -= 1
            _resident_cond.notify_all()


def resident_keys() -> list[ModelKey]:
    with _resident_cond:
        return list(_resident)


def load_count(key: ModelKey) -> int:
    """How many times `key` was loaded in this process (1 = never reloaded)."""
    with _resident_cond:
        return _loads.get(key, 0)


def _drop(key: ModelKey) -> None:
    """Forget a resident model nobody uses (caller holds `_resident_cond`, users are 0)."""
    model = _resident.pop(key, None)
    _users.pop(key, None)
    del model
    gc.collect()
    if key.device.startswith("cuda"):
        empty_cache(key.device)


def evict_idle(keep_kind: str) -> list[ModelKey]:
    """Unload every resident model of another kind that no job is using (memory pressure: an
    out-of-memory job frees what idle models hold before it gives anything up). Returns them."""
    with _resident_cond:
        idle = [k for k in _resident if k.kind != keep_kind and _users.get(k, 0) == 0]
        for key in idle:
            log.info("out of memory: evicting idle resident model %s", key)
            _drop(key)
        return idle


def evict_all(timeout_s: float | None = None) -> bool:
    """Unload every resident model once no job uses it (worker shutdown, tests); False when a job
    still held one after `timeout_s` (that one stays loaded)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    all_dropped = True
    with _resident_cond:
        for key in list(_resident):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if _resident_cond.wait_for(lambda k=key: _users.get(k, 0) == 0, timeout=left):
                _drop(key)
            else:
                all_dropped = False
    return all_dropped


def module_bytes(*modules: Any) -> int:
    """Bytes held by the parameters and buffers of the given torch modules (None ignored)."""
    total = 0
    for module in modules:
        if module is None or not hasattr(module, "parameters"):
            continue
        total += sum(p.numel() * p.element_size() for p in module.parameters())
        total += sum(b.numel() * b.element_size() for b in module.buffers())
    return total


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
    """Result of `measure()`.

    `seconds` is time on the GPU between two CUDA events recorded on the job's own stream (0.0 on
    CPU: wall time on a CPU is never GPU time); `wall_seconds` is the wall time of the body;
    `peak_bytes` the peak memory allocated during it (CUDA, `track_peak=True`).
    """

    device: str
    method: str = "cpu_wall"
    seconds: float = 0.0
    wall_seconds: float = 0.0
    peak_bytes: int | None = None
    compiled: bool = False  # set by callers that know torch.compile built a graph in the body


def job_stream(device: Any) -> Any:
    """A CUDA stream of its own for one resident pipeline's jobs (None on CPU).

    Timing events recorded on it measure only that pipeline's kernels, not another pool's work
    queued on the default stream. Keep one per pipeline (not one per call): the caching allocator
    reuses freed blocks per stream.
    """
    torch = import_torch()
    dev = torch.device(device) if not hasattr(device, "type") else device
    if dev.type != "cuda":
        return None
    return torch.cuda.Stream(device=dev)


@contextlib.contextmanager
def measure(device: Any, *, stream: Any = None, track_peak: bool = False) -> Iterator[DeviceTimer]:
    """Time the body: CUDA events on `stream` (the body runs on it; synchronised at exit) on CUDA,
    wall time only on CPU (`seconds` stays 0.0 there)."""
    torch = import_torch()
    dev = torch.device(device) if not hasattr(device, "type") else device
    timer = DeviceTimer(device=str(dev))
    started = time.perf_counter()
    if dev.type == "cuda":
        timer.method = "cuda_events"
        if track_peak:
            torch.cuda.reset_peak_memory_stats(dev)
        with torch.cuda.device(dev), torch.cuda.stream(stream or torch.cuda.current_stream(dev)):
            active = torch.cuda.current_stream(dev)
            if stream is not None:
                active.wait_stream(torch.cuda.default_stream(dev))  # inputs made on the default stream
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record(active)
            try:
                yield timer
            finally:
                end.record(active)
                end.synchronize()
                timer.seconds = start.elapsed_time(end) / 1000.0
                timer.wall_seconds = time.perf_counter() - started
                if track_peak:
                    timer.peak_bytes = int(torch.cuda.max_memory_allocated(dev))
    else:
        try:
            yield timer
        finally:
            timer.wall_seconds = time.perf_counter() - started
