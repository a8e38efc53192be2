"""Which provider serves each stage, chosen once per worker process from settings.

Rule: `auto` picks the best provider this machine can really run (a key, models on disk, the gpu
extra) and otherwise the offline default, and logs which one it picked and why; naming a provider
explicitly that cannot run is a coded error, never a silent fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from activities.pricing import PriceTable, load_price_table
from infra.settings import Settings
from schema.errors import BadInputError, ProviderUnavailableError

log = logging.getLogger(__name__)


def _procedural_music() -> Any:
    from activities.providers.music import ProceduralMusic

    return ProceduralMusic()


@dataclass
class Providers:
    storyboard: Any
    images: Any
    voice: Any
    video_name: str = "kenburns"
    video: Callable[..., Any] | None = None  # shaped like kenburns_clip; None = kenburns_clip
    notes: list[str] = field(default_factory=list)  # what `auto` chose and why, for people
    prices: PriceTable = field(default_factory=PriceTable)  # what task costs are computed from
    music: Any = field(default_factory=_procedural_music)  # background music (offline synthesis)


def _storyboard(settings: Settings, prices: PriceTable, notes: list[str]) -> Any:
    from activities.providers.storyboard import OfflineStoryboarder

    wanted = settings.storyboard_provider
    if wanted == "offline" or (wanted == "auto" and not settings.google_api_key):
        return OfflineStoryboarder()
    if wanted not in ("auto", "gemini"):
        raise BadInputError(f"unknown storyboard provider {wanted!r}", code="unknown_provider")
    from activities.providers.gemini import GeminiStoryboarder

    try:
        return GeminiStoryboarder(settings.google_api_key, prices=prices.token_prices())
    except ProviderUnavailableError as err:
        if wanted == "gemini":
            raise
        notes.append(f"storyboard: offline ({err.message})")
        return OfflineStoryboarder()


def _wants_diffusers(wanted: str, available: bool, setting: str, pipeline: str) -> bool:
    """Diffusers when asked for by name (a coded error if it cannot run here) or when `auto`
    finds it runnable."""
    if wanted != "diffusers":
        return wanted == "auto" and available
    if not available:
        raise ProviderUnavailableError(
            f"{setting}=diffusers needs the gpu extra and {pipeline} in DIRECTORDECK_MODEL_DIR",
            code="model_missing",
        )
    return True


def _offline_note(settings: Settings, extra_ok: bool, stage: str, missing: str) -> str | None:
    """Why `auto` stayed offline although a model directory is configured (None: none is)."""
    if not settings.model_dir:
        return None
    why = "the gpu extra is not installed" if not extra_ok else f"no {missing} pipeline found"
    return f"{stage} (DIRECTORDECK_MODEL_DIR={settings.model_dir}: {why})"


def _images(
    settings: Settings,
    models: dict[str, Any],
    extra_ok: bool,
    device: str | None,
    prices: PriceTable,
    notes: list[str],
) -> Any:
    from activities.providers.cards import StoryboardCardRenderer

    wanted = settings.image_provider
    usable = extra_ok and "image" in models
    if _wants_diffusers(wanted, usable, "image_provider", "a text-to-image pipeline (model_index.json)"):
        from activities.providers.diffusers_grid import DiffusersGridProvider
        from activities.providers.generation_cache import CachedGridProvider, DiskStore, GenerationCache

        notes.append(f"images: diffusers ({models['image']})")
        return CachedGridProvider(
            DiffusersGridProvider(
                models["image"], device=device or "auto", resolution=settings.image_resolution
            ),
            GenerationCache(
                DiskStore(
                    settings.data_path / "generation-cache",
                    max_bytes=settings.generation_cache_max_mb * 1024**2,
                )
            ),
        )
    if wanted == "gemini":
        from activities.providers.gemini import GeminiGridProvider

        return GeminiGridProvider(settings.google_api_key, prices_per_image=prices.image_prices())
    if wanted not in ("auto", "storyboard_card"):
        raise BadInputError(f"unknown image provider {wanted!r}", code="unknown_provider")
    note = _offline_note(settings, extra_ok, "images: offline storyboard cards", "text-to-image")
    if note:
        notes.append(note)
    return StoryboardCardRenderer()


def choose_providers(settings: Settings, device: str | None = None) -> Providers:
    from activities.providers.gpu_pool import discover_models, gpu_extra_available
    from activities.providers.voice import PiperVoice

    notes: list[str] = []
    models = discover_models(settings.model_dir) if settings.model_dir else {}
    extra_ok = bool(settings.model_dir) and gpu_extra_available()
    prices = load_price_table(settings.price_table)
    storyboard = _storyboard(settings, prices, notes)
    images = _images(settings, models, extra_ok, device, prices, notes)
    video, video_name = None, "kenburns"
    wanted_video = settings.video_provider
    video_ok = extra_ok and "video" in models
    if _wants_diffusers(wanted_video, video_ok, "video_provider", "a Stable Video Diffusion pipeline"):
        from activities.providers.diffusers_video import DiffusersVideoProvider

        svd = DiffusersVideoProvider(
            models["video"], device=device or "auto", resolution=settings.video_resolution
        )
        video, video_name = svd.clip, svd.name
        notes.append(f"video: diffusers ({models['video']})")
    elif wanted_video not in ("auto", "kenburns"):
        raise BadInputError(f"unknown video provider {wanted_video!r}", code="unknown_provider")
    elif note := _offline_note(settings, extra_ok, "video: offline Ken Burns moves", "image-to-video"):
        notes.append(note)
    voice = PiperVoice(voice=settings.piper_voice, zh_voice=settings.piper_voice_zh)
    for note in notes:
        log.info("provider choice: %s", note)
    return Providers(
        storyboard=storyboard,
        images=images,
        voice=voice,
        video_name=video_name,
        video=video,
        notes=notes,
        prices=prices,
    )
