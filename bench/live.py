"""`make bench` (live pages): a webhook storm, and how long a change takes to reach the screen.

The portal as deployed (gunicorn with uvicorn workers, DEBUG off, SQLite, one worker) against
an in-process simulator whose world this script changes:
- storm: 200 signed deliveries for 200 stacks within 2 s; each answer's time (median, 95th
  percentile, slowest) and the upstream requests they cost in all, counted by the simulator;
- with webhooks: Chromium keeps the overview open; 8 stacks change at random moments and the
  simulator sends its webhooks; seconds from each change to the new state on screen;
- without webhooks: the same at the default 10-second interval, pushed by the list read ahead.
Figures only, nothing asserts.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.__main__ import (
    KEY_ID,
    KEY_SECRET,
    login,
    served_portal,
)
from simulator.server import start_simulator
from simulator.webhooks import WebhookSender, payload, sign

SECRET = "bench-webhook-secret"  # noqa: S105 - signs a local simulator's webhooks
STORM_DELIVERIES = 200
STORM_SECONDS = 2.0
CHANGES = 8
NEW_STATES = ["FAILED", "UNCONFIRMED", "FINISHED", "DISCARDED", "APPLYING"]


@contextmanager
def live_portal(sim_url: str, workdir: Path, **settings: str):
    with served_portal(
        sim_url,
        workdir,
        DATABASE_URL=f"sqlite:///{workdir / 'live.sqlite3'}",
        LOG_LEVEL="WARNING",
        **settings,
    ) as (url, _):
        yield url


def storm() -> None:
    with (
        start_simulator(stacks=STORM_DELIVERIES, key_id=KEY_ID, key_secret=KEY_SECRET) as sim,
        tempfile.TemporaryDirectory() as tmp,
        live_portal(sim.url, Path(tmp), PORTAL_WEBHOOK_SECRET=SECRET) as url,
    ):
        login(url).get(url + "/").raise_for_status()  # the list is cached, as with viewers
        sim.reset_stats()
        bodies = [json.dumps(payload(stack)).encode() for stack in sim.world.stacks]
        start = time.monotonic()

        def deliver(index: int) -> float:
            time.sleep(max(0.0, start + index * STORM_SECONDS / len(bodies) - time.monotonic()))
            sent = time.monotonic()
            response = requests.post(
                url + "/webhooks/spacelift/",
                data=bodies[index],
                headers={"X-Signature-256": sign(SECRET, bodies[index])},
                timeout=10,
            )
            assert response.status_code == 202, response.status_code
            return (time.monotonic() - sent) * 1000

        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = sorted(pool.map(deliver, range(len(bodies))))
        spread = time.monotonic() - start
        time.sleep(5)  # the re-reads happen after the answers: let them end
        stats = sim.stats()
    p95 = answers[int(len(answers) * 0.95) - 1]
    print(f"storm: {len(answers)} deliveries over {spread:.2f} s, answered in median "
          f"{statistics.median(answers):.1f} ms, p95 {p95:.1f} ms, slowest {answers[-1]:.1f} ms; "
          f"upstream: {stats['requests']} requests ({stats['queries']} queries: "
          f"{dict(stats['by_field'])})")  # fmt: skip


def _chromium():
    """Debian's Chromium, started as the browser tests start it."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    return executable, ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def change(world, stack, state: str) -> None:
    """What Spacelift does: the stack's newest run takes a new state (a new stateVersion)."""
    with world.lock:
        stack.tracked[0].transition(state, int(time.time()))
        stack.refresh_state()


def change_to_screen(*, webhooks: bool, poll: int) -> list[float]:
    """Seconds from a change in the simulator to the new state on an open overview."""
    from playwright.sync_api import sync_playwright

    executable, flags = _chromium()
    if not executable:
        print("change-to-screen: Chromium not found, skipped")
        return []
    extra = {"PORTAL_WEBHOOK_SECRET": SECRET} if webhooks else {}
    with (
        start_simulator(stacks=48, key_id=KEY_ID, key_secret=KEY_SECRET) as sim,
        tempfile.TemporaryDirectory() as tmp,
        live_portal(sim.url, Path(tmp), PORTAL_POLL_SECONDS=str(poll), **extra) as url,
        sync_playwright() as playwright,
    ):
        sender = None
        if webhooks:
            sender = WebhookSender(sim.world, url + "/webhooks/spacelift/", SECRET, advance=False)
            sender.start()
        browser = playwright.chromium.launch(executable_path=executable, args=flags)
        page = browser.new_page(base_url=url)
        page.goto("/accounts/login/")
        page.get_by_label("User name").fill("bench")
        page.get_by_label("Password").fill("bench-password-1")
        page.get_by_role("button", name="Log in").click()
        page.goto("/?per_page=250")
        page.wait_for_timeout(1000)  # the event stream opens
        world = sim.world
        quiet = [s for s in world.stacks if s.id not in world.active_stack_ids and s.tracked]
        rng = random.Random(19)
        seconds = []
        for _ in range(CHANGES):
            page.wait_for_timeout(rng.uniform(0, poll * 1000))  # a random moment
            stack = rng.choice(quiet)
            shown = page.locator(f'tr[data-stack="{stack.id}"] .chip').get_attribute("title")
            state = rng.choice([s for s in NEW_STATES if s != shown])
            change(world, stack, state)
            changed = time.monotonic()
            page.wait_for_function(
                "([id, s]) => document.querySelector(`tr[data-stack='${id}'] .chip`)?.title === s",
                arg=[stack.id, state],
                timeout=(3 * poll + 10) * 1000,
                polling=50,
            )
            seconds.append(time.monotonic() - changed)
        browser.close()
        if sender:
            sender.stop()
    return seconds


def report(name: str, seconds: list[float]) -> None:
    if seconds:
        print(f"{name}: {len(seconds)} changes at random moments, on screen after median "
              f"{statistics.median(seconds):.2f} s, worst {max(seconds):.2f} s "
              f"({', '.join(f'{s:.2f}' for s in seconds)})")  # fmt: skip


def main() -> None:
    storm()
    report("with webhooks (10 s interval)", change_to_screen(webhooks=True, poll=10))
    report("without webhooks (10 s interval)", change_to_screen(webhooks=False, poll=10))


if __name__ == "__main__":
    main()
