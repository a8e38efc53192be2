"""`auto` providers with DIRECTORDECK_MODEL_DIR: when it holds diffusers pipelines, a whole project
pipeline renders its grids and clips through them (here tiny pipelines with random weights, built
from config on CPU — no download); when it does not, the offline providers serve and say why."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from activities.media.probe import probe
from activities.providers.cards import StoryboardCardRenderer
from activities.providers.choice import choose_providers
from activities.providers.diffusers_grid import DiffusersGridProvider
from infra.settings import Settings
from schema.errors import ProviderUnavailableError
from tests.support.ledger_rows import rows, scalar
from tests.support.tiny_models import build_tiny_sd, build_tiny_svd


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory laid out as users do: one sub-folder per pipeline."""
    root = tmp_path_factory.mktemp("models")
    build_tiny_sd(root / "sd-turbo")
    build_tiny_svd(root / "svd")
    return root


def test_auto_uses_diffusers_when_the_model_dir_holds_pipelines(model_dir: Path, tmp_path: Path) -> None:
    chosen = choose_providers(Settings(data_dir=tmp_path, model_dir=model_dir))
    assert isinstance(chosen.images.provider, DiffusersGridProvider)  # behind the generation cache
    assert chosen.video_name == "diffusers_svd" and chosen.video is not None
    assert f"images: diffusers ({model_dir / 'sd-turbo'})" in chosen.notes
    assert f"video: diffusers ({model_dir / 'svd'})" in chosen.notes


def test_auto_falls_back_to_offline_and_says_why(tmp_path: Path) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    chosen = choose_providers(Settings(data_dir=tmp_path, model_dir=empty))
    assert isinstance(chosen.images, StoryboardCardRenderer)
    assert chosen.video_name == "kenburns" and chosen.video is None
    assert chosen.notes == [
        f"images: offline storyboard cards (DIRECTORDECK_MODEL_DIR={empty}: no text-to-image pipeline found)",
        f"video: offline Ken Burns moves (DIRECTORDECK_MODEL_DIR={empty}: no image-to-video pipeline found)",
    ]


def test_asking_for_diffusers_without_models_is_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailableError) as err:
        choose_providers(Settings(data_dir=tmp_path, model_dir=tmp_path, image_provider="diffusers"))
    assert err.value.code == "model_missing"


async def test_project_pipeline_renders_through_the_diffusers_providers(
    make_rig, model_dir: Path, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"gpu_second": 0.01}')
    # small generation sizes keep the tiny random models quick on CPU; outputs are still 1280x720
    async with make_rig(
        model_dir=model_dir, image_resolution=64, video_resolution=64, price_table=prices
    ) as rig:
        ws, handle = await rig.start_pipeline(title="fox on diffusers")
        result = await handle.result()
    assert result.status == "succeeded", result
    db = rig.db_url
    images = rows(
        db, "select work_item_id, payload, result from node where workspace_id=:ws and type='image'", ws=ws
    )
    assert len(images) == 12
    by_shot: dict[object, list[dict]] = {}
    for r in images:
        by_shot.setdefault(r.work_item_id, []).append(r.payload)
    for params in by_shot.values():
        assert {p["renderer"] for p in params} == {"diffusers"}
        # one batched call, one seed per cell: seed = base + cell - 1, recorded so any cell reproduces
        bases = {p["seed"] - p["cell"] + 1 for p in params}
        assert len(bases) == 1 and sorted(p["cell"] for p in params) == [1, 2, 3, 4]
    videos = rows(db, "select payload, result from node where workspace_id=:ws and type='video'", ws=ws)
    assert len(videos) == 3
    for v in videos:
        assert v.payload["provider"] == v.payload["generation"]["renderer"] == "diffusers_svd"
    info = probe(rig.acts.storage.local_path(result.compose.asset_key))
    assert info.has_video and info.has_audio and info.duration_s > 1
    assert scalar(db, "select count(*) from task where workspace_id=:ws and status<>'succeeded'", ws=ws) == 0
    # on a CPU the providers' wall time is recorded as cpu_seconds in the task result, never as GPU
    # seconds: no gpu_seconds on the task rows, so nothing is priced as GPU time
    gpu_tasks = rows(
        db,
        "select gpu_seconds, cost, result from task where workspace_id=:ws and type in ('grid', 'video')",
        ws=ws,
    )
    assert len(gpu_tasks) == 6
    for t in gpu_tasks:
        assert t.gpu_seconds is None and t.cost is None
        assert t.result["compute"]["cpu_seconds"] > 0 and t.result["compute"]["gpu_seconds"] == 0
