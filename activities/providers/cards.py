"""Offline grid-image provider: labelled storyboard cards drawn with Pillow.

Rule: a card is never mistaken for a generated image — every card carries the banner
"STORYBOARD SKETCH — not a generated image". Output is a pure function of the `GridRequest`
(same request → byte-identical PNGs); each grid cell is a different camera variation, recorded in
its `params`. Text that the bundled font cannot draw (CJK) never raises. Chinese text uses
$DIRECTORDECK_CJK_FONT, else a system CJK font, else the Noto Sans SC that the
`pylopdf-fonts-zh-cn` dependency ships (OFL-1.1).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from activities.media.fonts import CJK_FONT_ENV, find_cjk_font
from schema.errors import BadInputError, CancelledByUser
from schema.storyboard import CAMERA_ANGLES, SHOT_SIZES, Camera
from schema.text import has_cjk

__all__ = [
    "CARD_LABEL",
    "GridRequest",
    "RenderedImage",
    "StoryboardCardRenderer",
    "banner_height",
    "card_banner",
    "cell_cameras",
    "contact_sheet",
    "decode_image",
    "is_card",
    "render_banner",
]

CARD_LABEL = "STORYBOARD SKETCH — not a generated image"
GRID_SIZES = (1, 4, 9)
_SIZE_ABBR = {
    "extreme_wide": "EWS",
    "wide": "WS",
    "full": "FS",
    "medium": "MS",
    "medium_close": "MCU",
    "close_up": "CU",
    "extreme_close_up": "ECU",
}
# figure height as a multiple of the frame height (above 1 the figure is cropped by the frame)
_FIGURE_SCALE = {
    "extreme_wide": 0.14,
    "wide": 0.32,
    "full": 0.82,
    "medium": 1.55,
    "medium_close": 2.3,
    "close_up": 3.6,
    "extreme_close_up": 7.0,
}
# framing box (share of the frame) that marks the subject zone for each shot size
_FRAME_BOX = {
    "extreme_wide": 0.92,
    "wide": 0.8,
    "full": 0.68,
    "medium": 0.56,
    "medium_close": 0.46,
    "close_up": 0.36,
    "extreme_close_up": 0.26,
}
_HORIZON = {
    "eye_level": 0.5,
    "low": 0.78,
    "high": 0.24,
    "birds_eye": None,
    "dutch": 0.5,
    "over_shoulder": 0.46,
}

_PAPER = (246, 244, 238)
_INK = (38, 38, 42)
_GUIDE = (196, 192, 184)
_ACCENT = (200, 70, 40)


@dataclass
class GridRequest:
    """One grid generation for one shot: `size` cards (1, 4 or 9), each a camera variation."""

    shot_number: int
    visual: str
    camera: Camera
    size: int = 4
    width: int = 1280
    height: int = 720
    seed: int = 0
    style: str | None = None
    parent_png: bytes | None = None
    reference_pngs: list[bytes] = field(default_factory=list)


@dataclass
class RenderedImage:
    """One rendered cell: PNG bytes plus everything needed to regenerate it."""

    png: bytes
    width: int
    height: int
    seed: int
    cell: int  # 1-based
    params: dict[str, Any]


def cell_cameras(base: Camera, size: int, seed: int) -> list[Camera]:
    """Camera per cell: cell 1 is the requested camera, the others distinct size+angle variations."""
    rng = random.Random(f"cells:{seed}:{base.size}:{base.angle}")
    sizes = [s for s in SHOT_SIZES if s != base.size]
    angles = [a for a in CAMERA_ANGLES if a != base.angle]
    rng.shuffle(sizes)
    rng.shuffle(angles)
    cams = [base]
    for i in range(size - 1):
        cams.append(
            Camera(size=sizes[i % len(sizes)], angle=angles[i % len(angles)], movement=base.movement)  # type: ignore[arg-type]
        )
    return cams


# ------------------------------------------------------------------------------------------------
# fonts and text
# ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _font(size: int, cjk: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if cjk:
        path = find_cjk_font()
        if path is not None:
            try:
                return ImageFont.truetype(str(path), size)
            except OSError:
                pass
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def _text_font(text: str, size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """Font for `text` and whether its glyphs are really available."""
    if has_cjk(text, punctuation=True):
        has_cjk_font = find_cjk_font() is not None
        return _font(size, cjk=has_cjk_font), has_cjk_font
    return _font(size), True


def _safe_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font: Any, fill: Any) -> None:
    try:
        draw.text(xy, text, font=font, fill=fill)
    except (UnicodeEncodeError, ValueError, OSError):
        draw.text(xy, text.encode("ascii", "replace").decode("ascii"), font=font, fill=fill)


def _drawable(text: str) -> str:
    """The bundled font has no em dash; draw a spaced hyphen instead (the label text stays canonical)."""
    return text.replace("—", "-")


def _wrap(text: str, font: Any, max_width: float, max_lines: int) -> list[str]:
    """Greedy pixel-width wrap; CJK text wraps per character. Overflow ends with an ellipsis."""
    lines: list[str] = []
    tokens: list[str]
    if has_cjk(text, punctuation=True):
        tokens = list(text)
        sep = ""
    else:
        tokens = text.split()
        sep = " "
    current = ""
    for token in tokens:
        trial = f"{current}{sep}{token}" if current else token
        if _length(font, trial) <= max_width or not current:
            current = trial
        else:
            lines.append(current)
            current = token
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _length(font, last + "…") > max_width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _length(font: Any, text: str) -> float:
    try:
        return float(font.getlength(text))
    except (UnicodeEncodeError, ValueError, OSError):
        return float(len(text) * 8)


# ------------------------------------------------------------------------------------------------
# drawing
# ------------------------------------------------------------------------------------------------


def _dashed_line(
    draw: ImageDraw.ImageDraw, p0: tuple[float, float], p1: tuple[float, float], **kw: Any
) -> None:
    dash = kw.pop("dash", 10.0)
    (x0, y0), (x1, y1) = p0, p1
    length = math.hypot(x1 - x0, y1 - y0)
    if length == 0:
        return
    steps = int(length // (dash * 2)) + 1
    for i in range(steps):
        a = (i * 2 * dash) / length
        b = min(1.0, (i * 2 * dash + dash) / length)
        draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)], **kw)


def _dashed_rect(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], **kw: Any) -> None:
    x0, y0, x1, y1 = box
    for p, q in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        _dashed_line(draw, p, q, **dict(kw))


def _arrow(
    draw: ImageDraw.ImageDraw, p0: tuple[float, float], p1: tuple[float, float], width: int, fill: Any
) -> None:
    draw.line([p0, p1], fill=fill, width=width)
    angle = math.atan2(p1[1] - p0[1], p1[0] - p0[0])
    head = width * 4.5
    for side in (-1, 1):
        a = angle + math.pi + side * 0.45
        draw.line([p1, (p1[0] + head * math.cos(a), p1[1] + head * math.sin(a))], fill=fill, width=width)


def _draw_frame_layer(
    cam: Camera, w: int, h: int, u: float, rng: random.Random, figure_x: float
) -> Image.Image:
    """The viewport sketch: horizon, ground, figure silhouette, framing box, thirds and moves."""
    layer = Image.new("RGB", (w, h), (236, 233, 225))
    d = ImageDraw.Draw(layer)
    line_w = max(1, round(2 * u))

    # sky / ground and horizon
    horizon = _HORIZON[cam.angle]
    if horizon is None:  # bird's-eye: ground plane seen from above, a grid of paving lines
        step = max(12, int(48 * u))
        for x in range(0, w, step):
            d.line([(x, 0), (x, h)], fill=(214, 210, 200), width=1)
        for y in range(0, h, step):
            d.line([(0, y), (w, y)], fill=(214, 210, 200), width=1)
        hy = None
    else:
        hy = int(h * horizon)
        d.rectangle([0, hy, w, h], fill=(222, 218, 208))
        d.line([(0, hy), (w, hy)], fill=(120, 116, 108), width=line_w)
        # a few sketchy ground marks, seeded
        for _ in range(6):
            gx = rng.uniform(0, w)
            gy = rng.uniform(hy + 6, h)
            d.line([(gx, gy), (gx + rng.uniform(20, 60) * u, gy)], fill=(190, 186, 176), width=1)

    # figure silhouette scaled by shot size
    fig_h = h * _FIGURE_SCALE[cam.size]
    head_r = fig_h * 0.085
    if cam.angle == "birds_eye":
        cx, cy = figure_x, h * 0.55
        r = max(4.0, head_r * 1.6)
        d.ellipse([cx - r * 2.2, cy - r * 1.4, cx + r * 2.2, cy + r * 1.4], fill=(200, 196, 186))
        d.ellipse([cx - r * 1.4, cy - r * 0.9, cx + r * 1.4, cy + r * 0.9], fill=(92, 92, 100))
        d.ellipse([cx - r * 0.7, cy - r * 0.7, cx + r * 0.7, cy + r * 0.7], fill=_INK)
    else:
        if fig_h <= h:
            feet = (hy if hy is not None else h * 0.8) + fig_h * 0.1
            feet = min(feet, h * 0.95)
            top = max(feet - fig_h, h * 0.05)  # a full figure always shows its head
            feet = top + fig_h
        else:  # cropped by the frame: keep the eyes around the upper third line
            top = h / 3 - head_r * 0.9
            feet = top + fig_h
        cx = figure_x
        head_cy = top + head_r
        body_top = top + head_r * 2.1
        shoulder = fig_h * 0.13
        hip = fig_h * 0.10
        spread = 1.25 if cam.angle == "low" else (0.85 if cam.angle == "high" else 1.0)
        d.polygon(
            [
                (cx - shoulder, body_top),
                (cx + shoulder, body_top),
                (cx + hip * spread, top + fig_h * 0.58),
                (cx + hip * 0.8 * spread, feet),
                (cx - hip * 0.8 * spread, feet),
                (cx - hip * spread, top + fig_h * 0.58),
            ],
            fill=(92, 92, 100),
        )
        d.ellipse([cx - head_r, head_cy - head_r, cx + head_r, head_cy + head_r], fill=_INK)
        if cam.size in ("close_up", "extreme_close_up"):  # eye line marks for tight shots
            ey = head_cy - head_r * 0.1
            for sx in (-0.38, 0.38):
                d.ellipse(
                    [
                        cx + sx * head_r - head_r * 0.1,
                        ey - head_r * 0.06,
                        cx + sx * head_r + head_r * 0.1,
                        ey + head_r * 0.06,
                    ],
                    fill=(236, 233, 225),
                )
    if cam.angle == "over_shoulder":  # out-of-focus foreground shoulder, lower left
        d.ellipse([-w * 0.12, h * 0.55, w * 0.3, h * 1.4], fill=(70, 70, 78))
        d.ellipse([w * 0.02, h * 0.3, w * 0.2, h * 0.72], fill=(58, 58, 64))

    # rule-of-thirds guides
    for i in (1, 2):
        _dashed_line(d, (w * i / 3, 0), (w * i / 3, h), fill=_GUIDE, width=1, dash=8 * u)
        _dashed_line(d, (0, h * i / 3), (w, h * i / 3), fill=_GUIDE, width=1, dash=8 * u)

    # framing box for the shot size
    share = _FRAME_BOX[cam.size]
    bw, bh = w * share, h * share
    bx = min(max(figure_x - bw / 2, 4), w - bw - 4)
    by = (h - bh) / 2
    _dashed_rect(d, (bx, by, bx + bw, by + bh), fill=_ACCENT, width=line_w, dash=12 * u)
    abbr_font = _font(max(10, int(22 * u)))
    _safe_text(d, (bx + 6 * u, by + 4 * u), _SIZE_ABBR[cam.size], abbr_font, _ACCENT)

    # movement indicator
    aw = max(2, round(3 * u))
    m = cam.movement
    if m == "pan_left":
        _arrow(d, (w * 0.62, h * 0.08), (w * 0.38, h * 0.08), aw, _ACCENT)
    elif m == "pan_right":
        _arrow(d, (w * 0.38, h * 0.08), (w * 0.62, h * 0.08), aw, _ACCENT)
    elif m == "tilt_up":
        _arrow(d, (w * 0.94, h * 0.7), (w * 0.94, h * 0.3), aw, _ACCENT)
    elif m == "tilt_down":
        _arrow(d, (w * 0.94, h * 0.3), (w * 0.94, h * 0.7), aw, _ACCENT)
    elif m in ("push_in", "pull_out"):
        for sx, sy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            outer = (w * (0.04 + 0.92 * sx), h * (0.06 + 0.88 * sy))
            inner = (w * (0.16 + 0.68 * sx), h * (0.22 + 0.56 * sy))
            _arrow(d, outer, inner, aw, _ACCENT) if m == "push_in" else _arrow(d, inner, outer, aw, _ACCENT)
    elif m == "tracking":
        _arrow(d, (w * 0.2, h * 0.93), (w * 0.8, h * 0.93), aw, _ACCENT)
        d.line([(w * 0.2, h * 0.965), (w * 0.8, h * 0.965)], fill=_ACCENT, width=1)
    else:  # static: a small locked-off tripod mark
        tx, ty = w * 0.94, h * 0.1
        for dx in (-1, 0, 1):
            d.line([(tx, ty), (tx + dx * 10 * u, ty + 20 * u)], fill=_ACCENT, width=aw)

    if cam.angle == "dutch":
        tilt = 8.0 if rng.random() < 0.5 else -8.0
        layer = layer.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(236, 233, 225))
    return layer


def decode_image(data: bytes, what: str) -> Image.Image:
    """Image bytes → an RGB image; undecodable bytes are a non-retryable `asset_corrupt`."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.convert("RGB")
    except Exception as exc:  # Pillow raises many types for bad bytes
        raise BadInputError(f"The {what} image could not be decoded: {exc}", code="asset_corrupt") from exc


def _faded_thumb(img: Image.Image, max_w: int, max_h: int) -> Image.Image:
    thumb = img.copy()
    thumb.thumbnail((max(1, max_w), max(1, max_h)), Image.Resampling.LANCZOS)
    return Image.blend(thumb, Image.new("RGB", thumb.size, _PAPER), 0.45)


def banner_height(height: int) -> int:
    """Rows 0..banner_height(h) of an h-pixel-high card are the banner (inclusive)."""
    return max(14, int(height * 0.085))


def _banner_tag(shot_number: Any, cell: Any, grid_size: Any) -> str:
    return f"SHOT {shot_number}  ·  CELL {cell}/{grid_size}"


def _draw_banner(d: ImageDraw.ImageDraw, w: int, h: int, tag: str) -> int:
    """The card's top banner (label left, shot/cell tag right) for a w x h card; its last row."""
    u = min(w / 1280, h / 720)
    banner_h = banner_height(h)
    d.rectangle([0, 0, w, banner_h], fill=_INK)
    f_banner = _font(max(9, int(banner_h * 0.5)))
    _safe_text(d, (int(14 * u) + 2, int(banner_h * 0.22)), _drawable(CARD_LABEL), f_banner, (250, 250, 250))
    _safe_text(
        d, (w - _length(f_banner, tag) - 14 * u - 2, int(banner_h * 0.22)), tag, f_banner, (250, 210, 120)
    )
    return banner_h


def is_card(params: Mapping[str, Any] | None) -> bool:
    """Whether an image node's payload / params say it is a storyboard card (not a generated image)."""
    params = params or {}
    return params.get("kind") == "storyboard_sketch" or params.get("renderer") == StoryboardCardRenderer.name


def render_banner(width: int, height: int, *, shot_number: Any, cell: Any, grid_size: Any) -> bytes:
    """The banner strip alone as a PNG of width x (banner_height(height) + 1) pixels: the same
    pixels as the top rows of a width x height card of that shot and cell. Video made from a card
    lays it over every frame, so the label stays whole while the picture below it moves."""
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise BadInputError(f"Banner size {width}x{height} is outside 16..8192 px.", code="size_invalid")
    img = Image.new("RGB", (width, banner_height(height) + 1), _INK)
    _draw_banner(ImageDraw.Draw(img), width, height, _banner_tag(shot_number, cell, grid_size))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def card_banner(params: Mapping[str, Any] | None, width: int, height: int) -> bytes | None:
    """The banner strip for video of width x height made from the image with these params, or
    None when that image is not a storyboard card."""
    if not is_card(params):
        return None
    assert params is not None
    return render_banner(
        width,
        height,
        shot_number=params.get("shot_number", "?"),
        cell=params.get("cell", 1),
        grid_size=params.get("grid_size", 1),
    )


def _render_card(
    req: GridRequest, cam: Camera, cell: int, n: int, cell_seed: int
) -> tuple[Image.Image, bool]:
    w, h = req.width, req.height
    u = min(w / 1280, h / 720)
    rng = random.Random(f"card:{cell_seed}:{cell}")
    tint = rng.randint(-4, 4)
    img = Image.new("RGB", (w, h), tuple(max(0, min(255, c + tint)) for c in _PAPER))  # type: ignore[arg-type]
    d = ImageDraw.Draw(img)
    glyphs_ok = True

    banner_h = _draw_banner(d, w, h, _banner_tag(req.shot_number, cell, n))

    # viewport
    margin = max(4, int(24 * u))
    vx0, vy0 = margin, banner_h + margin // 2
    panel_h = int(h * 0.27)
    vx1, vy1 = w - margin, h - panel_h - margin // 2
    vw, vh = max(8, vx1 - vx0), max(8, vy1 - vy0)
    figure_x = vw * (1 / 3 if (cell_seed + cell) % 2 else 2 / 3)
    layer = _draw_frame_layer(cam, vw, vh, u, rng, figure_x)
    img.paste(layer, (vx0, vy0))
    d.rectangle([vx0, vy0, vx0 + vw, vy0 + vh], outline=_INK, width=max(1, round(2 * u)))

    f_small = _font(max(8, int(16 * u)))
    # parent thumbnail (faded, top-right) and references (bottom-left of viewport)
    if req.parent_png:
        parent = _faded_thumb(decode_image(req.parent_png, "parent"), int(vw * 0.24), int(vh * 0.3))
        px, py = vx0 + vw - parent.width - int(8 * u), vy0 + int(8 * u)
        img.paste(parent, (px, py))
        d.rectangle([px, py, px + parent.width, py + parent.height], outline=_INK, width=1)
        _safe_text(d, (px + 4, py + parent.height + 2), "from parent", f_small, _INK)
    x_ref = vx0 + int(8 * u)
    for i, data in enumerate(req.reference_pngs[:3]):
        ref = _faded_thumb(decode_image(data, f"reference #{i + 1}"), int(vw * 0.12), int(vh * 0.16))
        ry = vy0 + vh - ref.height - int(22 * u)
        img.paste(ref, (x_ref, ry))
        d.rectangle([x_ref, ry, x_ref + ref.width, ry + ref.height], outline=_INK, width=1)
        _safe_text(d, (x_ref + 2, ry + ref.height + 1), f"ref {i + 1}", f_small, _INK)
        x_ref += ref.width + int(10 * u)

    # text panel
    ty = vy1 + margin // 2 + int(4 * u)
    f_cam = _font(max(9, int(24 * u)))
    cam_line = (
        f"{cam.size.replace('_', ' ').upper()}  ·  {cam.angle.replace('_', ' ').upper()}"
        f"  ·  {cam.movement.replace('_', ' ').upper()}"
    )
    _safe_text(d, (margin, ty), cam_line, f_cam, _ACCENT)
    ty += int(34 * u) + 1
    visual_size = max(8, int(20 * u))
    f_vis, ok = _text_font(req.visual, visual_size)
    glyphs_ok = glyphs_ok and ok
    cell_font = _font(max(12, int(56 * u)))
    cell_text = f"{cell}"
    cell_w = _length(cell_font, cell_text)
    text_w = w - 2 * margin - cell_w - 24 * u
    line_h = int(visual_size * 1.3) + 1
    room = max(1, int((h - ty - margin // 2 - line_h) // line_h))
    for line in _wrap(req.visual, f_vis, text_w, min(3, room)):
        _safe_text(d, (margin, ty), line, f_vis, _INK)
        ty += line_h
    foot = f"seed {cell_seed}"
    if req.style:
        foot = f"style: {req.style}   ·   {foot}"
    f_foot, ok = _text_font(foot, max(8, int(16 * u)))
    glyphs_ok = glyphs_ok and ok
    if not glyphs_ok:
        foot += f"   ·   CJK text without glyphs: set {CJK_FONT_ENV}"
    _safe_text(d, (margin, h - int(16 * u) - margin // 2 - 2), foot, f_foot, (110, 106, 100))
    _safe_text(d, (w - margin - cell_w, vy1 + margin // 2 + int(30 * u)), cell_text, cell_font, _INK)
    return img, glyphs_ok


class StoryboardCardRenderer:
    """Draws one labelled storyboard card per grid cell; no model, no network, deterministic."""

    name = "storyboard_card"

    def render_grid(
        self,
        req: GridRequest,
        on_progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[RenderedImage]:
        if req.size not in GRID_SIZES:
            raise BadInputError(f"Grid size must be 1, 4 or 9, got {req.size}.", code="grid_size_invalid")
        if not (64 <= req.width <= 4096 and 64 <= req.height <= 4096):
            raise BadInputError(
                f"Card size {req.width}x{req.height} is outside 64..4096 px.", code="image_size_invalid"
            )
        cams = cell_cameras(req.camera, req.size, req.seed)
        out: list[RenderedImage] = []
        for i, cam in enumerate(cams, start=1):
            if cancelled is not None and cancelled():
                raise CancelledByUser(f"Grid for shot {req.shot_number} cancelled after {i - 1} cells.")
            cell_seed = req.seed + i - 1
            img, glyphs_ok = _render_card(req, cam, i, req.size, cell_seed)
            buf = io.BytesIO()
            img.save(buf, format="PNG", optimize=False)
            params: dict[str, Any] = {
                "renderer": self.name,
                "kind": "storyboard_sketch",
                "label": CARD_LABEL,
                "shot_number": req.shot_number,
                "grid_size": req.size,
                "cell": i,
                "camera": cam.model_dump(),
                "base_camera": req.camera.model_dump(),
                "variation": "as_requested" if i == 1 else "size+angle",
                "style": req.style,
                "from_parent": req.parent_png is not None,
                "references": len(req.reference_pngs),
                "glyphs_complete": glyphs_ok,
            }
            out.append(RenderedImage(buf.getvalue(), req.width, req.height, cell_seed, i, params))
            if on_progress is not None:
                on_progress(i / len(cams))
        return out


def contact_sheet(images: list[RenderedImage], *, columns: int | None = None, gap: int = 8) -> bytes:
    """All cells of one grid as a single PNG (2x2 or 3x3), for previews and downloads."""
    if not images:
        raise BadInputError("No images to put on a contact sheet.", code="grid_empty")
    cols = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    w, h = images[0].width, images[0].height
    sheet = Image.new("RGB", (cols * w + (cols + 1) * gap, rows * h + (rows + 1) * gap), (255, 255, 255))
    for k, item in enumerate(images):
        with Image.open(io.BytesIO(item.png)) as img:
            sheet.paste(img.convert("RGB"), (gap + (k % cols) * (w + gap), gap + (k // cols) * (h + gap)))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()
