"""Which stored files no ledger row points at: the tests' orphan check, by the janitor's own rule."""

from __future__ import annotations

from pathlib import Path

from infra.ledger import unit_of_work
from schema.repositories import assets as asset_repo


def orphan_keys(storage_root: Path, database_url: str) -> list[str]:
    """Storage keys under `storage_root` (temp files aside) that no asset row uses as its file or
    one of its thumbnails (`schema.repositories.assets.keys_in_use`)."""
    if not storage_root.is_dir():
        return []
    keys = [
        p.relative_to(storage_root).as_posix()
        for p in storage_root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    ]
    with unit_of_work(database_url) as session:
        used = asset_repo.keys_in_use(session, keys)
    return sorted(k for k in keys if k not in used)
