"""The web studio on loopback (run on demand, not in the suite).

    .venv/bin/pytest tests/bench/bench_studio.py -s -p no:cacheprovider --override-ini addopts=

The API (with the studio) runs as its own uvicorn process like bench_api.py; Debian's chromium,
driven by Playwright, opens a 60-shot project. Measured, BENCH_STUDIO_ROUNDS times each:

- first meaningful paint of the board: from navigation start to all 60 cards in the DOM with
  their narration (`performance.now()` in the page, so the browser's own clock);
- event → card: from the PATCH that changes one shot's narration (its `work_item.updated` event
  goes out over SSE) to the card showing the new text.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import mint_dev_token
from infra.storage import FileSystemStorage
from tests.api.conftest import seed_workspace
from tests.bench.bench_api import api_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.bench, pytest.mark.timeout(900)]

CHROMIUM = os.environ.get("DD_CHROMIUM", "/usr/bin/chromium")
ROUNDS = int(os.environ.get("BENCH_STUDIO_ROUNDS", "2" if os.environ.get("BENCH_QUICK") == "1" else "5"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def summary(name: str, samples: list[float]) -> dict[str, float]:
    out = {
        "p50_ms": round(statistics.median(samples), 1),
        "max_ms": round(max(samples), 1),
        "n": len(samples),
    }
    print(f"\n{name}: p50 {out['p50_ms']} ms, max {out['max_ms']} ms over {len(samples)} rounds", flush=True)
    return out


async def test_board_paint_and_event_to_card(api_server: dict[str, Any]) -> None:  # noqa: F811
    pw_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not found at {CHROMIUM}")
    user = "bench-studio"
    storage = FileSystemStorage(api_server["data_dir"] / "storage")
    seeded = await asyncio.to_thread(
        seed_workspace, api_server["db_url"], storage, user, shots=60, title="bench"
    )
    base = api_server["base"]
    token = mint_dev_token(user, settings=api_server["settings"])
    headers = {"Authorization": f"Bearer {token}"}
    paints: list[float] = []
    updates: list[float] = []
    async with pw_api.async_playwright() as pw, httpx.AsyncClient(base_url=base, headers=headers) as http:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = await browser.new_context()
        page = await ctx.new_page()
        await page.goto(base + "/")
        r = await page.request.post(base + "/auth/session", headers=headers)
        assert r.ok
        shot = seeded.shots[7]
        for n in range(ROUNDS + 1):
            await page.goto(f"{base}/?r={n}#/p/{seeded.workspace}")
            await page.wait_for_function(
                "() => document.querySelectorAll('article.card .narration').length === 60", timeout=60_000
            )
            if n:  # round 0 warms the caches
                paints.append(await page.evaluate("() => performance.now()"))
            await page.wait_for_selector(".live.on")
            text = f"bench narration {n}-{time.monotonic_ns()}"
            t0 = time.perf_counter()
            r = await http.patch(
                f"/workspaces/{seeded.workspace}/work-items/{shot}", json={"spec": {"narration": text}}
            )
            assert r.status_code == 200
            await page.wait_for_function(
                "t => [...document.querySelectorAll('.card .narration')].some(e => e.textContent === t)",
                arg=text,
                timeout=30_000,
            )
            if n:
                updates.append((time.perf_counter() - t0) * 1000)
        await browser.close()
    summary("studio: first meaningful paint of a 60-shot board", paints)
    summary("studio: task/ledger event → card updated", updates)
