"""The ASGI application the image serves (gunicorn with uvicorn workers; docker/entrypoint.sh).

Django's ASGI handler speaks HTTP only; this wrapper also answers the server's lifespan
messages, so that on shutdown (a deploy's SIGTERM) every open event stream ends at once and
browsers reconnect elsewhere, instead of holding the old worker until its graceful timeout.
"""

import contextlib
import os
import signal

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spacelift_portal.settings")
django_application = get_asgi_application()


def _end_streams_on_termination() -> None:
    """Chain onto the server's SIGTERM/SIGINT handler: end the streams, then its own shutdown.

    Uvicorn waits for open connections before it shuts down; event streams never finish by
    themselves, so they are told to first.
    """
    from dashboard.live.broker import broker

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            broker.close()
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)


async def application(scope, receive, send):
    if scope["type"] != "lifespan":
        return await django_application(scope, receive, send)
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Not in the main thread (a server in a test's thread): no signals to chain.
            with contextlib.suppress(ValueError):
                _end_streams_on_termination()
            from dashboard.notifications.watcher import start_in_background

            start_in_background()  # in each worker, after the fork
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from dashboard.live.broker import broker
            from dashboard.spacelift import process_state

            broker.close()
            process_state.reset_all()
            await send({"type": "lifespan.shutdown.complete"})
            return
