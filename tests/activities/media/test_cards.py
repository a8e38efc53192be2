"""Storyboard cards: labelled, deterministic, one camera variation per cell, cancellable."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from activities.providers.cards import CARD_LABEL, GridRequest, StoryboardCardRenderer, contact_sheet
from schema.errors import BadInputError, CancelledByUser
from schema.storyboard import Camera

VISUAL = "Medium close-up, low angle: the fox steals the moon, the decisive moment, night."


def _req(**kw: object) -> GridRequest:
    base: dict[str, object] = dict(
        shot_number=3,
        visual=VISUAL,
        camera=Camera(size="medium_close", angle="low", movement="push_in"),
        size=4,
        width=480,
        height=270,
        seed=11,
        style="ink-wash",
    )
    base.update(kw)
    return GridRequest(**base)  # type: ignore[arg-type]


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("size", [4, 9])
def test_grid_cells_are_distinct_variations(size: int) -> None:
    progress: list[float] = []
    images = StoryboardCardRenderer().render_grid(_req(size=size), on_progress=progress.append)
    assert [im.cell for im in images] == list(range(1, size + 1))
    assert len({im.png for im in images}) == size
    cams = [(im.params["camera"]["size"], im.params["camera"]["angle"]) for im in images]
    assert len(set(cams)) == size
    assert images[0].params["camera"] == images[0].params["base_camera"]
    assert all(im.params["label"] == CARD_LABEL for im in images)
    assert len({im.seed for im in images}) == size
    assert progress == pytest.approx([i / size for i in range(1, size + 1)])
    for im in images:
        px = _pixels(im.png)
        assert px.shape == (270, 480, 3) and (im.width, im.height) == (480, 270)
    # the sketch areas really differ between cells
    a, b = _pixels(images[0].png), _pixels(images[1].png)
    assert np.abs(a[40:190] - b[40:190]).mean() > 3


def test_card_has_label_banner_and_is_not_blank() -> None:
    px = _pixels(StoryboardCardRenderer().render_grid(_req(size=1))[0].png)
    banner = px[: int(270 * 0.085)]
    assert banner.mean() < 90  # dark banner...
    assert (banner > 200).any()  # ...with light label text on it
    assert px.std() > 20 and len(np.unique(px.reshape(-1, 3), axis=0)) > 50


def test_deterministic_bytes() -> None:
    a = StoryboardCardRenderer().render_grid(_req())
    b = StoryboardCardRenderer().render_grid(_req())
    assert [x.png for x in a] == [y.png for y in b]
    c = StoryboardCardRenderer().render_grid(_req(seed=12))
    assert [x.params["camera"] for x in a] != [y.params["camera"] for y in c] or a[0].png != c[0].png


def test_parent_and_references_are_composited() -> None:
    plain = StoryboardCardRenderer().render_grid(_req(size=1))[0]
    parent = StoryboardCardRenderer().render_grid(
        _req(size=1, parent_png=plain.png, reference_pngs=[plain.png])
    )[0]
    assert parent.params["from_parent"] is True and parent.params["references"] == 1
    assert parent.png != plain.png


def test_cjk_text_never_raises() -> None:
    images = StoryboardCardRenderer().render_grid(
        _req(visual="近景特写，仰拍：狐狸偷走了月亮，决定性的瞬间，夜晚。", style="水墨", size=4)
    )
    assert len(images) == 4 and all(im.png.startswith(b"\x89PNG") for im in images)


def test_cancel_between_cells() -> None:
    calls = {"n": 0}

    def cancelled() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    progress: list[float] = []
    with pytest.raises(CancelledByUser):
        StoryboardCardRenderer().render_grid(_req(size=9), on_progress=progress.append, cancelled=cancelled)
    assert progress == pytest.approx([1 / 9, 2 / 9])


def test_bad_grid_size_and_corrupt_parent() -> None:
    with pytest.raises(BadInputError) as err:
        StoryboardCardRenderer().render_grid(_req(size=3))
    assert err.value.code == "grid_size_invalid"
    with pytest.raises(BadInputError) as bad:
        StoryboardCardRenderer().render_grid(_req(size=1, parent_png=b"not a png"))
    assert bad.value.code == "asset_corrupt"


def test_contact_sheet() -> None:
    images = StoryboardCardRenderer().render_grid(_req(size=4, width=160, height=90))
    with Image.open(io.BytesIO(contact_sheet(images))) as sheet:
        assert sheet.size == (2 * 160 + 3 * 8, 2 * 90 + 3 * 8)
