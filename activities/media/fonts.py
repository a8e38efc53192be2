"""Which font draws Chinese: the one lookup cards, subtitles and `doctor` share.

Rule: $DIRECTORDECK_CJK_FONT wins when it names a file, else a well-known system font, else the Noto
Sans SC that the `pylopdf-fonts-zh-cn` runtime dependency ships; never a download.
"""

from __future__ import annotations

import os
from pathlib import Path

CJK_FONT_ENV = "DIRECTORDECK_CJK_FONT"
_CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


def packaged_cjk_font() -> Path | None:
    """Noto Sans SC from the `pylopdf-fonts-zh-cn` wheel (a runtime dependency), if installed."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    return path if path.is_file() else None


def find_cjk_font() -> Path | None:
    """A font with CJK glyphs: $DIRECTORDECK_CJK_FONT, else a well-known system path, else the
    packaged Noto Sans SC, else None."""
    configured = os.environ.get(CJK_FONT_ENV)
    if configured and Path(configured).is_file():
        return Path(configured)
    for candidate in _CJK_FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return packaged_cjk_font()
