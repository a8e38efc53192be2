"""Thumbnails, made once when an image or a clip is stored: WebP, 256 and 512 px on the long side.

Rules: a clip's thumbnails are made from its poster frame (the frame at a quarter of its length,
at most one second in, so a fade-in does not give a black poster); thumbnails are content
addressed like every stored file (``thumb/<sha>.webp``), so the same picture is stored once; a
file that cannot be decoded gets no thumbnail (the asset still stores — the studio then shows
the file itself) and the reason is logged, never raised: a thumbnail must not fail a generation.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from infra.storage import Storage, StoredObject

log = logging.getLogger("directordeck.thumbnails")

SIZES = (256, 512)
WEBP_QUALITY = 80
# Pillow shrinks by whole factors (box filter) until the picture is within this factor of the
# target, then resamples with LANCZOS: the same picture to the eye, a fraction of the work
REDUCING_GAP = 3.0


def webp_thumbnails(image: Image.Image) -> dict[int, bytes]:
    """The picture scaled down (never up) to each long side, as WebP bytes: the largest size first,
    each smaller one from the one before, LANCZOS after a box pre-shrink (`REDUCING_GAP`)."""
    current = image.convert("RGB")
    out = {}
    for size in sorted(SIZES, reverse=True):
        current = current.copy()
        current.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
        buf = io.BytesIO()
        current.save(buf, "WEBP", quality=WEBP_QUALITY, method=4)
        out[size] = buf.getvalue()
    return dict(sorted(out.items()))


def poster_frame(video: Path, duration_s: float | None = None) -> Image.Image:
    from activities.media.probe import extract_frame

    at = min(1.0, max(0.0, (duration_s or 0.0) / 4))
    with tempfile.TemporaryDirectory(prefix="dd-poster-") as tmp:
        png = extract_frame(video, at, Path(tmp) / "poster.png")
        with Image.open(png) as frame:
            frame.load()
            return frame.copy()


def make_thumbnails(
    storage: Storage, stored: StoredObject, *, video: bool = False, duration_s: float | None = None
) -> tuple[dict[str, Any], list[StoredObject]]:
    """Store the thumbnails of a stored file: (the asset's ``thumbnails`` value, what was stored)."""
    try:
        path = storage.local_path(stored.key)
        if video:
            picture = poster_frame(path, duration_s)
        else:
            with Image.open(path) as img:
                img.load()
                picture = img.copy()
        sized = webp_thumbnails(picture)
    except Exception as exc:  # a thumbnail never fails the generation that stored the file
        log.warning("no thumbnail for %s: %s", stored.key, exc)
        return {}, []
    written: list[StoredObject] = []
    record: dict[str, Any] = {}
    for size, data in sized.items():
        obj = storage.put_bytes(data, kind="thumb", ext=".webp")
        written.append(obj)
        record[str(size)] = {"key": obj.key, "sha256": obj.sha256}
    return record, written


def make_all_thumbnails(
    storage: Storage, stored: list[StoredObject]
) -> list[tuple[dict[str, Any], list[StoredObject]]]:
    """`make_thumbnails` of several images (a grid's cells) side by side, in order: Pillow decodes,
    scales and encodes without holding the GIL, so the threads use every core."""
    if len(stored) <= 1:
        return [make_thumbnails(storage, obj) for obj in stored]
    with ThreadPoolExecutor(max_workers=min(len(stored), os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda obj: make_thumbnails(storage, obj), stored))


def main_key(thumbnails: dict[str, Any]) -> str | None:
    """The 512 px thumbnail's key (``asset.thumbnail_key``)."""
    entry = thumbnails.get("512") or thumbnails.get("256")
    return str(entry["key"]) if entry else None


__all__ = ["SIZES", "main_key", "make_all_thumbnails", "make_thumbnails", "poster_frame", "webp_thumbnails"]
