"""Diffusers image-to-video provider on CPU with a tiny random SVD-class pipeline loaded from disk."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from activities.media.kenburns import kenburns_clip
from activities.media.probe import MediaInfo
from activities.providers import gpu_pool
from activities.providers.diffusers_video import DiffusersVideoProvider, VideoClip
from schema.errors import BadInputError, CancelledByUser
from tests.activities.providers.conftest import solid_png

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture
def still(tmp_path: Path) -> Path:
    path = tmp_path / "still.png"
    path.write_bytes(solid_png((200, 120, 40), (96, 54)))
    return path


@pytest.fixture
def provider(tiny_svd_dir: Path) -> DiffusersVideoProvider:
    return DiffusersVideoProvider(tiny_svd_dir, device="cpu", steps=2, resolution=32, decode_chunk_size=2)


def test_image_to_video_writes_an_mp4_timed_to_the_shot(
    provider: DiffusersVideoProvider, still: Path, tmp_path: Path
) -> None:
    progress: list[float] = []
    out = tmp_path / "clip.mp4"
    clip = provider.clip(
        still,
        out,
        duration_s=1.0,
        fps=12,
        width=64,
        height=36,
        movement="static",
        on_progress=progress.append,
    )
    assert isinstance(clip, VideoClip) and isinstance(clip, MediaInfo)
    assert out.is_file() and clip.has_video and not clip.has_audio
    assert (clip.width, clip.height) == (64, 36) and clip.video_codec == "h264"
    assert clip.fps == pytest.approx(12) and clip.duration_s == pytest.approx(1.0, abs=0.09)
    p = clip.params
    # 1 s at SVD's 7 fps conditioning = 7 frames = two 4-frame segments sharing one frame
    assert p["generated_frames"] == 7 and p["segments"] == 2 and p["frames_per_segment"] == 4
    assert p["motion_bucket_id"] == 40 and p["movement_hint"] == "static"
    assert p["pipeline"] == "StableVideoDiffusionPipeline" and p["decode_chunk_size"] == 2
    # on a CPU the wall time is cpu_seconds, never GPU seconds
    assert clip.gpu_seconds == 0.0 and p["gpu_seconds"] == 0.0 and p["timing"] == "cpu_wall"
    assert clip.cpu_seconds > 0 and p["cpu_seconds"] == clip.cpu_seconds and len(p["weights_hash"]) == 64
    assert p["vae_fp32_retry_segments"] == [] and p["peak_vram_bytes"] is None
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert list(tmp_path.glob(".*")) == []  # no partial file or frame folder left behind


def test_same_call_shape_as_kenburns_clip() -> None:
    ken = inspect.signature(kenburns_clip).parameters
    svd = inspect.signature(DiffusersVideoProvider.clip).parameters
    for name in ("image_path", "out_path", "duration_s", "fps", "width", "height", "movement",
                 "on_progress", "cancelled"):  # fmt: skip
        assert name in svd and svd[name].kind == ken[name].kind


def test_video_cancel_mid_denoise_leaves_no_output(tiny_svd_dir: Path, still: Path, tmp_path: Path) -> None:
    provider = DiffusersVideoProvider(tiny_svd_dir, device="cpu", steps=4, resolution=32, decode_chunk_size=2)
    unet = provider.pipe().pipe.unet
    calls: list[int] = []
    hook = unet.register_forward_hook(lambda *_: calls.append(1))
    out = tmp_path / "never.mp4"
    try:
        with pytest.raises(CancelledByUser):
            provider.clip(
                still, out, duration_s=0.5, fps=8, width=32, height=32, cancelled=lambda: len(calls) >= 1
            )
    finally:
        hook.remove()
    # classifier-free guidance runs the UNet once per step on a doubled batch: one step ran
    assert len(calls) == 1
    assert not out.exists() and list(tmp_path.glob(".*")) == []


def test_video_oom_in_decode_shrinks_the_decode_chunk_without_denoising_again(
    provider: DiffusersVideoProvider, still: Path, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    pipe = provider.pipe().pipe
    seen: list[int] = []
    unet_calls: list[int] = []

    def oom_on_big_chunks(_module: object, args: tuple) -> None:
        seen.append(int(args[0].shape[0]))
        if args[0].shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated in the VAE decoder)")

    hooks = [
        pipe.vae.decoder.register_forward_pre_hook(oom_on_big_chunks),
        pipe.unet.register_forward_hook(lambda *_: unet_calls.append(1)),
    ]
    try:
        clip = provider.clip(still, tmp_path / "c.mp4", duration_s=0.5, fps=8, width=32, height=32)
    finally:
        for hook in hooks:
            hook.remove()
    assert clip.params["decode_chunk_size"] == 1 and clip.params["segments"] == 1
    decode_steps = [f for f in clip.params["oom_fallbacks"] if "decode_chunk_size" in f]
    assert decode_steps == [{"phase": "decode", "decode_chunk_size": 1, "error": decode_steps[0]["error"]}]
    assert "VAE decoder" in decode_steps[0]["error"] and set(seen) == {2, 1}
    assert len(unet_calls) == 2  # 2 denoising steps, run once: the latents were decoded again


def test_video_oom_in_denoise_chunks_then_shortens_segments_not_the_decode(
    tiny_svd_dir: Path, still: Path, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    provider = DiffusersVideoProvider(
        tiny_svd_dir, device="cpu", steps=1, resolution=32, num_frames=8, decode_chunk_size=2
    )
    unet = provider.pipe().pipe.unet
    frames_seen: list[int] = []

    def oom_on_long_segments(_module: object, args: tuple) -> None:
        frames_seen.append(int(args[0].shape[1]))
        if args[0].shape[1] > 4:  # (batch, frames, channels, h, w): more than 4 frames do not fit
            raise torch.OutOfMemoryError("CUDA out of memory (simulated in the UNet)")

    hook = unet.register_forward_pre_hook(oom_on_long_segments)
    try:
        clip = provider.clip(still, tmp_path / "d.mp4", duration_s=1.0, fps=8, width=32, height=32)
    finally:
        hook.remove()
        gpu_pool.evict_all()  # forward chunking stays on in the resident pipeline: reload it clean
    p = clip.params
    steps = [{k: v for k, v in f.items() if k != "error"} for f in p["oom_fallbacks"]]
    steps = [f for f in steps if not f.get("evicted_idle_models")]  # other tests' idle models
    assert steps == [
        {"phase": "denoise", "forward_chunking": True},
        {"phase": "denoise", "frames_per_segment": 4},
    ]
    assert p["frames_per_segment"] == 4 and p["forward_chunking"] is True
    assert p["decode_chunk_size"] == 2  # a denoising OOM never shrinks the decode chunk
    assert p["segments"] == 2 and p["generated_frames"] == 7 and max(frames_seen) == 8
    assert clip.duration_s == pytest.approx(1.0, abs=0.15)


def test_video_rejects_bad_input(provider: DiffusersVideoProvider, still: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as err:
        provider.clip(still, tmp_path / "x.mp4", duration_s=1.0, movement="barrel_roll")
    assert err.value.code == "movement_invalid"
    with pytest.raises(BadInputError) as err:
        provider.clip(tmp_path / "missing.png", tmp_path / "x.mp4", duration_s=1.0)
    assert err.value.code == "asset_missing"


def test_video_cancel_during_decode_stops_before_the_next_chunk(
    provider: DiffusersVideoProvider, still: Path, tmp_path: Path
) -> None:
    decoder = provider.pipe().pipe.vae.decoder
    chunks: list[int] = []
    hook = decoder.register_forward_hook(lambda *_: chunks.append(1))
    out = tmp_path / "never.mp4"
    try:
        with pytest.raises(CancelledByUser, match="while decoding"):
            # 4 frames in chunks of 2: the cancel lands after the first chunk
            provider.clip(
                still, out, duration_s=0.5, fps=8, width=32, height=32, cancelled=lambda: len(chunks) >= 1
            )
    finally:
        hook.remove()
    assert len(chunks) == 1 and not out.exists()
