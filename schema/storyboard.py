"""Storyboard schema: the validated shape every storyboard provider (LLM or offline) must produce.

Rule: a storyboard is only ever stored after it validates against these models — 3..60 shots in
total, every shot 2..8 s long, camera values from the closed vocabularies below. Story requests are
checked by `validate_story_request` before any provider runs, with stable error codes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schema.errors import BadInputError

MIN_SHOTS = 3
MAX_SHOTS = 60
MAX_STORY_CHARS = 4000
MIN_SHOT_SECONDS = 2.0
MAX_SHOT_SECONDS = 8.0

ShotSize = Literal["extreme_wide", "wide", "full", "medium", "medium_close", "close_up", "extreme_close_up"]
CameraAngle = Literal["eye_level", "low", "high", "birds_eye", "dutch", "over_shoulder"]
CameraMovement = Literal[
    "static", "pan_left", "pan_right", "tilt_up", "tilt_down", "push_in", "pull_out", "tracking"
]
Language = Literal["en", "zh"]

SHOT_SIZES: tuple[str, ...] = (
    "extreme_wide",
    "wide",
    "full",
    "medium",
    "medium_close",
    "close_up",
    "extreme_close_up",
)
CAMERA_ANGLES: tuple[str, ...] = ("eye_level", "low", "high", "birds_eye", "dutch", "over_shoulder")
CAMERA_MOVEMENTS: tuple[str, ...] = (
    "static",
    "pan_left",
    "pan_right",
    "tilt_up",
    "tilt_down",
    "push_in",
    "pull_out",
    "tracking",
)


class Camera(BaseModel):
    """How the shot is framed: size, angle and movement (closed vocabularies)."""

    model_config = ConfigDict(frozen=True)

    size: ShotSize = "medium"
    angle: CameraAngle = "eye_level"
    movement: CameraMovement = "static"

    def describe(self) -> str:
        """Human-readable one-liner, e.g. 'medium close-up, low angle, push in'."""
        size = self.size.replace("_", " ").replace("close up", "close-up")
        angle = {"birds_eye": "bird's-eye", "over_shoulder": "over-the-shoulder"}.get(
            self.angle, self.angle.replace("_", " ")
        )
        return f"{size}, {angle} angle, {self.movement.replace('_', ' ')}"


class ShotSpec(BaseModel):
    """One shot: what is seen, how it is framed, how long it lasts and what is said over it."""

    visual: str = Field(min_length=1, max_length=1000)
    camera: Camera = Field(default_factory=Camera)
    duration_s: float = Field(ge=MIN_SHOT_SECONDS, le=MAX_SHOT_SECONDS)
    narration: str = Field(default="", max_length=600)
    characters: list[str] = Field(default_factory=list)
    mood: str | None = None
    beat: str = "scene"

    @field_validator("visual", "narration")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class SceneSpec(BaseModel):
    """An ordered group of shots sharing place, time and goal."""

    title: str = Field(min_length=1, max_length=200)
    goal: str = ""
    place: str = ""
    time_of_day: str = ""
    mood: str = ""
    shots: list[ShotSpec] = Field(min_length=1)


class Storyboard(BaseModel):
    """The narrative truth of a project: title, scenes and their ordered shots."""

    title: str = Field(min_length=1, max_length=200)
    logline: str = ""
    style: str | None = None
    language: Language = "en"
    scenes: list[SceneSpec] = Field(min_length=1)

    @property
    def shots(self) -> list[ShotSpec]:
        """All shots in story order (scene by scene)."""
        return [shot for scene in self.scenes for shot in scene.shots]

    @property
    def duration_s(self) -> float:
        return sum(shot.duration_s for shot in self.shots)

    @model_validator(mode="after")
    def _shot_count_in_range(self) -> Storyboard:
        total = sum(len(scene.shots) for scene in self.scenes)
        if not MIN_SHOTS <= total <= MAX_SHOTS:
            raise ValueError(f"a storyboard needs {MIN_SHOTS}..{MAX_SHOTS} shots in total, got {total}")
        return self


def validate_story_request(story: str, shot_count: int) -> str:
    """Check a storyboard request; return the stripped story or raise a coded `BadInputError`."""
    text = (story or "").strip()
    if not text:
        raise BadInputError("The story is empty; write at least one sentence.", code="story_empty")
    if len(text) > MAX_STORY_CHARS:
        raise BadInputError(
            f"The story is {len(text)} characters long; the limit is {MAX_STORY_CHARS}.",
            code="story_too_long",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # undecodable bytes (argv) or a lone surrogate (JSON "\udc80")
        raise BadInputError(
            f"The story is not valid UTF-8 text (at character {exc.start + 1}); save it as UTF-8.",
            code="story_not_utf8",
        ) from None
    if isinstance(shot_count, bool) or not isinstance(shot_count, int):
        raise BadInputError(
            f"shot_count must be a whole number, got {shot_count!r}.", code="shot_count_out_of_range"
        )
    if not MIN_SHOTS <= shot_count <= MAX_SHOTS:
        raise BadInputError(
            f"shot_count must be between {MIN_SHOTS} and {MAX_SHOTS}, got {shot_count}.",
            code="shot_count_out_of_range",
        )
    return text
