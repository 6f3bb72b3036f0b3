"""Stack badges: many at once are fresh (one cached read), and the signed URL for a README."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.test import Client

from dashboard.models import AuditEntry
from dashboard.stacks import badges
from tests.asgi_server import asgi_server, share_the_test_database_with_server_threads
from tests.conftest import parse

share_the_test_database_with_server_threads()

# Every test here is transactional (the badges are asked over uvicorn, in threads of its own),
# so pytest-django runs the file with the others of its kind, after those that expect the
# migrations' rows (the operators group) still there.
pytestmark = pytest.mark.django_db(transaction=True)

# As many badges as the README that showed "(stale)" on two to four of them.
BADGES_AT_ONCE = 8


@pytest.fixture(scope="module")
def server():
    with asgi_server() as running:
        yield running


def _badges_at_once(urls: list[str], cookies: dict[str, str]) -> list[requests.Response]:
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda url: requests.get(url, cookies=cookies, timeout=10), urls))


def test_eight_badges_asked_at_once_are_all_fresh(connected, server, clock, django_user_model):
    """They read the overview's one cached list: no upstream query while it is fresh, one when
    it has expired (the others answered from the last data, not marked stale)."""
    user = django_user_model.objects.create_user("reader", password="pw-reader-1")
    session = Client()
    session.force_login(user)
    cookies = {"sessionid": session.cookies["sessionid"].value}
    stacks = connected.world.stacks[:BADGES_AT_ONCE]
    urls = [f"{server.url}/stacks/{stack.id}/badge.svg" for stack in stacks]
    assert requests.get(server.url + "/", cookies=cookies, timeout=10).status_code == 200
    queries_after_overview = connected.stats()["queries"]

    warm = _badges_at_once(urls, cookies)
    assert [b"(stale)" in r.content for r in warm] == [False] * BADGES_AT_ONCE
    assert connected.stats()["queries"] == queries_after_overview
    clock.advance(3600)  # the list has expired: one request refreshes it, the rest answer at once
    expired = _badges_at_once(urls, cookies)
    assert connected.stats()["by_field"].get("stack", 0) == 0

    for response in warm + expired:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("image/svg+xml")
        assert b"(stale)" not in response.content
    assert [stack.name.encode() in r.content for stack, r in zip(stacks, warm, strict=True)] == [
        True
    ] * BADGES_AT_ONCE
    assert connected.list_reads() <= 2


def test_a_signed_badge_works_without_a_session_and_only_for_its_stack(connected, client):
    failed, other = [s for s in connected.world.stacks if s.state == "FAILED"][:1] + [
        s for s in connected.world.stacks if s.state != "FAILED"
    ][:1]
    good = f"/badges/{failed.id}/{badges.signature_for(failed.id)}.svg"
    response = client.get(good)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b"Failed" in response.content and failed.name.encode() in response.content
    assert response["Cache-Control"].startswith("public")

    tampered = badges.signature_for(failed.id)[:-1] + "0"
    if tampered == badges.signature_for(failed.id):
        tampered = tampered[:-1] + "1"
    unknown = "no-such-stack-here"
    refusals = [
        client.get(f"/badges/{failed.id}/{tampered}.svg"),
        client.get(f"/badges/{other.id}/{badges.signature_for(failed.id)}.svg"),
        client.get(f"/badges/{unknown}/{badges.signature_for(unknown)}.svg"),
        client.get(f"/badges/{failed.id}/not-hex.svg"),
    ]
    assert [r.status_code for r in refusals] == [404] * 4
    # No hint: a bad signature reads like a stack that does not exist.
    texts = [parse(r).get_text(" ", strip=True) for r in refusals[:3]]
    assert texts[0] == texts[1] == texts[2]
    assert b"signature" not in refusals[0].content.lower()


def test_rotating_the_badge_key_revokes_every_signed_url_and_is_audited(
    connected, client, staff_client
):
    stack = connected.world.stacks[0]
    old = f"/badges/{stack.id}/{badges.signature_for(stack.id)}.svg"
    assert client.get(old).status_code == 200
    page = parse(staff_client.get("/administration/spacelift/"))
    assert page.select_one("#badge-key-title").get_text() == "Badge key"

    refused = staff_client.post("/administration/spacelift/badge-key/")
    assert refused.status_code == 302 and client.get(old).status_code == 200
    staff_client.post("/administration/spacelift/badge-key/", {"confirm": "yes"})
    assert client.get(old).status_code == 404
    new = f"/badges/{stack.id}/{badges.signature_for(stack.id)}.svg"
    assert new != old and client.get(new).status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.BADGE_KEY_ROTATE)
    assert entry.username == "ops" and entry.succeeded


def test_it_requires_staff_to_rotate_the_badge_key(connected, client, viewer_client):
    stack = connected.world.stacks[0]
    url = f"/badges/{stack.id}/{badges.signature_for(stack.id)}.svg"
    for someone in (client, viewer_client):
        response = someone.post("/administration/spacelift/badge-key/", {"confirm": "yes"})
        assert response.status_code == 403
    assert client.get(url).status_code == 200
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.BADGE_KEY_ROTATE).exists()


def test_the_stack_page_offers_its_signed_badge_url(connected, viewer_client):
    stack = connected.world.stacks[0]
    page = parse(viewer_client.get(f"/stacks/{stack.id}/"))
    url = page.select_one("#badge-url")["value"]
    assert url == f"http://testserver/badges/{stack.id}/{badges.signature_for(stack.id)}.svg"
    markdown = page.select_one("#badge-markdown")["value"]
    assert url in markdown and f"http://testserver/stacks/{stack.id}/" in markdown
