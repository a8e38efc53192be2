"""activities/timeline.py on real media files (made by FFmpeg here): every format written, then
read back with OpenTimelineIO's own adapters, `srt`, `webvtt` and the draft's JSON."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import opentimelineio as otio
import pytest
import srt
import webvtt

from activities.media.ffmpeg import ffmpeg_exe
from activities.timeline import (
    OTIO_ADAPTERS,
    Cut,
    CutShot,
    Media,
    build_timeline,
    capcut_material_paths,
    copy_capcut_media,
    relink_capcut_draft,
    render,
    write_capcut_draft,
)

FPS = 24


def _make(path: Path, *args: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", *args, str(path)], check=True)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("package")
    for n, seconds in ((1, 3.0), (2, 2.5), (3, 2.0)):
        _make(
            root / f"shot-0{n}/video.mp4",
            "-f", "lavfi", "-i", f"testsrc=size=160x90:rate={FPS}:duration={seconds}", "-pix_fmt", "yuv420p",
        )  # fmt: skip
    _make(root / "shot-01/voice.wav", "-f", "lavfi", "-i", "sine=duration=1.8")
    _make(root / "shot-03/voice.wav", "-f", "lavfi", "-i", "sine=duration=4.0")  # longer than its shot
    _make(root / "music.wav", "-f", "lavfi", "-i", "sine=f=220:duration=20")
    return root


def fox_cut() -> Cut:
    return Cut(
        "Fox & Moon",
        [
            CutShot(1, Media("shot-01/video.mp4", 3.0), 3.0, "A fox looks up. The moon is close.",
                    Media("shot-01/voice.wav", 1.8)),
            CutShot(2, Media("shot-02/video.mp4", 2.5), 2.5, ""),
            CutShot(3, Media("shot-03/video.mp4", 2.0), 2.0, "狐狸偷走了月亮。",
                    Media("shot-03/voice.wav", 4.0)),
        ],
        fps=FPS,
        width=160,
        height=90,
        music=Media("music.wav", 20.0),
    )  # fmt: skip


def test_build_places_shots_back_to_back_with_narration_music_and_captions() -> None:
    tl = build_timeline(fox_cut())
    assert [(p.start_frames, p.duration_frames) for p in tl.video] == [(0, 72), (72, 60), (132, 48)]
    # narration starts with its shot and never outlasts it; music covers the cut
    assert [(p.shot, p.start_frames, p.duration_frames) for p in tl.narration] == [(1, 0, 43), (3, 132, 48)]
    assert [(p.start_frames, p.duration_frames) for p in tl.music] == [(0, 180)]
    assert [c.shot for c in tl.captions] == [1, 3] and tl.captions[1].text == "狐狸偷走了月亮。"
    first = tl.captions[0]
    assert first.start_s == 0.0 and first.end_s == pytest.approx(1.8 + 0.4)  # speech + hold, as burned in


def test_media_paths_must_stay_inside_the_package() -> None:
    for bad in ("/abs/video.mp4", "../video.mp4", "a\\b.mp4"):
        with pytest.raises(ValueError):
            Media(bad, 1.0)


@pytest.mark.parametrize("fmt", sorted(OTIO_ADAPTERS))
def test_timeline_formats_read_back_with_opentimelineio(fmt: str, package: Path) -> None:
    tl = build_timeline(fox_cut())
    text = render(tl, fmt)
    assert render(tl, fmt) == text  # deterministic
    back = otio.adapters.read_from_string(text, OTIO_ADAPTERS[fmt])
    [video] = [t for t in back.tracks if t.kind == otio.schema.TrackKind.Video]
    clips = list(video.find_clips())
    assert [c.name for c in clips] == ["shot-01", "shot-02", "shot-03"]
    assert [round(c.source_range.duration.rescaled_to(FPS).value) for c in clips] == [72, 60, 48]
    assert [round(video.range_of_child(c).start_time.rescaled_to(FPS).value) for c in clips] == [0, 72, 132]
    for c in clips:  # relative references that resolve inside the package
        url = c.media_reference.target_url
        assert not Path(url).is_absolute() and (package / url).is_file()
    if fmt != "edl":  # an EDL is video only
        audio = [t for t in back.tracks if t.kind == otio.schema.TrackKind.Audio]
        urls = sorted(c.media_reference.target_url for t in audio for c in t.find_clips())
        assert urls == ["music.wav", "shot-01/voice.wav", "shot-03/voice.wav"]
    if fmt in ("otio", "fcp7xml"):  # subtitle markers on their shots' clips
        markers = [(c.name, m.name) for c in clips for m in c.markers]
        assert markers == [("shot-01", tl.captions[0].text), ("shot-03", "狐狸偷走了月亮。")]


def test_srt_and_vtt_parse_with_the_same_cues() -> None:
    tl = build_timeline(fox_cut())
    subs = list(srt.parse(render(tl, "srt")))
    vtt = webvtt.from_buffer(io.StringIO(render(tl, "vtt")))
    expected = [(c.start_s, c.end_s, c.text) for c in tl.captions]
    assert [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subs] == expected
    assert [(c.start_in_seconds + c.start_time.milliseconds / 1000, c.text) for c in vtt] == [
        (s, t) for s, _, t in expected
    ]


def test_capcut_draft_references_its_own_copies_of_the_media(package: Path, tmp_path: Path) -> None:
    tl = build_timeline(fox_cut())
    names = write_capcut_draft(tl, tmp_path, "Fox", lambda p: package / p)
    draft = tmp_path / "Fox"
    first = (draft / "draft_content.json").read_bytes()
    assert (draft / "draft_info.json").read_bytes() == first
    content = json.loads(first)
    paths = capcut_material_paths(content)
    assert sorted(paths) == sorted(names) and all(not Path(p).is_absolute() for p in paths)
    assert str(package) not in first.decode()  # nothing of the machine that wrote it
    tracks = {(t["type"], t.get("name")): len(t["segments"]) for t in content["tracks"]}
    assert tracks == {
        ("video", "video"): 3,
        ("audio", "narration"): 2,
        ("audio", "music"): 1,
        ("text", "subtitles"): 2,
    }
    texts = [json.loads(m["content"])["text"] for m in content["materials"]["texts"]]
    assert texts == [c.text for c in tl.captions]
    copy_capcut_media(draft, names, package)
    assert all((draft / p).is_file() for p in paths)
    assert relink_capcut_draft(draft) == 2 * len(paths)  # both JSON files
    relinked = capcut_material_paths(json.loads((draft / "draft_content.json").read_text()))
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in relinked)
    # same cut, same bytes
    again = tmp_path / "again"
    again.mkdir()
    write_capcut_draft(tl, again, "Fox", lambda p: package / p)
    assert (again / "Fox" / "draft_content.json").read_bytes() == first
