"""What the notification tests share: real receivers and a simulated account that stands still.

An HTTP server takes Apprise's json:// posts (and a Slack-shaped webhook: the same server with
the payload renamed to Slack's {"text"}), and an SMTP server (aiosmtpd) takes mailto://
messages; both on free loopback ports, in threads. The fixtures are imported by the test
modules under their pytest names (`receiver`, `smtp`, `world`).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BASE_URL = "https://portal.example.com"


@dataclass
class Received:
    path: str
    body: dict


@dataclass
class HttpReceiver:
    port: int
    received: list[Received] = field(default_factory=list)
    # While set, every post is answered 503: the receiver is down.
    down: bool = False
    # While set, a post waits for `release` before it is answered (a receiver that hangs).
    hold: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def json_url(self) -> str:
        """Apprise's generic JSON webhook: {"version", "title", "message", "type", ...}."""
        return f"json://127.0.0.1:{self.port}/hooks/portal"

    @property
    def slack_shaped_url(self) -> str:
        """A Slack incoming-webhook shape ({"text": ...}) through json://'s payload mapping:
        Apprise's slack:// only posts to Slack's own host, so it cannot be pointed here."""
        drop = "&".join(f":{name}=" for name in ("title", "version", "type", "attachments"))
        return f"json://127.0.0.1:{self.port}/services/T0/B0/secret-token?:message=text&{drop}"

    def take(self, path_prefix: str = "") -> list[Received]:
        with self.lock:
            mine = [r for r in self.received if r.path.startswith(path_prefix)]
            self.received = [r for r in self.received if not r.path.startswith(path_prefix)]
        return mine


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    state = HttpReceiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if state.hold:
                state.arrived.set()
                state.release.wait(30)
            if state.down:
                with state.lock:
                    state.refused += 1
                self.send_response(503)
                self.end_headers()
                return
            with state.lock:
                state.received.append(Received(self.path, json.loads(raw)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    text: str


@dataclass
class SmtpReceiver:
    port: int
    mails: list[Mail] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=portal@example.com&to=oncall@example.com"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.mails.append(
            Mail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                str(message["Subject"]),
                message.get_content(),
            )
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver(port=free_port())
    controller = Controller(receiver, hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


@pytest.fixture(name="receiver")
def receiver_fixture():
    with http_receiver() as running:
        yield running


@pytest.fixture(name="smtp")
def smtp_fixture():
    with smtp_receiver() as running:
        yield running


@pytest.fixture(name="world")
def world_fixture(connected, still_time, clock, settings):
    """The simulated account standing still (only the test changes it), links at BASE_URL."""
    settings.PORTAL_BASE_URL = BASE_URL
    connected.rebuild_world(48, seed=7)
    yield connected
    connected.rebuild_world(48, seed=7)


def space_id(sim, name: str) -> str:
    return next(space.id for space in sim.world.spaces if space.name == name)


def healthy_stacks(sim, space: str | None = None):
    """Stacks that need no one: finished, not drifted, not locked, optionally in one space."""
    return [
        stack
        for stack in sim.world.stacks
        if stack.state == "FINISHED"
        and not stack.is_drifted
        and not stack.locked_by
        and (space is None or stack.space_details.name == space)
    ]


def set_state(sim, stack, state: str) -> None:
    """The stack's latest tracked run ends in `state`, as if it had just happened."""
    with sim.world.lock:
        stack.runs_of_type("TRACKED")[0].transition(state, int(time.time()))
        stack.refresh_state()
    assert stack.state == state


def route(name: str, url: str, **filters) -> dict:
    return {"name": name, "url": url, **filters}
