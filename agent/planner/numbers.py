"""Numbers as people type them, in English and Chinese.

Rule: every number the offline planner reads goes through :func:`parse_int` (digits, Chinese numerals
such as 十二 / 二十 / 两 / 一百零五, English words such as twelve / twenty-five) or
:func:`parse_ordinal` (3rd, third, 第三); lists and ranges ("8-12", "8 to 12", "8–12",
"8 through 12", "8到12", "8至12", "2, 4 and 6", "2、4和6") go through :func:`parse_number_list`.
The regex fragments ``NUM`` / ``ORD`` let callers embed the same grammar in larger patterns.
"""

from __future__ import annotations

import re

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,  # colloquial "two of them"
    "仨": 3,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)

_EN_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_EN_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
}

_EN_UNIT_RE = "|".join(sorted(_EN_UNITS, key=len, reverse=True))
_EN_TENS_RE = "|".join(_EN_TENS)
_EN_SMALL_RE = "one|two|three|four|five|six|seven|eight|nine"
EN_NUM = rf"(?:(?:{_EN_TENS_RE})(?:[- ](?:{_EN_SMALL_RE}))?|{_EN_UNIT_RE}|dozen)"
"""English number words (zero … ninety-nine), no boundaries."""

NUM = rf"(?:\d+|[{CN_NUM_CHARS}]+|\b{EN_NUM}\b)"
"""One number: digits, a run of Chinese numerals, or English words."""

ORD = rf"(?:\d+(?:st|nd|rd|th)\b|\b(?:{'|'.join(sorted(_EN_ORDINALS, key=len, reverse=True))})\b)"
"""An English ordinal: 3rd, third."""

RANGE_SEP = (
    r"\s*(?:-|–|—|~|\.\.|\b(?:through|thru) to\b|\bto\b|\bthrough\b|\bthru\b|\buntil\b|\btill\b|到|至)\s*"
)
LIST_SEP = r"\s*(?:,\s*(?:and\s+)?|\band\b|&|\+|/|、|和|与|及|跟|以及)\s*"

_RANGE_RE = re.compile(
    rf"^#?\s*第?\s*({NUM})\s*(?:个|号)?{RANGE_SEP}(?:第\s*)?#?\s*({NUM})\s*(?:个|号)?$", re.I
)


def _parse_cn(token: str) -> int | None:
    if not token or any(ch not in CN_NUM_CHARS for ch in token):
        return None
    if not any(ch in _CN_UNITS for ch in token):
        # a plain digit sequence such as 二〇二四
        return int("".join(str(_CN_DIGITS[ch]) for ch in token))
    total, current = 0, 0
    for ch in token:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            total += (current or 1) * unit  # 十二 -> 1*10 + 2
            current = 0
    return total + current


def _parse_en(token: str) -> int | None:
    t = token.strip().lower()
    if t == "dozen":
        return 12
    if t in _EN_UNITS:
        return _EN_UNITS[t]
    parts = re.split(r"[- ]", t)
    if parts[0] in _EN_TENS and len(parts) <= 2:
        tail = _EN_UNITS.get(parts[1], -1) if len(parts) == 2 else 0
        if 0 <= tail <= 9:
            return _EN_TENS[parts[0]] + tail
    return None


def parse_int(token: str) -> int | None:
    """Parse one number token: ``"12"``, ``"十二"``, ``"两"``, ``"twelve"``, ``"twenty-five"``."""
    t = token.strip()
    if not t:
        return None
    if t.isascii() and t.isdigit():
        return int(t)
    return _parse_cn(t) if t[0] in CN_NUM_CHARS else _parse_en(t)


def parse_ordinal(token: str) -> int | None:
    """Parse an ordinal: ``"3rd"``, ``"third"``, ``"第三"``, ``"第3"``."""
    t = token.strip().lower()
    if t.startswith("第"):
        return parse_int(t[1:])
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)", t)
    if m:
        return int(m.group(1))
    return _EN_ORDINALS.get(t)


def parse_number_list(text: str, limit: int = 999) -> list[int]:
    """Parse a list of numbers and ranges; returns sorted unique ints (empty if nothing parses).

    Ranges are inclusive and may be written backwards ("12-8"). Values above ``limit`` are kept as
    single values (not expanded) so callers can report them as out of range.
    """
    out: set[int] = set()
    for part in re.split(LIST_SEP, text.strip(), flags=re.I):
        part = part.strip().strip("#").strip()
        if not part:
            continue
        m = _RANGE_RE.match(part)
        if m:
            a, b = parse_int(m.group(1)), parse_int(m.group(2))
            if a is None or b is None:
                continue
            lo, hi = min(a, b), max(a, b)
            if hi > limit:
                out.update({lo, hi})
            else:
                out.update(range(lo, hi + 1))
            continue
        m2 = re.fullmatch(rf"第?\s*({NUM})\s*(?:个|号)?", part, flags=re.I)
        if m2:
            n = parse_int(m2.group(1))
            if n is not None:
                out.add(n)
    return sorted(out)


_MIN_SEC = [  # (pattern, unit written back): group 1 the minutes, group 2 the seconds (None: a half)
    (rf"({NUM})\s*分钟?\s*半钟?()", "秒"),
    (rf"({NUM})\s*分钟?\s*({NUM})\s*秒钟?", "秒"),
    (rf"\b(an?|{NUM})\s+and\s+a\s+half\s+minutes?\b()", " seconds"),
    (rf"\b(an?|{NUM})\s+minutes?\s+and\s+a\s+half\b()", " seconds"),
    (r"\b(\d+)\.5\s*(?:min|mins|minutes?)\b()", " seconds"),
    (rf"\b(an?|{NUM})\s*(?:min|mins|minutes?)\s+(?:and\s+)?({NUM})\s*(?:s|secs?|seconds?)\b", " seconds"),
]


def spoken_seconds(text: str) -> str:
    """ "一分半" → "90秒", "1分30秒" → "90秒", "a minute and a half" / "1.5 minutes" → "90 seconds":
    a length said in minutes and seconds, rewritten as seconds (other text unchanged)."""

    def sub(m: re.Match[str], unit: str) -> str:
        minutes = 1 if m.group(1).lower() in {"a", "an"} else parse_int(m.group(1).lower())
        seconds = parse_int(m.group(2).lower()) if m.group(2) else 30
        if minutes is None or seconds is None:
            return m.group(0)
        return f"{minutes * 60 + seconds}{unit}"

    for pattern, unit in _MIN_SEC:
        text = re.sub(pattern, lambda m, unit=unit: sub(m, unit), text, flags=re.I)
    return text


def format_numbers(numbers: list[int]) -> str:
    """Compact display: ``[8, 9, 10, 12]`` → ``"8–10, 12"``."""
    if not numbers:
        return ""
    runs: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


__all__ = [
    "CN_NUM_CHARS",
    "EN_NUM",
    "LIST_SEP",
    "NUM",
    "ORD",
    "RANGE_SEP",
    "format_numbers",
    "parse_int",
    "parse_number_list",
    "parse_ordinal",
]
