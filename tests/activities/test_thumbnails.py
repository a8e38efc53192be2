"""Thumbnails of stored images: the sizes and format, and a grid's cells made side by side."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from activities.thumbnails import SIZES, make_all_thumbnails, make_thumbnails
from infra.storage import FileSystemStorage, StoredObject


def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def _sizes(storage: FileSystemStorage, record: dict) -> dict[str, tuple[int, int]]:
    out = {}
    for size, entry in record.items():
        with Image.open(storage.local_path(entry["key"])) as img:
            assert img.format == "WEBP"
            out[size] = img.size
    return out


def test_thumbnails_are_webp_at_each_long_side_and_never_scaled_up(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path)
    wide = storage.put_bytes(_png(1280, 720, (200, 40, 40)), kind="image", ext=".png")
    tall = storage.put_bytes(_png(300, 600, (40, 200, 40)), kind="image", ext=".png")
    small = storage.put_bytes(_png(200, 100, (40, 40, 200)), kind="image", ext=".png")
    wide_record, written = make_thumbnails(storage, wide)
    assert _sizes(storage, wide_record) == {"256": (256, 144), "512": (512, 288)}
    assert len(written) == len(SIZES)
    assert _sizes(storage, make_thumbnails(storage, tall)[0]) == {"256": (128, 256), "512": (256, 512)}
    assert _sizes(storage, make_thumbnails(storage, small)[0]) == {"256": (200, 100), "512": (200, 100)}


def test_a_grids_thumbnails_come_back_in_the_cells_order_and_a_bad_file_spoils_none_other(
    tmp_path: Path,
) -> None:
    storage = FileSystemStorage(tmp_path)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 250, 0)]
    cells: list[StoredObject] = [
        storage.put_bytes(_png(640, 360, colour), kind="image", ext=".png") for colour in colours
    ]
    cells.insert(2, storage.put_bytes(b"not a picture", kind="image", ext=".png"))
    made = make_all_thumbnails(storage, cells)
    assert made[2] == ({}, [])  # logged, never raised: the generation still stores
    good = [record for i, (record, _) in enumerate(made) if i != 2]
    assert [record for record, _ in made if record] == good
    for record, colour in zip(good, colours, strict=True):
        with Image.open(storage.local_path(record["256"]["key"])) as img:
            pixel = img.convert("RGB").getpixel((10, 10))
        assert all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=True)), (pixel, colour)
    assert made == [make_thumbnails(storage, cell) for cell in cells]  # the same as one by one
