"""Ledger query latency on a big workspace: 1,000 shots and 100,000 nodes (run on demand).

    .venv/bin/pytest tests/bench/bench_ledger.py -s -p no:cacheprovider --override-ini addopts=
    BENCH_QUICK=1 ...   200 shots / 20,000 nodes, fewer repeats

The workspace is bulk-loaded with COPY into its own database cloned from the migrated template
(every constraint and index of the real schema is in force): 100 scenes; 1,000 shots, each with
track A and 10 grid rounds of 1 group + 9 images (round r iterates from cell 1 of round r-1, so
lineage is 19 levels deep), 90,000 image assets; every group after a shot's first references a
character sheet (one node referenced by 9,000 groups: the worst case of "who uses this?") and one
image of another shot. Then ANALYZE.

Measured through the repository functions the API and the activities call, one unit of work per
call (a request's worth: checkout, BEGIN, query, ORM rows, COMMIT), each on a random shot, up to
200 calls per query (at least 20, within a 10 s budget):
`ancestors` of a deepest image, `descendants` of a first-round group, `referenced_by` of the
character sheet (all 9,000 rows in one list), its first keyset page (`referenced_by_page`, the
API's default 100 rows) and a walk through every page of it (one unit of work per page, as a client
following `X-Next-Cursor` does), `references_of` a group, `latest_grid` of a shot, and the
storyboard page (`list_scenes` + `selected_versions`, all 1,000 shots with their selected files).
Printed: p50/p99/max in ms per query; the figures also go to the bench JSON under "ledger".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]

GRID_ROUNDS = 10  # per shot: 10 x (1 group + 9 images) = 100 nodes
CELLS = 9
MIN_SAMPLES = 20


@dataclass
class LedgerShape:
    shots: int = 1000
    scenes: int = 100
    repeats: int = 200  # calls per query, unless its time budget runs out first
    budget_s: float = 10.0  # per query; at least MIN_SAMPLES calls are made anyway

    @property
    def nodes(self) -> int:
        return self.shots * GRID_ROUNDS * (CELLS + 1)


@dataclass
class Loaded:
    workspace_id: uuid.UUID
    shot_ids: list[uuid.UUID]
    track_ids: list[uuid.UUID]
    first_groups: list[uuid.UUID]  # per shot: round 1's group (root of the lineage tree)
    deepest_images: list[uuid.UUID]  # per shot: last round's cell 9
    groups: list[uuid.UUID] = field(default_factory=list)  # every group that has references
    character_sheet: uuid.UUID | None = None
    counts: dict[str, int] = field(default_factory=dict)
    load_s: float = 0.0


def _copy(cur: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def load_workspace(db_url: str, shape: LedgerShape, seed: int = 7) -> Loaded:
    """Bulk-load one big narrative workspace with COPY; returns the ids the queries need."""
    import psycopg

    from infra.dburl import libpq_url

    rng = random.Random(seed)
    started = time.perf_counter()
    ws = uuid.uuid4()
    scenes = [uuid.uuid4() for _ in range(shape.scenes)]
    shots = [uuid.uuid4() for _ in range(shape.shots)]
    tracks = [uuid.uuid4() for _ in range(shape.shots)]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    # node ids per shot, round, cell (cell 0 = the group)
    ids = [[[uuid.uuid4() for _ in range(CELLS + 1)] for _ in range(GRID_ROUNDS)] for _ in shots]
    sheet = ids[0][0][1]  # shot 1, round 1, cell 1: the character sheet everyone references
    loaded = Loaded(
        workspace_id=ws,
        shot_ids=shots,
        track_ids=tracks,
        first_groups=[s[0][0] for s in ids],
        deepest_images=[s[-1][CELLS] for s in ids],
        character_sheet=sheet,
    )

    def scene_rows() -> Iterator[tuple[Any, ...]]:
        for i, sid in enumerate(scenes, start=1):
            yield (sid, ws, i, f"scene {i}")

    def shot_rows() -> Iterator[tuple[Any, ...]]:
        per_scene = max(1, shape.shots // shape.scenes)
        for i, sid in enumerate(shots, start=1):
            spec = f'{{"visual": "shot {i} of a fox stealing the moon", "narration": "line {i}"}}'
            yield (sid, ws, "shot", scenes[min((i - 1) // per_scene, len(scenes) - 1)], i, 4.0, spec)

    def track_rows() -> Iterator[tuple[Any, ...]]:
        for sid, tid in zip(shots, tracks, strict=True):
            yield (tid, sid, "A")

    assets: dict[uuid.UUID, uuid.UUID] = {}

    def asset_rows() -> Iterator[tuple[Any, ...]]:
        for s, shot in enumerate(ids):
            for r, round_ in enumerate(shot):
                for cell in range(1, CELLS + 1):
                    aid = uuid.uuid4()
                    assets[round_[cell]] = aid
                    digest = hashlib.sha256(f"{s}/{r}/{cell}".encode()).hexdigest()
                    key = f"image/{digest[:2]}/{digest}.png"
                    yield (aid, ws, key, digest, "image", "image/png", 180_000, 1280, 720)

    def node_rows() -> Iterator[tuple[Any, ...]]:
        t = 0
        for s, shot in enumerate(ids):
            for r, round_ in enumerate(shot):
                parent = shot[r - 1][1] if r else None  # iterate from the previous round's cell 1
                t += 1
                yield (
                    round_[0],
                    ws,
                    shots[s],
                    tracks[s],
                    parent,
                    "grid_group",
                    None,
                    None,
                    f"bench/{s}/{r}",
                    base + dt.timedelta(milliseconds=t),
                    '{"size": 9}',
                )
                for cell in range(1, CELLS + 1):
                    t += 1
                    yield (
                        round_[cell], ws, shots[s], tracks[s], round_[0], "image", cell,
                        assets[round_[cell]], f"bench/{s}/{r}/{cell}",
                        base + dt.timedelta(milliseconds=t), f'{{"cell": {cell}}}',
                    )  # fmt: skip

    def ref_rows() -> Iterator[tuple[Any, ...]]:
        for shot in ids:
            for r in range(1, GRID_ROUNDS):
                group = shot[r][0]
                loaded.groups.append(group)
                if group != sheet:
                    yield (uuid.uuid4(), ws, group, sheet, "character")
                other = ids[rng.randrange(len(ids))][rng.randrange(GRID_ROUNDS)][rng.randrange(1, CELLS + 1)]
                if other not in (group, sheet):
                    yield (uuid.uuid4(), ws, group, other, "image")

    with psycopg.connect(libpq_url(db_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into workspace (id, owner_id, type, title) values (%s, 'bench', 'narrative_project', %s)",
            (ws, "ledger bench"),
        )
        counts = loaded.counts
        counts["scenes"] = _copy(cur, "scene", ("id", "workspace_id", "idx", "title"), scene_rows())
        counts["shots"] = _copy(
            cur,
            "work_item",
            ("id", "workspace_id", "type", "scene_id", "idx", "duration_s", "spec"),
            shot_rows(),
        )
        counts["tracks"] = _copy(cur, "track", ("id", "work_item_id", "name"), track_rows())
        counts["assets"] = _copy(
            cur,
            "asset",
            (
                "id",
                "workspace_id",
                "storage_key",
                "content_hash",
                "kind",
                "mime",
                "size_bytes",
                "width",
                "height",
            ),
            asset_rows(),
        )
        counts["nodes"] = _copy(
            cur,
            "node",
            (
                "id", "workspace_id", "work_item_id", "track_id", "parent_id", "type", "cell",
                "asset_id", "idempotency_key", "created_at", "payload",
            ),
            node_rows(),
        )  # fmt: skip
        counts["node_refs"] = _copy(
            cur, "node_ref", ("id", "workspace_id", "from_node_id", "to_node_id", "role"), ref_rows()
        )
        # every shot selects cell 5 of its last round
        cur.execute("create temp table pick (shot uuid, node uuid) on commit drop")
        _copy(cur, "pick", ("shot", "node"), ((shots[s], ids[s][-1][5]) for s in range(len(shots))))
        cur.execute("update work_item w set selected_node_id = p.node from pick p where w.id = p.shot")
        conn.commit()
    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        conn.execute("analyze")
    loaded.load_s = time.perf_counter() - started
    return loaded


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] * 1000, 3)

    return {
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "n": len(ordered),
    }


def ledger_figures(db_url: str, shape: LedgerShape | None = None) -> dict[str, Any]:
    """Load the workspace, then time each query `shape.repeats` times (after 5 warm-up calls)."""
    from infra.ledger import unit_of_work
    from schema.repositories import nodes as node_repo
    from schema.repositories import storyboard as storyboard_repo

    shape = shape or LedgerShape()
    loaded = load_workspace(db_url, shape)
    rng = random.Random(11)
    n_shots = len(loaded.shot_ids)
    sheet = loaded.character_sheet
    assert sheet is not None

    def storyboard_page() -> int:
        with unit_of_work(db_url) as session:
            scenes = storyboard_repo.list_scenes(session, loaded.workspace_id)
            shots = node_repo.selected_versions(session, loaded.workspace_id)
        return len(scenes) + len(shots)

    def one(fn: Callable[[Any], list[Any] | Any]) -> Callable[[], int]:
        def call() -> int:
            with unit_of_work(db_url) as session:
                rows = fn(session)
            return len(rows) if isinstance(rows, list) else (0 if rows is None else 1)

        return call

    def referenced_by_walk() -> int:
        rows, cursor = 0, None
        while True:
            with unit_of_work(db_url) as session:
                page = node_repo.referenced_by_page(session, sheet, cursor=cursor)
            rows += len(page.rows)
            if page.next_cursor is None:
                return rows
            cursor = page.next_cursor

    def latest_grid(session: Any) -> Any:
        s = rng.randrange(n_shots)
        return node_repo.latest_grid(session, loaded.shot_ids[s], loaded.track_ids[s])

    queries: dict[str, tuple[str, Callable[[], int]]] = {
        "ancestors": (
            "lineage up from a last-round image (19 levels)",
            one(lambda s: node_repo.ancestors(s, loaded.deepest_images[rng.randrange(n_shots)])),
        ),
        "descendants": (
            "lineage down from a first-round group (99 nodes)",
            one(lambda s: node_repo.descendants(s, loaded.first_groups[rng.randrange(n_shots)])),
        ),
        "referenced_by": (
            "who references the character sheet",
            one(lambda s: node_repo.referenced_by(s, sheet)),
        ),
        "referenced_by_page": (
            f"the first page ({node_repo.DEFAULT_PAGE_SIZE}) of who references the character sheet",
            one(lambda s: node_repo.referenced_by_page(s, sheet).rows),
        ),
        "referenced_by_walk": (
            f"every page of {node_repo.DEFAULT_PAGE_SIZE}, one unit of work each",
            referenced_by_walk,
        ),
        "references_of": (
            "what a group references",
            one(lambda s: node_repo.references_of(s, loaded.groups[rng.randrange(len(loaded.groups))])),
        ),
        "latest_grid": ("a shot's newest grid with its cells", one(latest_grid)),
        "storyboard_page": ("scenes + every shot with its selected file", storyboard_page),
    }
    results: dict[str, Any] = {}
    for name, (what, call) in queries.items():
        rows = 0
        for _ in range(5):
            rows = call()
        samples: list[float] = []
        deadline = time.perf_counter() + shape.budget_s
        while len(samples) < shape.repeats and (len(samples) < MIN_SAMPLES or time.perf_counter() < deadline):
            t0 = time.perf_counter()
            rows = call()
            samples.append(time.perf_counter() - t0)
        results[name] = {"what": what, "rows": rows, **_percentiles(samples)}
    return {
        "shots": shape.shots,
        "nodes": loaded.counts["nodes"],
        "counts": loaded.counts,
        "load_s": round(loaded.load_s, 2),
        "repeats": shape.repeats,
        "queries": results,
    }


def format_ledger(figures: dict[str, Any]) -> str:
    title = (
        f"ledger queries: {figures['shots']} shots, {figures['nodes']} nodes, "
        f"{figures['counts']['node_refs']} references (loaded in {figures['load_s']:.1f} s; "
        f"up to {figures['repeats']} calls each, one unit of work per call)"
    )
    rows = [
        (name, f"p50 {q['p50_ms']:7.2f} ms  p99 {q['p99_ms']:7.2f} ms  max {q['max_ms']:7.2f} ms  "
               f"n={q['n']:<4} ({q['rows']} rows: {q['what']})")
        for name, q in figures["queries"].items()
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    return "\n".join([title, *(f"  {k.ljust(width)}  {v}" for k, v in rows)]) + "\n"


def shape_for(quick: bool) -> LedgerShape:
    return LedgerShape(shots=200, scenes=20, repeats=50, budget_s=3.0) if quick else LedgerShape()


@pytest.fixture(scope="module")
def ledger_db_url(pg, pg_template_url: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A database of its own: 100,000 nodes must not slow the other benchmarks' queries."""
    from infra.ledger import dispose_engines
    from tests.conftest import clone_database

    name = f"dd_bench_ledger_{uuid.uuid4().hex[:8]}"
    url = clone_database(pg, name)
    yield url
    dispose_engines(url)
    pg.drop_database(name)


def test_ledger_query_latency(ledger_db_url: str, figures: dict[str, Any]) -> None:
    from schema.repositories.nodes import DEFAULT_PAGE_SIZE

    shape = shape_for(os.environ.get("BENCH_QUICK") == "1")
    ledger = ledger_figures(ledger_db_url, shape)
    print("\n" + format_ledger(ledger))
    figures["ledger"] = ledger  # in the BENCH_JSON file with the other figures
    assert ledger["nodes"] == shape.nodes
    q = ledger["queries"]
    assert q["ancestors"]["rows"] == 2 * GRID_ROUNDS - 1
    assert q["descendants"]["rows"] == GRID_ROUNDS * (CELLS + 1) - 1
    assert q["referenced_by"]["rows"] == shape.shots * (GRID_ROUNDS - 1)
    assert q["referenced_by_walk"]["rows"] == q["referenced_by"]["rows"]
    assert q["referenced_by_page"]["rows"] == min(DEFAULT_PAGE_SIZE, q["referenced_by"]["rows"])
    assert q["storyboard_page"]["rows"] == shape.shots + shape.scenes
    assert q["latest_grid"]["rows"] == 1
    for name, stats in q.items():
        assert 0 < stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"], name
