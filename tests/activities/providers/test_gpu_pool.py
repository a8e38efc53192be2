"""GPU pool discipline: resident models, admission, cache hygiene, device-seconds, draining."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from activities.providers import gpu_pool  # noqa: E402
from schema.errors import ProviderUnavailableError, TransientProviderError  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_pool() -> Iterator[None]:
    gpu_pool.evict_all()
    yield
    gpu_pool.evict_all()


def test_one_slot_per_kind_so_alternating_grids_and_clips_never_reloads() -> None:
    loads: list[str] = []
    grid = gpu_pool.ModelKey.of("sd-grid", "/models/a", "cpu", torch.float32)
    clip = gpu_pool.ModelKey.of("svd", "/models/b", "cpu", torch.float32)
    first = gpu_pool.resident(grid, lambda: loads.append("grid") or object())
    for _ in range(3):  # grid, clip, grid, clip...: each model loaded once
        gpu_pool.resident(clip, lambda: loads.append("clip") or object())
        assert gpu_pool.resident(grid, lambda: loads.append("grid again") or object()) is first
    assert loads == ["grid", "clip"] and set(gpu_pool.resident_keys()) == {grid, clip}
    assert gpu_pool.load_count(grid) == gpu_pool.load_count(clip) == 1
    # another model of the SAME kind takes that kind's slot
    other = gpu_pool.ModelKey.of("sd-grid", "/models/c", "cpu", torch.float32)
    gpu_pool.resident(other, lambda: loads.append("other grid") or object())
    assert set(gpu_pool.resident_keys()) == {clip, other}
    assert grid.dtype == "fp32" and grid.model_dir.endswith("/models/a")


def test_eviction_waits_until_no_job_uses_the_model() -> None:
    old = gpu_pool.ModelKey.of("sd-grid", "/models/old", "cpu", torch.float32)
    new = gpu_pool.ModelKey.of("sd-grid", "/models/new", "cpu", torch.float32)
    in_job, release, evicted_while_used = threading.Event(), threading.Event(), []

    def job() -> None:
        with gpu_pool.lease(old, object):
            in_job.set()
            release.wait(5)
            evicted_while_used.append(old not in gpu_pool.resident_keys())

    worker = threading.Thread(target=job)
    worker.start()
    in_job.wait(5)
    loader = threading.Thread(target=gpu_pool.resident, args=(new, object))
    loader.start()
    loader.join(0.3)
    assert loader.is_alive() and gpu_pool.resident_keys() == [old]  # waiting for the job to end
    release.set()
    worker.join(5)
    loader.join(5)
    assert evicted_while_used == [False] and gpu_pool.resident_keys() == [new]


def test_evict_idle_frees_other_kinds_that_no_job_holds() -> None:
    grid = gpu_pool.ModelKey.of("sd-grid", "/models/a", "cpu", torch.float32)
    clip = gpu_pool.ModelKey.of("svd", "/models/b", "cpu", torch.float32)
    gpu_pool.resident(grid, object)
    with gpu_pool.lease(clip, object):
        assert gpu_pool.evict_idle("svd") == [grid]
        assert gpu_pool.evict_idle("sd-grid") == []  # the clip is in use: kept
    assert gpu_pool.resident_keys() == [clip]
    assert gpu_pool.evict_all(timeout_s=1) is True and gpu_pool.resident_keys() == []


def test_admission_refuses_what_cannot_fit_and_ignores_cpu() -> None:
    assert gpu_pool.admit("cpu", 10**15, what="anything") is None  # CPU: no VRAM to check
    free = gpu_pool.ADMISSION_HEADROOM_BYTES + 1024**3
    assert gpu_pool.admit("cuda:0", 1024**3, what="job", free_fn=lambda _d: free) == free
    with pytest.raises(TransientProviderError) as err:
        gpu_pool.admit("cuda:0", 2 * 1024**3, what="a 9-grid", free_fn=lambda _d: free)
    assert err.value.code == "gpu_busy" and err.value.retryable and "a 9-grid" in err.value.message


def test_cache_hygiene_empties_after_oom_or_every_n_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(gpu_pool, "empty_cache", lambda device=None: calls.append(device))
    hygiene = gpu_pool.CacheHygiene(every_n_jobs=3)
    assert [hygiene.job_done("cuda:0") for _ in range(6)] == [False, False, True, False, False, True]
    assert hygiene.job_done("cuda:0", oom=True) is True
    assert len(calls) == 3 and hygiene.emptied == 3


def test_measure_on_cpu_is_wall_time_never_gpu_seconds() -> None:
    with gpu_pool.measure("cpu", track_peak=True) as timer:
        time.sleep(0.02)
    assert timer.method == "cpu_wall" and timer.seconds == 0.0 and timer.peak_bytes is None
    assert 0.015 < timer.wall_seconds < 1.0 and gpu_pool.job_stream("cpu") is None


def test_oom_detection_and_devices() -> None:
    assert gpu_pool.is_oom(torch.OutOfMemoryError("CUDA out of memory"))
    assert gpu_pool.is_oom(RuntimeError("MPS backend out of memory"))
    assert not gpu_pool.is_oom(ValueError("bad"))
    assert str(gpu_pool.resolve_device("cpu")) == "cpu"
    assert gpu_pool.resolve_dtype(gpu_pool.resolve_device("cpu"), "fp16") == torch.float32
    assert gpu_pool.device_name("cpu").startswith("cpu (")
    if not torch.cuda.is_available():
        with pytest.raises(ProviderUnavailableError) as err:
            gpu_pool.resolve_device("cuda:0")
        assert err.value.code == "gpu_unavailable"
        assert str(gpu_pool.resolve_device("auto")) == "cpu"


def test_exclusive_serialises_calls_and_stays_cancellable() -> None:
    from schema.errors import CancelledByUser

    lock = threading.Lock()
    with gpu_pool.exclusive(lock):
        assert lock.locked()
        with pytest.raises(CancelledByUser), gpu_pool.exclusive(lock, cancelled=lambda: True):
            pass  # a queued job whose activity is cancelled stops waiting
    assert not lock.locked()


def test_discover_models_by_pipeline_class(tmp_path: Path) -> None:
    assert gpu_pool.discover_models(None) == {} and gpu_pool.discover_models(tmp_path / "none") == {}
    for name, cls in (("sd-turbo", "StableDiffusionPipeline"), ("svd-xt", "StableVideoDiffusionPipeline")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model_index.json").write_text(json.dumps({"_class_name": cls}))
    (tmp_path / "notes").mkdir()
    assert gpu_pool.discover_models(tmp_path) == {
        "image": tmp_path / "sd-turbo",
        "video": tmp_path / "svd-xt",
    }
    assert gpu_pool.discover_models(tmp_path / "sd-turbo") == {"image": tmp_path / "sd-turbo"}
    assert gpu_pool.gpu_extra_available() is True
