"""Generation cache: keys, weights fingerprints, stores, and hit/miss through a grid provider."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from activities.providers.cards import GridRequest, StoryboardCardRenderer
from activities.providers.generation_cache import (
    WEIGHTS_MANIFEST,
    CachedGridProvider,
    DiskStore,
    GenerationCache,
    MemoryStore,
    generation_key,
    grid_cache_key,
    model_identity,
    weights_fingerprint,
)
from schema.storyboard import Camera


def _model_dir(root: Path) -> Path:
    (root / "unet").mkdir(parents=True)
    (root / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline", "_name_or_path": "sd-turbo"}'
    )
    (root / "unet" / "config.json").write_text('{"sample_size": 64}')
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(os.urandom(3 * 1024**2 + 17))
    return root


def test_weights_fingerprint_is_stable_across_copies_and_tracks_content(tmp_path: Path) -> None:
    src = _model_dir(tmp_path / "a")
    copy = tmp_path / "b"
    shutil.copytree(src, copy)  # different mtimes, same bytes → same key on every worker
    os.utime(copy / "unet" / "diffusion_pytorch_model.safetensors", (1, 1))
    assert weights_fingerprint(src) == weights_fingerprint(copy)
    assert model_identity(copy) == ("sd-turbo", weights_fingerprint(src))

    changed = tmp_path / "c"
    shutil.copytree(src, changed)
    weights = changed / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF  # a change in the last MiB of the weights
    weights.write_bytes(bytes(data))
    assert weights_fingerprint(changed) != weights_fingerprint(src)

    manifest = tmp_path / "d"
    shutil.copytree(src, manifest)
    (manifest / WEIGHTS_MANIFEST).write_text("abc123  unet/diffusion_pytorch_model.safetensors\n")
    assert weights_fingerprint(manifest).startswith("manifest:")


def test_generation_key_covers_every_input() -> None:
    base: dict[str, Any] = dict(
        provider="diffusers",
        model_id="sd-turbo",
        weights_hash="w1",
        seed=7,
        prompt="a fox",
        params={"steps": 4, "guidance_scale": 0.0},
        reference_hashes=["r1"],
    )
    key = generation_key(**base)
    assert len(key) == 64 and key == generation_key(**{**base, "params": {"guidance_scale": 0, "steps": 4.0}})
    for field, value in [
        ("provider", "gemini"),
        ("model_id", "sdxl-turbo"),
        ("weights_hash", "w2"),
        ("seed", 8),
        ("prompt", "a wolf"),
        ("params", {"steps": 1, "guidance_scale": 0.0}),
        ("reference_hashes", ["r2"]),
    ]:
        assert generation_key(**{**base, field: value}) != key, field


@pytest.mark.parametrize("store_kind", ["memory", "disk"])
def test_lookup_miss_then_store_then_hit(store_kind: str, tmp_path: Path) -> None:
    store = MemoryStore() if store_kind == "memory" else DiskStore(tmp_path / "cache")
    cache = GenerationCache(store)
    key = generation_key(provider="p", model_id="m", weights_hash="w", seed=1, prompt="x")
    miss = cache.lookup(key)
    assert not miss.hit and miss.marker == {"cache": "miss", "key": key}
    cache.store(key, {"asset_ids": ["a1", "a2"]})
    hit = cache.lookup(key)
    assert hit.hit and hit.value == {"asset_ids": ["a1", "a2"]}
    assert hit.marker == {"cache": "hit", "key": key}
    assert (cache.hits, cache.misses) == (1, 1)
    if store_kind == "disk":  # a torn entry is a miss, not an error; keys must be hex digests
        (tmp_path / "cache" / key[:2] / f"{key}.json").write_text("{not json")
        assert not GenerationCache(DiskStore(tmp_path / "cache")).lookup(key).hit
        with pytest.raises(ValueError):
            store.get("../../etc/passwd")


class CountingCards(StoryboardCardRenderer):
    """The offline renderer plus the `cache_identity()` the cache needs; counts real renders."""

    def __init__(self) -> None:
        self.renders = 0

    def cache_identity(self) -> dict[str, Any]:
        return {"provider": self.name, "model_id": "cards-v1", "weights_hash": "none", "params": {}}

    def render_grid(self, req: GridRequest, on_progress: Any = None, cancelled: Any = None) -> list[Any]:
        self.renders += 1
        return super().render_grid(req, on_progress, cancelled)


def _req(**kw: Any) -> GridRequest:
    fields: dict[str, Any] = {
        "shot_number": 1,
        "visual": "a fox",
        "size": 4,
        "width": 160,
        "height": 90,
        "seed": 3,
    }
    return GridRequest(camera=Camera(), **{**fields, **kw})


@pytest.mark.parametrize("store_kind", ["memory", "disk"])
def test_cached_grid_provider_reuses_results_and_says_so(store_kind: str, tmp_path: Path) -> None:
    inner = CountingCards()
    store = MemoryStore() if store_kind == "memory" else DiskStore(tmp_path / "cache")
    cached = CachedGridProvider(inner, GenerationCache(store))

    first = cached.render_grid(_req())
    assert inner.renders == 1 and {img.params["cache"] for img in first} == {"miss"}
    progress: list[float] = []
    second = cached.render_grid(_req(), progress.append)
    assert inner.renders == 1 and progress == [1.0]  # no second render
    assert [img.png for img in second] == [img.png for img in first]
    assert {img.params["cache"] for img in second} == {"hit"}
    assert second[0].params["key"] == first[0].params["key"] == cached.cache_key(_req())
    assert second[0].params["gpu_seconds"] == 0.0

    # a new worker process sharing the disk store hits too
    if store_kind == "disk":
        other = CountingCards()
        assert CachedGridProvider(other, GenerationCache(DiskStore(tmp_path / "cache"))).render_grid(_req())
        assert other.renders == 0

    # any change in the request is a miss: seed, prompt, parent image
    cached.render_grid(_req(seed=4))
    cached.render_grid(_req(parent_png=first[0].png))
    assert inner.renders == 3


def test_grid_key_depends_on_reference_hashes_not_their_identity() -> None:
    ident = {"provider": "diffusers", "model_id": "m", "weights_hash": "w", "params": {"steps": 4}}
    a = grid_cache_key(ident, _req(reference_pngs=[b"one", b"two"]))
    assert a == grid_cache_key(ident, _req(reference_pngs=[b"one", b"two"]))
    assert a != grid_cache_key(ident, _req(reference_pngs=[b"two", b"one"]))
    assert a != grid_cache_key({**ident, "params": {"steps": 1}}, _req(reference_pngs=[b"one", b"two"]))


def test_disk_store_is_bounded_and_evicts_least_recently_used(tmp_path: Path) -> None:
    entry = {"blob": "x" * 1000}
    size = len(json.dumps(entry, sort_keys=True))
    store = DiskStore(tmp_path / "cache", max_bytes=3 * size)
    keys = [f"{i:02x}" * 32 for i in range(4)]
    for age, key in zip((400, 300, 200), keys[:3], strict=False):  # oldest first: keys[0]
        store.put(key, entry)
        os.utime(store._path(key), (time.time() - age, time.time() - age))
    assert store.get(keys[0]) == entry  # a hit makes keys[0] the most recently used
    store.put(keys[3], entry)  # over the bound: the least recently used entry (keys[1]) goes
    assert store.get(keys[1]) is None and store.evicted == 1
    assert all(store.get(k) == entry for k in (keys[0], keys[2], keys[3]))
    assert store.size_bytes() <= 3 * size


def test_memory_store_is_bounded_and_evicts_least_recently_used() -> None:
    store = MemoryStore(max_bytes=2500)
    for key in ("a", "b"):
        store.put(key, {"blob": "x" * 1000})
    assert store.get("a") is not None  # a is now more recent than b
    store.put("c", {"blob": "y" * 1000})
    assert store.get("b") is None and store.get("a") is not None and store.get("c") is not None
    assert len(store) == 2 and store.size_bytes <= 2500 and store.evicted == 1
