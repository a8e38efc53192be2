"""Agent planning latency (run on demand): sentence → validated Action DSL envelope.

    .venv/bin/directordeck bench --only agent

Measures the offline planner (the default without GOOGLE_API_KEY) on the sentence families of
docs/actions.md in English and Chinese, with a 12-shot workspace context: p50/p99 per sentence, and the
JSON Schema validation of each envelope included; and on the sentences people wrote for the
evaluation sets (tests/agent/eval/*.jsonl, each with its own context), where a plan has several
clauses and the coverage check runs. The whole agent turn through the API (message → assistant
text, durable workflow included) is measured by bench_api.py.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from agent.eval import load_cases
from agent.planner.offline import OfflinePlanner
from schema.actions import Turn

pytestmark = [pytest.mark.bench]

CONTEXT = {
    "workspace": {"type": "narrative_project", "shots": 12},
    "focus": {"shot": 3, "track": "B"},
    "tracks": {"3": ["A", "B"]},
    "latest_grid": {"shot": 3, "track": "B", "cells": 9},
    "snapshots": [{"id": "00000000-0000-0000-0000-000000000001", "note": "before neon change"}],
}

SENTENCES = [
    "Make a 12-shot storyboard about a fox who steals the moon, ink-wash style",
    "做一个关于狐狸偷月亮的12个分镜的故事板，水墨风格",
    "Change shots 8 to 12 to night with neon lights",
    "把第8到12个分镜改成霓虹夜景",
    "Make shot 3 last 5 seconds",
    "Generate a 9-grid for shot 3 from a low angle",
    "给第3个分镜生成九宫格，低角度",
    "Iterate on image #2 of the last grid",
    "Start a new branch from #7",
    "Use #7 from track B as reference",
    "Animate all shots",
    "Compose a preview",
    "Cancel all video jobs",
    "Go back to before the neon change",
    "What is running?",
    "现在有哪些任务在跑",
]


def planning_figures(repeats: int = 200) -> dict[str, Any]:
    planner = OfflinePlanner()
    samples: list[float] = []
    for _ in range(repeats):
        for sentence in SENTENCES:
            start = time.perf_counter()
            turn = planner.plan(sentence, CONTEXT)
            Turn.model_validate(turn.model_dump(mode="json", by_alias=True))
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "planner": "offline",
        "sentences": len(SENTENCES),
        "calls": len(samples),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "max_ms": round(samples[-1], 3),
    }


def eval_set_figures(repeats: int = 3) -> dict[str, Any]:
    """Per sentence over every evaluation set (people's phrasings, their contexts)."""
    cases = [
        c
        for f in sorted((Path(__file__).parents[1] / "agent" / "eval").glob("*.jsonl"))
        for c in load_cases(f)
    ]
    planner = OfflinePlanner()
    for case in cases[:20]:  # warm-up: patterns compiled once per process
        planner.plan(case.sentence, case.context)
    samples: list[float] = []
    for _ in range(repeats):
        for case in cases:
            start = time.perf_counter()
            planner.plan(case.sentence, case.context)
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "sentences": len(cases),
        "calls": len(samples),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "max_ms": round(samples[-1], 3),
    }


def test_agent_planning_latency_on_people_sentences(figures: dict[str, Any], sizes: Any) -> None:
    result = eval_set_figures(repeats=1 if sizes.quick else 3)
    figures["agent_planning_eval_sets"] = result
    print(
        f"\nagent planning (offline planner, {result['sentences']} evaluation-set sentences, "
        f"{result['calls']} calls): p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
        f"  max {result['max_ms']:.2f} ms"
    )
    assert result["sentences"] >= 600


def test_agent_planning_latency(figures: dict[str, Any], sizes: Any) -> None:
    result = planning_figures(repeats=20 if sizes.quick else 200)
    figures["agent_planning"] = result
    print(
        f"\nagent planning (offline planner, {result['sentences']} EN/ZH sentences, "
        f"{result['calls']} calls): "
        f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  max {result['max_ms']:.2f} ms"
    )
    assert result["calls"] == len(SENTENCES) * (20 if sizes.quick else 200)
