"""Offline storyboarder: deterministic, valid, in order, varied, bilingual, coded errors."""

from __future__ import annotations

import itertools
import re

import pytest
from pydantic import ValidationError

from activities.providers.storyboard import OfflineStoryboarder, get_storyboard_provider, parse_story
from schema.errors import BadInputError, ProviderUnavailableError
from schema.storyboard import (
    MAX_SHOTS,
    MAX_STORY_CHARS,
    MIN_SHOTS,
    Camera,
    SceneSpec,
    ShotSpec,
    Storyboard,
    validate_story_request,
)

FOX = "make a 12-shot storyboard about a fox who steals the moon, ink-wash style"


def test_same_input_same_storyboard() -> None:
    a = OfflineStoryboarder().generate(FOX, 12)
    b = OfflineStoryboarder().generate(FOX, 12)
    assert a.model_dump() == b.model_dump()
    c = OfflineStoryboarder().generate("a robot learns to paint", 12)
    assert c.model_dump() != a.model_dump()


@pytest.mark.parametrize(("count", "scenes"), [(3, 1), (12, 3), (60, 5)])
def test_shot_counts_and_structure(count: int, scenes: int) -> None:
    board = OfflineStoryboarder().generate("A fox steals the moon.", count)
    shots = board.shots
    assert len(shots) == count
    assert len(board.scenes) == scenes
    assert shots[0].beat == "establishing" and shots[-1].beat == "resolution"
    assert all(3.0 <= s.duration_s <= 6.0 for s in shots)
    assert all(s.narration for s in shots)
    assert any("steals the moon" in s.narration for s in shots)
    Storyboard.model_validate(board.model_dump())  # round-trips through the schema


def test_understands_the_sentence() -> None:
    parsed = parse_story(FOX)
    assert (parsed.subject, parsed.action, parsed.style) == ("fox", "steals the moon", "ink-wash")
    board = OfflineStoryboarder().generate(FOX, 12)
    assert board.language == "en" and board.style == "ink-wash"
    assert "Fox" in board.title and "Moon" in board.title
    assert all("fox" in s.characters for s in board.shots[1:])
    assert all("ink-wash style" in s.visual for s in board.shots)
    # narration tells the story in order: the inciting beat comes before the climax line
    lines = [s.narration for s in board.shots]
    climax = next(i for i, line in enumerate(lines) if "steals the moon" in line and "At last" in line)
    inciting = next(i for i, s in enumerate(board.shots) if s.beat == "inciting")
    assert inciting < climax


def test_multi_sentence_story_keeps_its_order() -> None:
    story = "Mia finds a dragon egg. She hides it from her parents. The egg hatches at midnight."
    board = OfflineStoryboarder().generate(story, 6)
    lines = [s.narration for s in board.shots]
    positions = [lines.index(sentence) for sentence in re.split(r"(?<=\.)\s+", story)]
    assert positions == sorted(positions)


def test_camera_variety() -> None:
    for count in (3, 12, 60):
        shots = OfflineStoryboarder().generate(FOX, count).shots
        for prev, cur in itertools.pairwise(shots):
            assert (prev.camera.size, prev.camera.angle) != (cur.camera.size, cur.camera.angle)
    shots = OfflineStoryboarder().generate(FOX, 12).shots
    assert len({s.camera.size for s in shots}) >= 4
    assert len({s.camera.angle for s in shots}) >= 3
    assert len({s.camera.movement for s in shots}) >= 4


def test_chinese_story_gives_chinese_storyboard() -> None:
    board = OfflineStoryboarder().generate("一只狐狸偷走了月亮，水墨风格", 8)
    assert board.language == "zh"
    assert board.style == "水墨"
    assert all(re.search(r"[\u4e00-\u9fff]", s.narration) for s in board.shots)
    assert not any(re.search(r"[A-Za-z]{3,}", s.narration) for s in board.shots)
    assert any("狐狸偷走了月亮" in s.narration for s in board.shots)


@pytest.mark.parametrize(
    ("story", "count", "code"),
    [
        ("", 12, "story_empty"),
        ("   \n ", 12, "story_empty"),
        ("x" * (MAX_STORY_CHARS + 1), 12, "story_too_long"),
        ("a fox", MIN_SHOTS - 1, "shot_count_out_of_range"),
        ("a fox", MAX_SHOTS + 1, "shot_count_out_of_range"),
    ],
)
def test_bad_requests_have_codes(story: str, count: int, code: str) -> None:
    with pytest.raises(BadInputError) as err:
        OfflineStoryboarder().generate(story, count)
    assert err.value.code == code
    with pytest.raises(BadInputError):
        validate_story_request(story, count)


def test_validate_story_request_strips() -> None:
    assert validate_story_request("  a fox \n", 3) == "a fox"


def test_schema_rejects_too_few_shots_and_bad_durations() -> None:
    shot = ShotSpec(visual="v", camera=Camera(), duration_s=3, narration="n", characters=[], beat="x")
    with pytest.raises(ValidationError):
        Storyboard(title="t", logline="", language="en", scenes=[SceneSpec(title="s", shots=[shot, shot])])
    with pytest.raises(ValidationError):
        ShotSpec(visual="v", duration_s=9)
    with pytest.raises(ValidationError):
        Camera(size="huge")  # type: ignore[arg-type]
    board = Storyboard(title="t", language="en", scenes=[SceneSpec(title="s", shots=[shot] * 3)])
    assert len(board.shots) == 3


def test_provider_lookup() -> None:
    assert get_storyboard_provider("offline", None).name == "offline"
    assert get_storyboard_provider("auto", None).name == "offline"
    with pytest.raises(ProviderUnavailableError) as err:
        get_storyboard_provider("gemini", None)
    assert "GOOGLE_API_KEY" in err.value.message
    with pytest.raises(BadInputError) as bad:
        get_storyboard_provider("dall-e", None)
    assert bad.value.code == "unknown_provider"
