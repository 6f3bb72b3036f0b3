"""Real receivers for the notification tests: an HTTP server that takes Apprise's json:// posts
(and a Slack-shaped webhook, the same server with the payload renamed to Slack's {"text"}), and an
SMTP server (aiosmtpd) that takes mailto:// messages. Both on free loopback ports, in threads.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
