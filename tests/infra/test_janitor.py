"""Orphan files (no asset row) and temp files older than a run are collected; caches are bounded by
size with LRU eviction (real PostgreSQL, real files). Before issue 15 a crash between storing and
committing left files in storage forever, and `work/` and the compose cache grew without bound."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from activities.ledger import stored_asset
from infra import janitor
from infra.ledger import unit_of_work
from infra.storage import FileSystemStorage
from schema.enums import AssetKind, WorkspaceType
from schema.repositories import workspaces as workspace_repo

HOUR = 3600.0


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_orphans_and_stale_temp_files_are_collected_after_the_grace_period(
    fresh_db_url: str, tmp_path: Path
) -> None:
    storage = FileSystemStorage(tmp_path / "storage")
    owned = storage.put_bytes(b"owned", kind="image", ext=".png")
    old_orphan = storage.put_bytes(b"left by a crash before commit", kind="image", ext=".png")
    young_orphan = storage.put_bytes(b"its transaction is about to commit", kind="audio", ext=".wav")
    restored = storage.put_bytes(b"stored again by a retry", kind="video", ext=".mp4")
    with unit_of_work(fresh_db_url) as s:
        ws = workspace_repo.create(s, owner_id="o", type=WorkspaceType.draft_space, title="t")
        stored_asset(s, ws.id, owned, AssetKind.image, "image/png")
    stale_tmp = storage.root / "image" / ".tmp-abandoned"
    stale_tmp.write_bytes(b"half a file")
    for key in (owned.key, old_orphan.key, restored.key):
        age(storage.local_path(key), 2 * HOUR)
    age(stale_tmp, 2 * HOUR)
    storage.put_bytes(b"stored again by a retry", kind="video", ext=".mp4")  # refreshes its time

    sweep = janitor.collect_orphans(storage.root, fresh_db_url, grace_s=HOUR)

    assert sweep.orphans == [old_orphan.key]
    assert sweep.temp == ["image/.tmp-abandoned"]
    assert storage.exists(owned.key) and storage.exists(young_orphan.key) and storage.exists(restored.key)
    assert not storage.exists(old_orphan.key) and not stale_tmp.exists()
    assert janitor.collect_orphans(storage.root, fresh_db_url, grace_s=HOUR).orphans == []


def test_the_work_dir_loses_what_killed_renders_left_but_not_live_work(tmp_path: Path) -> None:
    work = tmp_path / "work"
    cache = work / janitor.COMPOSE_CACHE
    (cache / "segments").mkdir(parents=True)
    scratch = cache / "work" / "dead-compose"
    scratch.mkdir(parents=True)
    (scratch / "subs.ass").write_text("x")
    killed_render = work / "tmpab12cd.mp4"
    killed_render.write_bytes(b"x" * 100)
    partial = cache / "segments" / ".abc.1234.partial.mp4"
    partial.write_bytes(b"x")
    segment = cache / "segments" / "abc.mp4"
    segment.write_bytes(b"x")
    live_render = work / "tmpef34gh.wav"
    live_render.write_bytes(b"x")
    for path in (scratch, killed_render, partial, segment):
        age(path, 2 * HOUR)

    sweep = janitor.sweep_work_dir(work, grace_s=HOUR)

    assert sorted(sweep.temp) == sorted(
        ["tmpab12cd.mp4", "compose-cache/work/dead-compose", "compose-cache/segments/.abc.1234.partial.mp4"]
    )
    assert live_render.exists() and segment.exists()  # a cached segment is the cache's business


def test_a_cache_over_its_size_loses_its_least_recently_used_files_first(tmp_path: Path) -> None:
    cache = tmp_path / "segments"
    cache.mkdir()
    mib = 1024 * 1024
    files = []
    for i in range(5):  # 5 MiB, last used 5h, 4h, 3h, 2h and 1 minute ago
        path = cache / f"seg{i}.mp4"
        path.write_bytes(b"\0" * mib)
        age(path, (5 - i) * HOUR if i < 4 else 60)
        files.append(path)
    os.utime(files[0])  # a cache hit on the oldest: now the most recently used

    sweep = janitor.bound_cache(cache, 3 * mib, keep_recent_s=HOUR)
    assert sorted(sweep.evicted) == ["seg1.mp4", "seg2.mp4"]
    assert sweep.freed_bytes == 2 * mib
    assert [p.exists() for p in files] == [True, False, False, True, True]

    # files used within the grace period stay, even above the limit (a compose may still read them)
    kept = janitor.bound_cache(cache, 1, keep_recent_s=HOUR)
    assert kept.evicted == ["seg3.mp4"] and files[0].exists() and files[4].exists()


def test_the_s3_backend_loses_its_orphans_and_abandoned_uploads_too(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rule on an S3 bucket (moto's in-process S3 API: the edge of the world): before,
    only the filesystem backend was swept and a crash between upload and commit left the object
    in the bucket forever."""
    moto = pytest.importorskip("moto")
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(var, value)
    from infra.storage import S3Storage

    with moto.mock_aws():
        storage = S3Storage("dd-bucket", endpoint_url=None, region="us-east-1", cache_dir=tmp_path / "cache")
        storage.client.create_bucket(Bucket="dd-bucket")
        owned = storage.put_bytes(b"owned", kind="image", ext=".png")
        orphan = storage.put_bytes(b"left by a crash before commit", kind="image", ext=".png")
        restored = storage.put_bytes(b"stored again by a retry", kind="video", ext=".mp4")
        abandoned = storage.client.create_multipart_upload(Bucket="dd-bucket", Key="video/ab/half.mp4")
        storage.client.put_object(Bucket="dd-bucket", Key="not ours/../x", Body=b"x")  # not a storage key
        with unit_of_work(fresh_db_url) as s:
            ws = workspace_repo.create(s, owner_id="o", type=WorkspaceType.draft_space, title="t")
            stored_asset(s, ws.id, owned, AssetKind.image, "image/png")
        time.sleep(3.0)  # S3 times have whole seconds: everything above is now past the 2 s grace
        young = storage.put_bytes(b"its transaction is about to commit", kind="audio", ext=".wav")
        storage.put_bytes(b"stored again by a retry", kind="video", ext=".mp4")  # refreshes LastModified

        sweep = janitor.sweep_all(
            data_path=tmp_path,
            work_dir=tmp_path / "work",
            database_url=fresh_db_url,
            storage_root=None,
            grace_s=2.0,
            temp_grace_s=HOUR,
            cache_max_mb=0,
            s3=storage,
        )

        assert sweep.orphans == [orphan.key]
        assert sweep.temp == ["video/ab/half.mp4 (multipart upload)"]
        assert not storage.exists(orphan.key) and not (tmp_path / "cache" / orphan.key).exists()
        assert storage.exists(owned.key) and storage.exists(young.key) and storage.exists(restored.key)
        left = storage.client.list_multipart_uploads(Bucket="dd-bucket").get("Uploads", [])
        assert [u["UploadId"] for u in left] == [] and abandoned["UploadId"]
        keys = [o["Key"] for o in storage.client.list_objects_v2(Bucket="dd-bucket")["Contents"]]
        assert "not ours/../x" in keys
        again = janitor.collect_s3_orphans(storage, fresh_db_url, grace_s=2.0)
        assert again.orphans == [] and again.temp == []
