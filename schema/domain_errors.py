"""Typed domain errors raised by the ledger repositories.

Rule: every error carries a stable, machine-readable `code` (snake_case, never reworded once
shipped) and a human `message`; `details` holds ids that help a caller explain the failure.
Callers map the class to a response (`http_status` is the suggested HTTP status) and never parse
the message. None of these is worth retrying: the same input fails the same way.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class for every error the ledger raises on purpose."""

    code: str = "domain_error"
    http_status: int = 400
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class NotFound(DomainError):
    """The row does not exist (or is not visible to the caller)."""

    code = "not_found"
    http_status = 404

    def __init__(self, entity: str, ident: Any, *, code: str | None = None) -> None:
        super().__init__(
            f"{entity} {ident} not found", code=code or f"{entity}_not_found", entity=entity, id=ident
        )


class InvalidInput(DomainError):
    """The arguments are malformed (out-of-range duration, bad hash, empty storyboard...)."""

    code = "invalid_input"
    http_status = 422


class InvariantViolation(DomainError):
    """The write would break a ledger invariant (docs/domain.md) (the database rejects it too)."""

    code = "invariant_violation"
    http_status = 409


class Conflict(DomainError):
    """The write clashes with existing state (name taken, storyboard already written...)."""

    code = "conflict"
    http_status = 409


class InvalidTransition(DomainError):
    """A task (or other state machine) cannot move from its current state to the requested one."""

    code = "invalid_transition"
    http_status = 409


class VersionMismatch(DomainError):
    """A row changed since the version the caller edited from (optimistic concurrency)."""

    code = "version_mismatch"
    http_status = 412
