"""The export package builder (activities/export.py) on real PostgreSQL and real file storage:
favorites and selected selections, naming placeholders, hostile names, manifest, nothing to export.

`seed_project` is shared with the workflow and API export tests."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest
from sqlalchemy.orm import Session

from activities.export import (
    MANIFEST,
    AssetCorrupt,
    NamingInvalid,
    NothingToExport,
    SelectionInvalid,
    check_naming,
    is_inside_archive,
    plan_package,
    require_files,
    write_package,
)
from infra.storage import FileSystemStorage
from schema.enums import WorkspaceType
from schema.errors import CancelledByUser
from schema.repositories import favorites as favorite_repo
from schema.repositories import storyboard as storyboard_repo
from schema.repositories import workspaces as workspace_repo
from tests.support.seeders import seed_project

FIXED = datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC)


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(tmp_path / "storage")


def build(db: Session, storage: FileSystemStorage, tmp_path: Path, ws: str, selection: str, naming=None):  # type: ignore[no-untyped-def]
    plan = plan_package(db, ws, selection, naming, generated_at=FIXED)
    out = tmp_path / f"out-{selection}-{len(list(tmp_path.iterdir()))}.zip"
    stats = write_package(plan, storage, out)
    return plan, stats, zipfile.ZipFile(out), out


def check_manifest_matches(archive: zipfile.ZipFile) -> dict:  # type: ignore[type-arg]
    """Every listed file is in the zip with the listed hash and size, and nothing else is."""
    manifest = json.loads(archive.read(MANIFEST))
    listed = {i["file"]: i for i in manifest["items"] if "file" in i}
    assert set(archive.namelist()) == {*listed, MANIFEST}
    for name, item in listed.items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == item["content_hash"]
        assert len(data) == item["size_bytes"]
        assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED
    assert manifest["files"] == len(listed)
    return manifest


def assert_confined(names: list[str]) -> None:
    root = os.path.realpath("/export-root")
    for name in names:
        assert is_inside_archive(name), name
        assert not PurePosixPath(name).is_absolute() and ".." not in PurePosixPath(name).parts
        assert os.path.realpath(os.path.join(root, name)).startswith(root + os.sep), name
        assert all(len(part.encode()) <= 170 for part in name.split("/")), name


def test_selected_takes_each_shots_selected_version_clip_voice_and_latest_compose(
    db: Session, storage: FileSystemStorage, tmp_path: Path
) -> None:
    p = seed_project(db, storage, shots=3)
    plan, stats, archive, _ = build(db, storage, tmp_path, p.workspace, "selected")
    assert archive.namelist() == [
        "shot-01/image.png",
        "shot-01/video.mp4",
        "shot-01/voice.wav",
        "shot-02/video.mp4",
        "compose.mp4",
        MANIFEST,
    ]
    manifest = check_manifest_matches(archive)
    by_file = {i["file"]: i for i in manifest["items"] if "file" in i}
    assert by_file["shot-01/image.png"]["content_hash"] == p.files["shot1.image"]
    assert by_file["shot-01/image.png"]["node_id"] == p.cells[1]
    assert by_file["shot-01/image.png"]["role"] == "selected" and by_file["shot-01/image.png"]["cell"] == 2
    assert by_file["shot-01/video.mp4"]["content_hash"] == p.files["shot1.video"]
    assert by_file["shot-01/voice.wav"]["kind"] == "voice"
    assert by_file["shot-02/video.mp4"]["content_hash"] == p.files["shot2.video"]
    assert by_file["shot-02/video.mp4"]["role"] == "selected"  # the clip is the selection: once only
    assert (
        by_file["compose.mp4"]["content_hash"] == p.files["compose"]
        and by_file["compose.mp4"]["shot"] is None
    )
    assert [i["shot"] for i in manifest["items"]] == [1, 1, 1, 2, 3, None]
    assert manifest["items"][4]["missing"] == "no selected version"
    assert manifest["selection"] == "selected" and manifest["title"] == "Fox & Moon"
    assert manifest["workspace_id"] == p.workspace and manifest["generated_at"] == "2025-01-02T03:04:06Z"
    assert stats.files == 5 and stats.missing == 1 and len(plan.files) == 5


def test_favorites_keep_the_download_layout(db: Session, storage: FileSystemStorage, tmp_path: Path) -> None:
    p = seed_project(db, storage)
    _, stats, archive, _ = build(db, storage, tmp_path, p.workspace, "favorites")
    names = archive.namelist()
    assert len(names) == 3 and names[-1] == MANIFEST
    assert names[0].startswith("shot-01/hero-night-cell3-") and names[0].endswith(".png")
    assert names[1].startswith("shot-01/image-cell4-")
    manifest = check_manifest_matches(archive)
    assert [i["tags"] for i in manifest["items"]] == [["hero", "night"], []]
    assert {i["shot"] for i in manifest["items"]} == {1} and stats.files == 2
    assert all(i["favorite_id"] and i["role"] == "favorite" for i in manifest["items"])


def test_naming_placeholders(db: Session, storage: FileSystemStorage, tmp_path: Path) -> None:
    p = seed_project(db, storage, title="Fox Moon")
    _, _, archive, _ = build(db, storage, tmp_path, p.workspace, "selected", "{title}_{shot}_{kind}_{n}")
    assert archive.namelist()[:-1] == [
        "Fox-Moon_01_image_01.png",
        "Fox-Moon_01_video_02.mp4",
        "Fox-Moon_01_voice_03.wav",
        "Fox-Moon_02_video_04.mp4",
        "Fox-Moon_all_compose_05.mp4",
    ]
    check_manifest_matches(archive)
    _, _, archive, _ = build(db, storage, tmp_path, p.workspace, "favorites", "s{shot}/{label}-{cell}-{hash}")
    names = archive.namelist()[:-1]
    assert names[0].startswith("s01/hero-night-3-") and names[1].startswith("s01/image-4-")
    # a pattern with no placeholder still tells files apart
    _, _, archive, _ = build(db, storage, tmp_path, p.workspace, "favorites", "fox")
    assert archive.namelist()[:-1] == ["fox-01.png", "fox-02.png"]


def test_duplicate_names_are_made_unique(db: Session, storage: FileSystemStorage, tmp_path: Path) -> None:
    p = seed_project(db, storage)
    _, stats, archive, _ = build(db, storage, tmp_path, p.workspace, "selected", "{kind}")
    assert archive.namelist()[:-1] == ["image.png", "video.mp4", "voice.wav", "video-2.mp4", "compose.mp4"]
    assert stats.files == 5
    check_manifest_matches(archive)


HOSTILE = "../../etc/passwd"


def test_hostile_names_stay_inside_the_archive(
    db: Session, storage: FileSystemStorage, tmp_path: Path
) -> None:
    p = seed_project(db, storage, title=HOSTILE, grid_cells=6)
    shot1 = p.shots[0]
    # more favorites with hostile, duplicate (case-insensitively) and very long tags
    for cell, tags in (
        (p.cells[0], [HOSTILE, "a/b\\c"]),
        (p.cells[1], ["Hero"]),
        (p.cells[2], ["hero"]),  # the existing favorite: tags hero, night -> union
    ):
        favorite_repo.add(db, uuid_of(shot1), node_id=uuid_of(cell), tags=tags)
    long_tag = "狐" * 300
    favorite_repo.add(db, uuid_of(shot1), node_id=uuid_of(p.cells[3]), tags=[long_tag])
    favorite_repo.add(db, uuid_of(shot1), node_id=uuid_of(p.cells[4]), tags=["HERO", "Night"])
    favorite_repo.add(db, uuid_of(shot1), node_id=uuid_of(p.cells[5]), tags=["x" * 500])
    patterns = [
        None,
        "{title}",
        "../../{title}/{tags}",
        "/{tags}/../{kind}",
        "..\\..\\{label}",
        "{title}" * 6,
        "a/b/c/d/e/f/{label}",
        ".hidden/{label}",
        "CON/{n}",
        "nul.{n}",
        "{tags}",
    ]
    for naming in patterns:
        _, stats, archive, _ = build(db, storage, tmp_path, p.workspace, "favorites", naming)
        names = archive.namelist()
        assert_confined(names)
        assert len({n.lower() for n in names}) == len(names), (naming, names)
        assert stats.files == 6
        check_manifest_matches(archive)
        target = tmp_path / f"x-{len(list(tmp_path.iterdir()))}"
        archive.extractall(target)
        extracted = {str(f.relative_to(target)) for f in target.rglob("*") if f.is_file()}
        assert extracted == set(names), naming
    _, _, archive, _ = build(db, storage, tmp_path, p.workspace, "favorites", "{title}")
    assert archive.namelist()[:3] == ["etc-passwd.png", "etc-passwd-2.png", "etc-passwd-3.png"]
    _, _, archive, _ = build(db, storage, tmp_path, p.workspace, "favorites", "{label}")
    names = archive.namelist()
    assert "hero-night.png" in names and "HERO-Night-2.png" in names  # unique, case-insensitively
    assert names[1] == "狐" * 50 + ".png"  # bounded: 150 bytes of UTF-8
    _, _, archive, _ = build(db, storage, tmp_path, p.workspace, "favorites", "CON/{n}")
    assert archive.namelist()[0] == "_CON/01.png"


def uuid_of(text: str) -> uuid.UUID:
    return uuid.UUID(text)


def test_unicode_titles_survive(db: Session, storage: FileSystemStorage, tmp_path: Path) -> None:
    p = seed_project(db, storage, title="狐狸偷月亮")
    _, _, archive, _ = build(db, storage, tmp_path, p.workspace, "selected", "{title}-{shot}-{kind}")
    assert archive.namelist()[0] == "狐狸偷月亮-01-image.png"
    assert json.loads(archive.read(MANIFEST))["title"] == "狐狸偷月亮"


@pytest.mark.parametrize(
    "pattern", ["{bogus}", "{title.__class__}", "{shot:>10}", "{0}", "{}", "{kind!r}", "{shot", "shot}", " "]
)
def test_bad_naming_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(NamingInvalid) as err:
        check_naming(pattern)
    assert err.value.code == "naming_invalid" and not err.value.retryable


def test_nothing_to_export(db: Session, storage: FileSystemStorage, tmp_path: Path) -> None:
    ws = workspace_repo.create(db, owner_id="tester", type=WorkspaceType.narrative_project, title="empty")
    storyboard_repo.replace_storyboard(
        db, ws.id, {"title": "t", "scenes": [{"title": "s", "shots": [{"visual": "v"}, {"visual": "w"}]}]}
    )
    for selection in ("selected", "favorites"):
        plan = plan_package(db, ws.id, selection)
        with pytest.raises(NothingToExport) as err:
            require_files(plan)
        assert err.value.code == "nothing_to_export" and not err.value.retryable
    with pytest.raises(SelectionInvalid):
        plan_package(db, ws.id, "everything")


def test_same_plan_same_bytes_and_missing_files_are_listed(
    db: Session, storage: FileSystemStorage, tmp_path: Path
) -> None:
    p = seed_project(db, storage)
    *_, first = build(db, storage, tmp_path, p.workspace, "selected")
    *_, second = build(db, storage, tmp_path, p.workspace, "selected")
    assert first.read_bytes() == second.read_bytes()  # a retried activity stores the same asset
    storage.delete(p.storage_keys["shot1.voice"])
    _, stats, archive, _ = build(db, storage, tmp_path, p.workspace, "selected")
    assert "shot-01/voice.wav" not in archive.namelist() and stats.files == 4
    manifest = check_manifest_matches(archive)
    assert [i["missing"] for i in manifest["items"] if "missing" in i] == [
        "file not in storage",
        "no selected version",
    ]


def test_corrupt_file_and_cancellation_stop_the_build(
    db: Session, storage: FileSystemStorage, tmp_path: Path
) -> None:
    p = seed_project(db, storage)
    plan = plan_package(db, p.workspace, "selected", generated_at=FIXED)
    with pytest.raises(CancelledByUser):
        write_package(plan, storage, tmp_path / "c.zip", cancelled=lambda: True)
    seen: list[float] = []
    write_package(plan, storage, tmp_path / "ok.zip", on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 5
    storage.local_path(p.storage_keys["shot2.video"]).write_bytes(b"tampered")
    with pytest.raises(AssetCorrupt) as err:
        write_package(plan, storage, tmp_path / "bad.zip")
    assert err.value.code == "asset_corrupt"


@pytest.mark.parametrize(
    "name",
    ["../x.png", "/x.png", "a/../b.png", "a\\b.png", "a//b.png", ".x.png", "a/.b/c.png", "C:x.png", ""],
)
def test_escaping_entry_names_are_recognised(name: str) -> None:
    assert not is_inside_archive(name)
    assert is_inside_archive("shot-01/hero-cell3-1a2b3c4d.png")
