"""Storage keys are content-addressed and can never escape their root."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.storage import FileSystemStorage, UnsafeKeyError, content_key, storage_from


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "image/../../secret",
        "/etc/passwd",
        "image\\..\\x",
        "image/ab/\x00.png",
        "",
        "image//ab.png",
        "./image/ab.png",
        "image/.hidden",
    ],
)
def test_unsafe_keys_are_rejected_before_any_io(tmp_path: Path, key: str) -> None:
    storage = FileSystemStorage(tmp_path / "root")
    with pytest.raises(UnsafeKeyError) as err:
        storage.local_path(key)
    assert err.value.code == "storage_key_invalid"
    with pytest.raises(UnsafeKeyError):
        storage.delete(key)


def test_symlink_inside_root_cannot_lead_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    storage = FileSystemStorage(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "image").mkdir()
    (root / "image" / "ab").symlink_to(outside)
    with pytest.raises(UnsafeKeyError):
        storage.local_path("image/ab/file.png")


def test_same_bytes_same_key_written_once(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "root")
    first = storage.put_bytes(b"hello", kind="image", ext=".png")
    second = storage.put_bytes(b"hello", kind="image", ext="png")
    assert first == second
    assert first.key == content_key("image", first.sha256, ".png")
    assert first.key.startswith(f"image/{first.sha256[:2]}/")
    assert storage.local_path(first.key).read_bytes() == b"hello"
    files = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert len(files) == 1  # no temp files left behind


def test_put_file_matches_put_bytes(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "root")
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"\x00\x01video")
    by_file = storage.put_file(src, kind="video", ext=".mp4")
    by_bytes = storage.put_bytes(b"\x00\x01video", kind="video", ext=".mp4")
    assert by_file == by_bytes
    assert storage.exists(by_file.key)
    storage.delete(by_file.key)
    assert not storage.exists(by_file.key)


def test_s3_backend_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(Exception) as err:
        storage_from("s3", tmp_path)
    assert getattr(err.value, "code", "") == "storage_misconfigured"
