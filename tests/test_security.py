"""Headers, login rate limiting, safe defaults, and never following a redirect elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dashboard.spacelift import errors
from dashboard.spacelift.account import Connection
from dashboard.spacelift.client import SpaceliftClient

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_pages_carry_a_strict_content_security_policy(viewer_client, connected):
    response = viewer_client.get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert b"<script>" not in response.content  # no inline script anywhere


def test_authenticated_pages_are_private(viewer_client, connected):
    for path in ("/", "/administration/spacelift/"):
        assert "private" in viewer_client.get(path)["Cache-Control"]


def test_hsts_and_secure_cookies_when_debug_is_off(client, settings):
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https", secure=True)
    assert "max-age=" in response["Strict-Transport-Security"]


def test_login_attempts_are_rate_limited(client, django_user_model):
    django_user_model.objects.create_user("carol", password="the-right-password-1")
    for _ in range(5):
        client.post("/accounts/login/", {"username": "carol", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "carol", "password": "the-right-password-1"}
    )
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


def test_an_expired_session_on_a_poll_is_sent_to_login_not_swapped_in(client):
    response = client.get(
        "/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/?q=db"
    )
    assert response["HX-Redirect"] == "/accounts/login/?next=/%3Fq%3Ddb"
    assert b"<form" not in response.content


def run_settings(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); "
         "from django.conf import settings; print(settings.DEBUG)"],
        env=base | {"DJANGO_SETTINGS_MODULE": "spacelift_portal.settings",
                    "PORTAL_ENV_FILE": "", **env},
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip


def test_secret_key_is_required_outside_debug():
    result = run_settings()
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_debug_is_off_by_default():
    result = run_settings(SECRET_KEY="x" * 50)
    assert result.stdout.strip() == "False"


class _Redirector(BaseHTTPRequestHandler):
    target = ""
    hits: list[str] = []

    def do_POST(self):
        self.hits.append(self.path)
        self.send_response(302)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_client_never_follows_a_redirect_to_another_host(sim):
    _Redirector.target = sim.graphql_url
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = SpaceliftClient(Connection(url, sim.key_id, sim.key_secret))
        with pytest.raises(errors.HTTPStatusError, match="does not follow"):
            client.list_stacks()
    finally:
        server.shutdown()
    assert sim.stats()["token_exchanges"] == 0  # the secret never reached the other host
