"""A simulator of Spacelift's GraphQL API: a real GraphQL server over real HTTP.

`schema.graphql` holds the part of Spacelift's API the portal uses (docs/spacelift-api.md),
`world.py` a simulated account whose runs move with the clock, and `server.py` the HTTP
server, with token exchange, faults and counters. Tests start it with `start_simulator()`;
developers with `python -m simulator`. Nothing here imports Django, and none of it ships:
the wheel and the Docker image hold the portal only.
"""

from .server import (
    DEFAULT_KEY_ID,
    DEFAULT_KEY_SECRET,
    FAULT_MODES,
    SimulatorHandle,
    start_simulator,
)
from .world import World

__all__ = [
    "DEFAULT_KEY_ID",
    "DEFAULT_KEY_SECRET",
    "FAULT_MODES",
    "SimulatorHandle",
    "World",
    "start_simulator",
]
