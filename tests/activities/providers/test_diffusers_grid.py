"""Diffusers grid provider on CPU with a tiny random SD-Turbo-class pipeline loaded from disk."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from activities.providers import gpu_pool
from activities.providers.cards import GridRequest
from activities.providers.diffusers_grid import DiffusersGridProvider, generation_size
from schema.errors import (
    BadInputError,
    CancelledByUser,
    ProviderUnavailableError,
    TransientProviderError,
)
from schema.storyboard import Camera
from tests.activities.providers.conftest import png_pixels, solid_png

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


def test_admission_runs_after_the_weights_are_loaded(tiny_sd_dir: Path) -> None:
    gpu_pool.evict_all()
    per_image = SIZE * SIZE * DiffusersGridProvider(tiny_sd_dir, device="cpu").bytes_per_pixel
    seen: list[bool] = []

    def free(_device: object) -> int:  # lots free before the weights arrive, room for 2 images after
        loaded = any(k.kind == "sd-grid" for k in gpu_pool.resident_keys())
        seen.append(loaded)
        return gpu_pool.ADMISSION_HEADROOM_BYTES + (2 if loaded else 100) * per_image

    provider = DiffusersGridProvider(tiny_sd_dir, device="cpu", steps=1, resolution=SIZE, free_memory_fn=free)
    batch = provider.render_grid(_req(4))[0].params["batch"]
    assert seen == [True]  # asked once, with the model already on the device
    assert batch["planned_by"] == "free_vram" and batch["chunk_sizes"] == [2, 2]


def _nan_decoder(provider: DiffusersGridProvider, times: int | None) -> object:
    """A hook making the VAE decoder's output NaN (`times` calls, or always) — what fp16 overflow
    does — for as long as the decoder runs in fp16/bf16 or, on CPU, the first `times` calls."""
    import torch

    calls = [0]

    def poison(_module: object, _args: object, output: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if times is None or calls[0] <= times:
            return output * float("nan")
        return output

    return provider.pipes().t2i.vae.decoder.register_forward_hook(poison)


def test_nonfinite_pixels_are_decoded_again_in_fp32_and_never_cached(tiny_sd_dir: Path) -> None:
    from activities.providers.generation_cache import CachedGridProvider, GenerationCache, MemoryStore

    provider = DiffusersGridProvider(tiny_sd_dir, device="cpu", steps=1, resolution=SIZE)
    clean = provider.render_grid(_req(4, seed=70))
    store = MemoryStore()
    cached = CachedGridProvider(provider, GenerationCache(store))
    unet_calls: list[int] = []
    hooks = [_nan_decoder(provider, times=1), provider.pipes().t2i.unet.register_forward_hook(
        lambda *_: unet_calls.append(1)
    )]  # fmt: skip
    try:
        repaired = cached.render_grid(_req(4, seed=70))
    finally:
        for hook in hooks:
            hook.remove()
    assert [img.params["vae_fp32_retry"] for img in repaired] == [True] * 4
    assert [img.png for img in repaired] == [img.png for img in clean]  # the same, good pixels
    assert len(unet_calls) == 1  # decoded again from the latents: no second denoising
    assert len(store) == 1

    hook = _nan_decoder(provider, times=None)
    try:
        with pytest.raises(ProviderUnavailableError) as err:
            cached.render_grid(_req(4, seed=71))
    finally:
        hook.remove()
    assert err.value.code == "output_nonfinite" and err.value.retryable is False
    assert len(store) == 1  # the bad grid was not cached


def test_compile_time_is_recorded_apart_from_the_seconds_a_job_is_charged(tiny_sd_dir: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd_dir, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.unet = torch.compile(pipe.unet, backend="eager")  # dynamo tracing without a C++ compiler
    provider = DiffusersGridProvider(pipeline=pipe, device="cpu", steps=1, resolution=SIZE)
    assert provider.pipes().info["compiled"] is True
    first = provider.render_grid(_req(1, seed=1))[0].params
    again = provider.render_grid(_req(1, seed=2))[0].params
    assert first["compile_seconds"] > 0 and first["cpu_seconds"] == 0.0  # graph built: not charged
    assert again["compile_seconds"] == 0.0 and again["cpu_seconds"] > 0  # warm: measured as usual


def test_transformer_pipeline_renders_and_cancels_at_the_next_step(tiny_sd3_dir: Path) -> None:
    provider = DiffusersGridProvider(tiny_sd3_dir, device="cpu", steps=3, resolution=SIZE)
    images = provider.render_grid(_req(4))
    p = images[0].params
    assert p["pipeline"] == "StableDiffusion3Pipeline" and p["denoiser"] == "transformer"
    assert len({img.png for img in images}) == 4 and p["batch"]["chunk_sizes"] == [4]
    assert provider.render_grid(_req(1, parent_png=solid_png((10, 200, 10))))[0].params["mode"] == "img2img"
    calls: list[int] = []
    hook = provider.pipes().t2i.transformer.register_forward_hook(lambda *_: calls.append(1))
    try:
        with pytest.raises(CancelledByUser, match="step 1"):
            provider.render_grid(_req(4), cancelled=lambda: len(calls) >= 1)
    finally:
        hook.remove()
    assert len(calls) == 1  # observed at the first step's callback: steps 2 and 3 never ran


def test_pipelines_it_cannot_drive_are_refused_at_load_with_a_code(tmp_path: Path, torch_cpu: object) -> None:
    from tests.support.tiny_models import build_tiny_pixart

    pixart = build_tiny_pixart()  # a transformer denoiser but no callback_on_step_end
    pixart.save_pretrained(tmp_path / "pixart")
    with pytest.raises(ProviderUnavailableError) as from_disk:
        DiffusersGridProvider(tmp_path / "pixart", device="cpu").render_grid(_req(1))
    assert from_disk.value.code == "model_unsupported" and from_disk.value.retryable is False
    assert "PixArtSigmaPipeline" in from_disk.value.message

    class NoDenoiser:  # e.g. a pipeline class the provider does not know: no unet, no transformer
        vae = scheduler = None

        def __call__(self, prompt: str, callback_on_step_end: object = None) -> None: ...

    with pytest.raises(ProviderUnavailableError) as injected:
        DiffusersGridProvider(pipeline=NoDenoiser(), device="cpu")
    assert injected.value.code == "model_unsupported"
