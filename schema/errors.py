"""Typed failures raised by providers and activities.

Rule: every failure that a retry cannot fix is a `BadInputError` (or subclass) with a stable
`code`; the activity layer turns it into a non-retryable Temporal `ApplicationError` whose `type`
is the code, and the task row records the same code. Anything else is retryable.
"""

from __future__ import annotations


class DirectorDeckError(Exception):
    """Base class: `code` is stable and machine-readable, `message` is for people."""

    code = "internal_error"
    retryable = True

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadInputError(DirectorDeckError):
    """Input a retry cannot fix (empty story, unknown provider, corrupt asset...)."""

    code = "bad_input"
    retryable = False


class ProviderUnavailableError(DirectorDeckError):
    """A provider is missing something it needs (binary, model, voice); says what to install."""

    code = "provider_unavailable"
    retryable = False


class MediaToolError(DirectorDeckError):
    """FFmpeg (or another media tool) failed on input it should handle; the stderr tail is kept."""

    code = "ffmpeg_failed"
    retryable = False


class MediaToolKilled(MediaToolError):
    """FFmpeg was killed by a signal (the OOM killer, an operator, a crash): not the input's fault,
    so the activity is retried."""

    code = "ffmpeg_killed"
    retryable = True


class DiskFullError(DirectorDeckError):
    """The disk guard refused new work below its free-space threshold. Retried with backoff:
    freeing space lets the work finish."""

    code = "disk_full"
    retryable = True


class NoSpaceError(DiskFullError):
    """A write really failed with ENOSPC ("No space left on device": FFmpeg's output, a stored
    file). Its own code, so the cause is never buried in a tool's stored output; retried like
    `disk_full`."""

    code = "no_space"


class TransientProviderError(DirectorDeckError):
    """A provider failure worth retrying (quota, timeout, flaky network)."""

    code = "provider_transient"
    retryable = True


class CancelledByUser(DirectorDeckError):
    """Work stopped because its activity was cancelled; callers re-raise CancelledError."""

    code = "canceled"
    retryable = False
