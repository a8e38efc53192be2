"""Serialised read documents (the storyboard) kept per API process.

Rule: a cached body is only ever served after the database has answered, for this request, that
the caller may read the workspace and that its revision (see `storyboard_revision`) is the one the
body was built at; any write moves the revision, so a stale body is never served. Bounded by entry
count (least recently used goes first); each process has its own, so replicas share nothing.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from infra.lru import Lru


@dataclass(frozen=True)
class CachedDocument:
    revision: str
    body: bytes
    etag: str


class DocumentCache(Lru[Hashable, CachedDocument]):
    def __init__(self, max_entries: int = 256) -> None:
        super().__init__(max_entries)

    def at(self, key: Hashable, revision: str) -> CachedDocument | None:
        """The body built at `revision`, or None (absent, or built at another revision)."""
        document = self.get(key)
        return document if document is not None and document.revision == revision else None
