"""A simulator of Spacelift's GraphQL API, a strict test double: real GraphQL over real HTTP.

`schema.graphql` holds the part of Spacelift's API the portal uses (docs/spacelift-api.md).
The account: `world.py` (reads and mutations) built from `model.py` (records), `ids.py`
(ULIDs and slugs), `generation.py` (a seeded world), `ticking.py` (runs moving with the
clock) and `search.py` (searchStacks). The API: `schema.py` (resolvers), `logs.py` (run logs
and changes), `realism.py` (the real API's ways), `api.py` (tokens, faults, counters, reset
and the answers) and `server.py` (HTTP and the /_sim/ controls). Tests start it with
`start_simulator()`; developers with `python -m simulator`. Nothing here imports Django,
and none of it ships: the wheel and the Docker image hold the portal only.
"""

from .api import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, FAULT_MODES
from .server import SimulatorHandle, start_simulator
from .world import World

__all__ = [
    "DEFAULT_KEY_ID",
    "DEFAULT_KEY_SECRET",
    "FAULT_MODES",
    "SimulatorHandle",
    "World",
    "start_simulator",
]
