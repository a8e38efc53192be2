"""Errors the stack reports to the person at the terminal: one line naming the problem, one fix."""

from __future__ import annotations


class StackError(Exception):
    def __init__(self, problem: str, *, fix: str, code: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.code = code

    def one_line(self) -> str:
        where = f"{self.code}: " if self.code else ""
        return f"error: {where}{self.problem} — fix: {self.fix}"
