"""GPU benchmark for the diffusers providers (run on demand; not part of the test suite).

    python tests/bench/bench_gpu.py                 # full run on CUDA, quick mode on CPU
    python tests/bench/bench_gpu.py --quick         # scaled-down run anywhere (smoke test)
    python tests/bench/bench_gpu.py --json out.json # also write the figures as JSON
    pytest tests/bench -k bench_gpu -s --override-ini addopts=   # the same through pytest (make bench)

Full mode (CUDA): an SD-Turbo-architecture pipeline (the real SD 2.1-size UNet/VAE/text-encoder
configs, random weights — a forward pass costs the same whatever the weight values) at 512², fp16,
1 and 4 steps, through the real `DiffusersGridProvider`: images/s for batch 1, one 9-grid call,
and nine sequential calls, without and with `torch.compile`; then an SVD-architecture pipeline
through `DiffusersVideoProvider`: clip seconds and peak VRAM at 14 and 25 frames (1024x576).
Quick mode (CPU, or --quick): tiny random pipelines saved to a temp dir and loaded with
`from_pretrained`, 64² / 4 frames — it proves the code path runs, its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from activities.providers import gpu_pool
from activities.providers.cards import GridRequest
from activities.providers.diffusers_grid import DiffusersGridProvider
from activities.providers.diffusers_video import DiffusersVideoProvider
from schema.storyboard import Camera

PROMPT = "A red fox steals the moon over a sleeping harbour town, night, lanterns"


def _req(size: int, side: int, seed: int = 1) -> GridRequest:
    return GridRequest(
        shot_number=1, visual=PROMPT, camera=Camera(), size=size, width=side, height=side, seed=seed
    )


def _sync(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(torch: Any, device: Any, fn: Any, repeats: int) -> tuple[float, Any]:
    """Best-of-`repeats` wall seconds of fn() (after the caller's warm-up) and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        _sync(torch, device)
        started = time.perf_counter()
        result = fn()
        _sync(torch, device)
        best = min(best, time.perf_counter() - started)
    return best, result


def bench_grid(torch: Any, device: Any, quick: bool, repeats: int, compile_modes: list[bool]) -> list[dict]:
    rows: list[dict] = []
    side = 64 if quick else 512
    if quick:
        from tests.support.tiny_models import build_tiny_sd

        model_dir = build_tiny_sd(Path(tempfile.mkdtemp(prefix="bench-sd-")) / "tiny-sd")
        make = lambda steps, mb: DiffusersGridProvider(  # noqa: E731
            model_dir, device=str(device), steps=steps, resolution=side, max_batch=mb
        )
        pipe = None
    else:
        from tests.support.tiny_models import build_sd_turbo_architecture

        pipe = build_sd_turbo_architecture(device=device, dtype=torch.float16)
        make = lambda steps, mb: DiffusersGridProvider(  # noqa: E731
            pipeline=pipe,
            device=str(device),
            steps=steps,
            resolution=side,
            max_batch=mb,
            model_id="sd-turbo-arch",
        )
    for compiled in compile_modes:
        if compiled:
            if pipe is None:
                continue  # quick mode: compiling a tiny CPU model says nothing
            pipe.unet = torch.compile(pipe.unet, mode="max-autotune-no-cudagraphs", fullgraph=True)
        try:
            rows += _grid_rows(torch, device, side, make, compiled, repeats)
        except Exception as exc:  # a compile failure must not hide the eager figures
            print(f"grid bench failed (compiled={compiled}): {type(exc).__name__}: {exc}")
            rows.append(
                {"bench": "grid", "compiled": compiled, "error": f"{type(exc).__name__}: {exc}"[:300]}
            )
    if pipe is not None:
        del pipe
        gpu_pool.empty_cache(device)
    return rows


def _grid_rows(torch: Any, device: Any, side: int, make: Any, compiled: bool, repeats: int) -> list[dict]:
    rows: list[dict] = []
    for steps in (1, 4):
        single, sequential = make(steps, None), make(steps, 1)
        started = time.perf_counter()
        single.render_grid(_req(1, side))  # warm-up (and compilation) for batch 1 and 9
        single.render_grid(_req(9, side))
        warmup_s = time.perf_counter() - started
        t1, r1 = _timed(torch, device, lambda s=single: s.render_grid(_req(1, side)), repeats)
        t9, r9 = _timed(torch, device, lambda s=single: s.render_grid(_req(9, side)), repeats)
        ts, rs = _timed(torch, device, lambda s=sequential: s.render_grid(_req(9, side)), repeats)
        for label, seconds, result, n in (
            ("batch 1", t1, r1, 1),
            ("one 9-grid call", t9, r9, 9),
            ("nine sequential calls", ts, rs, 9),
        ):
            rows.append(
                {
                    "bench": "grid",
                    "size": f"{side}x{side}",
                    "steps": steps,
                    "compiled": compiled,
                    "case": label,
                    "calls": result[0].params["batch"]["calls"],
                    "seconds": round(seconds, 4),
                    "images_per_s": round(n / seconds, 2),
                    "device_seconds": round(sum(i.params["gpu_seconds"] for i in result), 4),
                    "warmup_s": round(warmup_s, 1),
                }
            )
    return rows


def bench_video(torch: Any, device: Any, quick: bool, steps: int) -> list[dict]:
    from PIL import Image

    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="bench-svd-"))
    still = work / "still.png"
    Image.new("RGB", (1024, 576), (180, 110, 60)).save(still)
    frames_list = (4, 8) if quick else (14, 25)
    if quick:
        from tests.support.tiny_models import build_tiny_svd

        model_dir = build_tiny_svd(work / "tiny-svd", num_frames=8)
        pipe = None
    else:
        from tests.support.tiny_models import build_svd_architecture

        pipe = build_svd_architecture(num_frames=25, device=device, dtype=torch.float16)
    width, height = (64, 36) if quick else (1024, 576)
    for frames in frames_list:
        kwargs: dict[str, Any] = dict(
            device=str(device),
            steps=2 if quick else steps,
            resolution=64 if quick else 1024,
            num_frames=frames,
            max_segments=1,
            decode_chunk_size=frames if not quick else 2,
        )
        provider = (
            DiffusersVideoProvider(model_dir, **kwargs)
            if pipe is None
            else DiffusersVideoProvider(pipeline=pipe, **kwargs)
        )
        duration = frames / provider.gen_fps
        if device.type == "cuda":
            gpu_pool.empty_cache(device)
            torch.cuda.reset_peak_memory_stats(device)
        _sync(torch, device)
        started = time.perf_counter()
        clip = provider.clip(
            still, work / f"clip{frames}.mp4", duration_s=duration, fps=24, width=width, height=height
        )
        _sync(torch, device)
        wall = time.perf_counter() - started
        peak = torch.cuda.max_memory_allocated(device) / 1024**3 if device.type == "cuda" else None
        rows.append(
            {
                "bench": "video",
                "frames": frames,
                "size": f"{clip.params['generated_size'][0]}x{clip.params['generated_size'][1]}",
                "steps": clip.params["steps"],
                "decode_chunk_size": clip.params["decode_chunk_size"],
                "clip_seconds": round(wall, 2),
                "device_seconds": round(clip.gpu_seconds, 2),
                "peak_vram_gib": round(peak, 2) if peak is not None else None,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down run (forced without CUDA)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--svd-steps", type=int, default=25)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()  # e.g. CLIP's 77-token truncation notice
    transformers_logging.set_verbosity_error()
    torch = gpu_pool.import_torch()
    device = gpu_pool.resolve_device(args.device)
    quick = args.quick or device.type != "cuda"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(1)  # tiny models: thread start-up costs more than it buys
    header = {
        "device": gpu_pool.device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "mode": "quick (scaled down: tiny random models, figures NOT representative)" if quick else "full",
    }
    print(f"device: {header['device']}  torch {header['torch']}  cuda {header['cuda']}")
    if quick:
        why = "no CUDA device" if device.type != "cuda" else "--quick"
        print(f"QUICK MODE ({why}): tiny random pipelines at 64 px; this only proves the code path runs.")
    compile_modes = [False] if (args.no_compile or quick) else [False, True]
    rows = bench_grid(torch, device, quick, max(1, args.repeats), compile_modes)
    print("\ngrid (SD-Turbo architecture, fp16)" if not quick else "\ngrid (tiny SD, fp32)")
    print(f"{'steps':>5} {'compile':>7} {'case':<22} {'calls':>5} {'seconds':>8} {'img/s':>8} {'dev s':>8}")
    for r in rows:
        if "error" in r:
            print(f"{'':>5} {r['compiled']!s:>7} failed: {r['error']}")
            continue
        print(
            f"{r['steps']:>5} {r['compiled']!s:>7} {r['case']:<22} {r['calls']:>5} "
            f"{r['seconds']:>8.3f} {r['images_per_s']:>8.2f} {r['device_seconds']:>8.3f}"
        )
    video: list[dict] = []
    if not args.skip_video:
        video = bench_video(torch, device, quick, args.svd_steps)
        print(
            "\nimage-to-video (SVD architecture, fp16)" if not quick else "\nimage-to-video (tiny SVD, fp32)"
        )
        print(f"{'frames':>6} {'size':>9} {'steps':>5} {'clip s':>8} {'dev s':>8} {'peak GiB':>9}")
        for r in video:
            peak = f"{r['peak_vram_gib']:.2f}" if r["peak_vram_gib"] is not None else "-"
            print(
                f"{r['frames']:>6} {r['size']:>9} {r['steps']:>5} {r['clip_seconds']:>8.2f} "
                f"{r['device_seconds']:>8.2f} {peak:>9}"
            )
    if args.json:
        args.json.write_text(json.dumps({**header, "grid": rows, "video": video}, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


@__import__("pytest").mark.bench
def test_bench_gpu() -> None:
    """pytest entry (collected by tests/bench/conftest.py): the full run on CUDA, quick mode on CPU."""
    import pytest

    pytest.importorskip("diffusers")
    assert main([]) == 0
