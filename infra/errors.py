"""Errors the stack reports to the person at the terminal: one line naming the problem, one fix."""

from __future__ import annotations


class StackError(Exception):
    def __init__(self, problem: str, *, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def one_line(self) -> str:
        return f"error: {self.problem} — fix: {self.fix}"
