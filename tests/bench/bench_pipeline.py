"""Benchmarks of the offline generation pipeline (run on demand: `make bench`).

    .venv/bin/pytest tests/bench -s -p no:cacheprovider --override-ini addopts=
    BENCH_QUICK=1 ...   smaller sizes for a fast check
    BENCH_JSON=f.json   also write the figures as JSON

The measuring lives in `pipeline_figures` (plain functions returning dicts) so that
`directordeck bench` can call it too; these tests run it on the session's real PostgreSQL and
Temporal dev server, collect the figures (printed as one table at the end of the run, see
conftest.py), and check the figures are sane (not a speed threshold).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench.pipeline_figures import BenchSizes, activity_overhead_figures, pipeline_figures

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]


@pytest.fixture(scope="session")
async def pipeline_run(temporal_env, bench_db_url: str, bench_dir, sizes: BenchSizes) -> dict[str, Any]:
    return await pipeline_figures(
        temporal_env.client,
        bench_db_url,
        bench_dir / "pipeline",
        shots=sizes.shots,
        concurrencies=sizes.concurrencies,
        repeats=sizes.pipeline_repeats,
        warmup_shots=sizes.warmup_shots,
    )


async def test_pipeline_overhead(pipeline_run: dict[str, Any], figures: dict[str, Any]) -> None:
    figures["pipeline"] = pipeline_run
    for run in pipeline_run["runs"]:
        parts = (
            run["provider_busy_s"]
            + run["media_s"]
            + run["storage_s"]
            + run["ledger_s"]
            + run["orchestration_s"]
        )
        assert parts == pytest.approx(run["wall_s"], abs=0.01)
        assert 0 < run["provider_busy_s"] <= run["provider_sum_s"] + 1e-6
        assert set(run["providers"]) == {"storyboard", "images", "voice", "video", "compose"}
        assert run["providers"]["video"]["calls"] == pipeline_run["shots"]
        assert 0 < run["overhead_pct"] < 100
        assert run["compose_cached_shots"] == 0  # every run composes its own, new shots


async def test_activity_overhead(temporal_env, sizes: BenchSizes, figures: dict[str, Any]) -> None:
    result = await activity_overhead_figures(
        temporal_env.client, n=sizes.noop_activities, repeats=sizes.noop_repeats
    )
    figures["activity_overhead"] = result
    for queue in ("", "_other_queue"):
        assert result[f"sequential{queue}"]["ms_per_activity"] > 0
        assert result[f"fanned_out{queue}"]["wall_s"] < result[f"sequential{queue}"]["wall_s"]
