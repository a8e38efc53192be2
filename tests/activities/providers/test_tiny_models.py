"""The benchmark's architectures are the real ones: parameter counts of the published models."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tests.support import tiny_models  # noqa: E402


def _params(module: object) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6  # type: ignore[attr-defined]


def test_real_architecture_configs_match_published_sizes() -> None:
    from diffusers import (
        AutoencoderKL,
        AutoencoderKLTemporalDecoder,
        UNet2DConditionModel,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection

    with torch.device("meta"):  # shapes only: no memory, no time
        sd_unet = UNet2DConditionModel(**tiny_models.sd_turbo_unet_config())
        sd_vae = AutoencoderKL(**tiny_models.sd_turbo_vae_config())
        text = CLIPTextModel(CLIPTextConfig(**tiny_models.sd_turbo_text_encoder_config()))
        svd_unet = UNetSpatioTemporalConditionModel(**tiny_models.svd_unet_config())
        svd_vae = AutoencoderKLTemporalDecoder(**tiny_models.svd_vae_config())
        image = CLIPVisionModelWithProjection(CLIPVisionConfig(**tiny_models.svd_image_encoder_config()))
    assert _params(sd_unet) == pytest.approx(865.9, abs=0.5)  # SD 2.1 / SD-Turbo UNet
    assert _params(sd_vae) == pytest.approx(83.7, abs=0.5)
    assert _params(text) == pytest.approx(340.4, abs=0.5)  # OpenCLIP ViT-H text tower
    assert _params(svd_unet) == pytest.approx(1524.6, abs=1.0)
    assert _params(svd_vae) == pytest.approx(97.7, abs=0.5)
    assert _params(image) == pytest.approx(632.1, abs=0.5)  # CLIP ViT-H/14 vision tower


def test_tiny_pipelines_are_saved_for_from_pretrained(tiny_sd_dir: Path, tiny_svd_dir: Path) -> None:
    sd = tiny_models.describe_model_dir(tiny_sd_dir)
    assert sd["_class_name"] == "StableDiffusionPipeline" and sd["tokenizer"] == [
        "transformers",
        "CLIPTokenizer",
    ]
    assert (tiny_sd_dir / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    svd = tiny_models.describe_model_dir(tiny_svd_dir)
    assert svd["_class_name"] == "StableVideoDiffusionPipeline"
    tok = tiny_models.tiny_clip_tokenizer()
    ids = tok("狐狸偷走了月亮 — a fox").input_ids
    assert ids[0] == 0 and ids[-1] == 1 and 1 not in ids[1:-1]  # every byte has a token, no <unk>
