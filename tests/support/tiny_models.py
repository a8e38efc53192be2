"""Tiny, randomly initialised diffusers pipelines built from config — for tests and benchmarks.

Rule: nothing here downloads anything. Every component (UNet, VAE, CLIP text/vision encoder, a
CLIP tokenizer over a byte-level vocabulary written on the spot, the scheduler) is built from a
config with a fixed torch seed and written with `save_pretrained`, so tests load it through the
SAME `from_pretrained(local_dir, local_files_only=True)` path as production weights. The
`sd_turbo_*` / `svd_*` configs are the real architectures (random weights: the compute cost of a
forward pass does not depend on the weight values) for the GPU benchmark.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "build_sd_turbo_architecture",
    "build_svd_architecture",
    "build_tiny_sd",
    "build_tiny_svd",
    "byte_level_vocab",
    "sd_turbo_text_encoder_config",
    "sd_turbo_unet_config",
    "sd_turbo_vae_config",
    "svd_image_encoder_config",
    "svd_unet_config",
    "svd_vae_config",
    "tiny_clip_tokenizer",
]

TINY_SEED = 1234


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte-level alphabet: every byte maps to one printable unicode character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def byte_level_vocab() -> dict[str, int]:
    """A complete CLIP vocabulary without merges: special tokens + 256 bytes (+ end-of-word forms).

    Every string tokenizes (one token per byte), so prompts of any language work; 514 ids.
    """
    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _bytes_to_unicode().values():
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    return vocab


def tiny_clip_tokenizer(max_length: int = 77) -> Any:
    """A real `CLIPTokenizer` loaded from a byte-level vocab.json + empty merges.txt in a temp dir.

    `from_pretrained(dir)` over vocab.json/merges.txt works the same in transformers 4 and 5.
    """
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory(prefix="tiny-clip-vocab-") as tmp:
        (Path(tmp) / "vocab.json").write_text(json.dumps(byte_level_vocab()), encoding="utf-8")
        (Path(tmp) / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizer.from_pretrained(tmp, model_max_length=max_length)


def _seeded() -> None:
    import torch

    torch.manual_seed(TINY_SEED)


def _turbo_scheduler() -> Any:
    """SD-Turbo's scheduler: Euler, trailing timestep spacing (1–4 step sampling)."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        prediction_type="epsilon",
        steps_offset=1,
    )


def _sd_pipeline(unet: Any, vae: Any, text_encoder: Any, tokenizer: Any) -> Any:
    """An SD-Turbo-class text-to-image pipeline around the given modules (no safety checker)."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_turbo_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _svd_pipeline(unet: Any, vae: Any, image_encoder: Any) -> Any:
    """A Stable-Video-Diffusion pipeline around the given modules, with SVD's own scheduler
    (Euler, v-prediction, Karras sigmas) and image processor."""
    from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline
    from transformers import CLIPImageProcessor

    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    return StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )


def tiny_vae(**config: Any) -> Any:
    """The two-block AutoencoderKL every tiny image pipeline here shares (`config` adds to it)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        **config,
    )


def build_tiny_sd(out_dir: Path | str, *, sample_size: int = 32, vocab_max_length: int = 77) -> Path:
    """Write a tiny SD-Turbo-class text-to-image pipeline (a few thousand parameters) to `out_dir`."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    _seeded()
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=sample_size,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    vae = tiny_vae(sample_size=sample_size * 2)
    tokenizer = tiny_clip_tokenizer(vocab_max_length)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
            max_position_embeddings=vocab_max_length,
            projection_dim=16,
        )
    )
    pipe = _sd_pipeline(unet, vae, text_encoder, tokenizer)
    out = Path(out_dir)
    pipe.save_pretrained(out, safe_serialization=True)
    return out


def build_tiny_sd3(out_dir: Path) -> Path:
    """A tiny randomly initialised Stable Diffusion 3 pipeline (a transformer denoiser, no `unet`)
    built from config on CPU and saved."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

    _seeded()
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
    vae = tiny_vae(sample_size=64, shift_factor=0.0609, scaling_factor=1.5035)
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
    from diffusers import (
        DPMSolverMultistepScheduler,
        PixArtSigmaPipeline,
        PixArtTransformer2DModel,
    )
    from transformers import T5Config, T5EncoderModel

    _seeded()
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
    vae = tiny_vae()
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


def build_tiny_svd(out_dir: Path | str, *, num_frames: int = 4, image_size: int = 32) -> Path:
    """Write a tiny Stable-Video-Diffusion-class image-to-video pipeline to `out_dir`."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    _seeded()
    # the spatio-temporal blocks use 32-group norms: 32 channels is the smallest width they take
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=image_size // 2,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=16,
        num_attention_heads=(2, 4),
        projection_class_embeddings_input_dim=3 * 8,
        addition_time_embed_dim=8,
        num_frames=num_frames,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        latent_channels=4,
        layers_per_block=1,
        sample_size=image_size,
    )
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=16,
            projection_dim=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=224,  # the SVD pipeline resizes the conditioning image to 224² itself
            intermediate_size=32,
            patch_size=32,
        )
    )
    pipe = _svd_pipeline(unet, vae, image_encoder)
    out = Path(out_dir)
    pipe.save_pretrained(out, safe_serialization=True)
    return out


# ------------------------------------------------------------------------------------------------
# real architectures (random weights) for the benchmark
# ------------------------------------------------------------------------------------------------


def sd_turbo_unet_config() -> dict[str, Any]:
    """The UNet config of SD-Turbo (= Stable Diffusion 2.1 architecture, 512² native, ~866 M params)."""
    return {
        "act_fn": "silu",
        "attention_head_dim": [5, 10, 20, 20],
        "block_out_channels": [320, 640, 1280, 1280],
        "center_input_sample": False,
        "cross_attention_dim": 1024,
        "down_block_types": [
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ],
        "downsample_padding": 1,
        "dual_cross_attention": False,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "in_channels": 4,
        "layers_per_block": 2,
        "mid_block_scale_factor": 1,
        "norm_eps": 1e-05,
        "norm_num_groups": 32,
        "num_class_embeds": None,
        "only_cross_attention": False,
        "out_channels": 4,
        "sample_size": 64,
        "up_block_types": [
            "UpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
            "CrossAttnUpBlock2D",
        ],
        "upcast_attention": False,
        "use_linear_projection": True,
    }


def sd_turbo_vae_config() -> dict[str, Any]:
    """The SD 2.x VAE (AutoencoderKL, 8x downsampling, 4 latent channels)."""
    return {
        "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "out_channels": 3,
        "sample_size": 768,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "scaling_factor": 0.18215,
    }


def sd_turbo_text_encoder_config() -> dict[str, Any]:
    """OpenCLIP ViT-H/14 text tower as used by SD 2.x (23 layers, width 1024)."""
    return {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_attention_heads": 16,
        "num_hidden_layers": 23,
        "max_position_embeddings": 77,
        "hidden_act": "gelu",
        "projection_dim": 512,
        "vocab_size": 49408,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "pad_token_id": 1,
    }


def svd_unet_config(num_frames: int = 25) -> dict[str, Any]:
    """UNetSpatioTemporalConditionModel as in stable-video-diffusion(-xt) (~1.5 B params)."""
    return {
        "addition_time_embed_dim": 256,
        "block_out_channels": [320, 640, 1280, 1280],
        "cross_attention_dim": 1024,
        "down_block_types": [
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "DownBlockSpatioTemporal",
        ],
        "in_channels": 8,
        "layers_per_block": 2,
        "num_attention_heads": [5, 10, 20, 20],
        "num_frames": num_frames,
        "out_channels": 4,
        "projection_class_embeddings_input_dim": 768,
        "sample_size": 96,
        "transformer_layers_per_block": 1,
        "up_block_types": [
            "UpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
        ],
    }


def svd_vae_config() -> dict[str, Any]:
    """AutoencoderKLTemporalDecoder as in stable-video-diffusion."""
    return {
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 2,
        "out_channels": 3,
        "sample_size": 768,
        "scaling_factor": 0.18215,
    }


def svd_image_encoder_config() -> dict[str, Any]:
    """CLIP ViT-H/14 vision tower with projection, as in stable-video-diffusion."""
    return {
        "hidden_size": 1280,
        "intermediate_size": 5120,
        "num_attention_heads": 16,
        "num_hidden_layers": 32,
        "image_size": 224,
        "patch_size": 14,
        "projection_dim": 1024,
        "hidden_act": "gelu",
    }


def build_sd_turbo_architecture(*, device: Any = "cpu", dtype: Any = None) -> Any:
    """An in-memory SD-Turbo-architecture `StableDiffusionPipeline` with random weights (benchmark)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    _seeded()
    with torch.device(device):
        unet = UNet2DConditionModel(**sd_turbo_unet_config())
        vae = AutoencoderKL(**sd_turbo_vae_config())
        text_encoder = CLIPTextModel(CLIPTextConfig(**sd_turbo_text_encoder_config()))
    pipe = _sd_pipeline(unet, vae, text_encoder, tiny_clip_tokenizer())
    return pipe.to(device=device, dtype=dtype or torch.float32)


def build_svd_architecture(*, num_frames: int = 25, device: Any = "cpu", dtype: Any = None) -> Any:
    """An in-memory SVD-architecture `StableVideoDiffusionPipeline` with random weights (benchmark)."""
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    _seeded()
    with torch.device(device):
        unet = UNetSpatioTemporalConditionModel(**svd_unet_config(num_frames))
        vae = AutoencoderKLTemporalDecoder(**svd_vae_config())
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**svd_image_encoder_config()))
    pipe = _svd_pipeline(unet, vae, image_encoder)
    return pipe.to(device=device, dtype=dtype or torch.float32)


def describe_model_dir(model_dir: Path | str) -> dict[str, Any]:
    """model_index.json of a saved pipeline (used by tests to check what was written)."""
    return json.loads((Path(model_dir) / "model_index.json").read_text())
