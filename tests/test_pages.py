"""Every page: anonymous, logged in, full page and partial, 404, escaping, deep links."""

from __future__ import annotations

import pytest

from dashboard.spacelift.account import Connection
from dashboard.spacelift.client import SpaceliftClient
from simulator.world import RUNS_PAGE_SIZE
from tests.conftest import HTMX, parse, poll_values, region_of

# Each test runs on SQLite and again on PostgreSQL (tests/postgres.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_database")]


def stacks_of(sim):
    client = SpaceliftClient(Connection(sim.url, sim.key_id, sim.key_secret))
    return client.list_stacks()


@pytest.mark.parametrize("path", ["/", "/stacks/anything/"])
def test_it_requires_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_healthz_answers_from_the_database_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "cache": "ok"}


def test_login_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'<label for="id_username">' in response.content


def test_overview_without_connection_tells_a_viewer_to_ask_an_administrator(viewer_client):
    response = viewer_client.get("/")
    assert response.status_code == 503
    assert b"Ask an administrator" in response.content


def test_overview_without_connection_tells_staff_how_to_set_it(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 503
    assert b"SPACELIFT_API_KEY_ENDPOINT" in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/stacks/some-stack/",
        "/stacks/some-stack/runs/01HZZZZZZZZZZZZZZZZZZZZZZZ/",
        "/stacks/some-stack/why/",
        "/modules/",
        "/status.json",
        "/stacks/some-stack/badge.svg",
        "/stacks/some-stack/actions/trigger/",
        "/stacks/some-stack/runs/01HZZZZZZZZZZZZZZZZZZZZZZZ/actions/confirm/",
    ],
)
def test_every_view_that_reads_spacelift_answers_the_same_without_a_connection(
    operator_client, path
):
    for response in (operator_client.get(path), operator_client.get(path, **HTMX)):
        assert response.status_code == 503
        assert parse(response).select_one("h1").get_text() == "No Spacelift connection yet"


def test_every_view_says_what_is_wrong_with_an_unusable_connection(viewer_client, settings):
    settings.SPACELIFT_API_KEY_ENDPOINT = "https://acme.app.spacelift.io"
    for path in ("/", "/status.json", "/modules/"):
        response = viewer_client.get(path)
        assert response.status_code == 503
        assert "must all be set" in parse(response).select_one('[role="alert"]').get_text()


def test_overview_lists_every_stack_with_deep_links(viewer_client, connected):
    response = viewer_client.get("/?per_page=250")
    assert response.status_code == 200
    html = response.content.decode()
    stacks = stacks_of(connected)
    for stack in stacks:
        assert f'href="/stacks/{stack.id}/"' in html
        assert f'href="{connected.url}/stack/{stack.id}"' in html
    assert html.count('<tr data-stack="') == len(stacks)
    assert "Stopped or unconfirmed" in html and "Never run" in html
    assert connected.key_secret not in html


def test_overview_partial_is_only_the_region(viewer_client, connected):
    response = viewer_client.get("/", **HTMX)
    assert response.status_code == 200
    fragment = parse(response)
    assert [tag.name for tag in fragment.find_all(recursive=False)] == ["section"]
    assert fragment.section["id"] == "stacks"
    assert fragment.select("table.stacks tr[data-stack]")
    assert "HX-Request" in response["Vary"]


def test_overview_polls_its_own_url_at_the_configured_interval(viewer_client, connected, settings):
    settings.PORTAL_POLL_SECONDS = 7
    region = region_of(viewer_client.get("/?q=prod"), "stacks")
    assert region["hx-get"] == "/?q=prod"
    assert region["hx-trigger"].startswith("every 7s,")
    assert region["hx-swap"] == "outerHTML"


def test_an_unchanged_poll_answers_204_without_the_table(viewer_client, connected, still_time):
    values = poll_values(region_of(viewer_client.get("/", **HTMX), "stacks"))
    response = viewer_client.get("/", values, **HTMX)
    assert response.status_code == 204
    assert response.content == b""
    assert "portal:unchanged" in response["HX-Trigger"]


def test_a_poll_with_an_old_version_gets_the_table(viewer_client, connected):
    response = viewer_client.get("/", {"v": "0000000000000000"}, **HTMX)
    assert response.status_code == 200
    assert b"<table" in response.content


def test_stack_page_shows_configuration_and_runs(viewer_client, connected):
    stack = next(s for s in stacks_of(connected) if s.health.value == "healthy")
    response = viewer_client.get(f"/stacks/{stack.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    for label in (
        "Repository",
        "Branch",
        "Project root",
        "Tool",
        "Autodeploy",
        "Administrative",
        "Disabled",
        "Locked",
        "Worker pool",
        "Space",
        "Labels",
    ):
        assert f"<dt>{label}</dt>" in html
    run_id = parse(html).select_one("tr[data-run]")["data-run"]
    assert f'href="{connected.url}/stack/{stack.id}/run/{run_id}"' in html
    assert connected.key_secret not in html


def test_stack_page_partials_are_their_regions(viewer_client, connected):
    stack_id = stacks_of(connected)[0].id
    for name in ("stack", "runs", "config", "environment"):
        response = viewer_client.get(f"/stacks/{stack_id}/", {"region": name}, **HTMX)
        sections = parse(response).find_all(recursive=False)
        assert [(tag.name, tag["id"]) for tag in sections] == [("section", name)]


def test_an_unknown_stack_is_a_404_page(viewer_client, connected):
    response = viewer_client.get("/stacks/no-such-stack/")
    assert response.status_code == 404
    assert b"Not found" in response.content


def test_a_malformed_stack_id_is_a_404_without_asking_spacelift(viewer_client, connected):
    before = connected.stats()["queries"]
    response = viewer_client.get("/stacks/%3Cscript%3E/")
    assert response.status_code == 404
    assert connected.stats()["queries"] == before


def test_html_in_a_commit_message_is_shown_as_text(viewer_client, connected):
    world = connected.world
    stack, run = next(
        (stack, run)
        for stack in world.stacks
        if stack.id not in world.active_stack_ids
        for run in world.runs_page(stack, "TRACKED", None)
        if "<img src=x" in (run.commit.message or "")
    )
    page = parse(viewer_client.get(f"/stacks/{stack.id}/"))
    row = page.select_one(f'tr[data-run="{run.id}"]')
    # Escaped in the HTML, so the parser reads it back as the very text that was sent.
    assert row.select_one(".message").get_text() == run.commit.message.split("\n")[0]
    assert not row.select("img")
    assert not page.select("[onerror], script:not([src])")


def test_html_in_a_description_is_sanitised_and_markdown_kept(viewer_client, connected):
    stack = next(s for s in connected.world.stacks if "<script>" in (s.description or ""))
    page = parse(viewer_client.get(f"/stacks/{stack.id}/"))
    description = page.select_one(".description")
    assert description.select_one("p").get_text() == "Webhook consumers for card payments."
    assert description.select_one("strong").get_text() == "Do not"
    assert description.select_one("a").get_text() == "runbook"
    assert not description.select('script, [href^="javascript:"]')
    assert not page.select("[onerror], script:not([src])")


def test_older_runs_page_through_before(viewer_client, connected):
    world = connected.world
    stack = next(
        s
        for s in world.stacks
        if s.id not in world.active_stack_ids and len(s.runs_of_type("TRACKED")) > RUNS_PAGE_SIZE
    )
    first = parse(viewer_client.get(f"/stacks/{stack.id}/"))
    older = first.select_one('nav.pager a[rel="next"]')
    assert older is not None, "a stack with more than one page of runs links to older runs"
    page2 = parse(viewer_client.get(f"/stacks/{stack.id}/{older['href']}"))
    first_ids = [row["data-run"] for row in first.select("tr[data-run]")]
    second_ids = [row["data-run"] for row in page2.select("tr[data-run]")]
    assert len(first_ids) == RUNS_PAGE_SIZE
    assert second_ids and not set(first_ids) & set(second_ids)
    assert max(second_ids) < min(first_ids)  # ULIDs: older runs have smaller IDs


def test_each_database_runs_on_the_database_it_names(each_database, django_user_model):
    from django.db import connection, transaction

    assert connection.vendor == {"sqlite": "sqlite", "postgres": "postgresql"}[each_database]
    with transaction.atomic():  # the default alias's transactions are on the same server
        django_user_model.objects.create_user("dora", password="pw-dora-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM auth_user WHERE username = %s", ["dora"])
        assert cursor.fetchone() == (1,)
