"""The portal's ASGI application under uvicorn, as the image serves it, in a test's thread.

In this process, so it shares the test's settings and database; on a loopback socket the OS
numbered and this process holds from the start, so no other server can take its port.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn


def share_the_test_database_with_server_threads() -> None:
    """A file for SQLite's test database, instead of its shared-cache memory.

    uvicorn runs views in threads of their own, each with its own connection; in shared-cache
    memory SQLite locks whole tables and fails at once ("database table is locked") where a file
    waits its turn. Called before the test database is created (at collection).
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and not database.get("TEST", {}).get("NAME"):
        folder = Path(tempfile.mkdtemp(prefix="portal-test-db-"))
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")


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

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"asgi-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ASGI server did not start")
        time.sleep(0.02)
    try:
        yield AsgiServer(port, server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
