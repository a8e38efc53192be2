"""Which language a piece of text is in: the one rule every layer uses.

Rule: a text is Chinese when it holds a CJK ideograph (CJK Unified Ideographs, Extension A,
Compatibility Ideographs); CJK punctuation and full-width forms count only where a caller asks
(they need a CJK font, but they do not make a sentence Chinese).
"""

from __future__ import annotations

import re
from typing import Literal

IDEOGRAPH = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
PUNCTUATION = r"\u3000-\u303f\uff00-\uffef"
CJK_RE = re.compile(f"[{IDEOGRAPH}]")
CJK_OR_PUNCTUATION_RE = re.compile(f"[{IDEOGRAPH}{PUNCTUATION}]")

Lang = Literal["en", "zh"]


def has_cjk(text: str, *, punctuation: bool = False) -> bool:
    """True when `text` holds an ideograph (or, with `punctuation`, CJK punctuation / full-width forms)."""
    return (CJK_OR_PUNCTUATION_RE if punctuation else CJK_RE).search(text) is not None


def cjk_count(text: str) -> int:
    """How many ideographs `text` holds."""
    return len(CJK_RE.findall(text))


def language_of(text: str) -> Lang:
    """``zh`` when the text holds an ideograph, else ``en``."""
    return "zh" if has_cjk(text) else "en"
