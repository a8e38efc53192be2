"""Provider test fixtures: tiny randomly initialised diffusers pipelines written to disk once.

Rule: the models are built from config and saved with `save_pretrained`, then loaded by the
providers through `from_pretrained(local_dir, local_files_only=True)` — the production path —
with no download. torch is imported only by the fixtures that need it, so the Gemini and cache
tests run without the `gpu` extra.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def torch_cpu() -> Iterator[object]:
    """torch, single-threaded: on 2-core CI boxes OpenMP contention makes tiny convs 50x slower."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_sd_dir(torch_cpu: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_models import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd-turbo")


@pytest.fixture(scope="session")
def tiny_svd_dir(torch_cpu: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_models import build_tiny_svd

    return build_tiny_svd(tmp_path_factory.mktemp("models") / "tiny-svd", num_frames=4)


def png_pixels(data: bytes) -> object:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def solid_png(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).ellipse([8, 8, size[0] - 8, size[1] - 8], fill=(255 - color[0], 90, color[2] // 2))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def build_tiny_sd3(out_dir: Path) -> Path:
    """A tiny randomly initialised Stable Diffusion 3 pipeline (a transformer denoiser, no `unet`)
    built from config on CPU and saved."""
    import torch
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    from tests.support.tiny_models import tiny_clip_tokenizer

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=32,
        patch_size=1,
        in_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=32,
        pooled_projection_dim=64,
        out_channels=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    tokenizer = tiny_clip_tokenizer()

    def text_encoder() -> object:
        return CLIPTextModelWithProjection(
            CLIPTextConfig(
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
                hidden_size=32,
                intermediate_size=37,
                num_attention_heads=4,
                num_hidden_layers=2,
                vocab_size=len(tokenizer),
                max_position_embeddings=77,
                projection_dim=32,
            )
        )

    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder(),
        tokenizer=tokenizer,
        text_encoder_2=text_encoder(),
        tokenizer_2=tokenizer,
        text_encoder_3=T5EncoderModel(
            T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=2)
        ),
        tokenizer_3=tokenizer,  # the byte-level vocabulary serves the T5 side too
    )
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def build_tiny_pixart() -> object:
    """A tiny PixArt-Sigma pipeline object (transformer denoiser, no `callback_on_step_end`)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DPMSolverMultistepScheduler,
        PixArtSigmaPipeline,
        PixArtTransformer2DModel,
    )
    from transformers import T5Config, T5EncoderModel

    from tests.support.tiny_models import tiny_clip_tokenizer

    torch.manual_seed(0)
    transformer = PixArtTransformer2DModel(
        sample_size=8,
        num_layers=1,
        patch_size=2,
        attention_head_dim=8,
        num_attention_heads=2,
        caption_channels=32,
        in_channels=4,
        cross_attention_dim=16,
        out_channels=8,
        attention_bias=True,
        activation_fn="gelu-approximate",
        num_embeds_ada_norm=1000,
        norm_type="ada_norm_single",
        norm_elementwise_affine=False,
        norm_eps=1e-6,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
    )
    tokenizer = tiny_clip_tokenizer()
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=2)
    )
    return PixArtSigmaPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=DPMSolverMultistepScheduler(),
    )


@pytest.fixture(scope="session")
def tiny_sd3_dir(torch_cpu: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sd3(tmp_path_factory.mktemp("models") / "tiny-sd3")
