"""Retake the README's screenshots: start the demo (`make run`), and photograph it in Chromium.

    make screenshots                  # or: .venv/bin/python scripts/screenshots.py

It runs scripts/run-demo on free ports with a database of its own (your demo's db.sqlite3 is
left alone), logs in as the demo's admin, and writes docs/screenshots/*.png at 1440 x 900: the
overview, a failed stack's page, and its failed run. Ctrl-C, or the end, stops the demo.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
# Chromium as the browser tests start it (tests/e2e/conftest.py), without a desktop around it.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip

OUT = ROOT / "docs" / "screenshots"
# The width the README's reader most likely has, and the height of a laptop's browser.
VIEWPORT = {"width": 1440, "height": 900}
# The demo migrates, collects static files and starts two servers: this is plenty.
START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo(workdir: Path) -> tuple[subprocess.Popen, str]:
    port, sim_port = free_port(), free_port()
    env = os.environ | {
        "PORT": str(port),
        "SIM_PORT": str(sim_port),
        "CONNECTION": "env",
        "PORTAL_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{workdir / 'screenshots.sqlite3'}",
    }
    demo = subprocess.Popen(
        ["bash", "scripts/run-demo"],  # noqa: S607 (a developer tool, as bench: PATH is theirs)
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so stopping it stops both servers
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise SystemExit("The demo stopped while starting: try `make run` to see why.")
        try:
            if requests.get(url + "/healthz", timeout=2).ok:
                return demo, url
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    stop(demo)
    raise SystemExit(f"The demo did not answer within {START_SECONDS} s.")


def stop(demo: subprocess.Popen) -> None:
    if demo.poll() is None:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=15)


def shoot(page: Page, url: str) -> list[Path]:
    page.goto(url + "/accounts/login/")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Log in").click()
    page.goto(url + "/")
    page.wait_for_selector("tr[data-stack]")
    shots = [OUT / "overview.png", OUT / "stack.png", OUT / "run.png"]
    page.screenshot(path=shots[0])
    failed = page.locator("tr[data-stack][data-health=failing]").first
    page.goto(f"{url}/stacks/{failed.get_attribute('data-stack')}/")
    # The drifted-resources line above the runs loads after the page: wait for its region.
    page.wait_for_selector("section#health-drifted", state="attached")
    page.screenshot(path=shots[1])
    page.locator("tr[data-run] a[href*='/runs/']").first.click()
    page.wait_for_load_state()
    page.screenshot(path=shots[2])
    return shots


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="portal-shots-"))
    demo, url = start_demo(workdir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport=VIEWPORT, color_scheme="light")
            shots = shoot(page, url)
            browser.close()
    finally:
        stop(demo)
    print(f"Wrote {', '.join(p.name for p in shots)} to {OUT}")


if __name__ == "__main__":
    main()
