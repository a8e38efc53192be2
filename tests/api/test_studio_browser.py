"""The web studio end to end in a real Chromium (Debian's `chromium`, driven by Playwright).

One user's whole job on the real stack (PostgreSQL, Temporal, every worker pool, the agent):
sign in → create a project from a story → the storyboard cards arrive over SSE → chat "make shots
2-3 night with neon lights" → proposal card with the diff → confirm → the cards change → generate
grids → Pro mode: pick a cell for each shot → clips and narration → compose a preview → the video
plays to the end (with range requests) → export downloads a zip → a reload shows the same state
→ a second user sees none of it. Every step is screenshotted (kept under the pytest tmp dir;
`DD_UPDATE_SCREENSHOTS=1` also copies them to docs/screenshots/ for the README); no console
error may happen; controls are found by role and accessible name, so they must have one.

Skips (with the reason) only when the `playwright` package or the chromium binary is missing.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Stack

CHROMIUM = os.environ.get("DD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
REPO = Path(__file__).resolve().parents[2]
STEP_S = 90_000  # ms: one generation step on a loaded 2-core machine

playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

expect = playwright_api.expect


class Shots:
    """Screenshots of each step, kept in the test's tmp dir (and docs/screenshots on request)."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder, self.n = page, folder, 0

    async def take(self, name: str, target: Any = None) -> None:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        await (target or self.page).screenshot(path=str(path))
        if os.environ.get("DD_UPDATE_SCREENSHOTS") == "1":
            docs = REPO / "docs" / "screenshots"
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, docs / f"studio-{name}.png")


def watch_console(page: Any, errors: list[str]) -> None:
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))


async def unnamed_controls(page: Any) -> list[str]:
    """Buttons, links and form fields without an accessible name."""
    return await page.evaluate(
        """() => [...document.querySelectorAll('button, a[href], input, select, textarea, summary')]
          .filter(el => el.offsetParent !== null)
          .filter(el => {
            const label = el.getAttribute('aria-label') || el.getAttribute('title') || el.textContent.trim()
              || (el.labels && [...el.labels].map(l => l.textContent.trim()).join(''))
              || el.getAttribute('placeholder');
            return !label;
          })
          .map(el => el.outerHTML.slice(0, 120))"""
    )


async def shot_ids(stack: Stack, owner: str, ws: uuid.UUID) -> list[str]:
    """The shots' ids in story order, as the API says."""
    board = await stack.client.get(f"/workspaces/{ws}/storyboard", headers=stack.auth(owner))
    return [s["id"] for s in board.json()["shots"]]


def card(page: Any, idx: int) -> Any:
    return page.get_by_role("article", name=f"Shot {idx}", exact=True)


async def stage_done(page: Any, idx: int, stage: str) -> None:
    await expect(card(page, idx).locator(f'[data-stage="{stage}"]')).to_have_attribute(
        "data-status", "done", timeout=STEP_S
    )


def chromium_env(tmp: Path) -> dict[str, str]:
    """The system fonts plus the Noto Sans SC the project already ships (pylopdf-fonts-zh-cn), for
    this browser only: the Chinese screenshots show glyphs on a machine without CJK fonts, and
    nothing on the machine changes. (The studio itself uses the visitor's system fonts.)"""
    from activities.media.fonts import packaged_cjk_font

    env = dict(os.environ)
    font = packaged_cjk_font()
    if font is not None:
        conf = tmp / "fonts.conf"
        conf.write_text(
            '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
            "<include ignore_missing='yes'>/etc/fonts/fonts.conf</include>"
            f"<dir>{font.parent}</dir><cachedir>{tmp / 'fc-cache'}</cachedir></fontconfig>"
        )
        env["FONTCONFIG_FILE"] = str(conf)
    return env


@pytest.mark.timeout(600)
async def test_studio_end_to_end(stack: Stack, live_url: str, tmp_path: Path) -> None:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, env=chromium_env(tmp_path)
        )
        try:
            await _flow(browser, live_url, tmp_path)
        finally:
            await browser.close()


async def _flow(browser: Any, url: str, tmp: Path) -> None:
    ctx = await browser.new_context(
        accept_downloads=True, viewport={"width": 1440, "height": 900}, locale="en-US"
    )
    page = await ctx.new_page()
    errors: list[str] = []
    watch_console(page, errors)
    ranges: list[int] = []
    page.on("response", lambda r: ranges.append(r.status) if "/content" in r.url else None)
    shots = Shots(page, tmp)

    # sign in (dev stack) and create a project from a story
    await page.goto(url + "/")
    await page.get_by_label("User name (dev stack)").fill("studio-alice")
    await page.get_by_role("button", name="Sign in (dev)").click()
    await page.get_by_label("Title").fill("The Fox Who Steals the Moon")
    await page.get_by_label("Story").fill("A fox climbs the tallest tree, steals the moon and gives it back.")
    await page.get_by_label("Shots").fill("3")
    await page.get_by_label("Style").fill("ink-wash")
    await shots.take("projects")
    assert await unnamed_controls(page) == []
    await page.get_by_role("button", name="Create").click()

    # the storyboard task writes the shots: the cards arrive through the event stream
    await expect(page.locator("article.card")).to_have_count(3, timeout=STEP_S)
    await expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
    project_url = page.url
    await shots.take("board")

    # Agent mode: a batch edit is proposed with its diff, then confirmed
    chat = page.get_by_role("complementary", name="Agent")
    await chat.get_by_role("textbox").fill("make shots 2-3 night with neon lights")
    await chat.get_by_role("button", name="Send").click()
    proposal = chat.get_by_role("region", name="Proposal")
    await expect(proposal).to_be_visible(timeout=STEP_S)
    await shots.take("proposal")
    rows = [" ".join((await r.inner_text()).split()) for r in await proposal.locator(".diff-table tr").all()]
    for idx in (2, 3):  # the diff of the shot fields: before → after
        assert any(r.startswith(f"#{idx} time_of_day") and r.endswith("→ night") for r in rows), rows
        assert any(r.startswith(f"#{idx} lighting") and r.endswith("→ neon") for r in rows), rows
    assert not any(r.startswith("#1 ") for r in rows), rows
    await expect(proposal).to_contain_text("Estimated cost")
    # the estimate in money and GPU time (the server's figures: an edit generates nothing)
    estimate = proposal.locator(".estimate")
    await expect(estimate).to_contain_text("GPU time")
    await expect(estimate.locator("[data-cost-usd]")).to_have_attribute("data-cost-usd", "0")
    await expect(estimate.locator("[data-gpu-seconds]")).to_have_attribute("data-gpu-seconds", "0")
    await proposal.get_by_role("button", name="Confirm").click()
    await expect(proposal).to_be_hidden(timeout=STEP_S)
    await expect(card(page, 2).locator(".tag").first).to_have_text("night", timeout=STEP_S)
    await expect(card(page, 3).locator(".tag").first).to_have_text("night")
    await expect(card(page, 1).locator(".tag", has_text="night")).to_have_count(0)
    await expect(chat.get_by_role("button", name=re.compile("^Undo"))).to_be_visible()
    # the result links to what it touched (ids from the API): shots 2 and 3, not 1; a click
    # focuses that card
    touched = chat.get_by_role("group", name="Touched").last
    await expect(touched.get_by_role("link")).to_have_text(["Shot 2", "Shot 3"])
    await touched.get_by_role("link", name="Shot 3", exact=True).click()
    await expect(card(page, 3)).to_be_focused()
    await expect(card(page, 3)).to_have_class(re.compile(r"\bfocused\b"))

    # grids for every shot (the toolbar button is the same gen.grid the chat makes)
    await page.get_by_role("button", name="Generate grids").click()
    for idx in (1, 2, 3):
        await stage_done(page, idx, "grid")

    # Pro mode: pick a cell for each shot (shot 1: the second cell)
    for idx in (1, 2, 3):
        await card(page, idx).get_by_role("button", name=re.compile("^Open in Pro mode")).click()
        drawer = page.get_by_role("dialog", name=f"Pro — Shot {idx}")
        await expect(drawer).to_be_visible()
        cell = drawer.get_by_role("button", name=re.compile(r"^Cells #2\b"))
        await expect(cell).to_be_visible(timeout=STEP_S)
        await cell.click()
        await expect(drawer.get_by_role("region", name="Cells #2")).to_be_visible()
        await drawer.get_by_role("button", name="Use for this shot").click()
        await expect(drawer.get_by_role("button", name=re.compile(r"^Cells #2 \(selected\)"))).to_be_visible(
            timeout=STEP_S
        )
        if idx == 1:
            await expect(drawer.locator(".lineage li")).not_to_have_count(0)
            await expect(drawer.locator(".cell img")).not_to_have_count(0)
            await shots.take("pro-drawer")
            assert await unnamed_controls(page) == []
        await drawer.get_by_role("button", name="Close").click()
        await expect(drawer).to_be_hidden()
        await expect(card(page, idx).get_by_role("img")).to_be_visible(timeout=STEP_S)
    thumb_src = await card(page, 1).get_by_role("img").get_attribute("src")
    assert thumb_src and "/thumbnail" in thumb_src and "size=256" in thumb_src

    # clips and narration, then a preview cut
    await page.get_by_role("button", name="Make clips").click()
    await page.get_by_role("button", name="Narrate").click()
    for idx in (1, 2, 3):
        await stage_done(page, idx, "clip")
        await stage_done(page, idx, "voice")
    await shots.take("board-ready")
    await page.get_by_role("button", name="Compose preview").click()
    queue = page.get_by_role("region", name="Queue")
    await expect(queue.locator('[data-task-type="compose"][data-status="succeeded"]')).to_have_count(
        1, timeout=STEP_S
    )
    link = queue.locator('[data-task-type="compose"]').get_by_role("link", name=re.compile("^Temporal"))
    assert re.search(r"/namespaces/default/workflows/compose-", await link.get_attribute("href") or "")

    # the player: the cut plays to its end (the browser seeks with range requests)
    await page.get_by_role("button", name="Player").click()
    player = page.get_by_role("dialog", name="Player")
    video = player.locator("video")
    await expect(video).to_be_visible()
    await expect(player.get_by_role("alert")).to_have_count(0)  # a fresh cut is not stale
    ended = await video.evaluate(
        """v => new Promise((resolve, reject) => {
             v.muted = true;
             v.addEventListener('ended', () => resolve(v.duration), {once: true});
             v.addEventListener('error', () => reject(new Error('video error ' + (v.error && v.error.code))));
             v.currentTime = Math.max(0, (v.duration || 0) - 1.5);
             v.playbackRate = 2;
             v.play().catch(reject);
           })"""
    )
    assert ended > 5
    assert 206 in ranges, f"no range request for the cut: {ranges}"
    await shots.take("player")
    await player.get_by_role("button", name="Close").click()

    # export: a zip with a manifest
    await page.get_by_text("Export ▾").click()
    await page.get_by_role("menuitem", name="Selected versions (zip)").click()
    download_link = page.get_by_role("link", name=re.compile("^Download"))
    await expect(download_link).to_be_visible(timeout=STEP_S)
    async with page.expect_download() as info:
        await download_link.click()
    download = await info.value
    saved = tmp / "export.zip"
    await download.save_as(str(saved))
    with zipfile.ZipFile(saved) as zf:
        assert "manifest.json" in zf.namelist()
        assert len(zf.namelist()) > 3

    # history: the snapshot the confirmed change took, with its diff
    await page.get_by_role("button", name="History").click()
    history = page.get_by_role("dialog", name="History")
    await expect(history.locator(".snapshots li")).not_to_have_count(0)
    # the snapshot the neon change took first (every changing turn takes one; its note names the turn)
    before_neon = history.locator(".snapshots li").filter(has_text="neon").last
    await before_neon.get_by_role("button", name="Diff").click()
    await expect(history.locator(".diff")).to_contain_text("selected_node_id")
    await expect(history.locator("table.usage")).to_contain_text("grid")
    await shots.take("history")
    await history.get_by_role("button", name="Close").click()

    # a reload rebuilds everything from the server
    before = {i: await card(page, i).inner_text() for i in (1, 2, 3)}
    tasks_before = await queue.locator("li.task").count()
    await page.reload()
    await expect(page.locator("article.card")).to_have_count(3, timeout=STEP_S)
    await expect(card(page, 1).get_by_role("img")).to_have_attribute("src", thumb_src)
    for i in (1, 2, 3):
        assert await card(page, i).inner_text() == before[i]
    await expect(queue.locator("li.task")).to_have_count(tasks_before)
    await expect(chat.locator(".msg.user")).to_contain_text(["make shots 2-3 night with neon lights"])
    # the links are rebuilt from the conversation's stored results, not from browser state
    await expect(chat.get_by_role("group", name="Touched").first.get_by_role("link")).to_have_text(
        ["Shot 2", "Shot 3"]
    )
    await shots.take("reloaded")

    # Chinese
    await page.get_by_label("Language").first.select_option("zh")
    await expect(page.get_by_role("button", name="生成宫格")).to_be_visible()
    await shots.take("board-zh")
    await page.get_by_label("语言").first.select_option("en")
    assert errors == [], errors

    # a second user sees none of it
    other = await browser.new_context()
    bob = await other.new_page()
    await bob.goto(url + "/")
    await bob.get_by_label("User name (dev stack)").fill("studio-bob")
    await bob.get_by_role("button", name="Sign in (dev)").click()
    await expect(bob.get_by_text("No projects yet")).to_be_visible()
    await bob.goto(project_url)
    await expect(bob.get_by_role("alert").first).to_contain_text("workspace_not_found")
    await expect(bob.locator("article.card")).to_have_count(0)
    await other.close()
    await ctx.close()
    await asyncio.sleep(0)


@pytest.mark.timeout(300)
async def test_board_batch_edit_reorder_conflict_and_failed_task(
    stack: Stack, live_url: str, tmp_path: Path
) -> None:
    """The board's own edits on a seeded project (no generation): a batch edit of two shots (the
    bulk fields), a concurrent change answered 412 and reloaded, a reorder by keyboard and by
    dragging (the order checked in the API after a reload), a failed task in the queue with its
    real code and message and a Retry button, and a running task's bar moved by its
    `task.progress` events."""
    from activities.contracts import TaskRef
    from activities.pipeline import PipelineActivities
    from activities.providers.choice import choose_providers
    from infra.ledger import unit_of_work
    from schema.enums import TaskType
    from schema.repositories import tasks as task_repo

    owner = f"studio-{os.urandom(3).hex()}"
    seeded = stack.seed_workspace(owner, shots=3, title="Seeded board")
    ws = uuid.UUID(seeded.workspace)
    with unit_of_work(stack.db_url) as s:
        failed = task_repo.create(s, workspace_id=ws, type=TaskType.video, workflow_id=f"video-{owner}")
        task_repo.mark_running(s, failed.id)
        task_repo.mark_failed(s, failed.id, "ffmpeg_failed", "encoder exited with 1")
        running = task_repo.create(s, workspace_id=ws, type=TaskType.voice, workflow_id=f"voice-{owner}")
        task_repo.mark_running(s, running.id)
    # what a running activity calls as its work moves (activities/pipeline.py)
    acts = PipelineActivities(
        stack.db_url, stack.storage, choose_providers(stack.settings), tmp_path / "work"
    )
    voice = TaskRef(seeded.workspace, f"voice-{owner}", "voice")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, env=chromium_env(tmp_path)
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            errors: list[str] = []
            watch_console(page, errors)
            await page.goto(f"{live_url}/")
            await page.get_by_label("User name (dev stack)").fill(owner)
            await page.get_by_role("button", name="Sign in (dev)").click()
            await page.get_by_role("link", name=re.compile("Seeded board")).click()
            await expect(page.locator("article.card")).to_have_count(3, timeout=STEP_S)

            # the failed task: real code and message, and a retry button
            row = page.locator('li.task[data-task-type="video"]')
            await expect(row).to_contain_text("ffmpeg_failed")
            await expect(row).to_contain_text("encoder exited with 1")
            await expect(row.get_by_role("button", name="Retry video")).to_be_visible()

            # the running task's bar moves with its progress events (no reload needed)
            bar = page.locator(f'li.task[data-task-id="{running.id}"] progress')
            await expect(bar).to_be_visible()
            await expect(page.get_by_role("status").filter(has_text="live")).to_be_visible()
            for fraction in (0.25, 0.6):
                await asyncio.to_thread(acts._set_progress, voice, fraction)
                await page.wait_for_function(
                    "([sel, v]) => Math.abs((document.querySelector(sel)?.value ?? -1) - v) < 1e-6",
                    arg=[f'li.task[data-task-id="{running.id}"] progress', fraction],
                    timeout=STEP_S,
                )

            # batch edit shots 1 and 2: the fields people change in bulk, one undoable action
            await card(page, 1).get_by_role("checkbox").check()
            await card(page, 2).get_by_role("checkbox").check()
            batch = page.get_by_role("form", name="Batch edit")
            await batch.get_by_label("Description").fill("a lantern-lit alley")
            await batch.get_by_label("Style modifier").fill("ink wash")
            await batch.get_by_label("Time of day").fill("dusk")
            await batch.get_by_label("Weather").fill("rain")
            await batch.get_by_label("Camera").select_option("dolly in")
            await batch.get_by_label("Duration").fill("6")
            await batch.get_by_role("button", name="Apply").click()
            for idx in (1, 2):
                await expect(card(page, idx)).to_contain_text("6.0 s")
                await expect(card(page, idx).locator(".camera")).to_contain_text("dolly in")
                await expect(card(page, idx).locator(".tag")).to_contain_text(["dusk", "rain"])
            await expect(card(page, 3)).not_to_contain_text("6.0 s")
            await expect(card(page, 3).locator(".tag", has_text="dusk")).to_have_count(0)
            spec = (
                await stack.client.get(
                    f"/workspaces/{ws}/work-items/{seeded.shots[0]}", headers=stack.auth(owner)
                )
            ).json()["spec"]
            assert (spec["visual"], spec["style_override"]) == ("a lantern-lit alley", "ink wash")

            # another tab changes shot 1 while this form is open: the version the form started from
            # is refused (412), the board is reloaded and says so
            h = stack.auth(owner)
            r = await stack.client.patch(
                f"/workspaces/{seeded.workspace}/work-items/{seeded.shots[0]}",
                json={"spec": {"narration": "changed in another tab"}},
                headers=h,
            )
            assert r.status_code == 200
            await batch.get_by_label("Duration").fill("7")
            await batch.get_by_role("button", name="Apply").click()
            await expect(page.get_by_role("status").filter(has_text="changed this meanwhile")).to_be_visible()
            await expect(card(page, 1)).to_contain_text("changed in another tab")

            # chat results link to what they touched: an image opens the Pro drawer at that cell,
            # a task focuses its queue row
            chat = page.get_by_role("complementary", name="Agent")
            await chat.get_by_role("textbox").fill("use #3 for shot 1")
            await chat.get_by_role("button", name="Send").click()
            touched = chat.get_by_role("group", name="Touched").last
            await expect(touched.get_by_role("link")).to_have_text(
                ["Shot 1", "Shot 1 · image #3"], timeout=STEP_S
            )
            await touched.get_by_role("link", name="Shot 1 · image #3").click()
            drawer = page.get_by_role("dialog", name="Pro — Shot 1")
            await expect(drawer.get_by_role("region", name="Cells #3")).to_be_visible(timeout=STEP_S)
            await expect(
                drawer.get_by_role("button", name=re.compile(r"^Cells #3 \(selected\)"))
            ).to_have_attribute("aria-pressed", "true")
            await drawer.get_by_role("button", name="Close").click()
            await chat.get_by_role("textbox").fill("cancel the voice jobs")
            await chat.get_by_role("button", name="Send").click()
            await expect(chat.get_by_role("group", name="Touched")).to_have_count(2, timeout=STEP_S)
            queue_link = chat.get_by_role("group", name="Touched").last.get_by_role(
                "link", name="Queue: voice"
            )
            await queue_link.click()
            voice_row = page.locator(f'li.task[data-task-id="{running.id}"]')
            await expect(voice_row).to_be_focused()
            await expect(voice_row).to_have_attribute("data-status", "canceled", timeout=STEP_S)

            # reorder from the keyboard: focus "Move later" on shot 1 and press Enter
            first_narration = await card(page, 1).locator(".narration").inner_text()
            await card(page, 1).get_by_role("button", name=re.compile("^Move later")).focus()
            await page.keyboard.press("Enter")
            await expect(card(page, 2).locator(".narration")).to_have_text(first_narration, timeout=STEP_S)
            assert await unnamed_controls(page) == []

            # reorder by dragging (HTML5 drag and drop): the third card onto the first
            before = await shot_ids(stack, owner, ws)
            third_narration = await card(page, 3).locator(".narration").inner_text()
            await card(page, 3).drag_to(card(page, 1))
            await expect(card(page, 1).locator(".narration")).to_have_text(third_narration, timeout=STEP_S)
            await page.reload()
            await expect(page.locator("article.card")).to_have_count(3, timeout=STEP_S)
            order = await shot_ids(stack, owner, ws)
            assert order[0] == before[2] and order[1:] == before[:2], (before, order)
            assert await card(page, 1).get_attribute("id") == f"shot-{order[0]}"
            # the browser logs the refused PATCH (412) itself; nothing else may go wrong
            assert [e for e in errors if "412 (Precondition Failed)" not in e] == [], errors
            assert len(errors) == 1, errors
        finally:
            await browser.close()
