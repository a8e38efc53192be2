"""GPU benchmark of the diffusers pools: one prepared script, under 8 minutes on one GPU, no network.

    python tests/bench/bench_gpu.py                   # full run on CUDA (quick mode without CUDA)
    python tests/bench/bench_gpu.py --quick           # tiny random models anywhere (proves the path)
    python tests/bench/bench_gpu.py --json out.json   # also write the JSON object to a file
    python tests/bench/bench_gpu.py --vendor .bench-vendor [--vendor-python 3.12 ...]
                                                      # pack what a torch+transformers box lacks

What it measures (full mode; real-size architectures built from config with random weights — the
cost of a forward pass does not depend on the weight values — no model files, nothing downloaded):
1. grids, SD-Turbo architecture (SD 2.1 UNet/VAE/OpenCLIP-H text) at 512², 1 step, fp16: 1, 4 and
   9 cells as one batched call vs one call per cell, eager and with `torch.compile` (compile time
   reported apart); through `DiffusersGridProvider` (latent decode, NaN check, stream timing).
2. the same at 1024² for the SDXL-Turbo architecture (UNet 2.6 B, two text encoders).
3. SVD-XT architecture, 25 frames at 1024x576, 25 steps, decode chunk 8: denoise and decode
   seconds and the peak VRAM of each phase, beside the provider's estimate (`svd_vram_estimate`).
4. a 12-shot project the way a worker runs it: providers chosen by `choose_providers` from a
   model directory (both architectures saved there in fp16), `PipelineActivities.grid_images` /
   `video_clip` (the GPU part of the `render_grid` / `render_video` activities) run inside
   temporalio's `ActivityEnvironment`, grids and clips alternating: load counts (no reload), the
   cost of a model load (= what thrash cost per job), GPU seconds, and the orchestration share
   (activities x the per-activity orchestration overhead the CPU benchmark measures / GPU time).
   Clips here use fewer steps/frames (`--project-svd-steps`, 14 frames) to stay in budget.
5. cancellation latency: a running SVD clip job cancelled through `ActivityEnvironment.cancel()`;
   cancel → the job stopped (in-process; Temporal's delivery adds the CPU-measured figure of
   `bench_gpu_cancel.py`).
Sections run in that order of importance against a deadline (`--budget-s`); what does not fit is
reported as skipped. Output: one JSON object (stdout, last line, and `--json`) and a table.

The GPU machine has torch and transformers but no diffusers, no network, no Temporal binary: run
`--vendor DIR` here first (pure-Python packages copied from this venv into DIR/vendor.zip, plus
pydantic-core/Pillow wheels for the target Python versions via pip when `--vendor-python` is
given), carry DIR with the checkout; this script unpacks it at start when a package is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
DEFAULT_VENDOR = REPO / ".bench-vendor"

# what the activity code needs beyond torch/transformers/numpy (+ their deps): vendored
VENDOR_PACKAGES = [
    "diffusers",
    "importlib_metadata",
    "zipp",
    "temporalio",
    "nexusrpc",
    "google/protobuf",
    "pydantic",
    "pydantic_settings",
    "annotated_types",
    "typing_inspection",
    "typing_extensions",
    "dotenv",
    "sqlalchemy",
    "opentelemetry",
    "psutil",
    "imageio_ffmpeg",
    "ffmpeg",
    "future",
    "past",
]
VENDOR_BINARY = {"pydantic-core": "pydantic_core", "pillow": "PIL"}  # per-Python wheels


# ------------------------------------------------------------------------------------------------
# vendoring (run on the machine that has the venv)
# ------------------------------------------------------------------------------------------------


def build_vendor(out_dir: Path, pythons: list[str]) -> dict[str, Any]:
    """DIR/vendor.zip: the pure-Python (and abi3) packages of this venv with their dist-info, no
    bytecode, no bundled FFmpeg binary; plus, per `pythons` version, the per-version wheels."""
    import importlib.metadata as md
    import subprocess

    site = Path(md.distribution("diffusers").locate_file(""))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "vendor.zip"
    tops = {p.split("/")[0] for p in VENDOR_PACKAGES}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel in VENDOR_PACKAGES:
            root = site / rel
            if root.is_file() or (site / f"{rel}.py").is_file():
                zf.write(site / f"{rel}.py", f"{rel}.py")
                continue
            for path in root.rglob("*"):
                if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                if "imageio_ffmpeg/binaries" in path.as_posix() and path.suffix not in (".py", ".md"):
                    continue  # 165 MB FFmpeg binary: the GPU machine brings its own FFmpeg or none
                zf.write(path, path.relative_to(site).as_posix())
        for dist in md.distributions():
            files = dist.files or []
            if any(str(f).split("/")[0] in tops for f in files):
                info = Path(str(dist._path))  # type: ignore[attr-defined]
                for path in info.rglob("*"):
                    if path.is_file():
                        zf.write(path, path.relative_to(site).as_posix())
        here = f"cp{sys.version_info.major}{sys.version_info.minor}"
        for name in VENDOR_BINARY:  # this Python's builds, from this venv
            dist = md.distribution(name)
            for f in dist.files or []:
                path = Path(str(dist.locate_file(f)))
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    zf.write(path, f"{here}/{path.relative_to(site).as_posix()}")
        for py in pythons:
            tag = "cp" + py.replace(".", "")
            if tag == here:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                wanted = [f"{name}=={md.version(name)}" for name in VENDOR_BINARY]
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--quiet",
                        "--no-deps",
                        "--only-binary=:all:",
                        "--python-version",
                        py,
                        "--platform",
                        "manylinux2014_x86_64",
                        "--platform",
                        "manylinux_2_28_x86_64",
                        "-d",
                        tmp,
                        *wanted,
                    ],
                    check=True,
                )
                for wheel in Path(tmp).glob("*.whl"):
                    with zipfile.ZipFile(wheel) as wz:
                        for name in wz.namelist():
                            zf.writestr(f"{tag}/{name}", wz.read(name))
    size = target.stat().st_size
    return {"vendor_zip": str(target), "mib": round(size / 1024**2, 1), "pythons": pythons}


def use_vendor(vendor_dir: Path) -> str | None:
    """Unpack DIR/vendor.zip (when a needed package is missing here) and put it on sys.path."""
    import importlib.util

    missing = [
        m
        for m in ("diffusers", "temporalio", "pydantic", "sqlalchemy", "PIL")
        if importlib.util.find_spec(m) is None
    ]
    archive = vendor_dir / "vendor.zip"
    if not missing or not archive.is_file():
        return None
    root = Path(tempfile.mkdtemp(prefix="dd-vendor-"))
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    sys.path[1:1] = [str(p) for p in (root / tag, root) if p.is_dir()]
    for so in root.rglob("*.so"):
        so.chmod(0o755)
    return f"vendored {', '.join(missing)} from {archive} ({tag} wheels: {(root / tag).is_dir()})"


# ------------------------------------------------------------------------------------------------
# architectures
# ------------------------------------------------------------------------------------------------


def _tiny_models() -> Any:
    """The architectures' configs and the tiny --quick models: test support (tests/support), which
    travels with the checkout this script runs from (imported after `use_vendor`: it needs diffusers)."""
    from tests.support import tiny_models

    return tiny_models


def sdxl_unet_config(tiny: bool) -> dict[str, Any]:
    """SDXL(-Turbo) UNet: 3 levels, 1/2/10 transformer layers, text_time added conditioning."""
    if tiny:
        return dict(
            block_out_channels=(32, 64),
            layers_per_block=1,
            transformer_layers_per_block=(1, 2),
            attention_head_dim=(2, 4),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=64,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=80,
            use_linear_projection=True,
            norm_num_groups=32,
            sample_size=32,
            in_channels=4,
            out_channels=4,
        )
    return dict(
        block_out_channels=(320, 640, 1280),
        layers_per_block=2,
        transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=2048,
        addition_embed_type="text_time",
        addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
        use_linear_projection=True,
        norm_num_groups=32,
        sample_size=128,
        in_channels=4,
        out_channels=4,
    )


def build_sdxl(device: Any, dtype: Any, tiny: bool) -> Any:
    """An SDXL-Turbo-architecture pipeline with random weights (CLIP-L + OpenCLIP-bigG text)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tm = _tiny_models()
    tok = tm.tiny_clip_tokenizer()
    torch.manual_seed(0)

    def text(hidden: int, layers: int, heads: int, proj: int, with_projection: bool) -> Any:
        cfg = CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=hidden,
            intermediate_size=hidden * 4,
            num_attention_heads=heads,
            num_hidden_layers=layers,
            vocab_size=49408 if not tiny else len(tok),
            max_position_embeddings=77,
            projection_dim=proj,
            hidden_act="gelu",
        )
        return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg)

    with torch.device(device):
        unet = UNet2DConditionModel(**sdxl_unet_config(tiny))
        if tiny:
            vae = AutoencoderKL(
                block_out_channels=(8, 16),
                down_block_types=("DownEncoderBlock2D",) * 2,
                up_block_types=("UpDecoderBlock2D",) * 2,
                latent_channels=4,
                norm_num_groups=4,
                force_upcast=True,
            )
            te1, te2 = text(32, 2, 2, 32, False), text(32, 2, 2, 32, True)
        else:
            vae = AutoencoderKL(
                **{**tm.sd_turbo_vae_config(), "scaling_factor": 0.13025, "force_upcast": True}
            )
            te1, te2 = text(768, 12, 12, 768, False), text(1280, 32, 20, 1280, True)
    scheduler = EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=te1,
        text_encoder_2=te2,
        tokenizer=tok,
        tokenizer_2=tok,
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device=device, dtype=dtype)


def build_sd_turbo(device: Any, dtype: Any, tiny: bool, work: Path) -> Any:
    tm = _tiny_models()
    if tiny:
        from diffusers import StableDiffusionPipeline

        path = tm.build_tiny_sd(work / "tiny-sd-build")
        pipe = StableDiffusionPipeline.from_pretrained(path, local_files_only=True).to(device)
    else:
        pipe = tm.build_sd_turbo_architecture(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_svd(device: Any, dtype: Any, tiny: bool, work: Path, frames: int) -> Any:
    tm = _tiny_models()
    if tiny:
        from diffusers import StableVideoDiffusionPipeline

        path = tm.build_tiny_svd(work / "tiny-svd-build", num_frames=frames)
        pipe = StableVideoDiffusionPipeline.from_pretrained(path, local_files_only=True).to(device)
    else:
        pipe = tm.build_svd_architecture(num_frames=frames, device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ------------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------------


class Deadline:
    def __init__(self, budget_s: float) -> None:
        self.end = time.monotonic() + budget_s

    def left(self) -> float:
        return self.end - time.monotonic()


def _sync(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _req(size: int, side: int, seed: int = 1, shot: int = 1) -> Any:
    from activities.providers.cards import GridRequest
    from schema.storyboard import Camera

    return GridRequest(
        shot_number=shot,
        visual="A red fox steals the moon over a sleeping harbour town",
        camera=Camera(),
        size=size,
        width=side,
        height=side,
        seed=seed,
    )


def grid_rows(ctx: dict[str, Any], name: str, pipe: Any, side: int, compiled: bool) -> list[dict]:
    """1/4/9 cells batched vs sequential (eager, or with the UNet compiled), through the provider."""
    from activities.providers.diffusers_grid import DiffusersGridProvider

    torch, device, repeats = ctx["torch"], ctx["device"], ctx["repeats"]
    rows: list[dict] = []
    if compiled:
        pipe.unet = torch.compile(pipe.unet, mode=ctx["compile_mode"] or None)

    def make(max_batch: int | None) -> Any:
        return DiffusersGridProvider(
            pipeline=pipe,
            device=str(device),
            steps=1,
            resolution=side,
            max_batch=max_batch,
            model_id=name,
        )

    batched, sequential = make(None), make(1)
    compile_s = 0.0
    for cells in (1, 4, 9):  # warm-up: one call per shape (and the compile of each shape)
        for provider in (batched, sequential) if cells > 1 else (batched,):
            out = provider.render_grid(_req(cells, side))
            compile_s += sum(i.params["compile_seconds"] for i in out)
    for cells in (1, 4, 9):
        for label, provider in (("batched", batched), ("sequential", sequential)):
            if cells == 1 and label == "sequential":
                continue
            best, result = float("inf"), None
            for _ in range(repeats):
                _sync(torch, device)
                started = time.perf_counter()
                result = provider.render_grid(_req(cells, side, seed=7))
                _sync(torch, device)
                best = min(best, time.perf_counter() - started)
            assert result is not None
            rows.append(
                {
                    "bench": name,
                    "size": f"{side}x{side}",
                    "steps": 1,
                    "compiled": compiled,
                    "cells": cells,
                    "case": label,
                    "calls": result[0].params["batch"]["calls"],
                    "wall_s": round(best, 4),
                    "images_per_s": round(cells / best, 2),
                    "gpu_s": round(sum(i.params["gpu_seconds"] for i in result), 4),
                    "compile_s": round(compile_s, 1),
                    "dtype": result[0].params["dtype"],
                }
            )
    if compiled:
        pipe.unet = pipe.unet._orig_mod
    return rows


def svd_phases(ctx: dict[str, Any], pipe: Any, frames: int, width: int, height: int, steps: int) -> dict:
    """SVD denoise then decode (chunk 8), each timed with CUDA events and its own peak VRAM."""
    from PIL import Image

    from activities.providers import gpu_pool
    from activities.providers.diffusers_video import decode_video_latents, svd_vram_estimate

    torch, device = ctx["torch"], ctx["device"]
    image = Image.new("RGB", (width, height), (180, 110, 60))
    chunk = 8
    weights = gpu_pool.module_bytes(pipe.unet, pipe.vae, pipe.image_encoder)
    stream = gpu_pool.job_stream(device)
    gpu_pool.empty_cache(device)
    with torch.inference_mode():
        with gpu_pool.measure(device, stream=stream, track_peak=True) as denoise:
            latents = pipe(
                image,
                height=height,
                width=width,
                num_frames=frames,
                num_inference_steps=steps,
                decode_chunk_size=chunk,
                output_type="latent",
                generator=torch.Generator("cpu").manual_seed(0),
            ).frames
        with gpu_pool.measure(device, stream=stream, track_peak=True) as decode:
            video = decode_video_latents(pipe.vae, latents, chunk)
    est = svd_vram_estimate(frames, width, height, chunk, dtype=gpu_pool.dtype_name(pipe.unet.dtype))
    gib = 1024**3
    return {
        "frames": frames,
        "size": f"{width}x{height}",
        "steps": steps,
        "decode_chunk": chunk,
        "denoise_gpu_s": round(denoise.seconds, 3),
        "decode_gpu_s": round(decode.seconds, 3),
        "wall_s": round(denoise.wall_seconds + decode.wall_seconds, 3),
        "weights_gib": round(weights / gib, 2),
        "peak_denoise_gib": round(denoise.peak_bytes / gib, 2) if denoise.peak_bytes else None,
        "peak_decode_gib": round(decode.peak_bytes / gib, 2) if decode.peak_bytes else None,
        "estimate_denoise_gib": round((weights + est["denoise"]) / gib, 2),
        "estimate_decode_gib": round((weights + est["decode"]) / gib, 2),
        "nonfinite_frames": bool(torch.isnan(video).any()),
    }


async def project_rows(ctx: dict[str, Any], sd: Any, svd: Any, shots: int) -> dict[str, Any]:
    """12 shots, grids and clips alternating, through the worker's providers and activity code."""
    from temporalio.testing import ActivityEnvironment

    from activities.pipeline import PipelineActivities
    from activities.providers import gpu_pool
    from activities.providers.choice import choose_providers
    from infra.settings import Settings
    from infra.storage import FileSystemStorage

    work, device, quick = ctx["work"], ctx["device"], ctx["quick"]
    models = work / "models"
    started = time.perf_counter()
    sd.save_pretrained(models / "sd-turbo", safe_serialization=True)
    svd.save_pretrained(models / "svd-xt", safe_serialization=True)
    save_s = time.perf_counter() - started
    settings = Settings(
        data_dir=work / "data",
        model_dir=models,
        image_resolution=64 if quick else 512,
        video_resolution=64 if quick else 1024,
    )
    providers = choose_providers(settings, device=str(device))
    video = providers.video.__self__  # the DiffusersVideoProvider a worker would run
    video.steps, video.num_frames, video.max_segments = ctx["project_svd_steps"], 14 if not quick else 4, 1
    video.decode_chunk_size = 7 if not quick else 2
    encode = "ffmpeg"
    try:
        from activities.media.ffmpeg import ffmpeg_exe

        ffmpeg_exe()
    except Exception:  # no FFmpeg here: frames are generated, the MP4 encode is skipped (said so)
        from activities.media.probe import MediaInfo

        encode = "skipped (no FFmpeg on this machine)"
        video._encode = lambda frames, out, duration_s, fps, width, height, *a, **k: (
            Path(out).write_bytes(b"")
            or MediaInfo(duration_s=duration_s, width=width, height=height, fps=fps)
        )
    acts = PipelineActivities(
        "postgresql://unused", FileSystemStorage(work / "storage"), providers, work / "tmp"
    )
    env = ActivityEnvironment()
    still = work / "still.png"
    from PIL import Image

    Image.new("RGB", (1280, 720), (120, 90, 200)).save(still)
    grid_provider = providers.images.provider
    keys = {}
    rows = []
    for shot in range(1, shots + 1):
        t0 = time.perf_counter()
        images, _stored = await env.run(acts.grid_images, _req(4, 720, seed=shot, shot=shot))
        t1 = time.perf_counter()
        info, _ = await env.run(acts.video_clip, still, 2.0, 24, "push_in", {})
        t2 = time.perf_counter()
        rows.append(
            {
                "shot": shot,
                "grid_wall_s": round(t1 - t0, 3),
                "clip_wall_s": round(t2 - t1, 3),
                "grid_gpu_s": round(sum(i.params["gpu_seconds"] for i in images), 4),
                "grid_cache": images[0].params.get("cache"),
                "clip_gpu_s": info.params["gpu_seconds"],
                "clip_compile_s": info.params["compile_seconds"],
            }
        )
        keys = {k.kind: gpu_pool.load_count(k) for k in gpu_pool.resident_keys()}
    first, rest = rows[0], rows[1:]
    warm_grid = min(r["grid_wall_s"] for r in rest) if rest else first["grid_wall_s"]
    warm_clip = min(r["clip_wall_s"] for r in rest) if rest else first["clip_wall_s"]
    gpu_s = sum(r["grid_gpu_s"] + r["clip_gpu_s"] for r in rows)
    activities = 2 * shots
    orchestration_s = activities * ctx["orchestration_ms"] / 1000
    return {
        "shots": shots,
        "encode": encode,
        "models_saved_s": round(save_s, 1),
        "load_counts": keys,
        "reloads": sum(max(0, n - 1) for n in keys.values()),
        "grid_model_load_s": round(first["grid_wall_s"] - warm_grid, 2),
        "clip_model_load_s": round(first["clip_wall_s"] - warm_clip, 2),
        "gpu_s": round(gpu_s, 3),
        "wall_s": round(sum(r["grid_wall_s"] + r["clip_wall_s"] for r in rows), 3),
        "orchestration_ms_per_activity": ctx["orchestration_ms"],
        "orchestration_share_pct": round(100 * orchestration_s / gpu_s, 2) if gpu_s else None,
        "grid_cache_misses": sum(r["grid_cache"] == "miss" for r in rows),
        "clip_settings": {"steps": video.steps, "frames": video.num_frames, "resolution": video.resolution},
        "grid_dir": str(getattr(grid_provider, "model_dir", "")),
        "rows": rows,
        "_acts": acts,
        "_env_factory": ActivityEnvironment,
        "_still": still,
    }


async def cancel_latency(project: dict[str, Any], runs: int) -> dict[str, Any]:
    """Cancel a running clip job: time from `cancel()` to the activity coroutine raising."""
    acts, env_factory, still = project["_acts"], project["_env_factory"], project["_still"]
    lat = []
    for _ in range(runs):
        env = env_factory()
        beats: list[float] = []
        env.on_heartbeat = lambda *_details, beats=beats: beats.append(time.monotonic())
        task = asyncio.ensure_future(env.run(acts.video_clip, still, 2.0, 24, "push_in", {}))
        for _ in range(600):  # wait until denoising has reported progress
            await asyncio.sleep(0.05)
            if beats and len(beats) >= 2:
                break
        await asyncio.sleep(0.3)
        cancelled_at = time.monotonic()
        env.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        lat.append(time.monotonic() - cancelled_at)
    return {
        "runs": runs,
        "cancel_to_stopped_s": {"median": round(sorted(lat)[len(lat) // 2], 3), "max": round(max(lat), 3)},
    }


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------


def _table(result: dict[str, Any]) -> str:
    lines = [f"device: {result['device']}  torch {result['torch']}  mode {result['mode']}"]
    for key in ("grid_sd_turbo", "grid_sd_turbo_compiled", "grid_sdxl_turbo"):
        rows = result.get(key) or []
        if not rows:
            continue
        lines.append(f"\n{key}")
        lines.append(
            f"{'size':>9} {'compile':>7} {'cells':>5} {'case':<10} {'calls':>5} {'wall s':>8} {'img/s':>7} "
            f"{'GPU s':>7} {'compile s':>9}"
        )
        for r in rows:
            if "skipped" in r or "error" in r:
                lines.append(f"{'':>9} {r.get('compiled')!s:>7} {r.get('skipped') or r.get('error')}")
                continue
            lines.append(
                f"{r['size']:>9} {r['compiled']!s:>7} {r['cells']:>5} {r['case']:<10} {r['calls']:>5} "
                f"{r['wall_s']:>8.3f} {r['images_per_s']:>7.1f} {r['gpu_s']:>7.3f} {r['compile_s']:>9.1f}"
            )
    v = result.get("video_svd_xt")
    if isinstance(v, dict) and "frames" in v:
        lines.append(
            f"\nvideo_svd_xt: {v['frames']} frames {v['size']}, {v['steps']} steps: "
            f"denoise {v['denoise_gpu_s']} s, "
            f"decode {v['decode_gpu_s']} s (GPU); peak VRAM denoise {v['peak_denoise_gib']} GiB "
            f"(estimate {v['estimate_denoise_gib']}), decode {v['peak_decode_gib']} GiB "
            f"(estimate {v['estimate_decode_gib']})"
        )
    p = result.get("project")
    if isinstance(p, dict) and "shots" in p:
        lines.append(
            f"\nproject: {p['shots']} shots, grids+clips alternating: reloads {p['reloads']} "
            f"(load counts {p['load_counts']}); model load cost grid {p['grid_model_load_s']} s, "
            f"clip {p['clip_model_load_s']} s; GPU {p['gpu_s']} s of {p['wall_s']} s wall; "
            f"orchestration share {p['orchestration_share_pct']} % "
            f"(at {p['orchestration_ms_per_activity']} ms/activity); encode: {p['encode']}"
        )
    c = result.get("cancel")
    if isinstance(c, dict) and "runs" in c:
        lines.append(
            f"cancel a running clip: median {c['cancel_to_stopped_s']['median']} s, "
            f"max {c['cancel_to_stopped_s']['max']} s (in process)"
        )
    for key, value in result.items():
        if isinstance(value, dict) and ("skipped" in value or "error" in value):
            lines.append(f"{key}: {value.get('skipped') or value.get('error')}")
    return "\n".join(lines)


def _section(result: dict[str, Any], key: str, need_s: float, deadline: Deadline, fn: Any) -> Any:
    if deadline.left() < need_s:
        result[key] = {"skipped": f"time budget ({deadline.left():.0f} s left, needs ~{need_s:.0f} s)"}
        return None
    try:
        value = fn()
        result[key] = value
        return value
    except Exception as exc:  # one section failing must not hide the others' figures
        result[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny random models (forced without CUDA)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=400.0, help="no section starts after this")
    parser.add_argument("--svd-steps", type=int, default=25)
    parser.add_argument("--project-svd-steps", type=int, default=4)
    parser.add_argument("--shots", type=int, default=12)
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode for the compiled rows")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument(
        "--orchestration-ms",
        type=float,
        default=100.0,
        help="per-activity orchestration overhead measured by the CPU benchmark "
        "(README: 100 ms sequential across two task queues)",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--vendor", type=Path, default=None, help="build DIR/vendor.zip and exit")
    parser.add_argument("--vendor-python", action="append", default=[], help="also add wheels for 3.X")
    parser.add_argument("--vendor-dir", type=Path, default=DEFAULT_VENDOR)
    args = parser.parse_args(argv)
    if args.vendor is not None:
        print(json.dumps(build_vendor(args.vendor, args.vendor_python)))
        return 0
    vendored = use_vendor(args.vendor_dir)
    began = time.monotonic()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    from activities.providers import gpu_pool

    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    torch = gpu_pool.import_torch()
    device = gpu_pool.resolve_device(args.device)
    quick = args.quick or device.type != "cuda"
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    deadline = Deadline(args.budget_s if not quick else max(args.budget_s, 600.0))
    work = Path(tempfile.mkdtemp(prefix="dd-bench-gpu-"))
    ctx = {
        "torch": torch,
        "device": device,
        "quick": quick,
        "repeats": 1 if quick else max(1, args.repeats),
        "deadline": deadline,
        "work": work,
        "compile_mode": args.compile_mode,
        "compile_reserve_s": 150.0,
        "orchestration_ms": args.orchestration_ms,
        "project_svd_steps": 2 if quick else args.project_svd_steps,
    }
    result: dict[str, Any] = {
        "device": gpu_pool.device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "vendored": vendored,
        "mode": "quick (tiny random models: proves the code path, figures NOT representative)"
        if quick
        else "full",
    }
    try:
        sd = build_sd_turbo(device, dtype, quick, work)
        side = 64 if quick else 512
        _section(
            result, "grid_sd_turbo", 20, deadline, lambda: grid_rows(ctx, "sd-turbo-arch", sd, side, False)
        )
        svd = build_svd(device, dtype, quick, work, frames=4 if quick else 25)
        frames, width, height = (4, 64, 32) if quick else (25, 1024, 576)
        steps = 2 if quick else args.svd_steps
        _section(
            result, "video_svd_xt", 90, deadline, lambda: svd_phases(ctx, svd, frames, width, height, steps)
        )
        shots = 3 if quick else args.shots
        project = _section(
            result, "project", 120, deadline, lambda: asyncio.run(project_rows(ctx, sd, svd, shots))
        )
        if project is not None:
            _section(result, "cancel", 30, deadline, lambda: asyncio.run(cancel_latency(project, 3)))
            for key in [k for k in project if k.startswith("_")]:
                project.pop(key)
        svd = None
        gpu_pool.evict_all()
        gpu_pool.empty_cache(device)
        sdxl_side = 64 if quick else 1024
        _section(
            result,
            "grid_sdxl_turbo",
            60,
            deadline,
            lambda: grid_rows(ctx, "sdxl-turbo-arch", build_sdxl(device, dtype, quick), sdxl_side, False),
        )
        if not (args.no_compile or quick):  # last: the compile time is the least predictable part
            _section(
                result,
                "grid_sd_turbo_compiled",
                ctx["compile_reserve_s"],
                deadline,
                lambda: grid_rows(ctx, "sd-turbo-arch", sd, side, True),
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["total_s"] = round(time.monotonic() - began, 1)
    print(_table(result))
    text = json.dumps(result, default=str)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


@__import__("pytest").mark.bench
def test_bench_gpu_quick() -> None:
    """pytest entry (tests/bench/conftest.py collects bench_*.py): the quick mode on any machine."""
    import pytest

    pytest.importorskip("diffusers")
    assert main(["--quick"]) == 0
