"""Serve a simulated Spacelift GraphQL API on 127.0.0.1 until Ctrl-C.

    python -m simulator --port 8765 --stacks 48

It prints the three variables that point the portal (or spacectl) at it. The key ID and
secret are fixed by default, so `make run` can pass the same ones to the portal; override
them with --key-id/--key-secret or SIMULATOR_KEY_ID/SIMULATOR_KEY_SECRET. It needs no Django
and no database, so it starts before migrations run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from simulator.api import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_TOKEN_LIFETIME,
    FAULT_MODES,
    Shortcut,
)
from simulator.server import start_simulator
from simulator.webhooks import WebhookSender
from simulator.world import (
    DEFAULT_ACTIVE_STACKS,
    DEFAULT_SEED,
    DEFAULT_STACK_COUNT,
    DEFAULT_STEP_SECONDS,
)

DEFAULT_PORT = 8765


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve a simulated Spacelift GraphQL API for development and tests.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--stacks", type=int, default=DEFAULT_STACK_COUNT)
    parser.add_argument("--seed", default=str(DEFAULT_SEED))
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--fault", choices=FAULT_MODES, default=None)
    parser.add_argument(
        "--token-lifetime",
        type=float,
        default=DEFAULT_TOKEN_LIFETIME,
        help="seconds a JWT stays valid",
    )
    parser.add_argument(
        "--active-stacks",
        type=int,
        default=DEFAULT_ACTIVE_STACKS,
        help="stacks whose runs move on every step and that get new pushes (the demo: 16)",
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=DEFAULT_STEP_SECONDS,
        help="seconds between two transitions of the moving runs",
    )
    parser.add_argument(
        "--way",
        action="append",
        choices=("lean", "no_introspection", "unaccepted_empty", "accept_no_tokens"),
        default=[],
        help="play one of the real API's ways (repeatable; see simulator/realism.py)",
    )
    parser.add_argument("--key-id", default=None, help="default: $SIMULATOR_KEY_ID or fixed")
    parser.add_argument(
        "--key-secret", default=None, help="default: $SIMULATOR_KEY_SECRET or fixed"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no line per request")
    parser.add_argument("--webhook-url", default=os.environ.get("SIMULATOR_WEBHOOK_URL", ""))
    parser.add_argument("--webhook-secret", default=os.environ.get("SIMULATOR_WEBHOOK_SECRET", ""))
    args = parser.parse_args(argv)
    if args.stacks < 0:
        parser.error("--stacks must be 0 or more")
    if args.active_stacks < 0:
        parser.error("--active-stacks must be 0 or more")
    return args


def main(argv: list[str] | None = None, *, shortcut: Shortcut | None = None) -> int:
    """Serve until Ctrl-C; `shortcut` is bench's fast path (bench/simulator.py), else none."""
    args = parse_args(argv)
    key_id = args.key_id or os.environ.get("SIMULATOR_KEY_ID") or DEFAULT_KEY_ID
    key_secret = args.key_secret or os.environ.get("SIMULATOR_KEY_SECRET") or DEFAULT_KEY_SECRET
    seed: int | str = int(args.seed) if args.seed.isdigit() else args.seed
    _log_requests(quiet=args.quiet)
    try:
        handle = start_simulator(
            port=args.port,
            stacks=args.stacks,
            seed=seed,
            token_lifetime=args.token_lifetime,
            key_id=key_id,
            key_secret=key_secret,
            latency=args.latency,
            fault=args.fault,
            step_seconds=args.step_seconds,
            active_stacks=args.active_stacks,
            shortcut=shortcut,
        )
    except (OSError, ValueError) as exc:
        print(f"cannot start the simulator: {exc}", file=sys.stderr)
        return 1
    if args.way:
        handle.set_faults(**dict.fromkeys(args.way, True))
    if args.webhook_url and args.webhook_secret:  # signed run deliveries: simulator/webhooks.py
        WebhookSender(handle.world, args.webhook_url, args.webhook_secret).start()

    lines = [
        f"Spacelift simulator serving {handle.graphql_url}",
        f"  stacks: {len(handle.world.stacks)}  seed: {seed}",
        f"  moving: {_moving(handle.world)}",
        *([f"  faults: {handle.faults()}"] if args.fault or args.latency or args.way else []),
        f"  API key ID:     {handle.key_id}",
        f"  API key secret: {handle.key_secret}",
        "Point the portal at it with:",
        f"  export SPACELIFT_API_KEY_ENDPOINT={handle.url}",
        f"  export SPACELIFT_API_KEY_ID={handle.key_id}",
        f"  export SPACELIFT_API_KEY_SECRET={handle.key_secret}",
        f"Controls: {handle.url}/_sim/ (stats, faults, step, world). Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("Stopping.")
    finally:
        handle.stop()
    return 0


def _moving(world) -> str:
    """Which stacks' runs move, in words: the demo's README points here."""
    ids = world.active_stack_ids
    if not ids:
        return "no stack (runs started through the API still move)"
    return (
        f"{len(ids)} stacks step every {world.step_seconds:g} s and get new pushes: "
        + ", ".join(ids)
    )


def _log_requests(*, quiet: bool) -> None:
    """One line per request on stderr, unless logging is already configured for it."""
    sim_logger = logging.getLogger("simulator")
    if quiet:
        sim_logger.setLevel(logging.WARNING)
        return
    sim_logger.setLevel(logging.INFO)
    if not sim_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        sim_logger.addHandler(handler)
        sim_logger.propagate = False


if __name__ == "__main__":
    sys.exit(main())
