"""What the Spacelift client returns: frozen dataclasses, built from the wire by `from_api`.

One module per concern: `states` (enums and health), `stacks`, `runs`, `config`, `modules`,
and `wire` (reading loose values). Everything is imported from here, so
`from dashboard.spacelift.types import Stack` works, and so do payloads cached before the
split: unpickling finds each class under this package's name.
"""

from .config import ConfigElement, ConfigType
from .modules import Module, ModuleVersion, ModuleVersions, version_key
from .runs import Delta, Run, StateTransition
from .stacks import (
    PROVIDER_LABELS,
    VENDOR_TOOLS,
    Blocker,
    Commit,
    IdpGroupMapping,
    Space,
    Stack,
    WorkerPool,
)
from .states import (
    HEALTH_LABELS,
    RUN_HEALTH,
    STACK_HEALTH,
    TERMINAL_RUN_STATES,
    Health,
    RunState,
    RunType,
    StackState,
    run_health,
    state_label,
)

__all__ = [
    "HEALTH_LABELS",
    "PROVIDER_LABELS",
    "RUN_HEALTH",
    "STACK_HEALTH",
    "TERMINAL_RUN_STATES",
    "VENDOR_TOOLS",
    "Blocker",
    "Commit",
    "ConfigElement",
    "ConfigType",
    "Delta",
    "Health",
    "IdpGroupMapping",
    "Module",
    "ModuleVersion",
    "ModuleVersions",
    "Run",
    "RunState",
    "RunType",
    "Space",
    "Stack",
    "StackState",
    "StateTransition",
    "WorkerPool",
    "run_health",
    "state_label",
    "version_key",
]
