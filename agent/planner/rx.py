"""``re`` with CJK-safe word boundaries: every call adds ``re.ASCII``.

Rule: with Python's default Unicode matching a Chinese character is a word character, so ``\\b``
between "成" and "16:9" is no boundary and an argument written right after a Chinese character is
lost. Under ``re.ASCII`` only ``[A-Za-z0-9_]`` are word characters, so ``\\b``, ``\\w`` and ``\\d``
behave for English and numbers next to CJK text; explicit CJK ranges keep working. Text is NFKC
normalised before it gets here (full-width digits and spaces are already ASCII).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

I = re.I  # noqa: E741 - mirrors re.I
IGNORECASE = re.IGNORECASE
Match = re.Match
Pattern = re.Pattern
escape = re.escape
error = re.error


@functools.lru_cache(maxsize=8192)
def _compiled(pattern: str, flags: int) -> re.Pattern[str]:
    """The planner runs more distinct patterns than ``re``'s own cache holds (512): a cache that
    holds them all keeps planning from recompiling on every sentence."""
    return re.compile(pattern, flags | re.ASCII)


def compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return _compiled(pattern, flags)


def search(pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
    return _compiled(pattern, flags).search(string)


def match(pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
    return _compiled(pattern, flags).match(string)


def fullmatch(pattern: str, string: str, flags: int = 0) -> re.Match[str] | None:
    return _compiled(pattern, flags).fullmatch(string)


def finditer(pattern: str, string: str, flags: int = 0) -> Iterator[re.Match[str]]:
    return _compiled(pattern, flags).finditer(string)


def findall(pattern: str, string: str, flags: int = 0) -> list[Any]:
    return _compiled(pattern, flags).findall(string)


def split(pattern: str, string: str, maxsplit: int = 0, flags: int = 0) -> list[str]:
    return _compiled(pattern, flags).split(string, maxsplit=maxsplit)


def sub(
    pattern: str, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0, flags: int = 0
) -> str:
    return _compiled(pattern, flags).sub(repl, string, count=count)


__all__ = [
    "IGNORECASE",
    "I",
    "Match",
    "Pattern",
    "compile",
    "error",
    "escape",
    "findall",
    "finditer",
    "fullmatch",
    "match",
    "search",
    "split",
    "sub",
]
