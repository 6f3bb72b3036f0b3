"""The portal's ASGI application under uvicorn, as the image serves it, in a test's thread.

In this process, so it shares the test's settings and database; on a free loopback port.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from tests.servers import free_port, wait_for_port


class AsgiServer:
    def __init__(self, port: int, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = server
        self.thread = thread

    def __str__(self) -> str:
        return self.url


@contextmanager
def asgi_server() -> Iterator[AsgiServer]:
    from spacelift_portal.asgi import application

    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"asgi-{port}", daemon=True)
    thread.start()
    wait_for_port(port)
    try:
        yield AsgiServer(port, server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
