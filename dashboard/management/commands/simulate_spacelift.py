"""Serve a simulated Spacelift GraphQL API on 127.0.0.1 until Ctrl-C.

    python manage.py simulate_spacelift --port 8765 --stacks 48

It prints the three variables that point the portal (or spacectl) at it. The key ID and
secret are fixed by default, so `make run` can pass the same ones to the portal; override
them with --key-id/--key-secret or SIMULATOR_KEY_ID/SIMULATOR_KEY_SECRET.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.simulator.server import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    DEFAULT_TOKEN_LIFETIME,
    FAULT_MODES,
    start_simulator,
)
from dashboard.simulator.world import DEFAULT_SEED, DEFAULT_STACK_COUNT, DEFAULT_STEP_SECONDS

DEFAULT_PORT = 8765


class Command(BaseCommand):
    help = "Serve a simulated Spacelift GraphQL API for development and tests."
    # The simulator needs no database and no models: it must start before migrations run.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument("--stacks", type=int, default=DEFAULT_STACK_COUNT)
        parser.add_argument("--seed", default=str(DEFAULT_SEED))
        parser.add_argument(
            "--latency", type=float, default=0.0, help="seconds added to every answer"
        )
        parser.add_argument("--fault", choices=FAULT_MODES, default=None)
        parser.add_argument(
            "--token-lifetime",
            type=float,
            default=DEFAULT_TOKEN_LIFETIME,
            help="seconds a JWT stays valid",
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

    def handle(self, *args: Any, **options: Any) -> None:
        key_id = options["key_id"] or os.environ.get("SIMULATOR_KEY_ID") or DEFAULT_KEY_ID
        key_secret = (
            options["key_secret"] or os.environ.get("SIMULATOR_KEY_SECRET") or DEFAULT_KEY_SECRET
        )
        seed: int | str = int(options["seed"]) if options["seed"].isdigit() else options["seed"]
        if options["stacks"] < 0:
            raise CommandError("--stacks must be 0 or more")
        _log_requests(int(options["verbosity"]))
        try:
            handle = start_simulator(
                port=options["port"],
                stacks=options["stacks"],
                seed=seed,
                token_lifetime=options["token_lifetime"],
                key_id=key_id,
                key_secret=key_secret,
                latency=options["latency"],
                fault=options["fault"],
                step_seconds=options["step_seconds"],
            )
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot start the simulator: {exc}") from exc
        if options["way"]:
            handle.set_faults(**dict.fromkeys(options["way"], True))

        out = self.stdout
        out.write(self.style.SUCCESS(f"Spacelift simulator serving {handle.graphql_url}"))
        out.write(f"  stacks: {len(handle.world.stacks)}  seed: {seed}")
        if options["fault"] or options["latency"] or options["way"]:
            out.write(f"  faults: {handle.faults()}")
        out.write(f"  API key ID:     {handle.key_id}")
        out.write(f"  API key secret: {handle.key_secret}")
        out.write("Point the portal at it with:")
        out.write(f"  export SPACELIFT_API_KEY_ENDPOINT={handle.url}")
        out.write(f"  export SPACELIFT_API_KEY_ID={handle.key_id}")
        out.write(f"  export SPACELIFT_API_KEY_SECRET={handle.key_secret}")
        out.write(f"Controls: {handle.url}/_sim/ (stats, faults, step, world). Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            out.write("Stopping.")
        finally:
            handle.stop()


def _log_requests(verbosity: int) -> None:
    """One line per request on stderr, unless logging is already configured for it."""
    sim_logger = logging.getLogger("dashboard.simulator")
    if verbosity == 0:
        sim_logger.setLevel(logging.WARNING)
        return
    sim_logger.setLevel(logging.INFO)
    if not sim_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        sim_logger.addHandler(handler)
        sim_logger.propagate = False
