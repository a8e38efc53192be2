"""Inputs and outputs of the `export` workflow and its activity (one dataclass each).

Same rules as workflows/contracts.py (kept apart only so the two can change independently): ids,
short strings and small numbers cross the workflow boundary, never file bytes; fields are only
ever added, with defaults, so recorded histories keep replaying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.contracts import Queues, TaskRef

EXPORT_SELECTIONS = ("favorites", "selected")
# what a package holds (activities/timeline.py writes all but `media`): `media` the selection's
# files (today's zip); `otio`, `fcpxml`, `fcp7xml` (Premiere/FCP 7 XML), `edl` editor timelines of
# the cut with its media; `srt`, `vtt` subtitles; `capcut` a CapCut/Jianying draft folder
EXPORT_FORMATS = ("media", "otio", "fcpxml", "fcp7xml", "edl", "srt", "vtt", "capcut")
DEFAULT_FORMATS = ("media",)


def _default_formats() -> list[str]:
    return list(DEFAULT_FORMATS)


@dataclass
class ExportWorkflowInput:
    """Package a workspace: `selection` is `favorites` (every favorite) or `selected` (each
    shot's selected version, in shot order, plus the latest compose output); `naming` is an
    optional file-name pattern (see activities/export.py: PLACEHOLDERS)."""

    workspace_id: str
    selection: str = "selected"
    naming: str | None = None
    queues: Queues = field(default_factory=Queues)
    formats: list[str] = field(default_factory=_default_formats)


@dataclass
class ExportInput:
    task: TaskRef
    selection: str
    naming: str | None = None
    # ISO-8601 time fixed by the workflow: written into manifest.json and as every entry's
    # timestamp, so a retried attempt builds the same bytes (same content-addressed asset)
    generated_at: str = ""
    formats: list[str] = field(default_factory=_default_formats)


@dataclass
class ExportResult:
    asset_id: str
    storage_key: str
    content_hash: str
    size_bytes: int  # the zip
    files: int  # media files in the zip (manifest.json not counted)
    missing: int = 0  # manifest entries whose file could not be included
    selection: str = "selected"
    formats: list[str] = field(default_factory=_default_formats)
    generated: list[str] = field(default_factory=list)  # timeline/subtitle/draft files written
