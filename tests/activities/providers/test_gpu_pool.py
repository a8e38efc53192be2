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
    gpu_pool.set_max_resident(1)


def test_one_resident_model_per_process_loaded_once() -> None:
    loads: list[str] = []
    a = gpu_pool.ModelKey.of("sd-grid", "/models/a", "cpu", torch.float32)
    b = gpu_pool.ModelKey.of("svd", "/models/b", "cpu", torch.float32)
    first = gpu_pool.resident(a, lambda: loads.append("a") or object())
    assert gpu_pool.resident(a, lambda: loads.append("a again") or object()) is first
    gpu_pool.resident(b, lambda: loads.append("b") or object())
    assert loads == ["a", "b"] and gpu_pool.resident_keys() == [b]  # loading b evicted a
    gpu_pool.set_max_resident(2)
    gpu_pool.resident(a, lambda: loads.append("a") or object())
    assert set(gpu_pool.resident_keys()) == {a, b}
    assert a.dtype == "fp32" and a.model_dir.endswith("/models/a")


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


def test_measure_reports_wall_seconds_on_cpu() -> None:
    with gpu_pool.measure("cpu") as timer:
        time.sleep(0.02)
    assert timer.method == "wall" and 0.015 < timer.seconds < 1.0 and timer.peak_bytes is None


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


def test_pool_gate_drains_running_jobs_and_hands_new_ones_back() -> None:
    gate = gpu_pool.PoolGate()
    started, release = threading.Event(), threading.Event()

    def job() -> None:
        with gate.job("grid"):
            started.set()
            release.wait(5)

    worker = threading.Thread(target=job)
    worker.start()
    started.wait(5)
    assert gate.drain(timeout_s=0.05) is False  # still running
    with pytest.raises(TransientProviderError) as err, gate.job("next grid"):
        pass
    assert err.value.code == "worker_draining"
    release.set()
    worker.join(5)
    assert gate.drain(timeout_s=5) is True and gate.running == 0


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
