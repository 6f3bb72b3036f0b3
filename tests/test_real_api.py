"""The portal, over real HTTP, against the simulator playing the real API's ways.

Spacelift's own clients show three things a tidy GraphQL server would not do
(docs/spacelift-api.md, "Learned since"): an API without the optional fields, which
rejects a whole query for one of them; empty lists and nulls, not an error, for a token it no
longer accepts; module versions over GraphQL. Each test drives the live portal with a
logged-in `requests` session and counts what reached the simulator.
"""

from __future__ import annotations

import re

import pytest
import requests
from django.conf import settings as django_settings

from dashboard.models import LastSeenState, StackStateChange
from dashboard.spacelift import errors
from dashboard.spacelift.clock import clock
from simulator.server import start_simulator
from tests.conftest import fresh_portal_state

pytestmark = pytest.mark.django_db(transaction=True)

STACKS = 120
SWITCHES = ("lean", "no_introspection", "unaccepted_empty", "accept_no_tokens")


@pytest.fixture(scope="module")
def api():
    handle = start_simulator(port=0, stacks=STACKS, seed=9)
    yield handle
    handle.stop()


@pytest.fixture
def portal(api, live_server, settings, client, django_user_model):
    """A logged-in session on the live portal, pointed at a fresh simulator state."""
    api.clear_faults()
    api.reset_stats()
    fresh_portal_state()
    settings.SPACELIFT_API_KEY_ENDPOINT = api.url
    settings.SPACELIFT_API_KEY_ID = api.key_id
    settings.SPACELIFT_API_KEY_SECRET = api.key_secret
    settings.SPACELIFT_REGISTRY_URL = ""
    settings.SPACELIFT_TIMEOUT_SECONDS = 5.0
    user = django_user_model.objects.create_user("watcher", password="pw-watcher-123")
    client.force_login(user)
    session = requests.Session()
    cookie = settings.SESSION_COOKIE_NAME
    session.cookies.set(cookie, client.cookies[cookie].value)
    session.base = live_server.url  # type: ignore[attr-defined]
    yield session
    session.close()
    api.clear_faults()
    clock.reset()


def get(session: requests.Session, path: str) -> requests.Response:
    return session.get(session.base + path, timeout=20)  # type: ignore[attr-defined]


def stack_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-stack="([^"]+)"', html)


def next_interval() -> None:
    """The poll interval ends for every cached read: the service's clock moves past it."""
    clock.advance(django_settings.PORTAL_POLL_SECONDS + 1)


def look_at_everything(session: requests.Session, stack_id: str) -> None:
    """The overview, a stack's page (runs, environment) and one run's page."""
    overview = get(session, "/?per_page=250")
    assert overview.status_code == 200
    assert len(stack_ids(overview.text)) == STACKS
    page = get(session, f"/stacks/{stack_id}/")
    assert page.status_code == 200
    runs = re.findall(r'<tr data-run="([^"]+)"', page.text)
    assert runs, "the stack page shows its runs"
    assert 'data-config="' in page.text, "the stack page shows its environment"
    run = get(session, f"/stacks/{stack_id}/runs/{runs[0]}/")
    assert run.status_code == 200
    assert '<table class="timeline">' in run.text


def a_stack_with_runs_and_config(api) -> str:
    with api.world.lock:
        for stack in api.world.stacks:
            if stack.runs_of_type("TRACKED") and stack.config:
                return stack.id
    raise AssertionError("the simulated world has no stack with runs and environment")


# -- an API without the optional fields -----------------------------------------------------


def test_a_lean_api_shows_every_page_and_rejects_no_query(api, portal):
    api.set_faults(lean=True)
    stack_id = a_stack_with_runs_and_config(api)

    look_at_everything(portal, stack_id)

    stats = api.stats()
    assert stats["invalid"] == 0  # introspection told the portal before it asked
    assert stats["by_field"].get("__type", 0) == 1  # once per connection, for every type


def quiet_run(api, state: str) -> tuple[str, str]:
    """A run in `state` on a stack whose runs do not move on their own."""
    with api.world.lock:
        for stack in api.world.stacks:
            if stack.id not in api.world.active_stack_ids:
                stack.ensure_history()
                for run in stack.tracked:
                    if run.state == state:
                        return stack.id, run.id
    raise AssertionError(f"the simulated world has no {state} run")


@pytest.mark.parametrize("no_introspection", [False, True])
def test_a_lean_api_still_shows_a_runs_logs_and_its_plan(api, portal, no_introspection):
    """spacectl reads history, logs and changesV3, so they are core: a lean API has them."""
    api.set_faults(lean=True, no_introspection=no_introspection)
    stack_id, run_id = quiet_run(api, "FAILED")
    failed = get(portal, f"/stacks/{stack_id}/runs/{run_id}/")
    assert failed.status_code == 200
    assert 'class="why-line"' in failed.text and '<ol class="log"' in failed.text
    stack_id, run_id = quiet_run(api, "UNCONFIRMED")
    plan = get(portal, f"/stacks/{stack_id}/runs/{run_id}/")
    assert plan.status_code == 200 and '<section class="plan"' in plan.text
    stats = api.stats()
    assert {"RunPhases", "RunLogs", "RunChanges"} <= set(stats["by_operation"])
    # Without introspection: the introspection query, the stack list (read first, to know the
    # stack exists) and the run document, once each for their optional fields; never a log's or
    # a plan's document.
    assert stats["invalid"] == (3 if no_introspection else 0)


def test_without_introspection_each_rejected_query_is_sent_once_and_never_again(api, portal):
    api.set_faults(lean=True, no_introspection=True)
    stack_id = a_stack_with_runs_and_config(api)

    look_at_everything(portal, stack_id)
    first_look = api.stats()["invalid"]
    # The introspection query, then one rejection per document that carries optional fields.
    assert 1 <= first_look <= 6

    api.reset_stats()
    for _ in range(3):
        next_interval()
        look_at_everything(portal, stack_id)
    assert api.stats()["invalid"] == 0


def test_a_lean_api_hides_only_the_features_of_its_missing_fields(api, portal):
    api.set_faults(lean=True)
    with api.world.lock:
        drifted = next(s.id for s in api.world.stacks if s.is_drifted)
    page = get(portal, f"/stacks/{drifted}/")
    assert page.status_code == 200
    assert "Drift detected" not in page.text  # the API cannot say: no badge, not a wrong one
    api.set_faults(lean=False)
    fresh_portal_state()  # a portal that starts against the full API learns it again
    assert "Drift detected" in get(portal, f"/stacks/{drifted}/").text


def test_polling_a_lean_api_costs_one_stack_list_pass_per_interval(api, portal):
    api.set_faults(lean=True, no_introspection=True)
    get(portal, "/?per_page=250")  # the first look learns the schema
    api.reset_stats()
    for _ in range(5):
        next_interval()
        assert len(stack_ids(get(portal, "/?per_page=250").text)) == STACKS
    stats = api.stats()
    assert stats["queries"] == 5 * 3  # a pass is three searchStacks pages of 50 for 120 stacks
    assert stats["by_field"]["searchStacks"] == 15 and "stacks" not in stats["by_field"]
    assert stats["invalid"] == 0


# -- a token Spacelift no longer accepts ----------------------------------------------------


def test_an_unaccepted_token_is_exchanged_again_and_the_overview_never_empties(api, portal):
    api.set_faults(unaccepted_empty=True)
    assert len(stack_ids(get(portal, "/?per_page=250").text)) == STACKS
    exchanges = api.stats()["token_exchanges"]

    api.set_credentials(revoke_tokens=True)  # every token issued so far stops being accepted
    next_interval()
    overview = get(portal, "/?per_page=250")

    assert len(stack_ids(overview.text)) == STACKS
    assert api.stats()["token_exchanges"] == exchanges + 1
    assert api.stats()["unaccepted"] >= 1


def test_a_known_stack_never_says_no_such_stack_when_its_token_is_not_accepted(api, portal):
    api.set_faults(unaccepted_empty=True)
    stack_id = a_stack_with_runs_and_config(api)
    assert get(portal, f"/stacks/{stack_id}/").status_code == 200

    api.set_credentials(revoke_tokens=True)
    next_interval()
    page = get(portal, f"/stacks/{stack_id}/")

    assert page.status_code == 200
    assert "No such stack" not in page.text
    assert re.findall(r'<tr data-run="([^"]+)"', page.text)


def test_a_key_whose_tokens_are_never_accepted_keeps_the_last_data_and_says_why(api, portal):
    api.set_faults(unaccepted_empty=True)
    stack_id = a_stack_with_runs_and_config(api)
    get(portal, "/?per_page=250")
    assert get(portal, f"/stacks/{stack_id}/").status_code == 200
    seen = dict(LastSeenState.objects.values_list("stack_id", "state"))
    changes = StackStateChange.objects.count()

    api.set_faults(accept_no_tokens=True)
    next_interval()
    overview = get(portal, "/?per_page=250")
    page = get(portal, f"/stacks/{stack_id}/")

    assert len(stack_ids(overview.text)) == STACKS
    assert errors.TokenNotAccepted.summary in overview.text
    assert "stale-mark" in overview.text
    assert page.status_code == 200 and "No such stack" not in page.text
    assert errors.TokenNotAccepted.summary in page.text
    # The vanished account is not history: nothing recorded, nothing forgotten.
    assert StackStateChange.objects.count() == changes
    assert dict(LastSeenState.objects.values_list("stack_id", "state")) == seen


def test_viewer_is_asked_only_when_an_answer_looks_empty(api, portal):
    api.set_faults(unaccepted_empty=True)
    for _ in range(4):
        next_interval()
        get(portal, "/?per_page=250")
    assert api.stats()["by_field"].get("viewer", 0) == 0


def test_an_account_that_really_has_no_stacks_stays_empty_without_an_error(api, portal):
    api.set_faults(unaccepted_empty=True)
    get(portal, "/?per_page=250")
    api.rebuild_world(0)
    try:
        next_interval()
        overview = get(portal, "/?per_page=250")
        assert stack_ids(overview.text) == []
        assert errors.TokenNotAccepted.summary not in overview.text
        assert api.stats()["by_field"]["viewer"] == 1
    finally:
        api.rebuild_world(STACKS)


# -- modules over GraphQL -------------------------------------------------------------------


def test_the_modules_page_shows_every_module_with_its_versions_from_the_api(api, portal):
    response = get(portal, "/modules/")
    assert response.status_code == 200
    with api.world.lock:
        expected = {m.id: list(reversed(m.versions)) for m in api.world.modules}
    for module_id, versions in expected.items():
        item = re.search(
            rf'data-module="{re.escape(module_id)}">.*?<ol class="versions".*?</ol>',
            response.text,
            re.S,
        )
        assert item, module_id
        assert re.findall(r"<code>([^<]+)</code>", item[0]) == versions
    stats = api.stats()
    assert stats["registry"] == 0  # no registry request: GraphQL only
    assert stats["by_operation"].get("ModuleVersions") == 1  # one query for the whole page


def test_an_unaccepted_token_does_not_empty_the_modules_page(api, portal):
    api.set_faults(unaccepted_empty=True)
    assert get(portal, "/modules/").text.count('class="module panel"') == len(api.world.modules)
    api.set_credentials(revoke_tokens=True)
    next_interval()
    page = get(portal, "/modules/")
    assert page.text.count('class="module panel"') == len(api.world.modules)


def test_a_stack_only_seen_in_the_overview_is_not_a_404_when_tokens_stop_working(api, portal):
    api.set_faults(unaccepted_empty=True)
    stack_id = stack_ids(get(portal, "/?per_page=250").text)[-1]
    api.set_faults(accept_no_tokens=True)
    page = get(portal, f"/stacks/{stack_id}/")
    assert page.status_code == 200
    assert errors.TokenNotAccepted.summary in page.text
