"""Diffusers grid provider on CPU with a tiny random SD-Turbo-class pipeline loaded from disk."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from activities.errors import (
    BadInputError,
    CancelledByUser,
    ProviderUnavailableError,
    TransientProviderError,
)
from activities.providers import gpu_pool
from activities.providers.cards import GridRequest
from activities.providers.diffusers_grid import DiffusersGridProvider, generation_size
from schema.storyboard import Camera
from tests.providers.conftest import png_pixels, solid_png

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SIZE = 64


def _req(size: int = 4, seed: int = 11, **kw: object) -> GridRequest:
    return GridRequest(
        shot_number=3,
        visual="A fox steals the moon over a sleeping village",
        camera=Camera(size="wide", angle="low", movement="push_in"),
        size=size,
        width=SIZE,
        height=SIZE,
        seed=seed,
        style="ink wash",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def provider(tiny_sd_dir: Path) -> DiffusersGridProvider:
    return DiffusersGridProvider(tiny_sd_dir, device="cpu", steps=2, resolution=SIZE)


def test_grid_of_4_is_one_batched_call_with_per_cell_seeds(provider: DiffusersGridProvider) -> None:
    progress: list[float] = []
    images = provider.render_grid(_req(4), progress.append)

    assert [img.cell for img in images] == [1, 2, 3, 4]
    assert [img.seed for img in images] == [11, 12, 13, 14]
    for img in images:
        p = img.params
        assert p["seed"] == img.seed and p["generator"] == "cpu"
        assert p["batch"]["calls"] == 1 and p["batch"]["chunk_sizes"] == [4]
        assert p["pipeline"] == "StableDiffusionPipeline" and p["attention"] == "sdpa"
        assert p["dtype"] == "fp32" and p["device"] == "cpu" and p["mode"] == "txt2img"
        assert len(p["weights_hash"]) == 64 and p["timing"] == "cpu_wall"
        # wall time on a CPU is never GPU time: 0 GPU seconds, the wall time as cpu_seconds
        assert p["gpu_seconds"] == 0.0 and p["cpu_seconds"] > 0 and p["compile_seconds"] == 0.0
        assert p["denoiser"] == "unet" and p["vae_fp32_retry"] is False
        assert "ink wash style" in p["prompt"]
        assert (img.width, img.height) == (SIZE, SIZE) and img.png.startswith(b"\x89PNG")
    assert len({img.params["prompt"] for img in images}) == 4  # each cell frames the shot differently
    assert len({img.png for img in images}) == 4
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 3
    # loaded once per process, from the local directory
    assert [k.kind for k in gpu_pool.resident_keys()] == ["sd-grid"]
    provider.render_grid(_req(4, seed=99))
    assert [k.kind for k in gpu_pool.resident_keys()] == ["sd-grid"]


def test_grid_of_9_and_one_cell_reproduced_alone_from_its_seed(provider: DiffusersGridProvider) -> None:
    req = _req(9, seed=40)
    grid = provider.render_grid(req)
    assert len(grid) == 9 and grid[0].params["batch"]["chunk_sizes"] == [9]
    assert provider.render_grid(req)[5].png == grid[5].png  # same request → same bytes

    alone = provider.render_cell(req, 6)
    assert alone.seed == grid[5].seed == 45 and alone.params["prompt"] == grid[5].params["prompt"]
    assert alone.params["batch"]["chunk_sizes"] == [1]
    a, b = png_pixels(alone.png), png_pixels(grid[5].png)
    diff = abs(a - b)  # type: ignore[operator]
    # batch size changes BLAS blocking; fp32 rounding may flip a pixel by one level, never more
    assert int(diff.max()) <= 1
    assert float((diff == 0).mean()) > 0.99
    other = abs(png_pixels(grid[4].png) - b)  # type: ignore[operator]
    assert float(other.mean()) > 2.0  # a different seed is a different picture


def test_img2img_from_parent_and_from_first_reference(provider: DiffusersGridProvider) -> None:
    red, blue = solid_png((220, 30, 30)), solid_png((20, 40, 230))
    encoded: list[object] = []  # what the VAE encoder really receives (random weights hide it in pixels)
    hook = provider.pipes().t2i.vae.encoder.register_forward_pre_hook(
        lambda _m, args: encoded.append(args[0].detach().clone())
    )
    try:
        from_red = provider.render_grid(_req(4, parent_png=red))
        from_blue = provider.render_grid(_req(4, parent_png=blue))
    finally:
        hook.remove()
    p = from_red[0].params
    assert p["mode"] == "img2img" and p["init_image"] == "parent" and p["from_parent"] is True
    assert p["strength"] == 0.5 and p["denoise_steps"] == 1 and len(p["init_image_sha256"]) == 64
    assert p["batch"]["calls"] == 1 and from_red[0].png != from_blue[0].png
    # with per-cell generators the pipeline encodes each cell's init image with its own generator
    assert len(encoded) == 8 and tuple(encoded[0].shape) == (1, 3, SIZE, SIZE)  # type: ignore[attr-defined]
    red_in, blue_in = encoded[0], encoded[4]
    assert red_in[:, 0].mean() > red_in[:, 2].mean() and blue_in[:, 2].mean() > blue_in[:, 0].mean()  # type: ignore[index]

    from_ref = provider.render_grid(_req(1, reference_pngs=[blue, red]))
    assert from_ref[0].params["init_image"] == "reference_1" and from_ref[0].params["references"] == 2


def test_cancel_after_first_denoise_step_raises_and_returns_nothing(tiny_sd_dir: Path) -> None:
    provider = DiffusersGridProvider(tiny_sd_dir, device="cpu", steps=4, resolution=SIZE)
    unet = provider.pipes().t2i.unet
    calls: list[int] = []
    hook = unet.register_forward_hook(lambda *_: calls.append(1))
    result = None
    try:
        with pytest.raises(CancelledByUser):
            result = provider.render_grid(_req(4), cancelled=lambda: len(calls) >= 1)
    finally:
        hook.remove()
    assert result is None
    assert len(calls) == 1  # stopped right after step 1 of 4


def test_oom_splits_the_batch_records_it_and_learns(
    tiny_sd_dir: Path, provider: DiffusersGridProvider
) -> None:
    limited = DiffusersGridProvider(
        tiny_sd_dir, device="cpu", steps=2, resolution=SIZE, memory_limit_images=4
    )
    req = _req(9, seed=5)
    images = limited.render_grid(req)
    batch = images[0].params["batch"]
    assert batch["oom_splits"] and batch["oom_splits"][0]["failed_call_size"] == 9
    assert "simulated" in batch["oom_splits"][0]["error"]
    assert max(batch["chunk_sizes"]) <= 4 and sum(batch["chunk_sizes"]) == 9
    assert batch["planned_by"] == "split_after_oom"
    reference = provider.render_grid(req)  # unsplit: same pixels up to one rounding level
    for split_img, whole in zip(images, reference, strict=True):
        assert int(abs(png_pixels(split_img.png) - png_pixels(whole.png)).max()) <= 1  # type: ignore[operator]
    again = limited.render_grid(_req(9, seed=6))  # the learned batch size avoids a second OOM
    assert again[0].params["batch"]["oom_splits"] == []
    assert again[0].params["batch"]["planned_by"] == "learned_after_oom"


def test_oom_for_a_single_image_is_a_non_retryable_gpu_oom(tiny_sd_dir: Path) -> None:
    hopeless = DiffusersGridProvider(
        tiny_sd_dir, device="cpu", steps=1, resolution=SIZE, memory_limit_images=0
    )
    with pytest.raises(ProviderUnavailableError) as err:
        hopeless.render_grid(_req(4))
    assert err.value.code == "gpu_oom" and err.value.retryable is False


def test_vram_admission_hands_the_job_back_as_gpu_busy(tiny_sd_dir: Path) -> None:
    tight = DiffusersGridProvider(
        tiny_sd_dir, device="cpu", steps=1, resolution=SIZE, free_memory_fn=lambda _d: 64 * 1024**2
    )
    with pytest.raises(TransientProviderError) as err:
        tight.render_grid(_req(4))
    assert err.value.code == "gpu_busy" and err.value.retryable is True
    # enough for two images at a time: the grid is planned in calls of two, no OOM needed
    per_image = SIZE * SIZE * tight.bytes_per_pixel
    roomy = DiffusersGridProvider(
        tiny_sd_dir,
        device="cpu",
        steps=1,
        resolution=SIZE,
        free_memory_fn=lambda _d: gpu_pool.ADMISSION_HEADROOM_BYTES + 2 * per_image,
    )
    batch = roomy.render_grid(_req(4))[0].params["batch"]
    assert batch["planned_by"] == "free_vram" and batch["chunk_sizes"] == [2, 2]


def test_bad_inputs_and_missing_model(tmp_path: Path, provider: DiffusersGridProvider) -> None:
    with pytest.raises(BadInputError) as err:
        provider.render_grid(_req(5))
    assert err.value.code == "grid_size_invalid"
    with pytest.raises(BadInputError) as err:
        provider.render_grid(_req(4, parent_png=b"not a png"))
    assert err.value.code == "asset_corrupt"
    with pytest.raises(ProviderUnavailableError) as missing:
        DiffusersGridProvider(tmp_path / "nothing", device="cpu").render_grid(_req(1))
    assert missing.value.code == "model_missing"


def test_generation_size_keeps_aspect_in_multiples_of_8() -> None:
    assert generation_size(1280, 720, 512) == (512, 288)
    assert generation_size(720, 1280, 512) == (288, 512)
    assert generation_size(64, 64, 64) == (64, 64)


def test_cache_identity_tracks_weights_and_settings(
    tiny_sd_dir: Path, provider: DiffusersGridProvider
) -> None:
    ident = provider.cache_identity()
    assert (
        ident["provider"] == "diffusers"
        and ident["weights_hash"] == provider.render_grid(_req(1))[0].params["weights_hash"]
    )
    other = DiffusersGridProvider(tiny_sd_dir, device="cpu", steps=3, resolution=SIZE).cache_identity()
    assert other["weights_hash"] == ident["weights_hash"] and other["params"] != ident["params"]
