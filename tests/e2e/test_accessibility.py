"""axe-core (WCAG 2.1 AA) on every page, light and dark, and no sideways scroll on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import quiet_stacks
from tests.e2e.conftest import sign_in_by_cookie
from tests.servers import missing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what the issue asks the portal to meet.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}


def _pages(sim) -> dict[str, str]:
    stack = next(s for s in quiet_stacks(sim) if s.state == "UNCONFIRMED")
    run = stack.tracked[0]
    return {
        "overview": "/",
        "stack": f"/stacks/{stack.id}/",
        "run": f"/stacks/{stack.id}/runs/{run.id}/",
        "modules": "/modules/",
        "settings": "/administration/spacelift/",
        "access": "/administration/access/",
        "notifications": "/administration/notifications/",
    }


@pytest.fixture
def staff_page(browser, live_server, django_user_model, request):
    """A staff member's page in the colour scheme of the test's `scheme` parameter.

    The CSP forbids inline scripts, and Playwright injects axe as one: the context bypasses
    the CSP for this check only (the CSP itself is tested elsewhere).
    """
    scheme = getattr(request, "param", "light")
    ada = django_user_model.objects.create_user("ada", password="pw-browser-123", is_staff=True)
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, color_scheme=scheme)
    sign_in_by_cookie(context, live_server, ada)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def axe_violations(page) -> list[str]:
    if not AXE.exists():
        missing("axe-core (npm install --prefix tests/js)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("staff_page", ["light", "dark"], indirect=True)
def test_no_serious_axe_violation_on_any_page(staff_page, connected):
    problems = {}
    for name, path in _pages(connected).items():
        staff_page.goto(path)
        if found := axe_violations(staff_page):
            problems[name] = found
    assert problems == {}


def test_no_page_scrolls_sideways_on_a_phone(staff_page, connected):
    staff_page.set_viewport_size(PHONE)
    widths = {}
    for name, path in _pages(connected).items():
        staff_page.goto(path)
        width = staff_page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            widths[name] = width
    assert widths == {}


def test_confirm_and_discard_are_reachable_on_a_phone(staff_page, connected, django_user_model):
    from django.contrib.auth.models import Group, Permission

    operators, _ = Group.objects.get_or_create(name="operators")
    operators.permissions.add(Permission.objects.get(codename="operate_stacks"))
    django_user_model.objects.get(username="ada").groups.add(operators)
    staff_page.set_viewport_size(PHONE)
    stack = next(
        s for s in connected.world.stacks
        if s.state == "UNCONFIRMED" and s.can_write and not s.locked_by
    )  # fmt: skip
    staff_page.goto(f"/stacks/{stack.id}/")
    for name in ("Confirm", "Discard"):
        link = staff_page.get_by_role("link", name=name, exact=True).first
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box and box["width"] > 0 and box["x"] >= 0, name
        assert box["x"] + box["width"] <= staff_page.evaluate("window.innerWidth"), name


def test_the_filters_fold_away_on_a_phone(staff_page, connected):
    staff_page.set_viewport_size(PHONE)
    staff_page.goto("/")
    assert not staff_page.get_by_label("Search").is_visible()
    staff_page.get_by_text("Filters and search").click()
    assert staff_page.get_by_label("Search").is_visible()


def test_stack_names_stay_on_one_line_at_1440_px(staff_page, connected):
    staff_page.set_viewport_size({"width": 1440, "height": 900})
    staff_page.goto("/?per_page=250")
    heights = staff_page.eval_on_selector_all(
        "td.name a",
        # A cut name has a box for its ellipsis too, on the same line: count the lines.
        "links => links.map(a =>"
        " new Set([...a.getClientRects()].map(r => Math.round(r.top))).size)",
    )
    assert heights and max(heights) == 1  # one line per name: it did not wrap


def test_shortcuts_are_discoverable_without_knowing_the_key(staff_page, connected):
    staff_page.goto("/")
    staff_page.get_by_role("button", name="Shortcuts").click()
    dialog = staff_page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_visible()
    assert "Clear the selection" in dialog.text_content()
