"""A real OpenID Connect provider (node's oidc-provider, tests/js/oidc_provider.mjs) on a free
loopback port, and a helper that walks its sign-in pages as a browser would, over HTTP."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.servers import missing

JS_DIR = Path(__file__).parent / "js"
CLIENT_ID = "spacelift-portal"
CLIENT_SECRET = "test-client-secret-not-for-production-0123456789"
STAFF_GROUP = "portal-admins"
OPERATOR_GROUP = "portal-operators"
USERS = {
    "ada-sub": {"username": "ada", "email": "ada@example.com", "groups": [STAFF_GROUP]},
    "otto-sub": {"username": "otto", "email": "otto@example.com", "groups": [OPERATOR_GROUP]},
    "vera-sub": {"username": "vera", "email": "vera@example.com", "groups": ["everyone"]},
}


@dataclass
class RunningProvider:
    issuer: str

    def set_users(self, users: dict) -> None:
        requests.put(f"{self.issuer}/__test__/users", json=users, timeout=5).raise_for_status()

    def sign_with(self, mode: str, claims: dict | None = None) -> None:
        """How the token endpoint signs ID tokens; `claims` overrides some of theirs."""
        body = {"signWith": mode, "claims": claims or {}}
        requests.put(f"{self.issuer}/__test__/mode", json=body, timeout=5).raise_for_status()


def point_portal_at(provider: RunningProvider, settings) -> RunningProvider:
    """The portal's PORTAL_OIDC_* settings for `provider`, with the test users and groups."""
    from django.core.cache import cache

    settings.PORTAL_OIDC_ISSUER = provider.issuer
    settings.PORTAL_OIDC_CLIENT_ID = CLIENT_ID
    settings.PORTAL_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.PORTAL_OIDC_STAFF_GROUPS = [STAFF_GROUP]
    settings.PORTAL_OIDC_OPERATOR_GROUPS = [OPERATOR_GROUP]
    settings.PORTAL_OIDC_SCOPES = "openid email profile groups"
    settings.PORTAL_OIDC_PROVIDER_NAME = "Test IdP"
    cache.clear()  # the discovery document and keys of an earlier provider
    provider.set_users(USERS)
    return provider


@contextmanager
def oidc_provider(
    redirect_uris: list[str], logout_uris: tuple[str, ...] = (), *, groups_in_id_token: bool = False
) -> Iterator[RunningProvider]:
    """groups_in_id_token: the groups claim in the ID token itself; otherwise (the spec's
    default for scope claims) only from userinfo."""
    node = shutil.which("node")
    if not node:
        missing("node")
    if not (JS_DIR / "node_modules" / "oidc-provider").is_dir():
        missing("oidc-provider (npm install --prefix tests/js)")
    config = {
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "redirectUris": redirect_uris,
        "postLogoutRedirectUris": list(logout_uris),
        "users": USERS,
        "groupsInIdToken": groups_in_id_token,
    }
    proc = subprocess.Popen(
        [node, str(JS_DIR / "oidc_provider.mjs"), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # blocks until it listens, or EOF if it died
        if not line.startswith("READY "):
            raise RuntimeError(f"the test OpenID Connect provider did not start: {line!r}")
        yield RunningProvider(issuer=f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def walk_provider(url: str, login: str, until: str) -> str:
    """Follows the provider's redirects, signing in as `login` on its form, and returns the
    first URL that starts with `until` (the portal's callback) without fetching it."""
    session = requests.Session()
    for _ in range(15):
        if url.startswith(until):
            return url
        response = session.get(url, allow_redirects=False, timeout=5)
        if response.status_code == 200 and "<form" in response.text:
            action = re.search(r'action="([^"]+)"', response.text).group(1)
            response = session.post(
                urljoin(url, action), data={"login": login}, allow_redirects=False, timeout=5
            )
        if response.status_code not in (302, 303):
            raise AssertionError(f"provider answered {response.status_code}: {response.text[:300]}")
        url = urljoin(url, response.headers["location"])
    raise AssertionError("too many redirects at the provider")
