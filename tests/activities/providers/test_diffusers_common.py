"""The scaffolding both diffusers providers share: coded load errors, OOM detection, step callback."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from activities.providers import diffusers_common  # noqa: E402
from activities.providers.diffusers_grid import DiffusersGridProvider  # noqa: E402
from activities.providers.diffusers_video import DiffusersVideoProvider  # noqa: E402
from schema.errors import CancelledByUser, ProviderUnavailableError  # noqa: E402

PROVIDERS = [(DiffusersGridProvider, "pipes"), (DiffusersVideoProvider, "pipe")]


@pytest.mark.parametrize(("cls", "getter"), PROVIDERS, ids=["grid", "video"])
def test_both_providers_code_missing_and_invalid_model_dirs(cls: type, getter: str, tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailableError) as missing:
        getattr(cls(tmp_path / "nothing", device="cpu"), getter)()
    assert missing.value.code == "model_missing" and "model_index.json missing" in str(missing.value)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{not json")
    with pytest.raises(ProviderUnavailableError) as invalid:
        getattr(cls(broken, device="cpu"), getter)()
    assert invalid.value.code == "model_invalid" and invalid.value.retryable is False


def test_only_out_of_memory_is_caught_and_it_empties_the_cache() -> None:
    provider = DiffusersGridProvider("unused", device="cpu")

    def oom() -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB\nmore detail")

    assert provider._unless_oom(lambda: 7) == (7, None)
    assert provider._unless_oom(oom) == (None, "CUDA out of memory. Tried to allocate 2 GiB")
    assert provider.hygiene.emptied == 1
    for error in (RuntimeError("shape mismatch"), CancelledByUser("stop")):

        def fail(error: Exception = error) -> None:
            raise error

        with pytest.raises(type(error)):
            provider._unless_oom(fail)
    assert provider.hygiene.emptied == 1  # only the OOM counted


def test_step_callback_reports_then_aborts_on_cancel() -> None:
    seen: list[float] = []
    stop = [False]
    callback = diffusers_common.step_callback(
        "Thing", lambda step: (step + 1) / 4, seen.append, lambda: stop[0]
    )
    assert callback(None, 0, None, {"latents": 1}) == {"latents": 1}
    assert seen == [0.25]
    stop[0] = True
    with pytest.raises(CancelledByUser, match="Thing cancelled at denoising step 2"):
        callback(None, 1, None, {})
    assert seen == [0.25]  # nothing reported for the cancelled step
