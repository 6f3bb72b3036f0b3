"""In a real browser: a failed run's page says why, with its log open and nothing run."""

from __future__ import annotations

import pytest

from simulator.logs import logbook
from tests.conftest import failed_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"
WHY = "Error: reading KMS key (alias/deploy): AccessDeniedException"


def test_a_failed_run_page_shows_why_and_its_log_and_runs_nothing(login, connected):
    stack, run, failed = failed_stack(connected)
    other = next(t for t in run.transitions if t.has_logs)
    assert other is not failed
    book = logbook(connected.world)
    book.script(
        run.id,
        failed.state,
        ['note = "<img src=x onerror=alert(1)><script>alert(2)</script>"',
         f"{RED}│{RESET} {BOLD}{RED}Error: {RESET}{BOLD}{WHY.removeprefix('Error: ')}{RESET}"],
    )  # fmt: skip
    # Whatever earlier tests did to this run, the phase opened on demand has lines to show.
    book.script(run.id, other.state, ["Downloading source code", "Workspace ready"])
    page = login()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"/stacks/{stack.id}/runs/{run.id}/")
    assert page.locator(".why-line .why").inner_text() == WHY
    phase = page.locator("details.phase-failed")
    assert phase.evaluate("element => element.open")
    assert phase.locator("ol.log li").last.is_visible()
    assert phase.locator("ol.log .ansi-fg-red").count() >= 1
    assert "<img src=x" in phase.locator("ol.log li").first.inner_text()
    # Another phase opens on demand and loads its lines.
    opened = page.locator(f"#phase-{other.state}-{other.state_version}")
    assert not opened.evaluate("element => element.open")
    opened.locator("summary").click()
    try:
        opened.locator("ol.log li").last.wait_for()
    except Exception as exc:  # say what the phase showed instead
        raise AssertionError(opened.evaluate("element => element.outerHTML")) from exc
    assert opened.locator("ol.log li").last.inner_text() == "Workspace ready"
    # The stack page loads its why line as a region of its own.
    page.goto(f"/stacks/{stack.id}/")
    page.locator(".why-line .why a").wait_for()
    assert page.locator(".why-line .why a").inner_text() == WHY
    assert dialogs == []
    assert page.watch.errors == []


def test_a_running_phase_grows_on_the_page_without_repeating_lines(
    login, connected, settings, time_passes
):
    settings.PORTAL_POLL_SECONDS = 2
    stack, run = next(
        (s, r)
        for s in connected.world.stacks
        if s.id not in connected.world.active_stack_ids
        for r in (s.ensure_history() or s.tracked)
        if not r.finished and r.state in ("PLANNING", "APPLYING")
    )
    current = run.transitions[-1]
    page = login()
    page.goto(f"/stacks/{stack.id}/runs/{run.id}/")
    lines = page.locator(f"#phase-{current.state}-{current.state_version} ol.log li")
    before = lines.count()
    assert before > 0
    connected.step()  # the running phase writes more lines
    time_passes(settings.PORTAL_POLL_SECONDS + 1)
    page.wait_for_function(
        f"n => document.querySelectorAll('#phase-{current.state}-{current.state_version} "
        f"ol.log li').length > n",
        arg=before,
        timeout=8_000,
    )
    texts = lines.all_inner_texts()
    assert len(texts) == len(set(texts)), "no line is shown twice"
    assert page.watch.errors == []
