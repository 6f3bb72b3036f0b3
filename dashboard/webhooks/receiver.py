"""POST /webhooks/spacelift/: Spacelift's signed run deliveries, answered at once.

The signature is checked first, over the raw body, before anything else is read: a missing,
empty or wrong one gets 401 and costs nothing but a counter (no upstream query, no cache change,
no log line each). No secret configured: 404, as if the endpoint did not exist. A signed body
that is not a JSON object: 400. Otherwise 202 at once; the re-read happens after the response
(hints.py). No session and no CSRF: Spacelift signs, it does not sign in.
"""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dashboard.webhooks import hints, signature, stats
from dashboard.webhooks.secret import configured_secret
from dashboard.webhooks.stats import Outcome


def _quiet(response: HttpResponse) -> HttpResponse:
    """No `django.request` warning per refused delivery: a forgery storm is a counter, not a log.

    Django's `log_response` skips a response already marked as logged.
    """
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    secret = configured_secret()
    if not secret:
        raise Http404("Webhooks are not configured")
    if not signature.is_valid(secret, request.body, request.headers.get("X-Signature-256")):
        stats.count(Outcome.REFUSED)
        return _quiet(HttpResponse(status=401))
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        stats.count(Outcome.NOT_JSON)
        return _quiet(HttpResponse("A JSON object was expected.\n", status=400))
    stats.note_valid_delivery()
    hint = hints.Hint.from_payload(payload)
    if hint is not None:
        hints.rereader.submit(hint)
    return HttpResponse(status=202)
