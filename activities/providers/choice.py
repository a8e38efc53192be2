"""Which provider serves each stage, chosen once per worker process from settings.

Rule: `auto` picks the best provider this machine can really run (a key, models on disk) and
otherwise the offline default, and says which one it picked; an unknown name is a coded error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from activities.errors import BadInputError
from infra.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Providers:
    storyboard: Any
    images: Any
    voice: Any
    video_name: str = "kenburns"


def choose_providers(settings: Settings) -> Providers:
    from activities.providers.cards import StoryboardCardRenderer
    from activities.providers.storyboard import get_storyboard_provider
    from activities.providers.voice import PiperVoice

    storyboard = get_storyboard_provider(
        "offline"
        if settings.storyboard_provider == "auto" and not settings.google_api_key
        else settings.storyboard_provider,
        settings,
    )
    if settings.image_provider in ("auto", "storyboard_card"):
        images = StoryboardCardRenderer()
        if settings.image_provider == "auto" and settings.model_dir:
            log.warning(
                "DIRECTORDECK_MODEL_DIR is set but the diffusers provider is not available in this "
                "build; using offline storyboard cards"
            )
    else:
        raise BadInputError(
            f"image provider {settings.image_provider!r} is not available in this build",
            code="unknown_provider",
        )
    if settings.video_provider not in ("auto", "kenburns"):
        raise BadInputError(
            f"video provider {settings.video_provider!r} is not available in this build",
            code="unknown_provider",
        )
    voice = PiperVoice(voice=settings.piper_voice, zh_voice=settings.piper_voice_zh)
    return Providers(storyboard=storyboard, images=images, voice=voice)
