"""In a real browser: the overview fits at 1280 px and up, and no page scrolls sideways on a
phone (issue 20). Widths are measured, not guessed: each check reports what it found."""

from __future__ import annotations

import pytest

from simulator.logs import logbook
from tests.conftest import failed_stack, quiet_stacks

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOPS = [{"width": 1440, "height": 900}, {"width": 1280, "height": 800}]
PHONE = {"width": 390, "height": 844}

# The page's width against its viewport, and each table's against the box that holds it.
MEASURE = """() => {
  const root = document.documentElement;
  const tables = [...document.querySelectorAll("main table")].filter((t) => t.offsetParent)
    .map((t) => ({
      table: t.className || t.id || "table",
      width: t.scrollWidth,
      box: t.parentElement.clientWidth,
    }));
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, tables};
}"""


# Each state chip whole: inside its cell and on screen, not cut by the column.
CHIPS_WHOLE = """chips => chips.map(c => {
  const r = c.getBoundingClientRect(), cell = c.parentElement.getBoundingClientRect();
  return r.width > 0 && r.left >= 0 && r.right <= Math.min(cell.right, window.innerWidth);
})"""


def spills(measured: dict) -> list:
    """What is wider than its box: the page, or a table."""
    found = []
    if measured["scrollWidth"] > measured["clientWidth"]:
        found.append(("page", measured["scrollWidth"], measured["clientWidth"]))
    found += [
        (t["table"], t["width"], t["box"]) for t in measured["tables"] if t["width"] > t["box"]
    ]
    return found


@pytest.fixture
def operator_page(login, django_user_model):
    from django.contrib.auth.models import Group, Permission

    page = login("otto")
    # Browser tests flush the database, so the group the migration made is rebuilt here.
    operators, _ = Group.objects.get_or_create(name="operators")
    operators.permissions.add(Permission.objects.get(codename="operate_stacks"))
    django_user_model.objects.get(username="otto").groups.add(operators)
    return page


def test_the_overview_fits_at_1440_and_1280_px_one_line_per_stack(operator_page, connected):
    page = operator_page
    # Layout shifts summed from the first paint on, as Core Web Vitals count them.
    page.add_init_script(
        """window.layoutShift = 0;
           new PerformanceObserver((list) => list.getEntries().forEach((e) => {
             if (!e.hadRecentInput) window.layoutShift += e.value;
           })).observe({type: "layout-shift", buffered: true});"""
    )
    found = {}
    for size in DESKTOPS:
        page.set_viewport_size(size)
        page.goto("/?per_page=250")
        measured = page.evaluate(MEASURE)
        print(size["width"], measured)  # the figures, for whoever runs with -s
        found[size["width"]] = spills(measured)
        # One line per stack: every row as tall as the shortest.
        heights = page.eval_on_selector_all(
            "tr[data-stack]", "rows => rows.map(r => Math.round(r.getBoundingClientRect().height))"
        )
        assert len(heights) == 48 and max(heights) == min(heights) <= 40, heights
        chips = page.eval_on_selector_all("tr[data-stack] td.state .chip", CHIPS_WHOLE)
        assert len(chips) == 48 and all(chips), size
        # Each row's Spacelift link is on screen, an icon with a name.
        link = page.get_by_role("link", name="in Spacelift").first
        box = link.bounding_box()
        assert box and box["x"] + box["width"] <= size["width"]
    assert found == {1440: [], 1280: []}
    # The why lines arrive after the page: their line is kept for them, so nothing moves.
    page.wait_for_selector(".attention .why a")
    shift = page.evaluate("window.layoutShift")
    print("layout shift", shift)
    assert shift < 0.001  # without the kept line: about 0.005 here, 0.07 in the issue
    # Labels truncate and keep their full text for hover.
    labels = page.eval_on_selector_all(
        "td.labels a.label", "links => links.map(a => a.title === a.textContent)"
    )
    assert labels and all(labels)
    assert page.watch.errors == []


def test_the_filters_are_folded_until_opened_and_then_remembered(operator_page, connected):
    page = operator_page
    page.set_viewport_size(DESKTOPS[0])
    page.goto("/")
    search = page.get_by_label("Search")
    assert not search.is_visible()
    page.get_by_text("Filters and search").click()
    assert search.is_visible()
    page.goto("/")
    assert page.get_by_label("Search").is_visible()  # remembered on this browser
    page.get_by_text("Filters and search").click()
    page.goto("/")
    assert not page.get_by_label("Search").is_visible()
    page.keyboard.press("/")  # the shortcut opens them
    assert page.get_by_label("Search").is_visible()
    page.goto("/?health=failing")
    assert page.get_by_label("Health", exact=True).is_visible()  # a filter set shows them


def test_no_page_scrolls_sideways_at_390_px_and_every_state_shows(operator_page, connected):
    page = operator_page
    world = connected.world
    failed, failed_run, _ = failed_stack(connected)
    waiting_stack = next(
        s for s in quiet_stacks(connected)
        if s.state == "UNCONFIRMED" and s.can_write and not s.locked_by
    )  # fmt: skip
    waiting_run = next(r for r in waiting_stack.tracked if r.state == "UNCONFIRMED")
    # The generated plan's addresses depend on the run's ID, which depends on the time: a long
    # one, which must wrap on a phone, is put in the plan rather than hoped for.
    logbook(world).script_changes(
        waiting_run.id,
        [
            {"address": address, "previous_address": None, "metadata": {"type": kind}}
            for address, kind in [
                ('module.network.module.subnets.aws_subnet.private["eu-west-1a"]', "ADDED"),
                ("aws_iam_role_policy_attachment.ci_deployer_readonly", "CHANGED"),
                ("aws_s3_bucket.logs", "DELETED"),
            ]
        ],
    )
    run_path = f"/stacks/{waiting_stack.id}/runs/{waiting_run.id}/"
    pages = {
        "overview": "/?per_page=250",
        "failed run": f"/stacks/{failed.id}/runs/{failed_run.id}/",
        "unconfirmed run": run_path,
        "confirm": run_path + "actions/confirm/",
        "discard": run_path + "actions/discard/",
        "stack": f"/stacks/{waiting_stack.id}/",
    }
    page.set_viewport_size(PHONE)
    found = {}
    for name, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, name
        measured = page.evaluate(MEASURE)
        print(name, measured)
        # Nothing scrolls sideways, not even inside a table's own frame.
        spilled = spills(measured)
        if spilled:
            found[name] = spilled
        if name in ("unconfirmed run", "confirm"):
            addresses = page.eval_on_selector_all(
                ".plan li code", "codes => codes.map(c => c.textContent.length)"
            )
            assert addresses and max(addresses) > 40, name  # long addresses are there to wrap
        if name == "overview":
            chips = page.eval_on_selector_all("tr[data-stack] td.state .chip", CHIPS_WHOLE)
            assert len(chips) == 48 and all(chips)  # every stack's state is on screen
            header = page.eval_on_selector(".topbar", "h => h.getBoundingClientRect().height")
            assert header <= 80  # two lines at most
        if name == "stack":
            # The runs table fits: each run's state chip and its link whole and on screen.
            runs = page.eval_on_selector(
                "table.runs", "t => [t.scrollWidth, t.parentElement.clientWidth]"
            )
            assert runs[0] <= runs[1], runs
            chips = page.eval_on_selector_all("tr[data-run] a.run-link .chip", CHIPS_WHOLE)
            messages = page.eval_on_selector_all("tr[data-run] a.message", CHIPS_WHOLE)
            assert chips and all(chips) and len(messages) == len(chips) and all(messages)
    assert found == {}
    assert page.watch.errors == []


def test_the_skip_link_and_the_opened_queue_survive_a_refresh(
    login, connected, settings, time_passes
):
    settings.PORTAL_POLL_SECONDS = 2
    page = login()
    page.set_viewport_size(DESKTOPS[0])
    page.goto("/?per_page=250")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to stacks"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "stacks-table"
    # What does not fit in "Needs a human" is folded; opened, it stays open through a swap.
    more = page.locator("details.attention-more")
    more.locator("summary").click()
    region = page.locator("#stacks").element_handle()
    connected.step()
    time_passes(2 * settings.PORTAL_POLL_SECONDS)
    page.wait_for_function("old => !old.isConnected", arg=region, timeout=6_000)
    assert page.locator("details.attention-more").evaluate("d => d.open")
    assert page.watch.errors == []
