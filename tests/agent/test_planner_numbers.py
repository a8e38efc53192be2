"""Numbers and ranges as people type them (agent.planner.numbers)."""

from __future__ import annotations

import pytest

from agent.planner.numbers import format_numbers, parse_int, parse_number_list, parse_ordinal


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("12", 12),
        ("0", 0),
        ("一", 1),
        ("两", 2),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十五", 25),
        ("一百零五", 105),
        ("二〇二四", 2024),
        ("five", 5),
        ("twelve", 12),
        ("twenty", 20),
        ("twenty-five", 25),
        ("Thirty Two", 32),
        ("dozen", 12),
        ("", None),
        ("abc", None),
        ("twenty-ten", None),
    ],
)
def test_parse_int(token: str, expected: int | None) -> None:
    assert parse_int(token) == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("3rd", 3),
        ("1st", 1),
        ("22nd", 22),
        ("third", 3),
        ("Twelfth", 12),
        ("第八", 8),
        ("第8", 8),
        ("nope", None),
    ],
)
def test_parse_ordinal(token: str, expected: int | None) -> None:
    assert parse_ordinal(token) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8-12", [8, 9, 10, 11, 12]),
        ("8 - 12", [8, 9, 10, 11, 12]),
        ("8–12", [8, 9, 10, 11, 12]),
        ("8—12", [8, 9, 10, 11, 12]),
        ("8~12", [8, 9, 10, 11, 12]),
        ("8 to 12", [8, 9, 10, 11, 12]),
        ("8 through 12", [8, 9, 10, 11, 12]),
        ("8 thru 12", [8, 9, 10, 11, 12]),
        ("eight to twelve", [8, 9, 10, 11, 12]),
        ("12-8", [8, 9, 10, 11, 12]),
        ("8到12", [8, 9, 10, 11, 12]),
        ("8至12", [8, 9, 10, 11, 12]),
        ("八到十二", [8, 9, 10, 11, 12]),
        ("第8到第12个", [8, 9, 10, 11, 12]),
        ("2, 4 and 6", [2, 4, 6]),
        ("2, 4, and 6", [2, 4, 6]),
        ("6, 4, 2, 4", [2, 4, 6]),
        ("2、4和6", [2, 4, 6]),
        ("二、四、六", [2, 4, 6]),
        ("1-3 and 7", [1, 2, 3, 7]),
        ("3", [3]),
        ("三", [3]),
        ("", []),
        ("1-5000", [1, 5000]),
    ],
)
def test_parse_number_list(text: str, expected: list[int]) -> None:
    assert parse_number_list(text) == expected


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ([], ""),
        ([3], "3"),
        ([8, 9, 10, 11, 12], "8–12"),
        ([1, 2, 3, 7, 9, 10], "1–3, 7, 9–10"),
        ([5, 5, 4], "4–5"),
    ],
)
def test_format_numbers(numbers: list[int], expected: str) -> None:
    assert format_numbers(numbers) == expected
