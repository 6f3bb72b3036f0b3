"""The stack page's health regions in Chromium (issue 22): they load by themselves and page."""

from __future__ import annotations

import pytest

from tests.e2e.test_accessibility import PHONE, axe_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_health_regions_load_on_their_own_and_page_in_place(login, connected):
    page = login()
    page.goto("/stacks/k8s-cluster-prod/")
    page.evaluate("window.__notReloaded = true")
    for part in ("drifted", "lock", "waiting", "dependencies", "drift", "resources", "previews"):
        page.locator(f"section#health-{part}").wait_for()
    graph = page.locator("section#health-dependencies figure.dependency-graph svg")
    assert graph.is_visible()
    assert (
        page.locator("#health-dependencies svg a[href='/stacks/network-core-prod/']").count() == 1
    )
    drifted = page.locator("#health-drifted [data-drifted-resources] li")
    assert drifted.count() == 3
    # Paging and searching the resources swap the region in place.
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
