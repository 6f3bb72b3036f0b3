"""Spacelift's API over real HTTP: the routes, one log line a request, the `/_sim/` controls,
and `start_simulator()`.

`POST /graphql` takes `{"query", "variables", "operationName"}`; `GET /registry/...` is the
module registry; both are answered by `Simulator` (api.py). Faults are switched at start or
at run time through `/_sim/faults`; `/_sim/*` also reads and resets counters, steps the world
and rebuilds it.

The log has one line per request: method, path, root fields, status, milliseconds. It never
holds the secret, the variables or the Authorization header.
"""

from __future__ import annotations

import html
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .api import (
    DEFAULT_HANG_SECONDS,
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_TOKEN_LIFETIME,
    REGISTRY_ORG,
    REGISTRY_PREFIX,
    Faults,
    Reply,
    Shortcut,
    Simulator,
    json_reply,
)
from .world import DEFAULT_ACTIVE_STACKS, DEFAULT_SEED, DEFAULT_STEP_SECONDS, World

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


# ---------------------------------------------------------------------------------------
# HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SpaceliftSimulator/1.0"
    timeout = 120  # an idle keep-alive connection is closed after two minutes
    # The head and the body go out in two writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK of the head, about 40 ms a request on Linux.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _handle logs one line per request instead

    # -- plumbing --------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(json_reply({"errors": [{"message": "bad Content-Length"}]}, 413))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        self._status = reply.status
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False as soon as the client hangs up or the server stops."""
        deadline = time.monotonic() + seconds
        stopping = self.server.simulator.stopping
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if stopping.is_set():
                return False
            try:
                readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.1))
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return False  # the client closed the connection
            except (OSError, ValueError):
                return False
            if readable:
                time.sleep(min(remaining, 0.1))  # it sent more; keep waiting, without spinning

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        self._status = 0
        path = urlsplit(self.path).path
        root_fields: list[str] = []
        try:
            if path == "/graphql" and method == "POST":
                body = self._read_body()
                if body is None:
                    return
                reply = self.server.simulator.handle_graphql(
                    body, self.headers.get("Authorization"), self._wait
                )
                if reply is None:
                    self.close_connection = True
                    return
                root_fields = reply.root_fields
                self._send(reply)
            elif path == "/graphql":
                self._send(
                    json_reply(
                        {"errors": [{"message": "use POST with a JSON body"}]},
                        405,
                        headers={"Allow": "POST"},
                    )
                )
            elif path.startswith(REGISTRY_PREFIX) and method == "GET":
                reply = self.server.simulator.handle_registry(
                    path, self.headers.get("Authorization"), self._wait
                )
                if reply is None:
                    self.close_connection = True
                    return
                self._send(reply)
            elif path.startswith("/_sim/") or path == "/":
                self._send(self._control(method, path))
            elif method == "GET" and (page := deep_link_page(self.server.simulator.world, path)):
                self._send(page)
            else:
                self._send(json_reply({"error": "not found"}, 404))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            logger.info(
                "%s %s %s %s %.1fms",
                method,
                path,
                ",".join(root_fields) or "-",
                self._status or "-",
                elapsed,
            )

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- /_sim -------------------------------------------------------------------------------

    def _control_body(self) -> dict[str, Any]:
        body = self._read_body()
        if body is None:
            raise _ControlError("bad Content-Length")
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise _ControlError("the body is not JSON") from exc
        if not isinstance(data, dict):
            raise _ControlError("the body must be a JSON object")
        return data

    def _control(self, method: str, path: str) -> Reply:
        simulator = self.server.simulator
        try:
            route = (method, path.rstrip("/") or "/")
            if route in (("GET", "/"), ("GET", "/_sim")):
                return json_reply(_describe(simulator))
            if route == ("GET", "/_sim/stats"):
                return json_reply(simulator.stats())
            if route == ("POST", "/_sim/reset-stats"):
                return json_reply(simulator.reset_stats())
            if route == ("GET", "/_sim/faults"):
                return json_reply(simulator.get_faults())
            if route == ("POST", "/_sim/faults"):
                return json_reply(simulator.set_faults(**self._control_body()))
            if route == ("DELETE", "/_sim/faults"):
                return json_reply(simulator.clear_faults())
            if route == ("POST", "/_sim/step"):
                simulator.world.step()
                return json_reply(_world_summary(simulator.world))
            if route == ("GET", "/_sim/world"):
                return json_reply(_world_summary(simulator.world))
            if route == ("POST", "/_sim/world"):
                data = self._control_body()
                stacks = data.get("stacks", len(simulator.world.stacks))
                if isinstance(stacks, bool) or not isinstance(stacks, int):
                    raise _ControlError("stacks must be an integer")
                world = simulator.rebuild_world(stacks, data.get("seed"))
                return json_reply(_world_summary(world))
            if route == ("POST", "/_sim/credentials"):
                data = self._control_body()
                simulator.set_credentials(
                    data.get("key_id"), data.get("key_secret"), bool(data.get("revoke_tokens"))
                )
                return json_reply({"key_id": simulator.key_id})
        except _ControlError as exc:
            return json_reply({"error": str(exc)}, 400)
        except (ValueError, TypeError) as exc:
            return json_reply({"error": str(exc)}, 400)
        return json_reply({"error": f"no route for {method} {path}"}, 404)


class _ControlError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Deep links: the paths the portal links to in Spacelift's web UI (spacelift-api.md, "Deep
# links"), answered with a small page saying this is the simulator and what Spacelift would show.

_DEEP_LINK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Spacelift simulator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
code{{background:#eee;padding:0 .2em}}</style></head>
<body><p><strong>This is the Spacelift simulator</strong>, not Spacelift. The portal's demo links
here where, with a real account, it would open Spacelift's web UI.</p>
<h1>{title}</h1><p>Spacelift would show {what}.</p>
<p>Go back to the portal with your browser's Back button.</p></body></html>
"""


def deep_link_page(world: World, path: str) -> Reply | None:
    """The page for a Spacelift web UI path (a stack, a run, a space, a module); None for any
    other path. An unknown ID gets the page too, with status 404, saying it is not in the world."""
    parts = [unquote(part) for part in path.strip("/").split("/")]
    with world.lock:
        match parts:
            case ["stack", stack_id]:
                stack = world.get_stack(stack_id)
                title = f"Stack {stack.name}" if stack else None
                what = (
                    f"the stack {stack_id}: its runs, state ({stack.state}) and settings"
                    if stack
                    else ""
                )
            case ["stack", stack_id, "run", run_id]:
                stack = world.get_stack(stack_id)
                run = stack.find_run(run_id) if stack else None
                title = f"Run {run_id} of {stack.name}" if stack and run else None
                what = f"the run “{run.title}” ({run.state}) and its logs" if run else ""
            case ["spaces", space_id]:
                space = world.get_space(space_id)
                title = f"Space {space.name}" if space else None
                what = f"the space {space_id} and the stacks in it" if space else ""
            case ["module", module_id]:
                module = world.get_module(module_id)
                title = f"Module {module.name}" if module else None
                what = f"the module {module_id} and its versions" if module else ""
            case _:
                return None
    if title is None:
        title, what, status = (
            "Not in the simulated account",
            f"nothing: {path} is unknown here",
            404,
        )
    else:
        status = 200
    body = _DEEP_LINK_PAGE.format(title=html.escape(title), what=html.escape(what))
    return Reply(status, body.encode(), content_type="text/html; charset=utf-8")


def _world_summary(world: World) -> dict[str, Any]:
    with world.lock:
        return {
            "stacks": len(world.stacks),
            "seed": world.seed,
            "ticks": world.ticks,
            "step_seconds": world.step_seconds,
            "active_stacks": {
                stack_id: world.get_stack(stack_id).state  # type: ignore[union-attr]
                for stack_id in world.active_stack_ids
            },
        }


def _describe(simulator: Simulator) -> dict[str, Any]:
    return {
        "simulator": "Spacelift GraphQL API",
        "graphql": f"{simulator.base_url}/graphql",
        "key_id": simulator.key_id,
        "registry": (
            f"{simulator.base_url}{REGISTRY_PREFIX}{REGISTRY_ORG}/<module>/<provider>/versions"
        ),
        "control": {
            "GET /_sim/stats": "request counters",
            "POST /_sim/reset-stats": "zero the counters",
            "GET /_sim/faults": "current faults",
            "POST /_sim/faults": 'change faults, e.g. {"mode": "http500", "latency": 0.5}, '
            'or {"registry_no_access": true}; the real API\'s ways (realism.py): '
            '{"lean": true} (no optional fields), {"no_introspection": true}, '
            '{"unaccepted_empty": true} (empty answers, not `unauthorized`, to a bad token), '
            '{"accept_no_tokens": true} (no token is accepted, as for a revoked key), '
            '{"fail_search_page": 2} (the 2nd searchStacks page of a pass answers 500, once)',
            "DELETE /_sim/faults": "clear every fault",
            "POST /_sim/step": "move every active run one state forward",
            "GET /_sim/world": "size, seed and active stacks",
            "POST /_sim/world": 'rebuild the world, e.g. {"stacks": 10000}',
            "POST /_sim/credentials": '{"key_id", "key_secret", "revoke_tokens": true}',
        },
    }


# ---------------------------------------------------------------------------------------
# Python API


class SimulatorHandle:
    """A running simulator. Use it as a context manager, or call `stop()`."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.simulator = server.simulator
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self.graphql_url = f"{self.url}/graphql"

    @property
    def key_id(self) -> str:
        return self.simulator.key_id

    @property
    def key_secret(self) -> str:
        return self.simulator.key_secret

    @property
    def world(self) -> World:
        return self.simulator.world

    def stats(self) -> dict[str, Any]:
        return self.simulator.stats()

    def reset_stats(self) -> dict[str, Any]:
        return self.simulator.reset_stats()

    def list_reads(self) -> int:
        """Requests that read the stack list: searchStacks pages (but the one refused while the
        page size is learned) and `stacks` queries."""
        stats = self.stats()
        by_field = stats["by_field"]
        searched = by_field.get("searchStacks", 0) - stats["search_limit_refused"]
        return searched + by_field.get("stacks", 0)

    def faults(self) -> dict[str, Any]:
        return self.simulator.get_faults()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self.simulator.set_faults(**changes)

    def clear_faults(self) -> dict[str, Any]:
        return self.simulator.clear_faults()

    def step(self) -> None:
        self.simulator.world.step()

    def reset(self) -> None:
        """As it started: the world anew, no faults but the first, zero counters (tests call
        this before each test, so no test sees what another did)."""
        self.simulator.reset()

    def rebuild_world(self, stacks: int, seed: int | str | None = None) -> World:
        return self.simulator.rebuild_world(stacks, seed)

    def set_credentials(
        self, key_id: str | None = None, key_secret: str | None = None, revoke_tokens: bool = False
    ) -> None:
        self.simulator.set_credentials(key_id, key_secret, revoke_tokens)

    def stop(self) -> None:
        self.simulator.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_simulator(
    port: int = 0,
    stacks: int = 48,
    seed: int | str = DEFAULT_SEED,
    token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
    key_id: str = DEFAULT_KEY_ID,
    key_secret: str = DEFAULT_KEY_SECRET,
    *,
    host: str = "127.0.0.1",
    latency: float = 0.0,
    fault: str | None = None,
    hang_seconds: float = DEFAULT_HANG_SECONDS,
    step_seconds: float = DEFAULT_STEP_SECONDS,
    active_stacks: int = DEFAULT_ACTIVE_STACKS,
    clock: Callable[[], float] = time.time,
    shortcut: Shortcut | None = None,
) -> SimulatorHandle:
    """Build a world and serve it on `host:port` (0: a free port) from a daemon thread."""
    world = World(stacks, seed, clock=clock, step_seconds=step_seconds, active_stacks=active_stacks)
    simulator = Simulator(
        world,
        key_id=key_id,
        key_secret=key_secret,
        token_lifetime=token_lifetime,
        clock=clock,
        faults=Faults(latency=latency, mode=fault, hang_seconds=hang_seconds),
        shortcut=shortcut,
    )
    server = _Server((host, port), simulator)
    bound_host, bound_port = server.server_address[:2]
    simulator.base_url = f"http://{bound_host}:{bound_port}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name=f"spacelift-simulator-{bound_port}",
        daemon=True,
    )
    thread.start()
    return SimulatorHandle(server, thread)
