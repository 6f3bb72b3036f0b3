"""The GraphQL documents the portal sends. Only fields ../shared/spacelift-api.md lists.

A field Spacelift does not have makes it reject the whole query, so nothing here is guessed.
"""

API_KEY_USER = """
mutation ApiKeyUser($id: ID!, $secret: String!) {
  apiKeyUser(id: $id, secret: $secret) { id jwt validUntil }
}
"""

# Any GraphQL server answers this, signed in or not: proof the host speaks GraphQL.
PROBE = "query Probe { __typename }"

_COMMIT = "hash message authorLogin authorName timestamp url tag"

_STACK_SUMMARY = f"""
  id name state stateSetAt space spaceDetails {{ id name }}
  branch repository namespace provider repositoryURL projectRoot labels
  administrative autodeploy isDisabled lockedBy lockedAt isDrifted needsApproval
  trackedCommit {{ {_COMMIT} }}
"""

STACKS = f"query Stacks {{ stacks {{ {_STACK_SUMMARY} }} }}"

STACK = f"""
query Stack($id: ID!) {{
  stack(id: $id) {{
    {_STACK_SUMMARY}
    description createdAt lockNote terraformVersion effectiveTerraformVersion
    trackedCommitSetBy
    workerPool {{ id name }}
    blocker {{ id state type title }}
    vendorConfig {{
      __typename
      ... on StackConfigVendorTerraform {{ version workspace workflowTool }}
    }}
  }}
}}
"""

_RUN = f"""
  id state type title branch triggeredBy createdAt updatedAt finished driftDetection
  commit {{ {_COMMIT} }}
  delta {{ addCount changeCount deleteCount resources }}
"""

RUNS = f"""
query StackRuns($id: ID!, $before: ID) {{
  stack(id: $id) {{ id runs(before: $before) {{ {_RUN} }} }}
}}
"""

RUN = f"""
query StackRun($stack: ID!, $run: ID!) {{
  stack(id: $stack) {{
    id
    run(id: $run) {{
      {_RUN}
      history {{ state timestamp username note terminal }}
    }}
  }}
}}
"""

SPACES = "query Spaces { spaces { id name description parentSpace accessLevel } }"

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

# A stack's own environment (what Diginfra reads as remote variables). The doc lists `config`
# with `id type value checksum description runtime fileMode`; `writeOnly` is the simulator's
# and the Terraform provider's name for the flag that makes `value` null. No checksum: a hash
# of a short secret can be guessed, and the page has no use for it.
STACK_CONFIG = """
query StackConfig($id: ID!) {
  stack(id: $id) { id config { id type value writeOnly description runtime fileMode } }
}
"""

# The doc lists `modules` but none of Module's fields. These are inferred: each is in the
# simulator's schema and in the GraphQL struct of Spacelift's Terraform provider for
# spacelift_module (id, name, terraformProvider, description, space). Kept to the few the
# registry path and the modules page need, since one unknown field fails the whole query.
MODULES = "query Modules { modules { id name terraformProvider description space } }"

# ---------------------------------------------------------------------------------------
# Run logs and plan changes (issue 12). Shapes from spacectl: `internal/logs/explorer.go`
# (history), `internal/logs/query.go` (logs) and `internal/cmd/stack/run_changes.go`
# (changesV3). Messages carry only `message`: spacectl asks for no timestamp.

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
