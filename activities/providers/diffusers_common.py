"""What the diffusers providers (`diffusers_grid`, `diffusers_video`) share; each keeps only its own.

Rules:
- Weights come only from a local directory: `from_pretrained(model_dir, local_files_only=True)`,
  never a hub download. No `model_index.json` there is `model_missing`, a directory diffusers
  cannot load is `model_invalid`, no torch/diffusers is `gpu_extra_missing` (all non-retryable).
- The pipeline is loaded once per process and kept resident (`gpu_pool.resident`, keyed by the
  provider's kind, model dir, device and dtype); a pipeline injected at construction is used as is.
  One call at a time per pipeline: its lock is held (`gpu_pool.exclusive`) for the whole call.
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
    "DiffusersProvider",
    "Progress",
    "ResidentPipeline",
    "ensure_sdpa",
    "load_local_pipeline",
    "monotonic",
    "pipeline_info",
    "require_model",
    "step_callback",
]

Progress = Callable[[float], None]
Cancelled = Callable[[], bool]
T = TypeVar("T")


@dataclass
class ResidentPipeline:
    """A resident pipeline, its description (recorded in params) and the lock serialising calls."""

    pipe: Any
    info: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)  # one pipeline call at a time


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
    unet_dir = root / "unet"
    if dtype == torch.float16 and unet_dir.is_dir() and any(unet_dir.glob("*.fp16.safetensors")):
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

    def _resident(self) -> P:
        """The injected pipeline, else the resident one (loaded on first use, once per process)."""
        if self._injected is not None:
            return self._injected
        assert self.model_dir is not None
        key = gpu_pool.ModelKey.of(self.resident_kind, self.model_dir, self.device, self.dtype)
        return gpu_pool.resident(key, self._load)

    @contextlib.contextmanager
    def _pipeline_call(
        self, lock: threading.Lock, cancelled: Cancelled | None
    ) -> Iterator[gpu_pool.DeviceTimer]:
        """Around one pipeline call: its lock (cancellable wait), device timing, inference mode."""
        torch = gpu_pool.import_torch()
        with (
            gpu_pool.exclusive(lock, cancelled),
            gpu_pool.measure(self.device) as timer,
            torch.inference_mode(),
        ):
            yield timer

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
