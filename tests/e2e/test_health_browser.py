"""The stack page's health regions in Chromium (issue 22): they load by themselves and page."""

from __future__ import annotations

import pytest

from tests.e2e.test_accessibility import PHONE, axe_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 900}
# Where the stack's header ends, its drift line and its runs start, and the first run link ends.
TOPS = """() => {
  const y = (selector, edge) => document.querySelector(selector).getBoundingClientRect()[edge];
  return {header: y("#stack .page-head", "bottom"), drift: y("#health-drifted", "top"),
          runs: y("#runs-title", "top"), run_link: y("a.run-link", "bottom")};
}"""


def test_a_stack_without_drift_shows_nothing_above_its_runs(login, connected):
    calm = next(s.id for s in connected.world.stacks if not s.is_drifted and s.entity_count)
    page = login()
    page.set_viewport_size(DESKTOP)
    page.goto(f"/stacks/{calm}/")
    region = page.locator("section#health-drifted")
    region.wait_for(state="attached")
    assert region.evaluate("r => r.getBoundingClientRect().height") == 0
    assert page.watch.errors == []


def test_the_health_regions_load_on_their_own_and_page_in_place(login, connected):
    page = login()
    page.set_viewport_size(DESKTOP)
    page.goto("/stacks/k8s-cluster-prod/")
    page.evaluate("window.__notReloaded = true")
    for part in ("drifted", "lock", "waiting", "dependencies", "drift", "resources", "previews"):
        page.locator(f"section#health-{part}").wait_for()
    # The drifted resources head the page, above the runs, whose first link stays on screen.
    line = page.locator("#health-drifted [data-drifted-resources]")
    assert line.locator("code").count() == 3
    top = page.evaluate(TOPS)
    print("stack page at 1440x900:", top)  # the figures, for whoever runs with -s
    assert top["header"] < top["drift"] < top["runs"] and top["run_link"] <= DESKTOP["height"]
    graph = page.locator("section#health-dependencies figure.dependency-graph svg")
    assert graph.is_visible()
    assert (
        page.locator("#health-dependencies svg a[href='/stacks/network-core-prod/']").count() == 1
    )
    # Its link shows the resources filtered to the drifted ones, in place.
    line.get_by_role("link").click()
    page.locator("#health-resources p", has_text="3 matches").wait_for()
    assert page.locator("#health-resources tr.drifted").count() == 3
    assert page.locator("#health-resources input[name=drifted]").is_checked()
    # Paging and searching the resources swap the region in place.
    page.locator("#health-resources input[name=drifted]").uncheck()
    page.locator("#health-resources button[type=submit]").click()
    page.locator("#health-resources a[rel=next]").click()
    page.locator("#health-resources .pager", has_text="Page 2 of").wait_for()
    page.locator("#resource-q").fill("aws_iam_role")
    page.locator("#health-resources button[type=submit]").click()
    page.locator("#health-resources p", has_text="matches in 1 type").wait_for()
    assert page.locator("#health-resources tbody[data-type]").count() == 1
    assert page.evaluate("window.__notReloaded") is True
    assert page.watch.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_health_regions_pass_axe_and_fit_a_phone(browser, live_server, django_user_model,
                                                      connected, scheme):  # fmt: skip
    from tests.e2e.conftest import sign_in_by_cookie

    ada = django_user_model.objects.create_user("ada", password="pw-browser-123")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, color_scheme=scheme)
    sign_in_by_cookie(context, live_server, ada)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/stacks/k8s-cluster-prod/")
        for part in ("drifted", "lock", "dependencies", "drift", "resources", "previews"):
            page.locator(f"section#health-{part}").wait_for()
        assert axe_violations(page) == []
        page.set_viewport_size(PHONE)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    finally:
        context.close()
