"""What a hostile insider or a broken deployment found: links, IDs, caching, mail, keys, logs."""

from __future__ import annotations

import json
import logging
import runpy
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.http.request import validate_host

from dashboard.checks import encryption_key_is_usable
from dashboard.templatetags.portal import http_url, stack_path

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def load_healthcheck():
    """docker/healthcheck.py runs in the image as a script; load it the same way."""
    return runpy.run_path(str(ROOT / "docker" / "healthcheck.py"))


HTMX = {"HTTP_HX_REQUEST": "true"}


def upstream_queries(sim) -> int:
    return sim.stats()["queries"]


def rename_stack(world, index: int, new_id: str):
    with world.lock:
        stack = world.stacks[index]
        del world._stacks_by_id[stack.id]
        stack.id = new_id
        world._stacks_by_id[new_id] = stack
    return stack


@pytest.mark.parametrize(
    "value",
    ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:text/html,x", "vbscript:x", "//evil"],
)
def test_only_http_urls_become_links(value):
    assert http_url(value) == ""
    assert http_url("https://github.com/acme/infra") == "https://github.com/acme/infra"
    assert http_url("http://git.internal/acme") == "http://git.internal/acme"


def test_a_javascript_url_from_spacelift_is_shown_as_text(viewer_client, connected):
    stack = connected.world.stacks[0]
    with connected.world.lock:
        saved = stack.repository_url
        stack.repository_url = "javascript:alert(document.cookie)"
    try:
        html = viewer_client.get(f"/stacks/{stack.id}/").content.decode()
    finally:
        stack.repository_url = saved
    assert "<dt>Repository</dt>" in html
    assert 'href="javascript:' not in html.lower()


def test_a_stack_id_the_urls_cannot_carry_breaks_no_page(viewer_client, connected):
    world = connected.world
    original = world.stacks[0].id
    stack = rename_stack(world, 0, "team/app")
    try:
        overview = viewer_client.get("/")
        status = viewer_client.get("/status.json")
        partial = viewer_client.get("/", **HTMX)
    finally:
        rename_stack(world, 0, original)
    assert overview.status_code == status.status_code == partial.status_code == 200
    row = overview.content.decode().split('data-stack="team/app"')[1].split("</tr>")[0]
    assert stack.name in row and "<a href=" not in row.split("</td>")[0]
    listed = {s["id"]: s for s in json.loads(status.content)["stacks"]}
    if "team/app" in listed:  # on this page of the JSON view
        assert listed["team/app"]["url"] is None
    assert stack_path("team/app") == ""


def test_made_up_stack_ids_cost_at_most_two_upstream_queries(viewer_client, connected):
    viewer_client.get("/healthz")
    before = upstream_queries(connected)
    answers = [viewer_client.get(f"/stacks/made-up-{n}/").status_code for n in range(40)]
    assert answers == [404] * 40
    # The stack list (and the token exchange that comes with the first read), nothing per ID.
    assert upstream_queries(connected) - before <= 2
    assert connected.stats()["by_field"].get("stack", 0) == 0


def test_a_stack_created_after_the_list_was_read_is_found_once_the_list_refreshes(
    viewer_client, connected, clock
):
    world = connected.world
    original = world.stacks[0].id
    viewer_client.get("/")  # the list, without the renamed stack
    rename_stack(world, 0, "brand-new-stack")
    try:
        assert viewer_client.get("/stacks/brand-new-stack/").status_code == 404
        clock.advance(11)
        assert viewer_client.get("/stacks/brand-new-stack/").status_code == 200
    finally:
        rename_stack(world, 0, original)


def test_authenticated_pages_say_no_store(viewer_client, connected):
    for path in ("/", "/status.json"):
        cache_control = viewer_client.get(path)["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control


def test_no_password_reset_pages_without_mail(client):
    assert client.get("/accounts/password_reset/").status_code == 404
    assert b"password_reset" not in client.get("/accounts/login/").content


def test_an_invalid_encryption_key_fails_the_start_check_without_showing_it(settings):
    settings.PORTAL_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},not-a-fernet-key-xyz"
    errors = encryption_key_is_usable(None)
    assert [e.id for e in errors] == ["portal.E001"]
    assert "key 2 of 2" in errors[0].msg
    assert "not-a-fernet-key-xyz" not in errors[0].msg + errors[0].hint
    settings.PORTAL_ENCRYPTION_KEY = Fernet.generate_key().decode()
    assert encryption_key_is_usable(None) == []


def test_the_secret_is_not_on_a_debug_error_page(client, django_user_model, sim, settings):
    staff = django_user_model.objects.create_user("ops", password="pw-ops-123", is_staff=True)
    client.force_login(staff)
    settings.DEBUG = True
    settings.PORTAL_ENCRYPTION_KEY = "not-a-fernet-key"  # the save fails with a 500
    client.raise_request_exception = False
    secret = "s3cret-never-on-a-page-42"
    response = client.post(
        "/administration/spacelift/save/",
        {
            "host": sim.url,
            "key_id": sim.key_id,
            "secret": secret,
            "save_anyway": "on",
        },  # past the test, to the save that fails
    )
    assert response.status_code == 500
    assert secret not in response.content.decode()


def test_a_bad_host_header_is_logged_as_one_line(client, caplog):
    with caplog.at_level(logging.ERROR, logger="django.security.DisallowedHost"):
        response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    records = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert records
    formatter = logging.getLogger("django.security").handlers[0].formatter
    line = formatter.format(records[0])
    assert "evil.example" in line
    assert "\n" not in line and "Traceback" not in line


@pytest.mark.parametrize(
    "allowed",
    [["portal.example.com"], [".example.com"], ["*"], ["localhost", "127.0.0.1"], []],
)
def test_the_docker_health_check_sends_a_host_the_portal_accepts(allowed):
    host = load_healthcheck()["healthcheck_host"](allowed)
    assert validate_host(host, allowed or ["localhost", "127.0.0.1", "[::1]"])
