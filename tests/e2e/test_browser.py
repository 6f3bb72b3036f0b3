"""In a real browser: log in, watch the overview change by itself, see stale and recovery."""

from __future__ import annotations

import re
import time

import pytest

from dashboard.spacelift.service import MAX_BACKOFF_SECONDS
from tests.conftest import quiet_stacks

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def chip_states(page) -> dict[str, str]:
    return page.eval_on_selector_all(
        "tr[data-stack]",
        "rows => Object.fromEntries("
        "rows.map(r => [r.dataset.stack, r.querySelector('.chip').textContent]))",
    )


def test_login_and_the_overview_lists_every_stack(login, connected, settings):
    page = login(by_form=True)
    page.goto("/?per_page=250")
    assert page.locator("tr[data-stack]").count() == 48
    assert page.get_by_role("link", name=re.compile("Healthy")).is_visible()
    assert page.watch.errors == []


def test_a_state_change_appears_by_itself_within_two_intervals(
    login, connected, settings, time_passes
):
    settings.PORTAL_POLL_SECONDS = 2
    page = login()
    page.goto("/?per_page=250")
    page.evaluate("window.__notReloaded = true")
    before = chip_states(page)
    connected.step()  # every active run moves one state forward
    time_passes(2 * settings.PORTAL_POLL_SECONDS)
    page.wait_for_function(
        """before => [...document.querySelectorAll('tr[data-stack]')].some(
             r => before[r.dataset.stack] !== r.querySelector('.chip').textContent)""",
        arg=before,
        timeout=6_000,
    )
    assert page.evaluate("window.__notReloaded") is True
    assert page.watch.errors == []


def test_keyboard_focus_stays_on_its_link_when_the_table_refreshes(
    login, connected, settings, time_passes
):
    settings.PORTAL_POLL_SECONDS = 2
    page = login()
    page.goto("/?per_page=250")
    link = page.locator("tr[data-stack] a[href^='/stacks/']").nth(3)
    href = link.get_attribute("href")
    link.focus()
    table = page.locator("#stacks").element_handle()
    before = chip_states(page)
    connected.step()  # every active run moves one state forward: the table is swapped
    time_passes(2 * settings.PORTAL_POLL_SECONDS)
    page.wait_for_function(
        """before => [...document.querySelectorAll('tr[data-stack]')].some(
             r => before[r.dataset.stack] !== r.querySelector('.chip').textContent)""",
        arg=before,
        timeout=6_000,
    )
    assert table.evaluate("old => !old.isConnected"), "the region was replaced"
    page.wait_for_function(
        "href => document.activeElement.getAttribute('href') === href", arg=href, timeout=6_000
    )
    assert page.evaluate("document.activeElement.closest('#stacks') !== null")
    page.keyboard.press("Tab")  # the next Tab goes on from there, not from the logo
    assert page.evaluate("document.activeElement.closest('#stacks') !== null")
    assert page.watch.errors == []


def test_focus_stays_on_a_stack_whose_second_link_went_away_in_a_refresh(
    login, connected, settings, time_passes
):
    """Linked in "Needs a human" and in the table, focused on the table's last link to it; the
    stack then needs no one, so fewer links lead to it: the last one left takes the focus."""
    settings.PORTAL_POLL_SECONDS = 2
    page = login()
    waiting = next(s for s in quiet_stacks(connected) if s.state == "UNCONFIRMED")
    href = f"/stacks/{waiting.id}/"
    page.goto("/?per_page=250")
    links = page.locator(f'#stacks a[href="{href}"]')
    before = links.count()
    assert before >= 2
    links.nth(before - 1).focus()  # the table's, below "Needs a human"
    assert page.evaluate("document.activeElement.closest('tr[data-stack]') !== null")
    table = page.locator("#stacks").element_handle()
    with connected.world.lock:
        waiting.tracked[0].transition("FINISHED", int(time.time()))
        waiting.refresh_state()
    time_passes(2 * settings.PORTAL_POLL_SECONDS)
    page.wait_for_function("old => !old.isConnected", arg=table, timeout=6_000)
    page.wait_for_function(
        "([href, n]) => document.querySelectorAll(`#stacks a[href='${href}']`).length < n",
        arg=[href, before],
    )
    page.wait_for_function(
        "href => document.activeElement.getAttribute('href') === href", arg=href, timeout=6_000
    )
    assert page.watch.errors == []


def test_the_stale_banner_appears_and_clears_by_itself(login, connected, settings, time_passes):
    settings.PORTAL_POLL_SECONDS = 1
    page = login()
    page.goto("/")
    assert page.locator("tr[data-stack]").count() > 0
    connected.set_faults(mode="http500")
    time_passes(2)
    banner = page.locator("#page-problem")
    banner.wait_for(state="visible", timeout=8_000)
    assert "Stale" in banner.text_content()
    assert page.locator("#stacks.region-stale .stale-mark").is_visible()
    assert page.locator("tr[data-stack]").count() > 0  # the last good table stays
    connected.set_faults(mode=None)
    time_passes(MAX_BACKOFF_SECONDS + 1)  # past any backoff, and the slower poll it asked for
    banner.wait_for(state="hidden", timeout=15_000)
    assert page.locator(".stale-mark").count() == 0
    assert page.locator("tr[data-stack]").count() > 0
    assert page.watch.errors == []


def test_a_stack_page_with_every_region_stale_has_one_banner(
    login, connected, settings, time_passes
):
    settings.PORTAL_POLL_SECONDS = 1
    page = login()
    target = connected.world.stacks[0]
    page.goto(f"/stacks/{target.id}/")
    connected.set_faults(mode="http500")
    time_passes(2)
    # The runs and the stack's head are on screen; configuration and environment are folded.
    page.locator("#stack .stale-mark").wait_for(timeout=10_000)
    page.locator("#runs .stale-mark").wait_for(timeout=10_000)
    page.wait_for_function("() => document.querySelectorAll('.region-stale').length >= 3")
    assert page.locator("#page-problem").is_visible()
    assert page.locator(".banner-stale").count() == 1


def test_an_administrator_saves_a_connection_by_the_labels(login, sim):
    page = login("root", staff=True)
    # Logged in to a portal with no connection yet: the overview it lands on answers 503 (not
    # connected), which the browser logs as an error; what follows must log none.
    page.watch.clear()
    page.goto("/administration/spacelift/")
    page.get_by_label("Host URL").fill(sim.url)
    page.get_by_label("API key ID").fill(sim.key_id)
    page.get_by_label("API key secret").fill("a-wrong-secret")
    page.get_by_label("Save even if the test fails").check()
    with page.expect_navigation():  # saved: the page reloads with the message
        page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved despite a failing test: API key exchange failed.").wait_for()
    # The right secret, typed and tested: the test leaves the form as it was typed.
    page.get_by_label("API key secret").fill(sim.key_secret)
    page.get_by_role("button", name="Test connection", exact=True).click()
    page.locator(".checks").wait_for()
    assert page.locator(".check.fail").count() == 0
    assert page.get_by_label("API key secret").input_value() == sim.key_secret
    assert sim.key_secret not in page.content()  # typed into the field, never into the HTML
    with page.expect_navigation():  # saved: the page reloads with the message
        page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved. Every dashboard").wait_for()
    page.get_by_role("link", name="Stacks", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("tr[data-stack]").count() > 0
    # A mistyped host is refused and the working connection stays.
    page.goto("/administration/spacelift/")
    page.get_by_label("Host URL").fill("https://mycorp.app.spacelift.io/oops")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("without a path").wait_for()
    page.goto("/")
    assert page.locator("tr[data-stack]").count() > 0
    assert page.watch.errors == []


def test_save_refuses_a_wrong_secret_and_keeps_what_was_typed(login, sim):
    page = login("root", staff=True)
    page.goto("/administration/spacelift/")
    page.get_by_label("Host URL").fill(sim.url)
    page.get_by_label("API key ID").fill(sim.key_id)
    page.get_by_label("API key secret").fill("a-wrong-secret")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Not saved: API key exchange failed.").wait_for()
    assert page.get_by_label("Host URL").input_value() == sim.url
    assert page.get_by_label("API key secret").input_value() == "a-wrong-secret"
    page.goto("/")
    assert page.locator("tr[data-stack]").count() == 0


def test_a_user_who_is_not_staff_cannot_reach_the_settings(login, sim):
    page = login("bob")
    response = page.goto("/administration/spacelift/")
    assert response.status == 403
    assert page.get_by_label("Host URL").count() == 0


def test_an_expired_session_on_a_poll_goes_to_the_login_page(
    login, connected, settings, time_passes
):
    settings.PORTAL_POLL_SECONDS = 2
    page = login()
    page.goto("/")
    page.context.clear_cookies()
    time_passes(settings.PORTAL_POLL_SECONDS + 1)
    page.wait_for_url(re.compile(r"/accounts/login/\?next="), timeout=8_000)
    assert page.get_by_label("User name").is_visible()


def test_keyboard_navigation_moves_and_opens(login, connected):
    page = login()
    page.goto("/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.press("Escape")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    rows = page.locator("tr[data-stack]")
    first = rows.nth(0).get_attribute("data-stack")
    assert page.locator("tr.selected").get_attribute("data-stack") == first
    page.keyboard.press("Escape")
    assert page.locator("tr.selected").count() == 0
    page.keyboard.press("?")
    assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    page.keyboard.press("Escape")  # closes the dialog
    assert not page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    assert page.locator("tr[aria-selected]").count() == 0
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = rows.nth(1).get_attribute("data-stack")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/stacks/{second}/")
    assert page.watch.errors == []


def test_an_operator_confirms_a_plan_through_the_confirmation_step(
    login, connected, django_user_model
):
    from django.contrib.auth.models import Group

    connected.rebuild_world(48, seed=7)
    target = next(
        s for s in connected.world.stacks
        if s.state == "UNCONFIRMED" and s.can_write and not s.locked_by
        and s.id not in connected.world.active_stack_ids
    )  # fmt: skip
    target.ensure_history()
    run = next(r for r in target.tracked if r.state == "UNCONFIRMED")
    from django.contrib.auth.models import Permission

    page = login("opal")
    # Browser tests flush the database, so the group the migration made is rebuilt here.
    operators, _ = Group.objects.get_or_create(name="operators")
    operators.permissions.add(Permission.objects.get(codename="operate_stacks"))
    django_user_model.objects.get(username="opal").groups.add(operators)
    page.goto(f"/stacks/{target.id}/")
    page.locator(f'tr[data-run="{run.id}"]').get_by_role("link", name="Confirm", exact=True).click()
    page.wait_for_load_state()
    assert run.state == "UNCONFIRMED"  # the first click only asks
    assert page.get_by_role("heading", name="Confirm the plan").is_visible()
    page.get_by_role("button", name="Confirm and apply").click()
    page.wait_for_load_state()
    assert run.state in ("CONFIRMED", "APPLYING", "FINISHED", "FAILED")
    assert "Confirm run: run" in page.content()
    assert page.watch.errors == []


def test_a_viewer_sees_no_actions(login, connected):
    page = login("val")
    target = next(s for s in quiet_stacks(connected) if s.state == "UNCONFIRMED")
    page.goto(f"/stacks/{target.id}/")
    assert page.get_by_role("link", name="Trigger run").count() == 0
    assert page.get_by_role("link", name="Confirm", exact=True).count() == 0


def test_the_filter_form_leaves_empty_filters_out_of_the_url(login, connected):
    page = login("fern")
    page.goto("/")
    page.get_by_text("Filters and search").click()  # folded until a person opens them
    page.get_by_label("Health", exact=True).select_option("failing")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/?health=failing")
    # Every row shown is a failed stack, and every failed stack the world holds still is shown.
    world = connected.world
    shown = set(
        page.locator("tr[data-stack]").evaluate_all("rows => rows.map(r => r.dataset.stack)")
    )
    chips = page.locator("tr[data-stack] td.state .chip").all_inner_texts()
    assert shown and all(chip == "Failed" for chip in chips), chips
    assert {s.id for s in world.stacks if s.state == "FAILED"} - set(
        world.active_stack_ids
    ) <= shown
