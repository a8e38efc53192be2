"""Diffusers image-to-video provider (Stable Video Diffusion class) for the `gpu-video` pool.

Rules:
- Same call shape as `kenburns_clip(image_path, out_path, *, duration_s, fps, width, height,
  movement, on_progress, cancelled)`, so an activity can swap one for the other; it returns a
  `VideoClip` — the probed `MediaInfo` plus `params` (everything needed to regenerate) and
  `gpu_seconds`.
- Weights only from a local directory (`from_pretrained(..., local_files_only=True)`), loaded once
  per process. fp16/bf16 on CUDA, fp32 on CPU; `decode_chunk_size`, optional model CPU offload and
  UNet forward chunking for small GPUs.
- Frames follow the shot: round(duration_s * gen_fps) frames are generated (SVD is conditioned at
  `gen_fps`, 7 by default), in segments of the model's native frame count, each segment
  continuing from the previous segment's last frame; FFmpeg then retimes them to exactly
  round(duration_s * fps) output frames at width x height (H.264 yuv420p, no audio).
- SVD has no camera control: the shot's `movement` only chooses the motion amount
  (`motion_bucket_id`), recorded in params.
- `overlay` (a `kenburns.FixedOverlay`, e.g. a storyboard card's banner) is applied as in
  `kenburns_clip`: composited by FFmpeg on the output-size frames, fixed, and recorded in params.
- Progress per denoising step; `cancelled()` raises `CancelledByUser` from the step callback and
  no output file is left behind. Out of memory first retries with a smaller decode chunk and then
  with forward chunking; still failing is a non-retryable `gpu_oom`.
Loading, the resident pipeline, the step callback and OOM detection are shared with
`diffusers_grid` in `diffusers_common`; frames, segments, offload and chunking are this module's.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from activities.media.ffmpeg import run_ffmpeg
from activities.media.kenburns import FixedOverlay, check_clip_request, overlay_file, overlay_options
from activities.media.probe import MediaInfo, probe
from activities.providers import diffusers_common, gpu_pool
from activities.providers.cards import decode_image
from activities.providers.diffusers_common import Cancelled, DiffusersProvider, Progress, ResidentPipeline
from activities.providers.diffusers_grid import _cover, generation_size
from schema.errors import BadInputError, CancelledByUser, ProviderUnavailableError

__all__ = ["MOTION_BUCKETS", "DiffusersVideoProvider", "VideoClip", "load_video_pipeline"]

MOTION_BUCKETS = {  # SVD's motion_bucket_id per storyboard camera movement (127 = SVD default)
    "static": 40,
    "tilt_up": 100,
    "tilt_down": 100,
    "pan_left": 110,
    "pan_right": 110,
    "push_in": 127,
    "pull_out": 127,
    "tracking": 160,
}
_DENOISE_SHARE = 0.85  # progress share of generation; the rest is decode + FFmpeg
MIN_SEGMENT_FRAMES = 4  # an OOM fallback never makes segments shorter than this
MIN_RESOLUTION = 256  # ... nor the generated long side smaller than this

# Activation memory of SVD(-XT) at fp16 (bf16 the same, fp32 twice), beyond the resident weights
# (counted by admission after loading, so not part of a job's need). Derived from the architecture
# (diffusers UNetSpatioTemporalConditionModel / AutoencoderKLTemporalDecoder) by counting the
# largest tensors alive at once, then meant to be checked against the GPU benchmark's measured
# peaks (`tests/bench/bench_gpu.py` prints estimate and peak side by side):
# - denoise: classifier-free guidance doubles the batch to 2 x frames latent images of
#   (W/8) x (H/8) pixels. At the 320-channel level a spatial transformer's GEGLU feed-forward
#   holds 2 x 4 x 320 fp16 values (5 KiB) per latent pixel plus its two 1280-wide halves (5 KiB),
#   the residual stream and attention in/out ~2.5 KiB, and the skip connections kept for the up
#   path ~3.5 KiB: ~16 KiB per latent pixel per batch image. UNet forward chunking runs the
#   feed-forward one frame at a time, leaving ~6 KiB.
# - decode: the temporal decoder's last up block works at full resolution with 128-256 channels;
#   ~6 tensors of 128-256 fp16 channels alive: ~3 KiB per output pixel per frame of a chunk.
# SVD-XT, 25 frames at 1024x576, decode chunk 8: denoise 2 x 25 x 9216 x 16 KiB = 7.0 GiB,
# decode 8 x 589824 x 3 KiB = 13.5 GiB, on top of ~4.2 GiB of fp16 weights (UNet 1.52 B,
# image encoder 0.63 B, VAE 0.1 B parameters): a ~18 GiB peak (the old per-pixel constant said
# 3.2 GiB). With decode chunk 2 and forward chunking: ~2.6 + 3.4 GiB of activations.
DENOISE_BYTES_PER_LATENT_PX = 16 * 1024
DENOISE_BYTES_PER_LATENT_PX_CHUNKED = 6 * 1024
DECODE_BYTES_PER_PX = 3 * 1024


def svd_vram_estimate(
    frames: int,
    width: int,
    height: int,
    decode_chunk: int,
    *,
    dtype: str = "fp16",
    forward_chunking: bool = False,
    guidance: bool = True,
) -> dict[str, int]:
    """Activation bytes (weights excluded) of one SVD segment: {"denoise": ..., "decode": ...}."""
    scale = 2 if dtype == "fp32" else 1
    latent_px = (width // 8) * (height // 8)
    batch = frames * (2 if guidance else 1)
    per_px = DENOISE_BYTES_PER_LATENT_PX_CHUNKED if forward_chunking else DENOISE_BYTES_PER_LATENT_PX
    return {
        "denoise": batch * latent_px * per_px * scale,
        "decode": max(1, min(decode_chunk, frames)) * width * height * DECODE_BYTES_PER_PX * scale,
    }


class _DenoiseOom(Exception):
    """Out of memory while denoising (the caller picks a smaller plan)."""


@dataclass
class _Plan:
    """How a clip is generated: frames per segment, size, decode chunk, UNet forward chunking."""

    per_segment: int
    width: int
    height: int
    decode_chunk: int
    forward_chunking: bool


@dataclass
class VideoClip(MediaInfo):
    """`MediaInfo` of the written clip plus how it was generated and the device seconds it took."""

    gpu_seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0


def load_video_pipeline(
    model_dir: Path | str,
    device: Any,
    dtype: Any,
    *,
    cpu_offload: bool = False,
    forward_chunking: bool = False,
) -> ResidentPipeline:
    """Load a StableVideoDiffusionPipeline from a local directory (no network, ever)."""
    pipe, variant = diffusers_common.load_local_pipeline(
        model_dir,
        dtype,
        pipeline_class="StableVideoDiffusionPipeline",
        what="an image-to-video pipeline",
        missing_hint="Put a Stable Video Diffusion model there and point the video model directory at it.",
    )
    offloaded = False
    if cpu_offload and device.type == "cuda":
        pipe.enable_model_cpu_offload(device=device)  # weights stay in RAM, move per module
        offloaded = True
    else:
        pipe = pipe.to(device)
    attention = diffusers_common.ensure_sdpa(pipe.unet)
    if forward_chunking:
        pipe.unet.enable_forward_chunking()
    return ResidentPipeline(pipe, _video_info(pipe, attention, offloaded, forward_chunking, variant))


def _video_info(
    pipe: Any, attention: str, cpu_offload: bool, forward_chunking: bool, variant: str | None
) -> dict[str, Any]:
    return diffusers_common.pipeline_info(
        pipe,
        attention,
        cpu_offload=cpu_offload,
        forward_chunking=forward_chunking,
        native_frames=int(getattr(pipe.unet.config, "num_frames", 14) or 14),
        variant=variant,
    )


def decode_video_latents(vae: Any, latents: Any, chunk: int, cancelled: Cancelled | None = None) -> Any:
    """What `StableVideoDiffusionPipeline.decode_latents` does, chunk by chunk with a cancellation
    check before each chunk: latents (1, F, C, h, w) → frames (1, F, 3, H, W) in -1..1 (float32,
    NaN/Inf left as they are)."""
    batch, num_frames = latents.shape[:2]
    flat = latents.flatten(0, 1) / vae.config.scaling_factor
    parts = []
    for start in range(0, flat.shape[0], max(1, chunk)):
        if cancelled is not None and cancelled():
            raise CancelledByUser("Video generation cancelled while decoding.")
        part = flat[start : start + max(1, chunk)].to(vae.dtype)
        parts.append(vae.decode(part, num_frames=part.shape[0]).sample)
    torch = gpu_pool.import_torch()
    frames = torch.cat(parts)
    return frames.reshape(batch, num_frames, *frames.shape[1:]).float()


class DiffusersVideoProvider(DiffusersProvider[ResidentPipeline]):
    """Image-to-video clips from an SVD-class model directory; `clip()` mirrors `kenburns_clip`."""

    name = "diffusers_svd"
    resident_kind = "svd"

    def __init__(
        self,
        model_dir: Path | str | None = None,
        *,
        device: str = "auto",
        dtype: str | None = None,
        steps: int = 25,
        resolution: int = 1024,
        num_frames: int | None = None,
        gen_fps: int = 7,
        max_segments: int = 3,
        decode_chunk_size: int = 8,
        cpu_offload: bool = False,
        forward_chunking: bool = False,
        min_guidance_scale: float = 1.0,
        max_guidance_scale: float = 3.0,
        noise_aug_strength: float = 0.02,
        seed: int = 0,
        crf: int = 18,
        preset: str = "veryfast",
        admission: bool = True,
        free_memory_fn: Callable[[Any], int | None] | None = None,
        empty_cache_every: int = 20,
        pipeline: Any = None,
    ) -> None:
        diffusers_common.require_model(
            model_dir,
            pipeline,
            "The diffusers video provider needs a local Stable Video Diffusion model directory.",
        )
        super().__init__(model_dir, device, dtype, admission, free_memory_fn, empty_cache_every)
        self.steps = max(1, int(steps))
        self.resolution = int(resolution)
        self.num_frames = num_frames
        self.gen_fps = max(1, int(gen_fps))
        self.max_segments = max(1, int(max_segments))
        self.decode_chunk_size = max(1, int(decode_chunk_size))
        self.cpu_offload = cpu_offload
        self.forward_chunking = forward_chunking
        self.min_guidance_scale = min_guidance_scale
        self.max_guidance_scale = max_guidance_scale
        self.noise_aug_strength = noise_aug_strength
        self.seed = seed
        self.crf = crf
        self.preset = preset
        if pipeline is not None:
            diffusers_common.denoiser_of(pipeline)  # model_unsupported
            attention = diffusers_common.ensure_sdpa(pipeline.unet)
            info = _video_info(pipeline, attention, False, forward_chunking, None)
            self._injected = ResidentPipeline(pipeline, info)

    def pipe(self) -> ResidentPipeline:
        """The resident pipeline (loaded on first use, once per process) and its description."""
        return self._resident()

    def _load(self) -> ResidentPipeline:
        assert self.model_dir is not None
        return load_video_pipeline(
            self.model_dir,
            self.device,
            self.dtype,
            cpu_offload=self.cpu_offload,
            forward_chunking=self.forward_chunking,
        )

    def frame_plan(self, duration_s: float, native_frames: int) -> tuple[int, int, int]:
        """(frames to generate, frames per segment, segments) for a shot of `duration_s` seconds."""
        return self._segments(duration_s, max(2, int(self.num_frames or native_frames)))

    def _segments(self, duration_s: float, per_segment: int) -> tuple[int, int, int]:
        wanted = max(2, round(duration_s * self.gen_fps))
        segments = min(self.max_segments, max(1, math.ceil((wanted - 1) / (per_segment - 1))))
        total = min(wanted, per_segment + (segments - 1) * (per_segment - 1))
        return total, per_segment, segments

    def clip(
        self,
        image_path: Path | str,
        out_path: Path | str,
        *,
        duration_s: float,
        fps: int = 24,
        width: int = 1280,
        height: int = 720,
        movement: str = "push_in",
        on_progress: Progress | None = None,
        cancelled: Cancelled | None = None,
        seed: int | None = None,
        timeout_s: float | None = 600,
        overlay: FixedOverlay | None = None,
    ) -> VideoClip:
        """Animate a still into an MP4 of exactly round(duration_s * fps) frames; returns the probe."""
        src, out = Path(image_path), Path(out_path)
        check_clip_request(src, duration_s, width, height)
        if movement not in MOTION_BUCKETS:
            raise BadInputError(
                f"Unknown camera movement {movement!r}; use one of {', '.join(MOTION_BUCKETS)}.",
                code="movement_invalid",
            )
        if cancelled is not None and cancelled():
            raise CancelledByUser("Video generation cancelled before it started.")
        still = decode_image(src.read_bytes(), "source")
        seed = self.seed if seed is None else int(seed)
        motion = MOTION_BUCKETS[movement]
        on_progress = diffusers_common.monotonic(on_progress)  # an OOM retry never steps progress back
        with self._leased() as resident:  # loaded first, held (never evicted) for the whole job
            info = resident.info
            gen_w, gen_h = generation_size(width, height, self.resolution, multiple=8)
            per_segment = self.frame_plan(duration_s, info["native_frames"])[1]
            plan = self._admit(
                _Plan(per_segment, gen_w, gen_h, self.decode_chunk_size, bool(info.get("forward_chunking")))
            )
            fallbacks: list[dict[str, Any]] = []
            while True:
                try:
                    frames, compute, total, segments, repaired = self._generate(
                        resident, still, plan, duration_s, seed, motion, fallbacks, on_progress, cancelled
                    )
                    break
                except _DenoiseOom as oom:  # the cache is emptied already: a smaller plan, or give up
                    plan = self._smaller_plan(resident, plan, str(oom), fallbacks)
        self.hygiene.job_done(self.device)

        params: dict[str, Any] = {
            "renderer": self.name,
            "kind": "generated_video",
            **self._identity(),
            **info,
            "forward_chunking": plan.forward_chunking,
            "seed": seed,
            "generator": "cpu",
            "steps": self.steps,
            "min_guidance_scale": self.min_guidance_scale,
            "max_guidance_scale": self.max_guidance_scale,
            "noise_aug_strength": self.noise_aug_strength,
            "motion_bucket_id": motion,
            "movement_hint": movement,
            "gen_fps": self.gen_fps,
            "generated_frames": len(frames),
            "frames_per_segment": plan.per_segment,
            "segments": segments,
            "decode_chunk_size": plan.decode_chunk,
            "oom_fallbacks": fallbacks,
            "vae_fp32_retry_segments": repaired,
            "vram_estimate_bytes": svd_vram_estimate(
                plan.per_segment, plan.width, plan.height, plan.decode_chunk,
                dtype=gpu_pool.dtype_name(self.dtype), forward_chunking=plan.forward_chunking,
            ),
            "peak_vram_bytes": compute.peak_bytes,
            "generated_size": [plan.width, plan.height],
            "output_size": [width, height],
            "fps": fps,
            "dtype": gpu_pool.dtype_name(self.dtype),
            "device": str(self.device),
            **compute.params(),
            "overlay": overlay.describe() if overlay is not None else None,
        }  # fmt: skip
        info_out = self._encode(
            frames[:total], out, duration_s, fps, width, height, on_progress, cancelled, timeout_s, overlay
        )
        return VideoClip(
            **vars(info_out),
            gpu_seconds=round(compute.gpu_seconds, 6),
            params=params,
            cpu_seconds=round(compute.cpu_seconds, 6),
        )

    # -- internals ------------------------------------------------------------------------------

    def _identity(self) -> dict[str, str]:
        if self.model_dir is None:
            return {"model_id": "in-memory", "weights_hash": "in-memory"}
        from activities.providers.generation_cache import model_identity

        model_id, weights_hash = model_identity(self.model_dir)
        return {"model_id": model_id, "weights_hash": weights_hash}

    def _admit(self, plan: _Plan) -> _Plan:
        """Fit the plan in free device memory (the weights are loaded already): forward chunking
        and a smaller decode chunk when they make it fit, else `gpu_busy` (retried later)."""
        free = (self.free_memory_fn or gpu_pool.free_bytes)(self.device) if self.admission else None
        if free is None:
            return plan
        budget = free - gpu_pool.ADMISSION_HEADROOM_BYTES
        dtype = gpu_pool.dtype_name(self.dtype)

        def need(p: _Plan, part: str) -> int:
            est = svd_vram_estimate(
                p.per_segment,
                p.width,
                p.height,
                p.decode_chunk,
                dtype=dtype,
                forward_chunking=p.forward_chunking,
            )
            return est[part]

        what = f"a {plan.per_segment}-frame {plan.width}x{plan.height} clip"
        if need(plan, "denoise") > budget and not plan.forward_chunking:
            chunked = replace(plan, forward_chunking=True)
            if need(chunked, "denoise") <= budget:
                plan = chunked
        gpu_pool.admit(self.device, need(plan, "denoise"), what=what, free_fn=lambda _d: free)
        while plan.decode_chunk > 1 and need(plan, "decode") > budget:
            plan = replace(plan, decode_chunk=plan.decode_chunk // 2)
        gpu_pool.admit(self.device, need(plan, "decode"), what=f"decoding {what}", free_fn=lambda _d: free)
        return plan

    def _smaller_plan(
        self, resident: ResidentPipeline, plan: _Plan, message: str, fallbacks: list[dict[str, Any]]
    ) -> _Plan:
        """After an OOM while denoising: free idle models of other kinds, then UNet forward chunking,
        then shorter segments, then a lower resolution; nothing left is a non-retryable gpu_oom."""
        step: dict[str, Any] = {"phase": "denoise", "error": message}
        if not any(f.get("evicted_idle_models") for f in fallbacks) and self._free_idle_models():
            fallbacks.append({**step, "evicted_idle_models": True})
            return plan
        if not plan.forward_chunking:
            resident.pipe.unet.enable_forward_chunking()  # stays on for this resident pipeline
            resident.info["forward_chunking"] = True
            fallbacks.append({**step, "forward_chunking": True})
            return replace(plan, forward_chunking=True)
        if plan.per_segment > MIN_SEGMENT_FRAMES:
            frames = max(MIN_SEGMENT_FRAMES, (plan.per_segment + 1) // 2)
            fallbacks.append({**step, "frames_per_segment": frames})
            return replace(plan, per_segment=frames)
        long_side = max(plan.width, plan.height)
        if long_side * 3 // 4 >= MIN_RESOLUTION:
            w, h = generation_size(plan.width, plan.height, long_side * 3 // 4, multiple=64)
            fallbacks.append({**step, "generated_size": [w, h]})
            return replace(plan, width=w, height=h)
        raise self._out_of_memory(
            f"denoising a {plan.per_segment}-frame {plan.width}x{plan.height} clip",
            message,
            "use a GPU with more memory or a smaller video model.",
        )

    def _generate(
        self,
        resident: ResidentPipeline,
        still: Any,
        plan: _Plan,
        duration_s: float,
        seed: int,
        motion: int,
        fallbacks: list[dict[str, Any]],
        on_progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> tuple[list[Any], diffusers_common.Compute, int, int, list[int]]:
        """All segments under `plan`: (frames, compute, frames wanted, segments, segments whose
        decode was redone in fp32). Raises _DenoiseOom when denoising ran out of memory."""
        total, _per, segments = self._segments(duration_s, plan.per_segment)
        cond = _cover(still, plan.width, plan.height)
        frames: list[Any] = []
        compute = diffusers_common.Compute()
        repaired: list[int] = []
        for seg in range(segments):
            if cancelled is not None and cancelled():
                raise CancelledByUser("Video generation cancelled.")
            image = cond if seg == 0 else frames[-1]
            latents, message = self._unless_oom(
                partial(
                    self._denoise, resident, image, plan, seed + seg, motion, (seg, segments),
                    compute, on_progress, cancelled,
                )
            )  # fmt: skip
            if message is not None:
                raise _DenoiseOom(message)
            seg_frames, fixed = self._decode_segment(resident, latents, plan, compute, fallbacks, cancelled)
            del latents
            if fixed:
                repaired.append(seg)
            frames.extend(seg_frames if seg == 0 else seg_frames[1:])  # frame 0 repeats the condition
        return frames, compute, total, segments, repaired

    def _denoise(
        self,
        resident: ResidentPipeline,
        image: Any,
        plan: _Plan,
        seed: int,
        motion: int,
        position: tuple[int, int],
        compute: diffusers_common.Compute,
        on_progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> Any:
        """Denoise one segment to latents (the VAE decode is `_decode_segment`'s)."""
        torch = gpu_pool.import_torch()
        steps = self.steps
        seg, segments = position  # this segment's index, how many
        on_step_end = diffusers_common.step_callback(
            "Video generation",
            lambda step: _DENOISE_SHARE * (seg + (step + 1) / steps) / segments,
            on_progress,
            cancelled,
        )
        with self._pipeline_call(resident, cancelled, track_peak=True) as timer:
            latents = resident.pipe(
                image,
                height=plan.height,
                width=plan.width,
                num_frames=plan.per_segment,
                num_inference_steps=steps,
                min_guidance_scale=self.min_guidance_scale,
                max_guidance_scale=self.max_guidance_scale,
                fps=self.gen_fps,
                motion_bucket_id=motion,
                noise_aug_strength=self.noise_aug_strength,
                decode_chunk_size=plan.decode_chunk,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="latent",
                callback_on_step_end=on_step_end,
            ).frames
        compute.add(timer, compiled=timer.compiled)
        return latents

    def _decode_segment(
        self,
        resident: ResidentPipeline,
        latents: Any,
        plan: _Plan,
        compute: diffusers_common.Compute,
        fallbacks: list[dict[str, Any]],
        cancelled: Cancelled | None,
    ) -> tuple[list[Any], bool]:
        """Decode a segment's latents to PIL frames. An OOM here halves the decode chunk (into
        `plan`) and decodes the SAME latents again; non-finite pixels are decoded again with the
        VAE in fp32; still non-finite is the non-retryable `output_nonfinite`."""
        vae = resident.pipe.vae
        while True:
            result, message = self._unless_oom(
                partial(self._decode_timed, resident, vae, latents, plan.decode_chunk, compute, cancelled)
            )
            if message is None:
                break
            step: dict[str, Any] = {"phase": "decode", "error": message}
            if not any(f.get("evicted_idle_models") for f in fallbacks) and self._free_idle_models():
                fallbacks.append({**step, "evicted_idle_models": True})
            elif plan.decode_chunk > 1:
                plan.decode_chunk = max(1, plan.decode_chunk // 2)
                fallbacks.append({**step, "decode_chunk_size": plan.decode_chunk})
            else:
                raise self._out_of_memory(
                    f"decoding {plan.per_segment} frames of {plan.width}x{plan.height} one at a time",
                    message,
                    "lower the resolution.",
                )
        video = result
        fixed = bool(diffusers_common.nonfinite_items(video))
        if fixed:
            with diffusers_common.fp32_vae(vae):
                video = self._decode_timed(resident, vae, latents, plan.decode_chunk, compute, cancelled)
            if diffusers_common.nonfinite_items(video):
                raise ProviderUnavailableError(
                    f"The video decoded to non-finite pixels even with the VAE in fp32 "
                    f"({gpu_pool.dtype_name(self.dtype)} weights); nothing was stored. Use fp32 or bf16.",
                    code="output_nonfinite",
                )
        frames = resident.pipe.video_processor.postprocess_video(
            video=video.permute(0, 2, 1, 3, 4), output_type="pil"
        )[0]
        return list(frames), fixed

    def _decode_timed(
        self,
        resident: ResidentPipeline,
        vae: Any,
        latents: Any,
        chunk: int,
        compute: diffusers_common.Compute,
        cancelled: Cancelled | None,
    ) -> Any:
        with self._pipeline_call(resident, cancelled, track_peak=True) as timer:
            video = decode_video_latents(vae, latents, chunk, cancelled)
        compute.add(timer)
        return video

    def _encode(
        self,
        frames: list[Any],
        out: Path,
        duration_s: float,
        fps: int,
        width: int,
        height: int,
        on_progress: Progress | None,
        cancelled: Cancelled | None,
        timeout_s: float | None,
        overlay: FixedOverlay | None = None,
    ) -> MediaInfo:
        out_frames = max(1, round(duration_s * fps))
        in_rate = len(frames) / duration_s
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(prefix=".svd-frames-", dir=out.parent))
        tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.partial{out.suffix or '.mp4'}")
        stack = ExitStack()
        try:
            for i, frame in enumerate(frames):
                frame.convert("RGB").save(tmp_dir / f"{i:05d}.png", compress_level=1)
            vf = (
                f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=lanczos,"
                f"crop={width}:{height},setsar=1,fps={fps},"
                f"tpad=stop_mode=clone:stop_duration={1.0 / max(in_rate, 1e-3):.4f}"
            )
            filters = ["-vf", f"{vf},format=yuv420p"]
            overlay_png = stack.enter_context(overlay_file(overlay, tmp_dir))
            if overlay is not None and overlay_png is not None:  # fixed, after scale/crop
                place = ":".join(f"{k}={v}" for k, v in overlay_options(overlay).items())
                graph = f"[0:v]{vf}[bg];[1:v]format=rgba[ov];[bg][ov]overlay={place},format=yuv420p[v]"
                filters = ["-i", str(overlay_png), "-filter_complex", graph, "-map", "[v]"]
            args = [
                "-framerate", f"{in_rate:.6f}",
                "-i", str(tmp_dir / "%05d.png"),
                *filters,
                "-frames:v", str(out_frames),
                "-r", str(fps),
                "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
                "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart",
                "-threads", "0", "-f", "mp4", str(tmp),
            ]  # fmt: skip

            def encode_progress(fraction: float) -> None:
                if on_progress is not None:
                    on_progress(_DENOISE_SHARE + (1 - _DENOISE_SHARE) * fraction)

            run_ffmpeg(
                args,
                expected_duration_s=out_frames / fps,
                on_progress=encode_progress,
                cancelled=cancelled,
                timeout_s=timeout_s,
            )
            os.replace(tmp, out)
        finally:
            stack.close()
            tmp.unlink(missing_ok=True)
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return probe(out)
