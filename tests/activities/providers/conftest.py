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


@pytest.fixture(scope="session")
def tiny_sd3_dir(torch_cpu: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_models import build_tiny_sd3

    return build_tiny_sd3(tmp_path_factory.mktemp("models") / "tiny-sd3")
