"""`directordeck doctor` on this machine's real components: what is there says ok, what is
missing says FAIL or info with the fix, and the exit code follows the FAILs."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.media import fonts
from infra.settings import Settings
from launch import doctor


def _by_name(settings: Settings) -> dict[str, doctor.Check]:
    return {c.name: c for c in (check(settings) for check in doctor.CHECKS)}


def test_the_installed_stack_is_all_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path, pg_port=1, temporal_port=2, temporal_ui_port=3, api_port=4)
    checks = _by_name(settings)
    for name in (
        "python",
        "temporal cli",
        "postgresql",
        "ffmpeg",
        "voice (piper)",
        "chinese text",
        "data dir",
    ):
        assert checks[name].status == "ok", checks[name]
    assert doctor.run_doctor(settings) == 0
    out = capsys.readouterr().out
    assert "chinese text" in out and "FAIL" not in out


def test_a_missing_voice_fails_with_its_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path, piper_voice=tmp_path / "nope.onnx")
    check = _by_name(settings)["voice (piper)"]
    assert check.status == "FAIL" and "DIRECTORDECK_PIPER_VOICE" in check.fix
    assert doctor.run_doctor(settings) == 1
    assert "→ set DIRECTORDECK_PIPER_VOICE" in capsys.readouterr().out


def test_no_cjk_font_is_info_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fonts.CJK_FONT_ENV, raising=False)
    monkeypatch.setattr(fonts, "_CJK_FONT_CANDIDATES", ())
    monkeypatch.setattr(fonts, "packaged_cjk_font", lambda: None)
    check = _by_name(Settings(data_dir=tmp_path))["chinese text"]
    assert check.status == "info" and fonts.CJK_FONT_ENV in check.fix


def test_gpu_check_names_the_pipelines_the_model_dir_holds(tmp_path: Path) -> None:
    pytest.importorskip("diffusers")
    from tests.support.tiny_models import build_tiny_sd

    build_tiny_sd(tmp_path / "models" / "sd-turbo")
    check = _by_name(Settings(data_dir=tmp_path, model_dir=tmp_path / "models"))["gpu providers"]
    assert check.status == "info" and "image: sd-turbo" in check.detail
    assert "video pipeline" in check.fix  # what is still missing, and where to put it
