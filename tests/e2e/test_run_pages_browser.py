"""In a real browser at 1440 by 900: a failed run opens on its failing line, a stack on its runs,
"Load earlier lines" works in a phase opened on demand, and a run watched live ends right."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from simulator.logs import logbook
from simulator.model import Delta
from tests.conftest import failed_stack

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WHY = "Error: creating IAM role (deployer): AccessDenied"
DESKTOP = {"width": 1440, "height": 900}
IN_VIEW = """element => {
  const box = element.getBoundingClientRect();
  return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
}"""


def test_a_failed_run_opens_on_its_line_and_its_stack_on_its_runs(login, connected):
    stack, run, failed = failed_stack(connected)
    other = next(t for t in run.transitions if t.has_logs)
    book = logbook(connected.world)
    # The failing line deep in a long log; another phase longer than one screen of lines.
    filler = [f"aws_iam_policy.p{n}: Refreshing state..." for n in range(250)]
    book.script(run.id, failed.state, [*filler, WHY, *(["Terraform exited with code 1"] * 30)])
    book.script(run.id, other.state, [f"early line {n}" for n in range(1, 351)])
    page = login()
    page.set_viewport_size(DESKTOP)

    # The stack opens on its runs; its why line links straight to the failing line.
    page.goto(f"/stacks/{stack.id}/")
    assert page.locator("a.run-link").first.evaluate(IN_VIEW), "the first run is on screen"
    why = page.locator(".why-line .why a")
    why.wait_for()
    assert why.get_attribute("href") == f"/stacks/{stack.id}/runs/{run.id}/#failed-line"
    why.click()
    page.wait_for_url(f"**/runs/{run.id}/#failed-line")
    line = page.locator("#failed-line")
    assert WHY in line.inner_text() and line.evaluate(IN_VIEW)

    # Opened without the fragment, the failed run still shows its failing line.
    page.goto(f"/stacks/{stack.id}/runs/{run.id}/")
    assert page.locator("#failed-line").evaluate(IN_VIEW)

    # A phase opened on demand reads its tail; "Load earlier lines" brings the lines before.
    opened = page.locator(f"#phase-{other.state}-{other.state_version}")
    opened.locator("summary").click()
    lines = opened.locator("ol.log li")
    lines.last.wait_for()
    assert lines.last.inner_text() == "early line 350"
    assert "early line 1" not in lines.all_inner_texts()
    opened.get_by_text("Load earlier lines").click()
    page.wait_for_function(
        "id => [...document.querySelectorAll(`#${id} ol.log li`)].some("
        "li => li.textContent === 'early line 1')",
        arg=f"phase-{other.state}-{other.state_version}",
    )
    texts = lines.all_inner_texts()
    assert texts[0] == "early line 1" and len(texts) == len(set(texts)) == 350
    assert page.watch.errors == []


def test_a_run_watched_live_ends_with_its_plan_its_labels_and_why(
    login, connected, settings, time_passes
):
    """Spacelift's run moves (the simulator's states, set as it would set them); the open page
    follows without a reload."""
    settings.PORTAL_POLL_SECONDS = 2
    world = connected.world
    stack = next(
        s for s in world.stacks
        if s.id not in world.active_stack_ids and s.can_write and not s.locked_by
        and not s.is_disabled and not s.autodeploy and s.state == "FINISHED"
    )  # fmt: skip
    stack.ensure_history()
    run = world.trigger_run(stack.id, "api::test")
    timeline = world._timeline

    def move(*states: str) -> None:
        with world.lock:
            timeline.moving.pop(run.id, None)  # it moves only as this test says
            for state in states:
                timeline.set_state(run, state, int(world.clock()))

    def until(script: str) -> None:
        """Let poll intervals pass (the page's and the portal's clocks) until `script` holds."""
        check = f"() => {script}"  # a function: the page's CSP allows no eval of a string
        for _ in range(6):
            time_passes(settings.PORTAL_POLL_SECONDS + 1)
            try:
                page.wait_for_function(check, timeout=2_000)
                return
            except PlaywrightTimeout:
                pass  # one more interval
        raise AssertionError(f"never true: {script}\n{page.content()}")

    def running_labels() -> list[str]:
        return page.locator("details.phase summary").filter(has=page.locator(".phase-running"))\
            .all_inner_texts()  # fmt: skip

    move("READY", "PREPARING", "INITIALIZING", "PLANNING")
    page = login("olga")
    operators, _ = Group.objects.get_or_create(name="operators")
    operators.permissions.add(Permission.objects.get(codename="operate_stacks"))
    User.objects.get(username="olga").groups.add(operators)
    page.goto(f"/stacks/{stack.id}/runs/{run.id}/")
    assert len(running_labels()) == 1 and "Planning" in running_labels()[0]
    assert page.locator("section#run .plan").count() == 0

    # The plan is ready: it appears with Confirm, and Planning no longer says running.
    run.delta = Delta(2, 1, 0, 12)
    move("UNCONFIRMED")
    until("!!document.querySelector('section#run .plan')")
    assert page.get_by_role("link", name="Confirm", exact=True).is_visible()
    assert page.locator("section#run .plan li").count() == 3
    until("!document.querySelector('.phase-running')")

    # Confirmed and applying, then failing: the why line, the failed phase, nothing running.
    logbook(world).script(run.id, "APPLYING", ["aws_iam_role.deployer: Creating...", WHY])
    move("CONFIRMED", "PREPARING_APPLY", "APPLYING")
    until("!!document.querySelector('.phase-running')")
    move("FAILED")
    until("!!document.querySelector('section#run .why-line')")
    until("!document.querySelector('.phase-running')")
    assert WHY in page.locator("section#run .why-line").inner_text()
    assert page.locator("details.phase-failed .chip-failing").count() == 1
    assert running_labels() == []
    assert page.locator("section#run[data-poll]").count() == 0, "an ended run stops polling"
    assert page.get_by_role("link", name="Confirm", exact=True).count() == 0
    assert page.watch.errors == []
