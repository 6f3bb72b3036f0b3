"""The GraphQL documents the portal sends, with their optional fields marked.

One unknown field makes Spacelift reject a whole query (docs/spacelift-api.md, "Learned
since"), so every field here is either confirmed by a client validated against the live API
(spacectl, the Terraform provider) or written `?Type.field` and listed in OPTIONAL_FIELDS. The
client renders each document with the optional fields this account's API lacks left out
(`fields.py` learns which those are); the rest of the document is sent unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An optional field in a document: `?Type.field`. Only leaf fields (no selection set).
_MARK = re.compile(r"\?([A-Za-z_]\w*)\.([A-Za-z_]\w*)")

# Every optional field, with what the portal does without it: Test connection shows this.
# Named by one unvalidated source only, or not found in spacectl's or the provider's queries.
OPTIONAL_FIELDS: dict[str, str] = {
    "Stack.isDrifted": "no drift badge on the overview or the stack page",
    "Stack.needsApproval": "stacks waiting for an approval are not marked",
    "Stack.repositoryURL": "no link to the stack's repository",
    "Stack.lockedAt": "a lock shows who holds it but not since when",
    "Stack.lockNote": "a lock shows without its note",
    "Stack.effectiveTerraformVersion": "the tool version is the configured one",
    "Commit.tag": "commits show without their git tag",
    "Run.finished": "whether a run ended is told from its state alone",
    "Run.updatedAt": "a run's duration ends at its last state change",
    "ConfigElement.fileMode": "mounted files show without their file mode",
    "ConfigElement.description": "environment variables show without their description",
    # A root field, in OPTIONAL_ROOT_FIELDS.
    "Query.managedUserGroups": "the Access page offers no copy of Spacelift's IdP group mappings",
    # Stack health (health.py): named by Spacelift's Flows app or Prometheus exporter only.
    "DriftDetectionIntegration.nextSchedule": "drift detection shows without its next check",
    "PublicWorkerPool.parallelism": "the public worker pool shows without its worker count",
    "PublicWorkerPool.busyWorkers": "the public worker pool shows without its busy workers",
    "PublicWorkerPool.pendingRuns": "the public worker pool shows without its waiting runs",
    "StackConfigVendorTerraform.workflowTool": (
        "OpenTofu stacks on the Terraform vendor show as Terraform (self-hosted Spacelift "
        "before 6.0.0 has no workflowTool)"
    ),
}


# Optional root fields: each is asked for by a query of its own, sent only where the API is
# not known to lack the field (client.py), so no document marks them.
OPTIONAL_ROOT_FIELDS = frozenset({"Query.managedUserGroups"})


@dataclass(frozen=True)
class Document:
    """A query whose `?Type.field` marks are sent only where the API has the field."""

    text: str

    @property
    def optional(self) -> frozenset[str]:
        return frozenset(f"{t}.{f}" for t, f in _MARK.findall(self.text))

    def render(self, missing: frozenset[str] = frozenset()) -> str:
        def field(match: re.Match[str]) -> str:
            return "" if f"{match[1]}.{match[2]}" in missing else match[2]

        return _MARK.sub(field, self.text)


API_KEY_USER = """
mutation ApiKeyUser($id: ID!, $secret: String!) {
  apiKeyUser(id: $id, secret: $secret) { id jwt validUntil }
}
"""

# Any GraphQL server answers this, signed in or not: proof the host speaks GraphQL.
PROBE = "query Probe { __typename }"

# spacectl's check for a token Spacelift no longer accepts: a null viewer, with no error.
VIEWER = "query Viewer { viewer { id } }"

_COMMIT = "hash message authorLogin authorName timestamp url ?Commit.tag"

_STACK_SUMMARY = f"""
  id name state stateSetAt space spaceDetails {{ id name }}
  branch repository namespace provider ?Stack.repositoryURL projectRoot labels
  administrative autodeploy isDisabled lockedBy ?Stack.lockedAt
  ?Stack.isDrifted ?Stack.needsApproval
  trackedCommit {{ {_COMMIT} }}
  integrations {{ driftDetection {{ schedule }} }}
"""

STACKS = Document(f"query Stacks {{ stacks {{ {_STACK_SUMMARY} }} }}")

STACK = Document(f"""
query Stack($id: ID!) {{
  stack(id: $id) {{
    {_STACK_SUMMARY}
    description createdAt ?Stack.lockNote terraformVersion ?Stack.effectiveTerraformVersion
    trackedCommitSetBy
    workerPool {{ id name }}
    blocker {{ id state type title }}
    vendorConfig {{
      __typename
      ... on StackConfigVendorTerraform {{
        version workspace ?StackConfigVendorTerraform.workflowTool
      }}
    }}
  }}
}}
""")

_RUN = f"""
  id state type title branch triggeredBy createdAt ?Run.updatedAt ?Run.finished driftDetection
  commit {{ {_COMMIT} }}
  delta {{ addCount changeCount deleteCount resources }}
"""

RUNS = Document(f"""
query StackRuns($id: ID!, $before: ID) {{
  stack(id: $id) {{ id runs(before: $before) {{ {_RUN} }} }}
}}
""")

RUN = Document(f"""
query StackRun($stack: ID!, $run: ID!) {{
  stack(id: $stack) {{
    id
    run(id: $run) {{
      {_RUN}
      history {{ state timestamp username note terminal }}
    }}
  }}
}}
""")

SPACES = "query Spaces { spaces { id name description parentSpace accessLevel } }"

# Spacelift's IdP group mappings, as the Terraform provider reads them for
# `spacelift_idp_group_mapping` (ManagedUserGroupsRead, `internal/structs/user_group.go`).
# Only an admin key may: Spacelift answers others "unauthorized".
MANAGED_USER_GROUPS = """
query ManagedUserGroupsRead {
  managedUserGroups { id groupName accessRules { space spaceAccessLevel } }
}
"""

# Actions. Each returns the run Spacelift created or changed. runTrigger takes no note.
RUN_TRIGGER = """
mutation RunTrigger($stack: ID!) { runTrigger(stack: $stack) { id state } }
"""

RUN_CONFIRM = """
mutation RunConfirm($stack: ID!, $run: ID, $note: String) {
  runConfirm(stack: $stack, run: $run, note: $note) { id state }
}
"""

RUN_DISCARD = """
mutation RunDiscard($stack: ID!, $run: ID, $note: String) {
  runDiscard(stack: $stack, run: $run, note: $note) { id state }
}
"""

# spacectl's `run retry` (stack/run_retry.go) sends runRetry(stack: $stack, run: $run) and
# reports the ID it answers as the new run's: a retry is a new run. It takes no note.
RUN_RETRY = """
mutation RunRetry($stack: ID!, $run: ID!) { runRetry(stack: $stack, run: $run) { id state } }
"""

# A stack's own environment (what Diginfra reads as remote variables). spacectl's `stack
# environment` reads `id type value writeOnly runtime`. No checksum: a hash of a short secret
# can be guessed, and the page has no use for it.
STACK_CONFIG = Document("""
query StackConfig($id: ID!) {
  stack(id: $id) {
    id config { id type value writeOnly ?ConfigElement.description runtime ?ConfigElement.fileMode }
  }
}
""")

# Modules as spacectl reads them (`module list`, `mcp.go`), not the registry protocol: the
# hosted registry lives on another host with its own token.
MODULES = Document("""
query Modules {
  modules {
    id name terraformProvider description labels spaceDetails { id name }
    current { id number state yanked }
  }
}
""")

_MODULE_VERSIONS = (
    "id versions(includeFailed: $includeFailed) { id number state createdAt notes yanked }"
)


def module_versions(count: int) -> str:
    """Versions of `count` modules in one query: `m0: module(id: $m0) { ... }` and so on."""
    ids = ", ".join(f"$m{i}: ID!" for i in range(count))
    parts = " ".join(f"m{i}: module(id: $m{i}) {{ {_MODULE_VERSIONS} }}" for i in range(count))
    return f"query ModuleVersions({ids}, $includeFailed: Boolean) {{ {parts} }}"


# ---------------------------------------------------------------------------------------
# Run logs and plan changes (issue 12). Shapes from spacectl: `internal/logs/explorer.go`
# (history), `internal/logs/query.go` (logs) and `internal/cmd/stack/run_changes.go`
# (changesV3), with `history`'s fields from `client/structs/run_state_transition.go`. Every
# field below is one spacectl sends, so none is optional (no `?Type.field`): a lean API has
# them all. Messages carry only `message`: spacectl asks for no timestamp.

# The phases of a run that have logs: asked apart from RUN so the run page's poll stays as
# it was, and so a finished run's phases can be kept for long.
RUN_PHASES = """
query RunPhases($stack: ID!, $run: ID!) {
  stack(id: $stack) { id run(id: $run) { id history { state stateVersion hasLogs terminal } } }
}
"""

RUN_LOGS = """
query RunLogs($stack: ID!, $run: ID!, $state: RunState!, $token: String, $stateVersion: Int) {
  stack(id: $stack) {
    id
    run(id: $run) {
      id
      logs(state: $state, token: $token, stateVersion: $stateVersion) {
        exists finished hasMore nextToken messages { message }
      }
    }
  }
}
"""

RUN_CHANGES = """
query RunChanges($stack: ID!, $run: ID!) {
  stack(id: $stack) {
    id
    run(id: $run) {
      id
      changesV3(input: {}) { resources { address previousAddress metadata { type } } }
    }
  }
}
"""
