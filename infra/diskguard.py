"""Disk guard: below a free-space threshold no new generation starts.

Rule: the data directory's filesystem (ledger, storage, work files) must keep at least
``DIRECTORDECK_MIN_FREE_DISK_MB`` free; below it the API refuses new work with ``disk_full`` (507),
activities refuse to render (``disk_full``, retried with backoff until space is freed), and
``doctor`` and ``/ready`` say so — long before PostgreSQL can run out of WAL space.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024


@dataclass(frozen=True)
class DiskSpace:
    path: str
    free_mb: float
    min_free_mb: int

    @property
    def ok(self) -> bool:
        return self.free_mb >= self.min_free_mb

    def problem(self) -> str:
        return (
            f"only {self.free_mb:.0f} MiB free on {self.path} (the disk guard needs "
            f"{self.min_free_mb} MiB): new generation is refused until space is freed"
        )


class LowDiskSpace(Exception):
    """Raised by `require`; `code` is the stable error code."""

    code = "disk_full"

    def __init__(self, space: DiskSpace) -> None:
        super().__init__(space.problem())
        self.space = space


def disk_space(path: Path, min_free_mb: int) -> DiskSpace:
    """Free space of the filesystem holding `path` (its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return DiskSpace(str(path), shutil.disk_usage(probe).free / MiB, int(min_free_mb))


def require(path: Path, min_free_mb: int) -> DiskSpace:
    """The space, or LowDiskSpace when it is below the threshold (0 disables the guard)."""
    space = disk_space(path, min_free_mb)
    if min_free_mb > 0 and not space.ok:
        raise LowDiskSpace(space)
    return space
