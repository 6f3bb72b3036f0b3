"""The simulator's webhooks: signed run deliveries to the portal whenever a run changes.

Like Spacelift's (docs/spacelift-api.md, "Webhooks"): a JSON body with `account`, `state`,
`stateVersion`, `timestamp`, `run` and `stack`, and `X-Signature-256: sha256=<hex HMAC>` over
it. The sender watches the world (each stack's newest tracked run and its state) every
`step` seconds and sends one delivery per change, from its own thread, so the world needs no
hook. `make run` starts one, so the demo is live.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Any

from .world import Stack, World

logger = logging.getLogger(__name__)

# The account name the portal expects of a simulator (dashboard.spacelift.account).
ACCOUNT = "simulated"
# How often the world is looked at: a change is sent within this long.
STEP_SECONDS = 0.1
SEND_TIMEOUT_SECONDS = 5


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _marker(stack: Stack) -> tuple[Any, ...]:
    run = stack.tracked[0] if stack.tracked else None
    return (stack.state, run.id if run else None, len(run.transitions) if run else 0)


def payload(stack: Stack) -> dict[str, Any]:
    """The body Spacelift sends for the newest tracked run of `stack`."""
    run = stack.tracked[0] if stack.tracked else None
    commit = run.commit if run else None
    return {
        "account": ACCOUNT,
        "state": run.state if run else stack.state,
        "stateVersion": len(run.transitions) if run else 0,
        "timestamp": run.updated_at if run else stack.state_set_at,
        "run": {
            "id": run.id if run else "",
            "branch": run.branch if run else stack.branch,
            "commit": {
                "authorLogin": commit.author_login if commit else None,
                "authorName": commit.author_name if commit else None,
                "hash": commit.hash if commit else None,
                "message": commit.message if commit else None,
                "timestamp": commit.timestamp if commit else None,
                "url": commit.url if commit else None,
            },
            "createdAt": run.created_at if run else None,
            "delta": {
                "added": run.delta.add_count if run and run.delta else 0,
                "changed": run.delta.change_count if run and run.delta else 0,
                "deleted": run.delta.delete_count if run and run.delta else 0,
                "resources": run.delta.resources if run and run.delta else 0,
            },
            "triggeredBy": run.triggered_by if run else None,
            "type": run.type if run else "TRACKED",
        },
        "stack": {
            "id": stack.id,
            "name": stack.name,
            "description": stack.description,
            "labels": list(stack.labels),
        },
    }


class WebhookSender:
    """Watches `world` and posts a signed delivery to `url` for every stack that changed."""

    def __init__(
        self, world: World, url: str, secret: str, *, advance: bool = True, step=STEP_SECONDS
    ) -> None:
        self.world = world
        self.url = url
        self.secret = secret
        self.advance = advance  # move the world with the clock (the demo); tests move it
        self.step = step
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookSender:
        with self.world.lock:
            self._seen = {stack.id: _marker(stack) for stack in self.world.stacks}
        self._thread = threading.Thread(target=self._loop, name="sim-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=SEND_TIMEOUT_SECONDS + 1)

    def _loop(self) -> None:
        while not self._stop.wait(self.step):
            bodies = []
            with self.world.lock:
                if self.advance:
                    self.world.advance()
                for stack in self.world.stacks:
                    marker = _marker(stack)
                    if self._seen.get(stack.id) != marker:
                        self._seen[stack.id] = marker
                        bodies.append(json.dumps(payload(stack)).encode())
            for body in bodies:
                self.send(body)

    def send(self, body: bytes) -> int | None:
        """Post one delivery; the status, or None when the portal did not answer."""
        request = urllib.request.Request(  # noqa: S310 - the portal's URL, given by the operator
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Signature-256": sign(self.secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:  # noqa: S310
                self.sent += 1
                return response.status
        except urllib.error.HTTPError as exc:
            self.failed += 1
            return exc.code
        except OSError as exc:
            self.failed += 1
            logger.warning("Webhook to %s not delivered (%s)", self.url, exc)
            return None
