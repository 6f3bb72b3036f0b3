"""Every page: anonymous, logged in, full page and partial, 404, escaping, deep links."""

from __future__ import annotations

import re

import pytest

from dashboard.spacelift.client import SpaceliftClient
from dashboard.spacelift.connection import Connection

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


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
    assert response.status_code == 200
    assert b"Ask an administrator" in response.content


def test_overview_without_connection_tells_staff_how_to_set_it(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 200
    assert b"SPACELIFT_API_KEY_ENDPOINT" in response.content


def test_overview_lists_every_stack_with_deep_links(viewer_client, connected):
    response = viewer_client.get("/?per_page=250")
    assert response.status_code == 200
    html = response.content.decode()
    stacks = stacks_of(connected)
    for stack in stacks:
        assert f'href="/stacks/{stack.id}/"' in html
        assert f'href="{connected.url}/stack/{stack.id}"' in html
    assert html.count('<tr data-stack="') == len(stacks)
    assert "Needs attention" in html and "Never run" in html
    assert connected.key_secret not in html


def test_overview_partial_is_only_the_region(viewer_client, connected):
    response = viewer_client.get("/", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="stacks"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_overview_polls_its_own_url_at_the_configured_interval(viewer_client, connected, settings):
    settings.PORTAL_POLL_SECONDS = 7
    html = viewer_client.get("/?q=prod").content.decode()
    region = re.search(r'<section id="stacks"[^>]*>', html).group(0)
    assert 'hx-get="/?q=prod"' in region
    assert "every 7s" in region


def test_an_unchanged_poll_answers_204_without_the_table(viewer_client, connected):
    html = viewer_client.get("/", **HTMX).content.decode()
    version = re.search(r'"v": "([0-9a-f]+)"', html).group(1)
    response = viewer_client.get("/", {"v": version}, **HTMX)
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
    assert html.count("<tr data-run=") >= 1
    run_id = re.search(r'<tr data-run="([0-9A-Z]+)"', html).group(1)
    assert f'href="{connected.url}/stack/{stack.id}/run/{run_id}"' in html
    assert connected.key_secret not in html


def test_stack_page_partials_are_their_regions(viewer_client, connected):
    stack_id = stacks_of(connected)[0].id
    runs = viewer_client.get(f"/stacks/{stack_id}/", {"region": "runs"}, **HTMX)
    assert runs.content.decode().lstrip().startswith('<section id="runs"')
    config = viewer_client.get(f"/stacks/{stack_id}/", {"region": "stack"}, **HTMX)
    assert config.content.decode().lstrip().startswith('<section id="stack"')


def test_an_unknown_stack_is_a_404_page(viewer_client, connected):
    response = viewer_client.get("/stacks/no-such-stack/")
    assert response.status_code == 404
    assert b"Not found" in response.content


def test_a_malformed_stack_id_is_a_404_without_asking_spacelift(viewer_client, connected):
    before = connected.stats()["queries"]
    response = viewer_client.get("/stacks/%3Cscript%3E/")
    assert response.status_code == 404
    assert connected.stats()["queries"] == before


def test_html_in_commit_messages_and_descriptions_is_escaped(viewer_client, connected):
    for stack in stacks_of(connected):
        html = viewer_client.get(f"/stacks/{stack.id}/").content.decode()
        assert "<script>alert" not in html
        assert "<img src=x onerror" not in html.replace("&lt;img", "")
    overview = viewer_client.get("/?per_page=250").content.decode()
    assert "<img src=x onerror" not in overview


def test_older_runs_page_through_before(viewer_client, connected):
    stack = next(s for s in stacks_of(connected) if s.health.value == "healthy")
    html = viewer_client.get(f"/stacks/{stack.id}/").content.decode()
    older = re.search(r'href="\?before=([0-9A-Z]{26})"', html)
    if older is None:
        pytest.skip("this stack has a single page of runs")
    page2 = viewer_client.get(f"/stacks/{stack.id}/", {"before": older.group(1)})
    assert page2.status_code == 200
    first_ids = set(re.findall(r'<tr data-run="([0-9A-Z]+)"', html))
    second_ids = set(re.findall(r'<tr data-run="([0-9A-Z]+)"', page2.content.decode()))
    assert second_ids and not first_ids & second_ids


def test_viewers_of_one_view_share_one_render_of_the_region(
    viewer_client, admin_client, connected, monkeypatch
):
    from dashboard import views

    renders = []
    real_render = views.render
    monkeypatch.setattr(views, "render", lambda *a, **k: renders.append(1) or real_render(*a, **k))
    first = viewer_client.get("/", {"q": "prod"}, **HTMX)
    second = admin_client.get("/", {"q": "prod"}, **HTMX)
    assert first.content == second.content
    assert len(renders) == 1
    viewer_client.get("/", {"q": "dev"}, **HTMX)  # another view renders on its own
    assert len(renders) == 2
