"""One timeline model of a cut, written for editors: OTIO, FCP X XML, FCP 7 XML, CMX 3600 EDL,
SRT, WebVTT and a CapCut/Jianying draft folder.

Rules:
- pure: no ledger, no Temporal; callers hand in a `Cut` (the shots as compose joins them, with
  media named by their paths inside the export package) and get text, or a draft folder, back;
- one model: `build_timeline` places the shots back to back (record in = sum of the earlier shots'
  durations, frame-quantised at the cut's fps, so every format agrees to the frame), narration at
  its shot's start (never longer than the shot: compose cuts it there too), music from 0 for the
  whole cut (or its own length), and captions by the same rule the burned-in subtitles use
  (`activities.media.compose.caption_cues`), each marked on its shot's clip;
- media are referenced by RELATIVE POSIX paths (relative to the package root, where the timeline
  files sit), so an unzipped package relinks wherever it lands; the EDL carries one reel name per
  shot (SHOT01…) and the clip path in its `FROM CLIP` comment;
- every writer is deterministic (same cut → same bytes): no clock, no random ids (the CapCut
  draft's generated ids are renamed to uuid5s derived from the cut);
- the CapCut draft is written with pyJianYingDraft (draft_content.json, plus the same content as
  draft_info.json for Jianying ≥ 6, and draft_meta_info.json); its media sit in the draft's own
  `materials/` folder and the JSON names them relative to the draft folder
  (`materials/shot-01-video.mp4`); `relink_capcut_draft` turns those into the absolute paths
  Jianying/CapCut read, once the folder is in the editor's draft directory.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from activities.media.compose import caption_cues

TIMELINE_FORMATS = ("otio", "fcpxml", "fcp7xml", "edl")
SUBTITLE_FORMATS = ("srt", "vtt")
DRAFT_FORMATS = ("capcut",)
# file name inside the package, and the OpenTimelineIO adapter that writes it
FILE_NAMES: dict[str, str] = {
    "otio": "timeline.otio",
    "fcpxml": "timeline.fcpxml",
    "fcp7xml": "timeline.xml",
    "edl": "timeline.edl",
    "srt": "subtitles.srt",
    "vtt": "subtitles.vtt",
}
OTIO_ADAPTERS: dict[str, str] = {
    "otio": "otio_json",
    "fcpxml": "fcpx_xml",
    "fcp7xml": "fcp_xml",
    "edl": "cmx_3600",
}
CAPCUT_FOLDER = "capcut"
CAPCUT_MATERIALS = "materials"
_ID = re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b")


@dataclass(frozen=True)
class Media:
    """A file of the package: its path relative to the package root and its own length."""

    path: str
    duration_s: float

    def __post_init__(self) -> None:
        p = PurePosixPath(self.path)
        if p.is_absolute() or ".." in p.parts or "\\" in self.path:
            raise ValueError(f"timeline media paths are relative to the package: {self.path!r}")


@dataclass(frozen=True)
class CutShot:
    """One shot as compose joins it: its clip, how long it lasts, its narration and voice."""

    number: int
    video: Media
    duration_s: float
    narration: str = ""
    voice: Media | None = None


@dataclass
class Cut:
    title: str
    shots: list[CutShot]
    fps: int = 24
    width: int = 640
    height: int = 360
    music: Media | None = None


@dataclass(frozen=True)
class Placed:
    """A piece of media on a track: timeline start/duration and where in the source it starts."""

    name: str
    media: Media
    start_frames: int
    duration_frames: int
    source_in_frames: int = 0
    shot: int | None = None


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str
    shot: int


@dataclass
class Timeline:
    title: str
    fps: int
    width: int
    height: int
    video: list[Placed] = field(default_factory=list)
    narration: list[Placed] = field(default_factory=list)
    music: list[Placed] = field(default_factory=list)
    captions: list[Cue] = field(default_factory=list)

    @property
    def duration_frames(self) -> int:
        return sum(p.duration_frames for p in self.video)

    def seconds(self, frames: int) -> float:
        return frames / self.fps


def _frames(seconds: float, fps: int) -> int:
    return max(0, round(seconds * fps))


def build_timeline(cut: Cut) -> Timeline:
    """The cut as tracks: video (shots back to back), narration, music, and captions."""
    if not cut.shots:
        raise ValueError("a timeline needs at least one shot")
    fps = int(cut.fps)
    tl = Timeline(cut.title, fps, cut.width, cut.height)
    at = 0
    starts: list[float] = []
    ends: list[float] = []
    speech: list[float | None] = []
    for shot in cut.shots:
        frames = max(1, _frames(shot.duration_s, fps))
        name = f"shot-{shot.number:02d}"
        tl.video.append(Placed(name, shot.video, at, frames, 0, shot.number))
        if shot.voice is not None and shot.voice.duration_s > 0:
            spoken = min(frames, max(1, _frames(shot.voice.duration_s, fps)))
            tl.narration.append(Placed(f"{name}-voice", shot.voice, at, spoken, 0, shot.number))
        starts.append(at / fps)
        ends.append((at + frames) / fps)
        speech.append(shot.voice.duration_s if shot.voice is not None else None)
        at += frames
    if cut.music is not None and cut.music.duration_s > 0:
        tl.music.append(Placed("music", cut.music, 0, min(at, max(1, _frames(cut.music.duration_s, fps)))))
    for (start, end, text), shot in zip(
        caption_cues([s.narration for s in cut.shots], starts, ends, speech),
        _caption_shots(cut, starts, ends, speech),
        strict=True,
    ):
        tl.captions.append(Cue(round(start, 3), round(end, 3), text, shot))
    return tl


def _caption_shots(cut: Cut, starts: list[float], ends: list[float], speech: list[float | None]) -> list[int]:
    """The shot number of each caption `caption_cues` makes (it makes them shot by shot, in order)."""
    numbers: list[int] = []
    for i, shot in enumerate(cut.shots):
        n = len(caption_cues([shot.narration], [starts[i]], [ends[i]], [speech[i]]))
        numbers += [shot.number] * n
    return numbers


# --- OpenTimelineIO ------------------------------------------------------------------------------


def to_otio(tl: Timeline) -> Any:
    """The timeline as an `opentimelineio.schema.Timeline`: tracks Video, Narration, Music; each
    caption a marker on its shot's clip (in the clip's source time)."""
    import opentimelineio as otio
    from opentimelineio.opentime import RationalTime, TimeRange

    fps = tl.fps

    def rt(frames: int) -> Any:
        return RationalTime(frames, fps)

    def clip(p: Placed) -> Any:
        available = max(p.source_in_frames + p.duration_frames, _frames(p.media.duration_s, fps))
        ref = otio.schema.ExternalReference(
            target_url=p.media.path, available_range=TimeRange(rt(0), rt(available))
        )
        source = TimeRange(rt(p.source_in_frames), rt(p.duration_frames))
        c = otio.schema.Clip(name=p.name, media_reference=ref, source_range=source)
        if p.shot is not None:
            c.metadata["directordeck"] = {"shot": p.shot}
            c.metadata["cmx_3600"] = {"reel": f"SHOT{p.shot:02d}"[:8]}
        return c

    def track(name: str, kind: str, placed: list[Placed]) -> Any:
        t = otio.schema.Track(name=name, kind=kind)
        at = 0
        for p in placed:
            if p.start_frames > at:
                t.append(otio.schema.Gap(source_range=TimeRange(rt(0), rt(p.start_frames - at))))
            t.append(clip(p))
            at = p.start_frames + p.duration_frames
        return t

    timeline = otio.schema.Timeline(name=tl.title)
    timeline.global_start_time = rt(0)
    timeline.metadata["directordeck"] = {"width": tl.width, "height": tl.height, "fps": fps}
    video = track("Video", otio.schema.TrackKind.Video, tl.video)
    clips = zip(video.find_clips(), tl.video, strict=True)
    by_shot = {c.metadata["directordeck"]["shot"]: (c, p) for c, p in clips}
    for cue in tl.captions:
        c, p = by_shot[cue.shot]
        start = _frames(cue.start_s, fps) - p.start_frames + p.source_in_frames
        length = max(1, _frames(cue.end_s, fps) - _frames(cue.start_s, fps))
        c.markers.append(
            otio.schema.Marker(
                name=cue.text,
                marked_range=TimeRange(rt(start), rt(length)),
                color=otio.schema.MarkerColor.YELLOW,
                metadata={"directordeck": {"kind": "subtitle"}},
            )
        )
    timeline.tracks.append(video)
    if tl.narration:
        timeline.tracks.append(track("Narration", otio.schema.TrackKind.Audio, tl.narration))
    if tl.music:
        timeline.tracks.append(track("Music", otio.schema.TrackKind.Audio, tl.music))
    return timeline


def render(tl: Timeline, fmt: str) -> str:
    """One timeline or subtitle format as text (`otio`, `fcpxml`, `fcp7xml`, `edl`, `srt`, `vtt`)."""
    if fmt == "srt":
        return to_srt(tl)
    if fmt == "vtt":
        return to_vtt(tl)
    if fmt not in OTIO_ADAPTERS:
        raise ValueError(f"not a text format: {fmt!r}")
    import opentimelineio as otio

    timeline = to_otio(tl)
    if fmt == "edl":  # an EDL has one video track; the audio lives in the other formats
        timeline.tracks[:] = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
        return str(otio.adapters.write_to_string(timeline, "cmx_3600", style="avid", rate=tl.fps))
    return str(otio.adapters.write_to_string(timeline, OTIO_ADAPTERS[fmt]))


# --- subtitles ------------------------------------------------------------------------------------


def to_srt(tl: Timeline) -> str:
    import datetime

    import srt

    subs = [
        srt.Subtitle(
            index=i,
            start=datetime.timedelta(seconds=c.start_s),
            end=datetime.timedelta(seconds=c.end_s),
            content=c.text,
        )
        for i, c in enumerate(tl.captions, start=1)
    ]
    return str(srt.compose(subs, reindex=False))


def _vtt_time(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_vtt(tl: Timeline) -> str:
    import webvtt

    doc = webvtt.WebVTT()
    for c in tl.captions:
        doc.captions.append(webvtt.Caption(_vtt_time(c.start_s), _vtt_time(c.end_s), c.text))
    return str(doc.content)


# --- CapCut / Jianying ----------------------------------------------------------------------------


def capcut_media_name(path: str) -> str:
    """Where a package file sits inside the draft: `materials/<path with / as ->`."""
    return f"{CAPCUT_MATERIALS}/{path.replace('/', '-')}"


def write_capcut_draft(
    tl: Timeline, drafts_dir: Path, draft_name: str, local_file: Callable[[str], Path]
) -> dict[str, str]:
    """Write the draft folder `drafts_dir/draft_name` (JSON only; returns {draft-relative media
    name: package path} for the caller to put the media there). `local_file(package path)` is
    where that file can be read now (pyJianYingDraft inspects every material)."""
    import pyJianYingDraft as draft

    us = 1_000_000

    def span(frames: int) -> int:
        return round(frames * us / tl.fps)

    folder = draft.DraftFolder(str(drafts_dir))
    script = folder.create_draft(draft_name, tl.width, tl.height, fps=tl.fps, allow_replace=True)
    script.append_track(draft.TrackSpec(draft.TrackType.video, "video"))
    if tl.narration:
        script.append_track(draft.TrackSpec(draft.TrackType.audio, "narration"))
    if tl.music:
        script.append_track(draft.TrackSpec(draft.TrackType.audio, "music"))
    if tl.captions:
        script.append_track(draft.TrackSpec(draft.TrackType.text, "subtitles"))
    materials: dict[str, tuple[Any, str]] = {}  # package path -> (material, local abs path)

    def material(kind: Any, p: Placed) -> Any:
        if p.media.path not in materials:
            local = str(Path(local_file(p.media.path)).resolve())
            made = kind(local, material_name=PurePosixPath(p.media.path).name)
            materials[p.media.path] = (made, local)
        return materials[p.media.path][0]

    for p in tl.video:
        m = material(draft.VideoMaterial, p)
        length = min(span(p.duration_frames), int(m.duration) or span(p.duration_frames))
        script.add_segment(
            draft.VideoSegment(
                m,
                draft.Timerange(span(p.start_frames), length),
                source_timerange=draft.Timerange(span(p.source_in_frames), length),
            ),
            "video",
        )
    for track_name, placed in (("narration", tl.narration), ("music", tl.music)):
        for p in placed:
            m = material(draft.AudioMaterial, p)
            length = min(span(p.duration_frames), int(m.duration))
            script.add_segment(
                draft.AudioSegment(m, draft.Timerange(span(p.start_frames), length)), track_name
            )
    for cue in tl.captions:
        start = round(cue.start_s * us)
        script.add_segment(
            draft.TextSegment(cue.text, draft.Timerange(start, max(1, round(cue.end_s * us) - start))),
            "subtitles",
        )
    text = script.dumps()
    names: dict[str, str] = {}
    for package_path, (_, local) in materials.items():
        names[capcut_media_name(package_path)] = package_path
        text = text.replace(json.dumps(local, ensure_ascii=False)[1:-1], capcut_media_name(package_path))
    seed = f"{tl.title}|{tl.fps}|{[(p.media.path, p.duration_frames) for p in tl.video]}"
    text = _stable_ids(text, seed)
    draft_dir = drafts_dir / draft_name
    (draft_dir / "draft_content.json").write_text(text, encoding="utf-8")
    (draft_dir / "draft_info.json").write_text(text, encoding="utf-8")  # Jianying >= 6 reads this name
    meta_path = draft_dir / "draft_meta_info.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(
        draft_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "directordeck-draft|" + seed)).upper(),
        draft_name=draft_name,
        tm_duration=span(tl.duration_frames),
    )
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=4), encoding="utf-8")
    return names


def _stable_ids(text: str, seed: str) -> str:
    """Rename every uuid-looking id (pyJianYingDraft draws uuid4s) to a uuid5 of `seed` and its
    order of first appearance, keeping each id's spelling (dashes, case)."""
    mapping: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        old = match.group(0)
        key = old.replace("-", "").lower()
        if key not in mapping:
            mapping[key] = uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}|{len(mapping)}").hex
        new = mapping[key]
        if "-" in old:
            new = str(uuid.UUID(new))
        return new.upper() if old.isupper() else new

    return _ID.sub(swap, text)


def capcut_material_paths(draft_json: dict[str, Any]) -> list[str]:
    """Every media path a draft's materials name (videos and audios)."""
    materials = draft_json.get("materials", {})
    return [m["path"] for kind in ("videos", "audios") for m in materials.get(kind, []) if m.get("path")]


def relink_capcut_draft(draft_dir: Path) -> int:
    """Turn the draft-relative media paths into absolute ones (what Jianying/CapCut read), in
    place, for a draft folder now sitting in the editor's draft directory. Returns how many."""
    draft_dir = draft_dir.resolve()
    changed = 0
    for name in ("draft_content.json", "draft_info.json"):
        path = draft_dir / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for kind in ("videos", "audios"):
            for m in data.get("materials", {}).get(kind, []):
                p = m.get("path") or ""
                if p.startswith(f"{CAPCUT_MATERIALS}/"):
                    m["path"] = str(draft_dir / p)
                    changed += 1
        path.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")
    return changed


def copy_capcut_media(draft_dir: Path, names: dict[str, str], package_root: Path) -> None:
    """Put the draft's media in place from an unpacked package (tests, local exports)."""
    for name, package_path in names.items():
        target = draft_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package_root / package_path, target)
