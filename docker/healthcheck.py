"""The Docker health check: GET /healthz with a Host header that ALLOWED_HOSTS accepts.

Django answers 400 to a Host it does not allow, so asking for 127.0.0.1 fails as soon as
ALLOWED_HOSTS names only the public host (as .env.example does). Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


def healthcheck_host(allowed: list[str]) -> str:
    """A host the portal accepts: the first entry, a wildcard domain's base, or localhost."""
    for entry in allowed or DEFAULT_HOSTS:
        entry = entry.strip()
        if entry and entry != "*":
            return entry.lstrip(".")
    return "localhost"


def main() -> int:
    allowed = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    request = urllib.request.Request(
        f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz",
        headers={"Host": healthcheck_host(allowed)},
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - loopback
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
