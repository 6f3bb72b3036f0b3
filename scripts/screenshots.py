"""Screenshots for the README: the overview, a stack page and a run page, in Chromium.

    .venv/bin/python scripts/screenshots.py   # writes docs/screenshots/*.png

It runs the simulator and the portal as `make bench` does, and logs in as a user of its own.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.__main__ import portal, simulator  # noqa: E402
from tests.e2e.conftest import CHROMIUM_FLAGS  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="portal-shots-"))
    with (
        simulator(48) as sim_url,
        portal(sim_url, workdir, cache=True, poll=10) as (url, _),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(url + "/accounts/login/")
        page.get_by_label("User name").fill("bench")
        page.get_by_label("Password").fill("bench-password-1")
        page.get_by_role("button", name="Log in").click()
        page.goto(url + "/")
        page.screenshot(path=OUT / "overview.png")
        stack_id = page.locator("tr[data-stack][data-health=healthy]").first.get_attribute(
            "data-stack"
        )
        page.goto(f"{url}/stacks/{stack_id}/")
        page.screenshot(path=OUT / "stack.png", full_page=True)
        run_href = page.locator("tr[data-run] a[href*='/runs/']").first.get_attribute("href")
        assert re.match(r"^/stacks/.+/runs/.+/$", run_href)
        page.goto(url + run_href)
        page.screenshot(path=OUT / "run.png", full_page=True)
        browser.close()
    print(f"Wrote {', '.join(p.name for p in sorted(OUT.glob('*.png')))} to {OUT}")


if __name__ == "__main__":
    main()
