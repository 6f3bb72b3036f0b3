"""GET /events/: a server-sent event stream telling this person's open page what changed.

Each event names a region ("stacks", "stack-<id>") and carries no data; htmx's SSE extension
(static/js/vendor/htmx-ext-sse.js) makes the region with `hx-trigger="sse:<name>"` fetch itself,
through the same view and permission checks as its poll. The stream is an async generator on
the server's event loop (no thread per connection), sends a comment every HEARTBEAT_SECONDS so
proxies keep it, ends after STREAM_SECONDS so a signed-out person or a moved instance is noticed
on reconnect, and tells the browser to reconnect after a jittered delay (the extension backs
off further after failures). Past PORTAL_EVENT_STREAMS_PER_PERSON streams it answers 429 and
the page keeps polling.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from dashboard.accounts import access as space_access
from dashboard.accounts.access import AccessSet
from dashboard.connection.source import current_service
from dashboard.live import ahead
from dashboard.live.broker import CLOSE, Event, Subscription, broker

# Proxies close idle connections after 60 s (nginx's proxy_read_timeout): a comment well before.
HEARTBEAT_SECONDS = 20
# A stream ends after this long and the browser opens another, checking the session again.
STREAM_SECONDS = 600
# The browser reconnects after this many milliseconds, spread so a deploy is no stampede.
RECONNECT_MS = (1000, 4000)


def may_see(access: AccessSet, event: Event) -> bool:
    """Whether a person with `access` may be told of `event`: the one place events are
    filtered per person. An event about a stack goes only to people who may see its space
    (issue 18's rules); "stacks" (the list) goes to everyone, as each person's overview shows
    only their own stacks anyway."""
    if access is None or event.stack_id is None:
        return True
    service = current_service()
    return service is not None and space_access.stack_within(service, event.stack_id, access)


def _access_of(user: Any) -> AccessSet:
    return space_access.access_for(user, current_service())


@require_GET
async def events(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Sign in to receive events.\n", status=403, content_type="text/plain")
    subscription = broker.subscribe(user.pk, settings.PORTAL_EVENT_STREAMS_PER_PERSON)
    if subscription is None:
        response = HttpResponse("Too many open pages; this one polls.\n", status=429)
        response["Retry-After"] = "60"
        return response
    ahead.watch()
    response = StreamingHttpResponse(_stream(user, subscription), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def _stream(user: Any, subscription: Subscription) -> AsyncIterator[bytes]:
    try:
        retry = random.randint(*RECONNECT_MS)  # noqa: S311 - jitter, not a secret
        # Worked out once a stream: a change of groups counts from the next sign-in anyway.
        access = await sync_to_async(_access_of)(user)
        await sync_to_async(ahead.note_shown_version)()
        yield f"retry: {retry}\n: connected\n\n".encode()
        ends_at = time.monotonic() + STREAM_SECONDS
        while (left := ends_at - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(min(HEARTBEAT_SECONDS, left)):
                    event = await subscription.queue.get()
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if event is CLOSE:
                return
            if await sync_to_async(may_see)(access, event):
                yield f"event: {event.name}\ndata: {event.name}\n\n".encode()
    finally:
        broker.unsubscribe(subscription)
