"""The address of the person at the other end, as far as the deployment lets the portal know.

Behind N trusted proxies (PORTAL_TRUSTED_PROXY_COUNT), each appends the address it received
the request from to X-Forwarded-For, so the client is the N-th entry from the right: entries
further left are whatever the client chose to send. With 0 (the default) the header is
ignored, so nobody dodges the login lockout by rotating it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.PORTAL_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [part.strip() for part in header.split(",") if part.strip()]
    if len(hops) < count:
        return remote  # fewer hops than proxies: not through the expected chain
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
