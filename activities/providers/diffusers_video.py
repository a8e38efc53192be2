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
import threading
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
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
from schema.errors import BadInputError, CancelledByUser

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
DEFAULT_BYTES_PER_FRAME_PIXEL = {"fp16": 220, "bf16": 220, "fp32": 440}


@dataclass
class VideoClip(MediaInfo):
    """`MediaInfo` of the written clip plus how it was generated and the device seconds it took."""

    gpu_seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


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
        bytes_per_frame_pixel: int | None = None,
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
        self.bytes_per_frame_pixel = bytes_per_frame_pixel or DEFAULT_BYTES_PER_FRAME_PIXEL.get(
            gpu_pool.dtype_name(self.dtype), 440
        )
        if pipeline is not None:
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
        per_segment = max(2, int(self.num_frames or native_frames))
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
        gen_w, gen_h = generation_size(width, height, self.resolution, multiple=8)
        cond = _cover(still, gen_w, gen_h)
        resident = self.pipe()
        pipe, info = resident.pipe, resident.info
        total, per_segment, segments = self.frame_plan(duration_s, info["native_frames"])
        if self.admission:
            gpu_pool.admit(
                self.device,
                per_segment * gen_w * gen_h * self.bytes_per_frame_pixel,
                what=f"a {per_segment}-frame {gen_w}x{gen_h} clip",
                free_fn=self.free_memory_fn,
            )
        seed = self.seed if seed is None else int(seed)
        motion = MOTION_BUCKETS[movement]
        on_progress = diffusers_common.monotonic(on_progress)  # an OOM retry never steps progress back

        frames: list[Any] = []
        gpu_seconds = 0.0
        timing = "wall"
        fallbacks: list[dict[str, Any]] = []
        decode_chunk = self.decode_chunk_size
        chunking = bool(info.get("forward_chunking"))
        for seg in range(segments):
            if cancelled is not None and cancelled():
                raise CancelledByUser("Video generation cancelled.")
            image = cond if seg == 0 else frames[-1]
            while True:
                result, oom_message = self._unless_oom(
                    partial(
                        self._segment, pipe, resident.lock, image, (gen_w, gen_h), per_segment,
                        seed + seg, motion, decode_chunk, (seg, segments), on_progress, cancelled,
                    )
                )  # fmt: skip
                if oom_message is None:
                    break
                # out of memory (the cache is emptied already): a smaller attempt, else give up
                if decode_chunk > 1:
                    decode_chunk = max(1, decode_chunk // 2)
                    fallbacks.append({"decode_chunk_size": decode_chunk, "error": oom_message})
                elif not chunking:
                    pipe.unet.enable_forward_chunking()  # stays on for this resident pipeline
                    chunking = info["forward_chunking"] = True
                    fallbacks.append({"forward_chunking": True, "error": oom_message})
                else:
                    raise self._out_of_memory(
                        f"generating a {per_segment}-frame {gen_w}x{gen_h} clip",
                        oom_message,
                        "lower the resolution or frames, or enable cpu offload.",
                    )
            assert result is not None
            seg_frames, timer = result
            gpu_seconds += timer.seconds
            timing = timer.method
            frames.extend(seg_frames if seg == 0 else seg_frames[1:])  # frame 0 repeats the condition
        self.hygiene.job_done(self.device)
        frames = frames[:total]

        params: dict[str, Any] = {
            "renderer": self.name,
            "kind": "generated_video",
            **self._identity(),
            **info,
            "forward_chunking": chunking,
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
            "frames_per_segment": per_segment,
            "segments": segments,
            "decode_chunk_size": decode_chunk,
            "oom_fallbacks": fallbacks,
            "generated_size": [gen_w, gen_h],
            "output_size": [width, height],
            "fps": fps,
            "dtype": gpu_pool.dtype_name(self.dtype),
            "device": str(self.device),
            "gpu_seconds": round(gpu_seconds, 6),
            "timing": timing,
            "overlay": overlay.describe() if overlay is not None else None,
        }
        info_out = self._encode(
            frames, out, duration_s, fps, width, height, on_progress, cancelled, timeout_s, overlay
        )
        return VideoClip(**vars(info_out), gpu_seconds=round(gpu_seconds, 6), params=params)

    # -- internals ------------------------------------------------------------------------------

    def _identity(self) -> dict[str, str]:
        if self.model_dir is None:
            return {"model_id": "in-memory", "weights_hash": "in-memory"}
        from activities.providers.generation_cache import model_identity

        model_id, weights_hash = model_identity(self.model_dir)
        return {"model_id": model_id, "weights_hash": weights_hash}

    def _segment(
        self,
        pipe: Any,
        lock: threading.Lock,
        image: Any,
        gen_size: tuple[int, int],
        frames: int,
        seed: int,
        motion: int,
        decode_chunk: int,
        position: tuple[int, int],
        on_progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> tuple[list[Any], gpu_pool.DeviceTimer]:
        torch = gpu_pool.import_torch()
        steps = self.steps
        gen_w, gen_h = gen_size
        seg, segments = position  # this segment's index, how many
        on_step_end = diffusers_common.step_callback(
            "Video generation",
            lambda step: _DENOISE_SHARE * (seg + (step + 1) / steps) / segments,
            on_progress,
            cancelled,
        )
        with self._pipeline_call(lock, cancelled) as timer:
            result = pipe(
                image,
                height=gen_h,
                width=gen_w,
                num_frames=frames,
                num_inference_steps=steps,
                min_guidance_scale=self.min_guidance_scale,
                max_guidance_scale=self.max_guidance_scale,
                fps=self.gen_fps,
                motion_bucket_id=motion,
                noise_aug_strength=self.noise_aug_strength,
                decode_chunk_size=decode_chunk,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="pil",
                callback_on_step_end=on_step_end,
            )
        return list(result.frames[0]), timer

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
