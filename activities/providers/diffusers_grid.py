"""Diffusers grid-image provider (SD-Turbo / SDXL-Turbo class) for the `gpu-image` pool.

Rules:
- Weights come only from a local directory: `from_pretrained(model_dir, local_files_only=True)`,
  loaded once per process (gpu_pool.resident); never a hub download.
- fp16 (or bf16) on CUDA, fp32 on CPU; SDPA attention; optional `torch.compile` of the UNet.
- A 4- or 9-cell grid is ONE batched pipeline call (a batch of per-cell prompts) with one CPU
  `torch.Generator` per cell seeded `seed + cell - 1`. Initial noise and every sampler noise draw
  come from the cell's own generator, so a cell re-rendered alone (`render_cell`) gets the same
  noise as in the grid: bit-identical on CPU; on CUDA identical up to kernel choices that depend
  on batch size (fp16 rounding). Everything needed to reproduce a cell is in its `params`.
- img2img starts from the parent image, else the first reference.
- `callback_on_step_end` reports progress and raises `CancelledByUser` as soon as `cancelled()`
  turns true (no image is returned).
- Out of memory (a real `torch.OutOfMemoryError`, or the simulated `memory_limit_images` limit)
  splits the batch in halves and retries; the splits are recorded in every cell's params and the
  smaller batch size is remembered for later grids. A single image that still does not fit is a
  non-retryable `gpu_oom`. Jobs that cannot fit at all right now are refused up front with a
  retryable `gpu_busy` (VRAM admission).
Loading, the resident pipeline, the step callback and OOM detection are shared with
`diffusers_video` in `diffusers_common`; batching, splits, per-cell seeds and img2img are this module's.
"""

from __future__ import annotations

import io
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from activities.providers import diffusers_common, gpu_pool
from activities.providers.cards import GRID_SIZES, GridRequest, RenderedImage, cell_cameras, decode_image
from activities.providers.diffusers_common import Cancelled, DiffusersProvider, Progress, ResidentPipeline
from schema.errors import BadInputError, CancelledByUser, ProviderUnavailableError
from schema.storyboard import Camera

__all__ = ["DiffusersGridProvider", "cell_prompt", "generation_size"]

DEFAULT_BYTES_PER_PIXEL = {"fp16": 1400, "bf16": 1400, "fp32": 2800}  # activations + VAE decode, per image
_DENOISE_SHARE = 0.95  # progress share of denoising; the rest is decode + PNG encoding

_SIZE_WORDS = {
    "extreme_wide": "extreme wide shot",
    "wide": "wide shot",
    "full": "full shot",
    "medium": "medium shot",
    "medium_close": "medium close-up",
    "close_up": "close-up",
    "extreme_close_up": "extreme close-up",
}
_ANGLE_WORDS = {
    "eye_level": "eye-level angle",
    "low": "low angle",
    "high": "high angle",
    "birds_eye": "bird's-eye view",
    "dutch": "dutch angle",
    "over_shoulder": "over-the-shoulder shot",
}


def cell_prompt(req: GridRequest, cam: Camera) -> str:
    """The text prompt of one cell: framing first (CLIP keeps only 77 tokens), visual, style."""
    parts = [_SIZE_WORDS[cam.size], _ANGLE_WORDS[cam.angle], req.visual.strip().rstrip(".")]
    if req.style:
        parts.append(f"{req.style} style")
    parts.append("cinematic film still")
    return ", ".join(p for p in parts if p)


def generation_size(width: int, height: int, resolution: int, multiple: int = 8) -> tuple[int, int]:
    """Size to generate at: the request's aspect with its long side at `resolution`, multiples of 8."""
    scale = resolution / max(width, height)
    gw = max(multiple, round(width * scale / multiple) * multiple)
    gh = max(multiple, round(height * scale / multiple) * multiple)
    return gw, gh


@dataclass
class _Cell:
    cell: int  # 1-based
    seed: int
    camera: Camera
    prompt: str


@dataclass
class _Pipes(ResidentPipeline):
    """The resident text-to-image pipeline and its image-to-image twin (shared modules)."""

    _i2i: Any = None

    @property
    def t2i(self) -> Any:
        return self.pipe

    def i2i(self) -> Any:
        if self._i2i is None:
            from diffusers import AutoPipelineForImage2Image

            self._i2i = AutoPipelineForImage2Image.from_pipe(self.pipe)
            self._i2i.set_progress_bar_config(disable=True)
        return self._i2i


def _cover(img: Any, width: int, height: int) -> Any:
    """Scale to cover width x height and centre-crop (no letterbox, no distortion)."""
    from PIL import Image

    scale = max(width / img.width, height / img.height)
    w, h = max(width, round(img.width * scale)), max(height, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.LANCZOS)
    left, top = (w - width) // 2, (h - height) // 2
    return img.crop((left, top, left + width, top + height))


def _prepare(pipe: Any, device: Any, compile_denoiser: bool, compile_mode: str) -> dict[str, Any]:
    """Check the pipeline is drivable (`model_unsupported` otherwise), use SDPA in a UNet, compile
    the denoiser on request; returns the pipeline's description."""
    torch = gpu_pool.import_torch()
    attr, denoiser = diffusers_common.denoiser_of(pipe)
    if attr == "unet":
        attention = diffusers_common.ensure_sdpa(denoiser)
        diffusers_common.ensure_sdpa(pipe.vae)
        if device.type == "cuda" and type(denoiser).__name__ != "OptimizedModule":
            denoiser.to(memory_format=torch.channels_last)
    else:  # transformer denoisers ship their own (SDPA-based, joint) attention processors: kept
        attention = "native"
    compiled = type(denoiser).__name__ == "OptimizedModule"
    if compile_denoiser and not compiled:
        setattr(pipe, attr, torch.compile(denoiser, mode=compile_mode or None, fullgraph=False))
        compiled = True
    return diffusers_common.pipeline_info(pipe, attention, denoiser=attr, compiled=compiled)


def load_image_pipeline(
    model_dir: Path | str,
    device: Any,
    dtype: Any,
    *,
    compile_unet: bool = False,
    compile_mode: str = "",
) -> _Pipes:
    """Load the text-to-image pipeline from a local directory onto `device` (no network, ever).

    A pipeline the provider cannot drive is refused before its weights are moved to the device."""
    pipe, variant = diffusers_common.load_local_pipeline(
        model_dir,
        dtype,
        pipeline_class="AutoPipelineForText2Image",
        what="a text-to-image pipeline",
        missing_hint="Put an SD-Turbo class model there (e.g. `huggingface-cli download "
        "stabilityai/sd-turbo --local-dir <dir>` on a machine with network) and point "
        "DIRECTORDECK_MODEL_DIR at it.",
    )
    diffusers_common.denoiser_of(pipe)  # model_unsupported: refuse before using device memory
    pipe = pipe.to(device)
    info = _prepare(pipe, device, compile_unet, compile_mode)
    return _Pipes(pipe, {**info, "variant": variant})


def decode_latents(pipe: Any, latents: Any, width: int, height: int) -> Any:
    """The VAE decode each diffusers text-to-image pipeline does after denoising, done here so the
    pixels can be checked (and decoded again in fp32) without denoising again: Flux latents are
    unpacked, SDXL's latent mean/std and SD3/Flux's shift factor applied, and the VAE upcast where
    the pipeline would (`force_upcast` in an SDXL-family fp16 VAE). Returns the VAE's output
    (N, 3, H, W) in -1..1, NaN/Inf left as they are."""
    import contextlib

    torch = gpu_pool.import_torch()
    vae = pipe.vae
    if hasattr(pipe, "_unpack_latents"):  # Flux: a packed patch sequence → a latent image
        latents = pipe._unpack_latents(latents, height, width, pipe.vae_scale_factor)
    config = vae.config
    force_upcast = bool(getattr(config, "force_upcast", False))
    upcast = vae.dtype == torch.float16 and force_upcast and hasattr(pipe, "upcast_vae")
    with diffusers_common.fp32_vae(vae) if upcast else contextlib.nullcontext():
        z = latents.to(vae.dtype)
        mean, std = getattr(config, "latents_mean", None), getattr(config, "latents_std", None)
        if mean is not None and std is not None:
            view = (1, len(mean), 1, 1)
            mean_t = torch.tensor(mean, device=z.device, dtype=z.dtype).view(view)
            std_t = torch.tensor(std, device=z.device, dtype=z.dtype).view(view)
            z = z * std_t / config.scaling_factor + mean_t
        else:
            z = z / config.scaling_factor
        shift = getattr(config, "shift_factor", None)
        if shift:
            z = z + shift
        return vae.decode(z, return_dict=False)[0]


class DiffusersGridProvider(DiffusersProvider[_Pipes]):
    """Grid images from an SD-Turbo class model directory; same contract as the card renderer."""

    name = "diffusers"
    resident_kind = "sd-grid"

    def __init__(
        self,
        model_dir: Path | str | None = None,
        *,
        device: str = "auto",
        dtype: str | None = None,
        steps: int = 4,
        guidance_scale: float = 0.0,
        strength: float = 0.5,
        negative_prompt: str | None = None,
        resolution: int = 512,
        upscale_to_request: bool = True,
        compile: bool = False,
        compile_mode: str = "max-autotune-no-cudagraphs",
        max_batch: int | None = None,
        memory_limit_images: int | None = None,
        vae_slicing: bool | None = None,
        admission: bool = True,
        bytes_per_pixel: int | None = None,
        free_memory_fn: Callable[[Any], int | None] | None = None,
        empty_cache_every: int = 50,
        pipeline: Any = None,
        model_id: str | None = None,
    ) -> None:
        diffusers_common.require_model(
            model_dir,
            pipeline,
            "The diffusers image provider needs DIRECTORDECK_MODEL_DIR (a local diffusers model directory).",
        )
        if steps < 1:
            raise BadInputError(f"steps must be ≥ 1, got {steps}", code="steps_invalid")
        if not 0.0 < strength <= 1.0:
            raise BadInputError(f"strength must be in (0, 1], got {strength}", code="strength_invalid")
        super().__init__(model_dir, device, dtype, admission, free_memory_fn, empty_cache_every)
        self.steps = int(steps)
        self.guidance_scale = float(guidance_scale)
        self.strength = float(strength)
        self.negative_prompt = negative_prompt
        self.resolution = int(resolution)
        self.upscale_to_request = upscale_to_request
        self.compile = compile
        self.compile_mode = compile_mode
        self.max_batch = max_batch
        self.memory_limit_images = memory_limit_images
        self.vae_slicing = vae_slicing
        self.bytes_per_pixel = bytes_per_pixel or DEFAULT_BYTES_PER_PIXEL.get(
            gpu_pool.dtype_name(self.dtype), 2800
        )
        if pipeline is not None:
            self._injected = _Pipes(pipeline, self._describe(pipeline))  # model_unsupported
        self._model_id = model_id
        self._weights_hash: str | None = None
        self._learned_max_batch: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()

    # -- identity -------------------------------------------------------------------------------

    def _describe(self, pipe: Any) -> dict[str, Any]:
        return {**_prepare(pipe, self.device, False, ""), "variant": None}

    def _identity(self) -> tuple[str, str]:
        if self._weights_hash is None:
            if self.model_dir is not None:
                from activities.providers.generation_cache import model_identity

                model_id, self._weights_hash = model_identity(self.model_dir)
                self._model_id = self._model_id or model_id
            else:
                self._weights_hash = "in-memory"
                self._model_id = self._model_id or "in-memory"
        return str(self._model_id), self._weights_hash

    def cache_identity(self) -> dict[str, Any]:
        """What the generation cache keys on besides the request (see generation_cache)."""
        model_id, weights_hash = self._identity()
        return {
            "provider": self.name,
            "model_id": model_id,
            "weights_hash": weights_hash,
            "params": {
                "steps": self.steps,
                "guidance_scale": self.guidance_scale,
                "strength": self.strength,
                "negative_prompt": self.negative_prompt,
                "resolution": self.resolution,
                "upscale_to_request": self.upscale_to_request,
                "dtype": gpu_pool.dtype_name(self.dtype),
            },
        }

    # -- loading --------------------------------------------------------------------------------

    def pipes(self) -> _Pipes:
        """The resident pipelines (loaded on first use, once per process)."""
        return self._resident()

    def _load(self) -> _Pipes:
        assert self.model_dir is not None
        return load_image_pipeline(
            self.model_dir, self.device, self.dtype, compile_unet=self.compile, compile_mode=self.compile_mode
        )

    # -- public API -----------------------------------------------------------------------------

    def render_grid(
        self, req: GridRequest, on_progress: Progress | None = None, cancelled: Cancelled | None = None
    ) -> list[RenderedImage]:
        """All cells of the grid in as few batched calls as memory allows (one, normally)."""
        self._validate(req)
        cams = cell_cameras(req.camera, req.size, req.seed)
        cells = [
            _Cell(cell=i, seed=req.seed + i - 1, camera=cam, prompt=cell_prompt(req, cam))
            for i, cam in enumerate(cams, start=1)
        ]
        return self._render(req, cells, on_progress, cancelled)

    def render_cell(
        self,
        req: GridRequest,
        cell: int,
        on_progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> RenderedImage:
        """Re-render one cell of `req` alone (same seed, prompt and parameters as in the grid)."""
        self._validate(req)
        if not 1 <= cell <= req.size:
            raise BadInputError(f"cell must be 1..{req.size}, got {cell}", code="cell_invalid")
        cam = cell_cameras(req.camera, req.size, req.seed)[cell - 1]
        one = _Cell(cell=cell, seed=req.seed + cell - 1, camera=cam, prompt=cell_prompt(req, cam))
        return self._render(req, [one], on_progress, cancelled)[0]

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _validate(req: GridRequest) -> None:
        if req.size not in GRID_SIZES:
            raise BadInputError(f"Grid size must be 1, 4 or 9, got {req.size}.", code="grid_size_invalid")
        if not (64 <= req.width <= 4096 and 64 <= req.height <= 4096):
            raise BadInputError(
                f"Image size {req.width}x{req.height} is outside 64..4096 px.", code="image_size_invalid"
            )
        if not (req.visual or "").strip():
            raise BadInputError("The shot has no visual description to render.", code="prompt_empty")

    def _init_image(self, req: GridRequest, size: tuple[int, int]) -> tuple[Any, str | None, bytes | None]:
        if req.parent_png is not None:
            return _cover(decode_image(req.parent_png, "parent"), *size), "parent", req.parent_png
        if req.reference_pngs:
            ref = req.reference_pngs[0]
            return _cover(decode_image(ref, "reference #1"), *size), "reference_1", ref
        return None, None, None

    def _pipeline_for(self, pipes: _Pipes, mode: str) -> Any:
        if mode == "txt2img":
            return pipes.t2i
        try:
            return pipes.i2i()
        except ValueError as exc:  # no image-to-image twin in diffusers' AutoPipeline mapping
            raise ProviderUnavailableError(
                f"{type(pipes.t2i).__name__} has no image-to-image pipeline, so a grid cannot start "
                f"from a parent or reference image: {exc}",
                code="model_unsupported",
            ) from exc

    def _render(
        self, req: GridRequest, cells: list[_Cell], on_progress: Progress | None, cancelled: Cancelled | None
    ) -> list[RenderedImage]:
        if cancelled is not None and cancelled():
            raise CancelledByUser(f"Grid for shot {req.shot_number} cancelled before it started.")
        # a call retried after an OOM must not move progress back
        on_progress = diffusers_common.monotonic(on_progress)
        gen_w, gen_h = generation_size(req.width, req.height, self.resolution)
        init, init_source, init_bytes = self._init_image(req, (gen_w, gen_h))
        mode = "img2img" if init is not None else "txt2img"
        steps = self.steps
        if mode == "img2img":  # img2img runs int(steps * strength) steps: at least one
            steps = max(steps, math.ceil(1.0 / self.strength))
        denoise_steps = int(steps * self.strength) if mode == "img2img" else steps
        denoise_steps = max(1, denoise_steps)
        with self._leased() as pipes:  # loaded first (once per process), held for the whole job
            pipe = self._pipeline_for(pipes, mode)
            slicing = self.vae_slicing or (self.vae_slicing is None and self.device.type == "cuda")
            if slicing and hasattr(pipe.vae, "enable_slicing"):
                pipe.vae.enable_slicing()  # decode a 9-grid image by image: same pixels, lower peak
            return self._render_with(
                req, cells, pipes, pipe, mode, init, (init_source, init_bytes),
                (steps, denoise_steps), (gen_w, gen_h), on_progress, cancelled,
            )  # fmt: skip

    def _render_with(
        self,
        req: GridRequest,
        cells: list[_Cell],
        pipes: _Pipes,
        pipe: Any,
        mode: str,
        init: Any,
        init_info: tuple[str | None, bytes | None],
        step_plan: tuple[int, int],
        gen_size: tuple[int, int],
        on_progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> list[RenderedImage]:
        from activities.providers.generation_cache import asset_hash

        gen_w, gen_h = gen_size
        steps, denoise_steps = step_plan
        init_source, init_bytes = init_info
        # load-then-admit: the weights are on the device now, so free memory is what a job can use
        per_image = gen_w * gen_h * self.bytes_per_pixel
        free = None
        if self.admission:
            free = gpu_pool.admit(
                self.device, per_image, what=f"a {gen_w}x{gen_h} image", free_fn=self.free_memory_fn
            )

        # plan the batch: one call unless a cap, learned OOM limit or free VRAM says otherwise
        size_key = (mode, gen_w, gen_h)
        cap = len(cells)
        planned_by = "single_call"
        if self.max_batch:
            cap, planned_by = min(cap, self.max_batch), "max_batch"
        learned = self._learned_max_batch.get(size_key)
        if learned and learned < cap:
            cap, planned_by = learned, "learned_after_oom"
        if free is not None:
            fits = max(1, int((free - gpu_pool.ADMISSION_HEADROOM_BYTES) // per_image))
            if fits < cap:
                cap, planned_by = fits, "free_vram"
        pending: deque[list[_Cell]] = deque(cells[i : i + cap] for i in range(0, len(cells), cap))

        total_units = len(cells) * denoise_steps
        done_units = 0
        results: dict[int, tuple[Any, diffusers_common.Compute, int]] = {}  # cell → (pixels, share, size)
        chunk_sizes: list[int] = []
        splits: list[dict[str, Any]] = []
        repaired: list[int] = []
        compute = diffusers_common.Compute()
        freed_idle = False
        while pending:
            chunk = pending.popleft()
            if cancelled is not None and cancelled():
                raise CancelledByUser(f"Grid for shot {req.shot_number} cancelled.")
            base_units = done_units
            result, message = self._unless_oom(
                partial(
                    self._call, pipes, pipe, mode, chunk, init, steps, (gen_w, gen_h),
                    (base_units, total_units, denoise_steps), on_progress, cancelled,
                )
            )  # fmt: skip
            if message is not None:  # out of memory (the cache is emptied already)
                if not freed_idle and self._free_idle_models():  # idle models of other kinds go first
                    freed_idle = True
                    splits.append({"evicted_idle_models": True, "retry_size": len(chunk), "error": message})
                    pending.appendleft(chunk)
                    continue
                if len(chunk) == 1:
                    raise self._out_of_memory(
                        f"rendering ONE {gen_w}x{gen_h} image",
                        message,
                        "lower the resolution or use a GPU with more memory.",
                    )
                # halve the batch size for this call and every call still to come
                cap = (len(chunk) + 1) // 2
                rest = chunk + [c for pending_chunk in pending for c in pending_chunk]
                pending = deque(rest[i : i + cap] for i in range(0, len(rest), cap))
                splits.append({"failed_call_size": len(chunk), "retry_size": cap, "error": message})
                planned_by = "split_after_oom"
                with self._lock:
                    self._learned_max_batch[size_key] = min(cap, self._learned_max_batch.get(size_key, cap))
                continue
            assert result is not None
            images, timer, fixed = result
            call = diffusers_common.Compute()
            call.add(timer, compiled=timer.compiled)
            compute.add(timer, compiled=timer.compiled)
            chunk_sizes.append(len(chunk))
            repaired += [chunk[i].cell for i in fixed]
            share = diffusers_common.Compute(
                gpu_seconds=call.gpu_seconds / len(chunk),
                cpu_seconds=call.cpu_seconds / len(chunk),
                compile_seconds=call.compile_seconds / len(chunk),
                timing=call.timing,
            )
            for c, arr in zip(chunk, images, strict=True):
                results[c.cell] = (arr, share, len(chunk))
            done_units += len(chunk) * denoise_steps
        self.hygiene.job_done(self.device)

        model_id, weights_hash = self._identity()
        init_hash = asset_hash(init_bytes) if init_bytes is not None else None
        batch_info = {
            "cells": len(cells),
            "calls": len(chunk_sizes),
            "chunk_sizes": chunk_sizes,
            "planned_by": planned_by,
            "max_batch": self.max_batch,
            "memory_limit_images": self.memory_limit_images,
            "oom_splits": splits,
        }
        out: list[RenderedImage] = []
        for c in cells:
            arr, share, chunk_size = results[c.cell]
            png, out_w, out_h = self._encode(arr, req)
            params: dict[str, Any] = {
                "renderer": self.name,
                "kind": "generated_image",
                "model_id": model_id,
                "weights_hash": weights_hash,
                **pipes.info,
                "mode": mode,
                "prompt": c.prompt,
                "negative_prompt": self.negative_prompt,
                "seed": c.seed,
                "generator": "cpu",
                "steps": steps,
                "denoise_steps": denoise_steps,
                "guidance_scale": self.guidance_scale,
                "strength": self.strength if mode == "img2img" else None,
                "init_image": init_source,
                "init_image_sha256": init_hash,
                "generated_size": [gen_w, gen_h],
                "output_size": [out_w, out_h],
                "dtype": gpu_pool.dtype_name(self.dtype),
                "device": str(self.device),
                "shot_number": req.shot_number,
                "grid_size": req.size,
                "cell": c.cell,
                "camera": c.camera.model_dump(),
                "base_camera": req.camera.model_dump(),
                "style": req.style,
                "from_parent": req.parent_png is not None,
                "references": len(req.reference_pngs),
                "batch": {**batch_info, "this_call_size": chunk_size},
                # decoded again with the VAE in fp32 after non-finite pixels (fp16 overflow)
                "vae_fp32_retry": c.cell in repaired,
                **share.params(),
            }
            out.append(RenderedImage(png, out_w, out_h, c.seed, c.cell, params))
        if on_progress is not None:
            on_progress(1.0)
        return out

    def _call(
        self,
        pipes: _Pipes,
        pipe: Any,
        mode: str,
        chunk: list[_Cell],
        init: Any,
        steps: int,
        gen_size: tuple[int, int],
        units: tuple[int, int, int],
        on_progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> tuple[Any, gpu_pool.DeviceTimer, list[int]]:
        """One batched call: denoise to latents, decode them, check the pixels. Returns (images as
        float HxWx3 arrays in 0..1, the call's timer, indices re-decoded with an fp32 VAE)."""
        torch = gpu_pool.import_torch()
        n = len(chunk)
        gen_w, gen_h = gen_size
        base_units, total_units, denoise_steps = units  # progress: done before, total, per image

        def fraction(step: int) -> float:
            units = base_units + min(step + 1, denoise_steps) * n
            return _DENOISE_SHARE * units / max(1, total_units)

        on_step_end = diffusers_common.step_callback("Grid", fraction, on_progress, cancelled)
        generators = [torch.Generator(device="cpu").manual_seed(c.seed) for c in chunk]
        call: dict[str, Any] = {
            "prompt": [c.prompt for c in chunk],
            "num_inference_steps": steps,
            "guidance_scale": self.guidance_scale,
            "generator": generators,
            "output_type": "latent",  # decoded here: checked, and re-decoded in fp32 when needed
            "callback_on_step_end": on_step_end,
        }
        if self.negative_prompt and self.guidance_scale > 1.0:
            call["negative_prompt"] = [self.negative_prompt] * n
        if mode == "img2img":
            call["image"] = [init] * n
            call["strength"] = self.strength
        else:
            call["height"], call["width"] = gen_h, gen_w

        hook = None
        if self.memory_limit_images is not None and n > self.memory_limit_images:
            limit = self.memory_limit_images

            def simulated_oom(_module: Any, _args: Any) -> None:
                raise torch.OutOfMemoryError(
                    f"CUDA out of memory (simulated: provider memory limit is {limit} images per call, "
                    f"this call has {n})"
                )

            hook = diffusers_common.denoiser_of(pipe)[1].register_forward_pre_hook(simulated_oom)
        try:
            with self._pipeline_call(pipes, cancelled) as timer:
                latents = pipe(**call).images
                if cancelled is not None and cancelled():
                    raise CancelledByUser(f"Grid cancelled after {steps} denoising steps.")
                pixels = decode_latents(pipe, latents, gen_w, gen_h)
                bad = diffusers_common.nonfinite_items(pixels)
                if bad:  # fp16 overflow in the VAE: decode those latents again in fp32
                    with diffusers_common.fp32_vae(pipe.vae):
                        again = decode_latents(pipe, latents[bad], gen_w, gen_h)
                    still = diffusers_common.nonfinite_items(again)
                    if still:
                        raise ProviderUnavailableError(
                            f"{len(still)} of {n} images decoded to non-finite pixels even with the VAE "
                            f"in fp32 ({gpu_pool.dtype_name(self.dtype)} weights); nothing was stored. "
                            "Use fp32 or bf16 weights (DIRECTORDECK dtype) or another model.",
                            code="output_nonfinite",
                        )
                    pixels[bad] = again.to(pixels.dtype)
                images = pipe.image_processor.postprocess(pixels, output_type="np")
        finally:
            if hook is not None:
                hook.remove()
        return images, timer, bad

    def _encode(self, arr: Any, req: GridRequest) -> tuple[bytes, int, int]:
        import numpy as np
        from PIL import Image

        pixels = np.nan_to_num(np.asarray(arr, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        img = Image.fromarray((pixels.clip(0.0, 1.0) * 255).round().astype(np.uint8))
        if self.upscale_to_request and img.size != (req.width, req.height):
            img = _cover(img, req.width, req.height)
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=3)
        return buf.getvalue(), img.width, img.height
