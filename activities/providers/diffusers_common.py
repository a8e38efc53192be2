"""What the diffusers providers (`diffusers_grid`, `diffusers_video`) share; each keeps only its own.

Rules:
- Weights come only from a local directory: `from_pretrained(model_dir, local_files_only=True)`,
  never a hub download. No `model_index.json` there is `model_missing`, a directory diffusers
  cannot load is `model_invalid`, no torch/diffusers is `gpu_extra_missing` (all non-retryable).
- The pipeline is loaded once per process and kept resident (`gpu_pool.lease`, keyed by the
  provider's kind, model dir, device and dtype; one slot per kind), leased for a whole job so it is
  never evicted under a running job; a pipeline injected at construction is used as is. One call
  at a time per pipeline: its lock is held (`gpu_pool.exclusive`) for the whole call, timed with
  CUDA events on the pipeline's own stream.
- A pipeline is usable when it has a denoiser (`unet`, or `transformer` for SD3/Flux/Sana) and
  its `__call__` takes `callback_on_step_end` (per-step cancellation); anything else (PixArt: no
  step callback) is refused at load with the non-retryable `model_unsupported`, never an
  AttributeError retried by Temporal.
- Seconds: `Compute` adds up GPU seconds (CUDA events), CPU seconds (wall time of calls on a CPU
  device: never priced as GPU time) and compile seconds (calls in which torch.compile built a
  graph: recorded apart, not charged to the job).
- Decoded pixels are checked: non-finite values (fp16 overflow in the VAE) are decoded again with
  the VAE upcast to fp32 (`fp32_vae`); still non-finite is the non-retryable `output_nonfinite`.
  A bad image is never returned, so it is never stored or cached.
- `callback_on_step_end` raises `CancelledByUser` as soon as `cancelled()` turns true and then
  reports the provider's progress fraction; `monotonic` keeps a reporter from moving back.
- Out of memory is a real `torch.OutOfMemoryError` (or any error `gpu_pool.is_oom` recognises, so a
  provider's simulated memory limit counts too); after one, the allocator cache is emptied
  (`CacheHygiene`) once the exception and its traceback are gone, and the provider decides how to
  retry. Giving up is a non-retryable `gpu_oom`.
torch and diffusers are imported lazily: importing this module never requires the `gpu` extra.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from activities.providers import gpu_pool
from schema.errors import CancelledByUser, ProviderUnavailableError

__all__ = [
    "Cancelled",
    "Compute",
    "DiffusersProvider",
    "Progress",
    "ResidentPipeline",
    "denoiser_of",
    "ensure_sdpa",
    "fp32_vae",
    "load_local_pipeline",
    "monotonic",
    "nonfinite_items",
    "pipeline_info",
    "require_model",
    "step_callback",
]

Progress = Callable[[float], None]
Cancelled = Callable[[], bool]
T = TypeVar("T")


@dataclass
class ResidentPipeline:
    """A resident pipeline, its description (recorded in params), the lock serialising calls and
    the CUDA stream its calls run (and are timed) on."""

    pipe: Any
    info: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)  # one pipeline call at a time
    _stream: Any = None

    def stream(self, device: Any) -> Any:
        if self._stream is None:
            self._stream = gpu_pool.job_stream(device)
        return self._stream


@dataclass
class Compute:
    """Seconds a job spent: on the GPU (priced), on a CPU device (never priced as GPU time), and
    compiling (torch.compile's first call for a shape: recorded apart, not charged)."""

    gpu_seconds: float = 0.0
    cpu_seconds: float = 0.0
    compile_seconds: float = 0.0
    peak_bytes: int | None = None
    timing: str = "cpu_wall"

    def add(self, timer: gpu_pool.DeviceTimer, *, compiled: bool = False) -> None:
        self.timing = timer.method
        if compiled:
            self.compile_seconds += timer.wall_seconds
        elif timer.method == "cuda_events":
            self.gpu_seconds += timer.seconds
        else:
            self.cpu_seconds += timer.wall_seconds
        if timer.peak_bytes is not None:
            self.peak_bytes = max(self.peak_bytes or 0, timer.peak_bytes)

    def params(self) -> dict[str, Any]:
        return {
            "gpu_seconds": round(self.gpu_seconds, 6),
            "cpu_seconds": round(self.cpu_seconds, 6),
            "compile_seconds": round(self.compile_seconds, 6),
            "timing": self.timing,
        }


P = TypeVar("P", bound=ResidentPipeline)


# ------------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------------


def require_model(model_dir: Path | str | None, pipeline: Any, message: str) -> None:
    """A provider needs a model directory or an injected pipeline (`model_missing` otherwise)."""
    if model_dir is None and pipeline is None:
        raise ProviderUnavailableError(message, code="model_missing")


def load_local_pipeline(
    model_dir: Path | str, dtype: Any, *, pipeline_class: str, what: str, missing_hint: str
) -> tuple[Any, str | None]:
    """`diffusers.<pipeline_class>.from_pretrained(model_dir, local_files_only=True)`, progress bar
    off, fp16 weight files when there are any; returns (pipeline, variant). Not moved to a device.

    `what` names the pipeline in the `model_invalid` message ("a text-to-image pipeline");
    `missing_hint` says what to put in the directory in the `model_missing` one.
    """
    torch = gpu_pool.import_torch()
    root = Path(model_dir).expanduser()
    if not (root / "model_index.json").is_file():
        raise ProviderUnavailableError(
            f"No diffusers pipeline in {root} (model_index.json missing). {missing_hint}",
            code="model_missing",
        )
    try:
        import diffusers
        from diffusers.utils import logging as diffusers_logging

        pipeline_cls = getattr(diffusers, pipeline_class)
    except (ImportError, AttributeError) as exc:
        raise ProviderUnavailableError(
            f"diffusers is not installed: {gpu_pool.GPU_EXTRA_HINT}", code="gpu_extra_missing"
        ) from exc
    diffusers_logging.disable_progress_bar()
    kwargs: dict[str, Any] = {"local_files_only": True, "torch_dtype": dtype}
    if dtype == torch.float16 and any(
        (root / sub).is_dir() and any((root / sub).glob("*.fp16.safetensors"))
        for sub in ("unet", "transformer")
    ):
        kwargs["variant"] = "fp16"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch_dtype → dtype rename in new diffusers
            pipe = pipeline_cls.from_pretrained(str(root), **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ProviderUnavailableError(
            f"Could not load {what} from {root}: {exc}", code="model_invalid"
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe, kwargs.get("variant")


def denoiser_of(pipe: Any) -> tuple[str, Any]:
    """(attribute name, module) of the pipeline's denoiser: `unet`, else `transformer`.

    Refuses (`model_unsupported`, non-retryable) a pipeline with neither, or one whose `__call__`
    takes no `callback_on_step_end` (no per-step progress or cancellation, e.g. PixArt).
    """
    import inspect

    name = type(pipe).__name__
    for attr in ("unet", "transformer"):
        module = getattr(pipe, attr, None)
        if module is not None:
            break
    else:
        raise ProviderUnavailableError(
            f"{name} has neither a UNet nor a transformer denoiser; this provider cannot drive it.",
            code="model_unsupported",
        )
    try:
        accepts = "callback_on_step_end" in inspect.signature(pipe.__call__).parameters
    except (TypeError, ValueError):
        accepts = False
    if not accepts:
        raise ProviderUnavailableError(
            f"{name} takes no callback_on_step_end, so a job could not be cancelled between "
            "denoising steps; use an SD, SDXL, SD3, Flux or Sana pipeline.",
            code="model_unsupported",
        )
    return attr, module


def nonfinite_items(batch: Any) -> list[int]:
    """Indices along the first axis of a tensor/array whose values are not all finite."""
    try:
        import torch

        if isinstance(batch, torch.Tensor):
            flat = torch.isfinite(batch.reshape(batch.shape[0], -1)).all(dim=1)
            return [i for i, ok in enumerate(flat.tolist()) if not ok]
    except ImportError:  # pragma: no cover - numpy arrays only
        pass
    import numpy as np

    arr = np.asarray(batch)
    flat = np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    return [i for i, ok in enumerate(flat.tolist()) if not ok]


@contextlib.contextmanager
def fp32_vae(vae: Any) -> Iterator[Any]:
    """The VAE upcast to fp32 in place for the body, then cast back (fp16/bf16 → fp32 → back is
    exact). The caller holds the pipeline's lock, so no other call sees the fp32 weights."""
    torch = gpu_pool.import_torch()
    dtype = vae.dtype
    if dtype == torch.float32:
        yield vae
        return
    vae.to(torch.float32)
    try:
        yield vae
    finally:
        vae.to(dtype)


def ensure_sdpa(module: Any) -> str:
    """Use PyTorch scaled-dot-product attention in every attention layer; returns its name."""
    try:
        from diffusers.models.attention_processor import AttnProcessor2_0
    except ImportError:  # pragma: no cover - very old diffusers
        return "default"
    procs = getattr(module, "attn_processors", None)
    if not procs:
        return "none"
    if all(type(p).__name__ == "AttnProcessor2_0" for p in procs.values()):
        return "sdpa"
    try:
        module.set_attn_processor(AttnProcessor2_0())
        return "sdpa"
    except (ValueError, TypeError):  # mixed processor kinds (e.g. IP-adapters): keep them
        return "mixed"


def pipeline_info(pipe: Any, attention: str, **extra: Any) -> dict[str, Any]:
    """The description of a loaded pipeline recorded in every output's params (in this key order)."""
    return {
        "pipeline": type(pipe).__name__,
        "scheduler": type(pipe.scheduler).__name__,
        "attention": attention,
        **extra,
    }


# ------------------------------------------------------------------------------------------------
# progress and cancellation
# ------------------------------------------------------------------------------------------------


def monotonic(report: Progress | None) -> Progress | None:
    """`report`, passing on only fractions that do not move back (e.g. after a retried call)."""
    if report is None:
        return None
    best = [0.0]

    def wrapped(fraction: float) -> None:
        if fraction >= best[0]:
            best[0] = fraction
            report(fraction)

    return wrapped


def step_callback(
    what: str,
    fraction: Callable[[int], float],
    on_progress: Progress | None,
    cancelled: Cancelled | None,
) -> Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]:
    """A `callback_on_step_end`: raises `CancelledByUser` ("<what> cancelled at denoising step N.")
    when `cancelled()` is true, else reports `fraction(step)` (step is 0-based) to `on_progress`."""

    def on_step_end(_pipe: Any, step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if cancelled is not None and cancelled():
            raise CancelledByUser(f"{what} cancelled at denoising step {step + 1}.")
        if on_progress is not None:
            on_progress(fraction(step))
        return kwargs

    return on_step_end


# ------------------------------------------------------------------------------------------------
# the provider base: device, resident pipeline, one call at a time, OOM
# ------------------------------------------------------------------------------------------------


class DiffusersProvider(Generic[P]):
    """Device/dtype, the resident pipeline, guarded pipeline calls and OOM detection of a provider.

    A subclass sets `resident_kind`, implements `_load()` (its loader with its own settings) and
    may set `self._injected` to a pipeline given at construction.
    """

    resident_kind: ClassVar[str]

    def __init__(
        self,
        model_dir: Path | str | None,
        device: str,
        dtype: str | None,
        admission: bool,
        free_memory_fn: Callable[[Any], int | None] | None,
        empty_cache_every: int,
    ) -> None:
        self.model_dir = Path(model_dir).expanduser() if model_dir is not None else None
        self.device = gpu_pool.resolve_device(device)
        self.dtype = gpu_pool.resolve_dtype(self.device, dtype)
        self.admission = admission
        self.free_memory_fn = free_memory_fn
        self.hygiene = gpu_pool.CacheHygiene(every_n_jobs=empty_cache_every)
        self._injected: P | None = None

    def _load(self) -> P:
        raise NotImplementedError

    def _key(self) -> gpu_pool.ModelKey:
        assert self.model_dir is not None
        return gpu_pool.ModelKey.of(self.resident_kind, self.model_dir, self.device, self.dtype)

    def _resident(self) -> P:
        """The injected pipeline, else the resident one (loaded on first use, once per process).
        For inspection; a job holds `_leased()` instead."""
        if self._injected is not None:
            return self._injected
        return gpu_pool.resident(self._key(), self._load)

    @contextlib.contextmanager
    def _leased(self) -> Iterator[P]:
        """The pipeline, held for a whole job: never evicted while the job runs."""
        if self._injected is not None:
            yield self._injected
            return
        with gpu_pool.lease(self._key(), self._load) as resident:
            yield resident

    def _free_idle_models(self) -> bool:
        """After an OOM: unload idle resident models of other kinds; True when one was."""
        return bool(gpu_pool.evict_idle(self.resident_kind))

    @contextlib.contextmanager
    def _pipeline_call(
        self, resident: ResidentPipeline, cancelled: Cancelled | None, *, track_peak: bool = False
    ) -> Iterator[gpu_pool.DeviceTimer]:
        """Around one pipeline call: its lock (cancellable wait), timing on the pipeline's own
        stream, inference mode. `timer.compiled` tells whether torch.compile built a graph."""
        torch = gpu_pool.import_torch()
        with gpu_pool.exclusive(resident.lock, cancelled):
            graphs = _compiled_graphs()
            with (
                gpu_pool.measure(
                    self.device, stream=resident.stream(self.device), track_peak=track_peak
                ) as timer,
                torch.inference_mode(),
            ):
                yield timer
            timer.compiled = _compiled_graphs() > graphs

    def _unless_oom(self, call: Callable[[], T]) -> tuple[T | None, str | None]:
        """(call(), None), or (None, the error's first line) when the device ran out of memory.

        Cancellation and every other error propagate. After an OOM the cache is emptied once the
        exception is gone (its traceback holds the call's tensors).
        """
        try:
            return call(), None
        except CancelledByUser:
            raise
        except Exception as exc:
            if not gpu_pool.is_oom(exc):
                raise
            message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        self.hygiene.job_done(self.device, oom=True)
        return None, message

    def _out_of_memory(self, doing: str, message: str, advice: str) -> ProviderUnavailableError:
        """The non-retryable `gpu_oom` for when no smaller attempt is left."""
        return ProviderUnavailableError(
            f"Out of GPU memory {doing} on {gpu_pool.device_name(self.device)} ({message}); {advice}",
            code="gpu_oom",
        )


def _compiled_graphs() -> int:
    """How many graphs torch.compile (dynamo) has built in this process so far (0 if unknown)."""
    try:
        from torch._dynamo.utils import counters
    except ImportError:  # pragma: no cover - torch without dynamo
        return 0
    return int(counters["stats"].get("unique_graphs", 0))
