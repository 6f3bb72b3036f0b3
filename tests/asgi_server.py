"""The portal's ASGI application under uvicorn, as the image serves it, in a test's thread.

In this process, so it shares the test's settings and database; on a free loopback port.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from tests.servers import free_port, wait_for_port


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
