"""Each person sees what Spacelift would let them see: people signed in through the real OpenID
Connect provider, in groups mapped to the simulator's spaces, on every surface of the portal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from dashboard import checks, regions
from dashboard.accounts import access
from dashboard.models import AuditEntry, SpaceAccessRule
from dashboard.spacelift.types import Space
from tests.conftest import HTMX, parse, poll_values, region_of
from tests.oidc_provider import (
    OPERATOR_GROUP,
    USERS,
    oidc_provider,
    point_portal_at,
    walk_provider,
)

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/accounts/sso/callback/"
TEAM_A, TEAM_B = "team-payments", "team-platform"
# The provider's people: one per team (the payments one an operator), one in no mapped group,
# one whose group has the root space, and the suite's staff member (ada).
PEOPLE = {
    **USERS,
    "paula-sub": {"username": "paula", "email": "paula@example.com",
                  "groups": [TEAM_A, OPERATOR_GROUP]},
    "ben-sub": {"username": "ben", "email": "ben@example.com", "groups": [TEAM_B]},
    "nora-sub": {"username": "nora", "email": "nora@example.com", "groups": ["everyone"]},
    "rita-sub": {"username": "rita", "email": "rita@example.com", "groups": ["sre"]},
}  # fmt: skip


@pytest.fixture(scope="module")
def provider():
    with oidc_provider([CALLBACK], ["http://testserver/accounts/login/"]) as running:
        yield running


@dataclass
class Account:
    """The simulated account's stacks by space name, and its space IDs."""

    sim: object
    space_ids: dict[str, str]

    def stacks_in(self, *names: str) -> list:
        return [s for s in self.sim.world.stacks if s.space_details.name in names]

    def ids_in(self, *names: str) -> set[str]:
        return {s.id for s in self.stacks_in(*names)}

    @property
    def all_ids(self) -> set[str]:
        return {s.id for s in self.sim.world.stacks}


@pytest.fixture
def account(connected, provider, settings):
    point_portal_at(provider, settings)
    provider.sign_with("published")
    provider.set_users(PEOPLE)
    spaces = {space.name: space.id for space in connected.world.spaces}
    settings.PORTAL_SPACE_ACCESS = json.dumps(
        {TEAM_A: [spaces["payments"]], TEAM_B: [spaces["platform"]], "sre": ["root"]}
    )
    yield Account(connected, spaces)
    provider.set_users(USERS)


def signed_in(login: str) -> Client:
    client = Client()
    start = client.get("/accounts/sso/start/")
    assert start.status_code == 302
    callback = walk_provider(start["Location"], f"{login}-sub", CALLBACK)
    response = client.get(callback.removeprefix("http://testserver"))
    assert response.status_code == 302, response.content[:300]
    return client


def linked_stack_ids(html: str) -> set[str]:
    """The stacks a page links to (`/stacks/<id>/...`)."""
    ids = set()
    for link in parse(html).select('a[href^="/stacks/"]'):
        ids.add(link["href"].split("/")[2])
    return ids


def status_ids(client: Client, query: str = "") -> set[str]:
    response = client.get(f"/status.json?per_page=250{query}")
    assert response.status_code == 200
    return {stack["id"] for stack in response.json()["stacks"]}


def metric_ids(client: Client, **headers) -> set[str]:
    body = client.get("/metrics", **headers).content.decode()
    return {
        line.split('stack="', 1)[1].split('"', 1)[0]
        for line in body.splitlines()
        if line.startswith("spacelift_stack_state{")
    }


def unmasked(response) -> str:
    """The page with its CSRF token (masked afresh on every response) left out."""
    return re.sub(r"[A-Za-z0-9]{64}", "<csrf>", response.content.decode())


def a_run_with_logs(stack):
    stack.ensure_history()
    for run in stack.tracked:
        phases = [t for t in run.transitions if t.has_logs]
        if phases:
            return run, phases[-1]
    return None, None


def stack_urls(stack) -> list[str]:
    """Every page of one stack: its page, why, badge, and a run, its log and its actions."""
    urls = [f"/stacks/{stack.id}/", f"/stacks/{stack.id}/why/", f"/stacks/{stack.id}/badge.svg",
            f"/stacks/{stack.id}/actions/trigger/"]  # fmt: skip
    run, phase = a_run_with_logs(stack)
    if run is not None:
        urls += [
            f"/stacks/{stack.id}/runs/{run.id}/",
            f"/stacks/{stack.id}/runs/{run.id}/logs/{phase.state}-{phase.state_version}/",
            f"/stacks/{stack.id}/runs/{run.id}/actions/confirm/",
        ]
    return urls


@pytest.mark.parametrize(
    ("login", "own", "other"),
    [("paula", "payments", "platform"), ("ben", "platform", "payments")],
)
def test_a_team_member_sees_their_spaces_and_nothing_of_another_team(account, login, own, other):
    client = signed_in(login)
    mine, theirs = account.ids_in(own), account.ids_in(other)
    assert mine and theirs

    overview = client.get("/?per_page=250")
    html = overview.content.decode()
    assert linked_stack_ids(html) == mine
    assert not [stack.id for stack in account.stacks_in(other) if stack.id in html]
    tiles = sum(int(n.get_text()) for n in parse(html).select("ul.counts .n"))
    assert tiles == len(mine)
    title = parse(html).title.get_text()
    failing = sum(1 for s in account.stacks_in(own) if s.state == "FAILED")
    assert (f"({failing} failing)" in title) if failing else "failing" not in title

    assert status_ids(client) == mine
    assert metric_ids(client) == mine
    # Search, grouping and paging only ever reach the person's own stacks.
    for stack in account.stacks_in(other)[:3]:
        assert status_ids(client, f"&q={stack.id}") == set()
        assert linked_stack_ids(client.get(f"/?q={stack.name}").content.decode()) <= mine
    grouped = client.get("/?group=space&per_page=250").content.decode()
    groups = {h.get_text(strip=True) for h in parse(grouped).select(".group-row th")}
    assert groups == {f"{own}({len(mine)})"}
    assert linked_stack_ids(client.get("/?per_page=25&page=2").content.decode()) <= mine

    for stack in account.stacks_in(own)[:2]:
        for url in stack_urls(stack)[:3]:
            assert client.get(url, **HTMX).status_code == 200, url
    for stack in account.stacks_in(other)[:4]:
        for url in stack_urls(stack):
            unknown = client.get(url.replace(stack.id, "no-such-stack-here")).status_code
            # 404, or 403 for the actions of someone who may not act on any stack.
            assert client.get(url).status_code == unknown != 200, url


def test_another_spaces_stack_answers_exactly_as_an_unknown_stack_with_no_extra_query(account):
    client = signed_in("paula")
    hidden = account.stacks_in("platform")[0]
    client.get("/")  # the lists are read and cached
    account.sim.reset_stats()
    unknown = client.get("/stacks/no-such-stack-here/")
    queries_for_unknown = account.sim.stats()["queries"]
    account.sim.reset_stats()
    forbidden = client.get(f"/stacks/{hidden.id}/")
    assert account.sim.stats()["queries"] == queries_for_unknown == 0
    assert (forbidden.status_code, unmasked(forbidden)) == (404, unmasked(unknown))
    badge_unknown = client.get("/stacks/no-such-stack-here/badge.svg")
    badge_hidden = client.get(f"/stacks/{hidden.id}/badge.svg")
    assert (badge_hidden.status_code, unmasked(badge_hidden)) == (404, unmasked(badge_unknown))


def test_staff_see_everything(account):
    client = signed_in("ada")
    assert status_ids(client) == account.all_ids
    assert linked_stack_ids(client.get("/?per_page=250").content.decode()) == account.all_ids
    hidden_from_teams = account.stacks_in("data")[0]
    assert client.get(f"/stacks/{hidden_from_teams.id}/").status_code == 200


def test_a_rule_on_the_root_space_shows_everything(account):
    client = signed_in("rita")
    assert status_ids(client) == account.all_ids
    assert metric_ids(client) == account.all_ids


def test_the_metrics_token_sees_everything(account, settings):
    settings.PORTAL_METRICS_TOKEN = "scrape-token-0123456789"
    client = signed_in("ben")
    assert metric_ids(client) == account.ids_in("platform")
    bearer = {"HTTP_AUTHORIZATION": "Bearer scrape-token-0123456789"}
    assert metric_ids(Client(), **bearer) == account.all_ids
    assert metric_ids(client, **bearer) == account.all_ids


def test_a_person_in_no_mapped_group_sees_no_stack_and_whom_to_ask(account):
    signed_in("ada")  # staff: the person to ask
    client = signed_in("nora")
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "You have no spaces yet" in html and "ada" in html
    assert linked_stack_ids(html) == set()
    assert status_ids(client) == set()
    assert metric_ids(client) == set()
    for stack in account.sim.world.stacks[:5]:
        assert client.get(f"/stacks/{stack.id}/badge.svg").status_code == 404
    modules = client.get("/modules/").content.decode()
    assert not any(m.name in modules for m in account.sim.world.modules)
    # A poll from a page shown before the rules changed reloads the page rather than keep it.
    assert client.get("/", **HTMX)["HX-Refresh"] == "true"


def test_modules_follow_the_modules_space(account):
    html = signed_in("paula").get("/modules/").content.decode()
    for module in account.sim.world.modules:
        assert (module.name in html) == (module.space_details.name == "payments"), module.name


def test_removal_from_a_group_takes_its_spaces_away_at_the_next_sign_in(account, provider):
    assert status_ids(signed_in("ben")) == account.ids_in("platform")
    provider.set_users({**PEOPLE, "ben-sub": {**PEOPLE["ben-sub"], "groups": ["everyone"]}})
    client = signed_in("ben")
    assert status_ids(client) == set()
    assert "You have no spaces yet" in client.get("/").content.decode()


@pytest.fixture
def fresh_world(sim):
    sim.rebuild_world(48, seed=7)
    yield sim
    sim.rebuild_world(48, seed=7)


def test_an_operator_cannot_act_outside_their_spaces(account, fresh_world):
    client = signed_in("paula")
    theirs = account.stacks_in("platform")[0]
    run, _ = a_run_with_logs(theirs)
    account.sim.reset_stats()
    assert client.get(f"/stacks/{theirs.id}/actions/trigger/").status_code == 404
    assert client.post(f"/stacks/{theirs.id}/actions/trigger/").status_code == 404
    for action in ("confirm", "discard"):
        url = f"/stacks/{theirs.id}/runs/{run.id}/actions/{action}/"
        assert client.post(url).status_code == 404
    mutations = {"runTrigger", "runConfirm", "runDiscard"}
    assert not mutations & set(account.sim.stats()["by_field"])
    refused = AuditEntry.objects.filter(username="paula", succeeded=False, stack_id=theirs.id)
    assert sorted(refused.values_list("action", flat=True)) == ["confirm", "discard", "trigger"]
    assert all("Refused" in entry.message for entry in refused)
    # Her own space's stacks she may still act on.
    mine = account.stacks_in("payments")[0]
    assert client.post(f"/stacks/{mine.id}/actions/trigger/").status_code == 302
    assert account.sim.stats()["by_field"].get("runTrigger") == 1


def test_two_access_sets_polling_the_same_overview_never_receive_each_others_region(account):
    paula, ben = signed_in("paula"), signed_in("ben")
    versions = {}
    for name, client in (("paula", paula), ("ben", ben)):
        region = region_of(client.get("/").content.decode(), "stacks")
        versions[name] = poll_values(region)["v"]
    assert versions["paula"] != versions["ben"]
    for _ in range(2):  # the second round is answered from the shared regions
        for client, own in ((paula, "payments"), (ben, "platform")):
            poll = client.get("/", {"region": "stacks", "v": "stale"}, **HTMX)
            assert poll.status_code == 200
            assert linked_stack_ids(poll.content.decode()) <= account.ids_in(own)
            assert linked_stack_ids(poll.content.decode())
            # Polling with another set's version never matches: it gets its own region.
            other = versions["ben" if client is paula else "paula"]
            assert client.get("/", {"region": "stacks", "v": other}, **HTMX).status_code == 200


def test_a_region_is_rendered_once_per_access_set_not_per_person(account, monkeypatch):
    renders = []
    real = regions.render_to_string
    monkeypatch.setattr(
        regions, "render_to_string", lambda *a, **k: renders.append(1) or real(*a, **k)
    )
    clients = [signed_in(login) for login in ("paula", "ben", "paula", "ben", "rita", "ada")]
    for client in clients:
        client.get("/", {"region": "stacks", "v": "stale"}, **HTMX)
    # paula's, ben's, and everything (rita's root rule and ada's staff see the same).
    assert len(renders) == 3


def test_local_accounts_see_their_django_groups_spaces(account, client, django_user_model):
    person = django_user_model.objects.create_user("lou", password="pw-lou-12345")
    person.groups.add(Group.objects.create(name=TEAM_B))
    client.force_login(person)
    assert status_ids(client) == account.ids_in("platform")


def test_no_rule_at_all_shows_everyone_everything(connected, viewer_client, settings):
    settings.PORTAL_SPACE_ACCESS = ""
    assert status_ids(viewer_client) == {s.id for s in connected.world.stacks}


def test_the_people_page_shows_groups_and_spaces(account):
    signed_in("paula")
    signed_in("nora")
    page = parse(signed_in("ada").get("/administration/people/").content.decode())
    paula = page.select_one('tr[data-person="paula"]')
    assert TEAM_A in paula.select_one("[data-groups]").get_text()
    assert paula.select_one("[data-spaces]").get_text(strip=True) == "payments"
    assert page.select_one('tr[data-person="nora"] [data-spaces]').get_text() == "no space"
    assert page.select_one('tr[data-person="ada"] [data-spaces]').get_text() == "every space"


def test_staff_edit_the_rules_on_the_access_page_and_it_is_audited(
    connected, staff_client, viewer_client, settings, user
):
    settings.PORTAL_SPACE_ACCESS = ""
    payments = next(s.id for s in connected.world.spaces if s.name == "payments")
    assert viewer_client.get("/administration/access/").status_code == 403
    bad = staff_client.post("/administration/access/", {"rules": '{"x": "not-a-list"}'})
    assert bad.status_code == 400 and "not a list of space IDs" in bad.content.decode()
    assert not SpaceAccessRule.objects.exists()
    saved = staff_client.post(
        "/administration/access/", {"rules": json.dumps({TEAM_A: [payments]})}
    )
    assert saved.status_code == 302
    assert access.current_rules() == {TEAM_A: (payments,)}
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ACCESS_CHANGE)
    assert entry.username == "ops" and TEAM_A in entry.message
    # The viewer is in no group: with a rule in place, nothing.
    assert status_ids(viewer_client) == set()
    user.groups.add(Group.objects.create(name=TEAM_A))
    assert status_ids(viewer_client) == {
        s.id for s in connected.world.stacks if s.space_details.name == "payments"
    }


def test_rules_from_the_environment_are_shown_read_only(connected, staff_client, settings):
    settings.PORTAL_SPACE_ACCESS = json.dumps({TEAM_B: ["root"]})
    page = staff_client.get("/administration/access/")
    html = parse(page.content.decode())
    assert html.select_one("[data-read-only]") is not None
    assert html.select_one("textarea") is None
    assert html.select_one(f'tr[data-rule="{TEAM_B}"]') is not None
    staff_client.post("/administration/access/", {"rules": "{}"})
    assert access.current_rules() == {TEAM_B: ("root",)}
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS_CHANGE).exists()


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ('{"team": ["a"', "not valid JSON"),
        ('["team"]', "must be a JSON object"),
        ('{"team": "payments"}', 'the value for group "team" is not a list'),
        ('{"team": ["payments", 3]}', 'the value for group "team" is not a list'),
    ],
)
def test_unreadable_rules_stop_the_start_naming_the_problem(settings, raw, named):
    settings.PORTAL_SPACE_ACCESS = raw
    problems = checks.space_access_rules_are_readable(None)
    assert [p.id for p in problems] == ["portal.E002"]
    assert named in problems[0].msg


def test_good_rules_pass_the_check(settings):
    settings.PORTAL_SPACE_ACCESS = '{"sre": ["root"], "team": []}'
    assert checks.space_access_rules_are_readable(None) == []


def test_a_rule_covers_every_space_below_its_space():
    tree = [Space("root", "root"), Space("a", "a", parent_space="root"),
            Space("a1", "a1", parent_space="a"), Space("a11", "a11", parent_space="a1"),
            Space("b", "b", parent_space="root")]  # fmt: skip
    assert access.close_downward({"a"}, tree) == {"a", "a1", "a11"}
    assert access.close_downward({"a1", "b"}, tree) == {"a1", "a11", "b"}
    assert access.close_downward({"root"}, tree) == {"root", "a", "a1", "a11", "b"}


def test_since_you_last_looked_names_only_the_persons_stacks(account, clock):
    from dashboard.connection.source import current_service
    from dashboard.models import StackStateChange

    client = signed_in("paula")
    client.get("/")  # the visit "since" counts from
    clock.advance(120)
    fingerprint = current_service().connection.fingerprint
    mine, theirs = account.stacks_in("payments")[0], account.stacks_in("platform")[0]
    for stack in (mine, theirs):
        StackStateChange.objects.create(
            connection=fingerprint,
            stack_id=stack.id,
            from_state="FINISHED",
            to_state="FAILED",
            observed_at=datetime.fromtimestamp(clock(), tz=UTC),
        )
    since = parse(client.get("/").content.decode()).select_one("details.since")
    assert since is not None and "1 stack changed" in since.summary.get_text(" ", strip=True)
    assert linked_stack_ids(str(since)) == {mine.id}


def test_a_rules_file_that_cannot_be_read_stops_the_start(tmp_path):
    rules = tmp_path / "space-access.json"
    rules.write_text('{"sre": "root"}')
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SPACE")}
    started = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=environment | {"DEBUG": "true", "PORTAL_ENV_FILE": "",
                           "PORTAL_SPACE_ACCESS_FILE": str(rules)},
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
    )  # fmt: skip
    assert started.returncode != 0
    assert "portal.E002" in started.stderr and 'group "sre" is not a list' in started.stderr


def test_live_events_about_a_stack_reach_only_people_who_may_see_it(account):
    from dashboard.connection.source import current_service
    from dashboard.live.broker import Event
    from dashboard.live.views import may_see

    payments = account.stacks_in("payments")[0]
    service = current_service()
    service.stacks()  # the cached list the decision is made on, as a page would have read it
    team_a = access.access_for(signed_in_user("paula"), service)
    team_b = access.access_for(signed_in_user("ben"), service)
    about_payments = Event(f"stack-{payments.id}", stack_id=payments.id)
    assert may_see(team_a, about_payments)
    assert not may_see(team_b, about_payments)
    assert not may_see(frozenset(), about_payments), "someone in no group hears of no stack"
    assert may_see(None, about_payments), "staff hear of every stack"
    assert may_see(team_b, Event("stacks")), "the list's own event carries no stack"


def signed_in_user(login: str):
    from django.contrib.auth import get_user_model

    signed_in(login)
    return get_user_model().objects.get(username=login)
