"""Content-addressed object storage: a filesystem backend (default) and an S3-API backend.

Rules: a key is `<kind>/<sha256[:2]>/<sha256><ext>`, derived from the bytes, so writing the same
content twice is a no-op and a retried activity never makes a second object; a key can never
escape its root (absolute paths, `..`, backslashes and NULs are rejected before any I/O); writes
are atomic (temp file + rename); storing bytes that are already there refreshes the file's time
(S3: the object's LastModified; the janitor collects only files no asset row uses *and* older than
its grace period).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from schema.errors import BadInputError

_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UnsafeKeyError(BadInputError):
    code = "storage_key_invalid"


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int


def validate_key(key: str) -> PurePosixPath:
    if not key or "\\" in key or "\x00" in key or key.startswith("/"):
        raise UnsafeKeyError(f"unsafe storage key: {key!r}")
    path = PurePosixPath(key)
    if str(path) != key or any(not _KEY_PART.match(part) for part in path.parts):
        raise UnsafeKeyError(f"unsafe storage key: {key!r}")
    return path


def content_key(kind: str, sha256: str, ext: str) -> str:
    ext = ext if ext.startswith(".") or not ext else f".{ext}"
    key = f"{kind}/{sha256[:2]}/{sha256}{ext}"
    validate_key(key)
    return key


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Storage(Protocol):
    def put_file(self, path: Path, *, kind: str, ext: str) -> StoredObject: ...
    def put_bytes(self, data: bytes, *, kind: str, ext: str) -> StoredObject: ...
    def local_path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None: ...


def _touch(path: Path) -> None:
    """Stored again: the file is new to the janitor's grace period (infra/janitor.py), so it cannot
    be collected as an orphan between this put and the commit of its asset row."""
    with contextlib.suppress(FileNotFoundError):
        os.utime(path)


class FileSystemStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise UnsafeKeyError(f"storage key escapes the root: {key!r}")
        return path

    def put_file(self, path: Path, *, kind: str, ext: str) -> StoredObject:
        sha = sha256_file(path)
        key = content_key(kind, sha, ext)
        target = self._path(key)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            os.close(fd)
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)  # no half-written file stays behind (disk full...)
                raise
        else:
            _touch(target)
        return StoredObject(key, sha, target.stat().st_size)

    def put_bytes(self, data: bytes, *, kind: str, ext: str) -> StoredObject:
        sha = hashlib.sha256(data).hexdigest()
        key = content_key(kind, sha, ext)
        target = self._path(key)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            _touch(target)
        return StoredObject(key, sha, len(data))

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        return None


class S3Storage:
    """S3 API (AWS S3, Cloudflare R2, MinIO, Supabase Storage); client retries off (Temporal retries)."""

    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str | None, cache_dir: Path) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.cache = FileSystemStorage(cache_dir)
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def _upload(self, obj: StoredObject) -> StoredObject:
        if not self.exists(obj.key):
            self.client.upload_file(str(self.cache.local_path(obj.key)), self.bucket, obj.key)
        else:  # stored again: refresh LastModified, as the filesystem backend refreshes the mtime
            from botocore.exceptions import ClientError

            with contextlib.suppress(ClientError):  # best effort: a backend without self-copy
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=obj.key,
                    CopySource={"Bucket": self.bucket, "Key": obj.key},
                    MetadataDirective="REPLACE",
                )
        return obj

    def put_file(self, path: Path, *, kind: str, ext: str) -> StoredObject:
        return self._upload(self.cache.put_file(path, kind=kind, ext=ext))

    def put_bytes(self, data: bytes, *, kind: str, ext: str) -> StoredObject:
        return self._upload(self.cache.put_bytes(data, kind=kind, ext=ext))

    def local_path(self, key: str) -> Path:
        path = self.cache.local_path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            os.close(fd)
            self.client.download_file(self.bucket, key, tmp)
            os.replace(tmp, path)
        return path

    def exists(self, key: str) -> bool:
        validate_key(key)
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)
        self.cache.delete(key)

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        validate_key(key)
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
        )


def storage_from(
    backend: str,
    data_path: Path,
    *,
    bucket: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> Storage:
    if backend == "s3":
        if not bucket:
            raise BadInputError(
                "DIRECTORDECK_S3_BUCKET is required with DIRECTORDECK_STORAGE_BACKEND=s3",
                code="storage_misconfigured",
            )
        return S3Storage(bucket, endpoint_url=endpoint_url, region=region, cache_dir=data_path / "s3-cache")
    return FileSystemStorage(data_path / "storage")
