"""The simulator answers the documents Spacelift's own clients send (tests/fixtures).

"The simulator is never friendlier than Spacelift", nor stricter: what spacectl, the
Backstage plugin and the `spacelift` package on PyPI send in production must be answered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from simulator import SimulatorHandle
from simulator.logs import changes, logbook, phase_lines

FIXTURES = Path(__file__).with_name("fixtures") / "client_documents"


def document(name: str) -> str:
    return (FIXTURES / f"{name}.graphql").read_text(encoding="utf-8")


def send(sim: SimulatorHandle, name: str, variables: dict[str, Any] | None = None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": document(name), "variables": variables or {}}
    response = requests.post(sim.graphql_url, json=body, headers=headers, timeout=10)
    assert response.status_code == 200
    answer = response.json()
    assert "errors" not in answer, answer.get("errors")
    return answer["data"]


@pytest.fixture
def jwt(sim) -> str:
    data = send(sim, "pypi_get_jwt", {"keyId": sim.key_id, "keySecret": sim.key_secret})
    assert data["apiKeyUser"]["id"] == sim.key_id
    return data["apiKeyUser"]["jwt"]


def test_spacectl_whoami(sim, jwt):
    viewer = send(sim, "spacectl_whoami", token=jwt)["viewer"]
    assert viewer["id"] == f"api::{sim.key_id}" and viewer["name"]


def test_spacectl_space_list_with_inherit_entities_and_labels(sim, jwt):
    spaces = send(sim, "spacectl_space_list", token=jwt)["spaces"]
    assert spaces and all(isinstance(s["inheritEntities"], bool) for s in spaces)
    assert all(isinstance(s["labels"], list) for s in spaces)


def test_spacectl_stack_list_pages_through_every_stack(sim, jwt):
    seen, after = [], None
    while True:
        data = send(sim, "spacectl_stack_list", {"input": {"first": 50, "after": after}}, jwt)
        page = data["searchStacks"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == len(sim.world.stacks)
    node = page["edges"][0]["node"]
    assert node["afterApply"] == [] and node["managesStateFile"] is True
    assert node["vendorConfig"]["__typename"].startswith("StackConfigVendor")


def test_spacectl_stack_show(sim, jwt):
    stack_id = sim.world.stacks[0].id
    stack = send(sim, "spacectl_stack_show", {"stackId": stack_id}, jwt)["stack"]
    assert stack["id"] == stack_id
    assert isinstance(stack["attachedContexts"], list) and isinstance(stack["config"], list)
    assert stack["moduleVersionsUsed"] == []


# What spacectl 6.0.0+'s `stack show` (vendorConfigFull) reads of each vendor, by its Go names.
FULL_VENDOR_FIELDS = {
    "StackConfigVendorAnsible": {"playbook"},
    "StackConfigVendorCloudFormation": {
        "entryTemplateFile",
        "templateBucket",
        "stackName",
        "region",
    },
    "StackConfigVendorKubernetes": {"namespace", "kubectlVersion", "kubernetesWorkflowTool"},
    "StackConfigVendorOpenTofu": {
        "version",
        "workspace",
        "useSmartSanitization",
        "externalStateAccessEnabled",
        "concise",
        "openTofuWorkflowTool",
    },
    "StackConfigVendorPulumi": {"loginURL", "stackName"},
    "StackConfigVendorTerraform": {
        "version",
        "workspace",
        "useSmartSanitization",
        "externalStateAccessEnabled",
        "terraformWorkflowTool",
    },
    "StackConfigVendorTerragrunt": {
        "terraformVersion",
        "terragruntVersion",
        "useRunAll",
        "useSmartSanitization",
        "tool",
        "useStateManagement",
    },
}


def test_spacectl_stack_show_with_every_vendors_config(sim, jwt):
    seen = {}
    for stack in sim.world.stacks[:7]:  # the first seven have one vendor each
        shown = send(sim, "spacectl_stack_show_full", {"stackId": stack.id}, jwt)["stack"]
        config = shown["vendorConfig"]
        typename = config.pop("__typename")
        assert set(config) == FULL_VENDOR_FIELDS[typename]
        seen[typename] = config
    assert set(seen) == set(FULL_VENDOR_FIELDS)
    cloudformation = seen["StackConfigVendorCloudFormation"]
    assert cloudformation["entryTemplateFile"] and cloudformation["region"]
    assert cloudformation["templateBucket"].startswith("s3://")
    assert seen["StackConfigVendorKubernetes"]["kubernetesWorkflowTool"] == "KUBERNETES"
    assert seen["StackConfigVendorOpenTofu"]["openTofuWorkflowTool"] == "OPEN_TOFU"
    assert seen["StackConfigVendorTerraform"]["terraformWorkflowTool"] in {
        "TERRAFORM_FOSS",
        "OPEN_TOFU",
        "CUSTOM",
    }
    assert seen["StackConfigVendorTerragrunt"]["useStateManagement"] is True
    assert seen["StackConfigVendorPulumi"]["loginURL"] and seen["StackConfigVendorAnsible"]


def test_spacectl_stack_environment_reads_runtime_config(sim, jwt):
    stack = next(s for s in sim.world.stacks if s.config)
    shown = send(sim, "spacectl_stack_environment", {"stack": stack.id}, jwt)["stack"]
    runtime = shown["runtimeConfig"]
    assert [entry["element"]["id"] for entry in runtime] == [e.id for e in stack.config]
    assert all(entry["context"] is None for entry in runtime)  # the stack's own
    created = [entry["element"]["createdAt"] for entry in runtime]
    assert all(0 < at < stack.anchor for at in created)
    assert all(c["isAutoattached"] is False for c in shown["attachedContexts"])


def test_spacectl_deploy_with_a_runtime_config_and_force_apply(sim, jwt):
    free = [s for s in sim.world.stacks if not s.locked_by and not s.is_disabled]
    yaml = "version: 1\nenvironment:\n  TF_LOG: debug\n"
    variables = {
        "stack": free[0].id,
        "sha": None,
        "type": "TRACKED",
        "runtimeConfig": {"yaml": yaml},
        "forceApply": "SINGLE",
    }
    deployed = send(sim, "spacectl_run_trigger", variables, jwt)["runTrigger"]
    assert free[0].find_run(deployed["id"]).type == "TRACKED"
    # `stack preview` without --runtime-config: spacectl sends the nulls as they are.
    nulls = {**variables, "stack": free[1].id, "type": "PROPOSED"}
    nulls.update(runtimeConfig=None, forceApply=None)
    previewed = send(sim, "spacectl_run_trigger", nulls, jwt)["runTrigger"]
    assert free[1].find_run(previewed["id"]).type == "PROPOSED"
    refused = raw(sim, document("spacectl_run_trigger"), jwt, {**variables, "forceApply": "ALL"})
    assert "errors" in refused  # not one of SINGLE, CASCADE


def test_spacectl_run_list(sim, jwt):
    stack = next(s for s in sim.world.stacks if s.runs_of_type("TRACKED"))
    runs = send(sim, "spacectl_run_list", {"stackId": stack.id, "before": None}, jwt)
    assert runs["stack"]["runs"]
    assert {"canRetry", "comments", "isMostRecent", "triggeredBy"} <= set(runs["stack"]["runs"][0])


def test_spacectl_module_list_with_current_versions(sim, jwt):
    data = send(sim, "spacectl_module_list", {"input": {"first": 50}}, jwt)
    nodes = [edge["node"] for edge in data["searchModules"]["edges"]]
    assert len(nodes) == len(sim.world.modules)
    assert all(node["current"]["state"] == "ACTIVE" for node in nodes)
    assert all(node["current"]["yanked"] is False for node in nodes)


def test_the_backstage_plugins_stack_list_with_its_empty_variable_list(sim, jwt):
    stacks = send(sim, "backstage_get_stacks", token=jwt)["stacks"]
    assert len(stacks) == len(sim.world.stacks)
    assert {"spaceDetails", "projectRoot", "repository"} <= set(stacks[0])


def test_the_pypi_packages_reads_and_trigger(sim, jwt):
    stacks = send(sim, "pypi_get_stacks", token=jwt)["stacks"]
    assert len(stacks) == len(sim.world.stacks) and stacks[0]["state"]
    stack = send(sim, "pypi_get_stack_by_id", {"id": stacks[0]["id"]}, jwt)["stack"]
    assert stack["space"]
    assert send(sim, "pypi_get_spaces", token=jwt)["spaces"]
    free = next(s for s in sim.world.stacks if not s.locked_by and not s.is_disabled)
    run = send(sim, "pypi_trigger_run", {"stack": free.id}, jwt)["runTrigger"]
    assert run["id"] and run["branch"]


def ended_run(sim: SimulatorHandle, state: str):
    """A run in `state` on a stack whose runs do not move on their own."""
    for stack in sim.world.stacks:
        if stack.id not in sim.world.active_stack_ids:
            stack.ensure_history()
            for run in stack.tracked:
                if run.state == state:
                    return stack, run
    raise AssertionError(f"the simulated account has no {state} run")


def spacectl_run_logs(sim: SimulatorHandle, stack_id: str, run_id: str, jwt: str):
    """spacectl's `stack logs`: the history, earliest first, then each phase's pages."""
    variables = {"stack": stack_id, "run": run_id}
    history = send(sim, "spacectl_run_history", variables, jwt)["stack"]["run"]["history"]
    read: dict[tuple[str, int], list[str]] = {}
    for transition in reversed(history):
        if not transition["hasLogs"]:
            continue
        state, version, token, lines = transition["state"], transition["stateVersion"], None, []
        while True:
            page_vars = {**variables, "state": state, "stateVersion": version, "token": token}
            logs = send(sim, "spacectl_run_logs", page_vars, jwt)["stack"]["run"]["logs"]
            lines += [m["message"] for m in logs["messages"]]
            token = logs["nextToken"]
            if logs["finished"] or (not logs["hasMore"] and transition["terminal"]):
                break
        read[(state, version)] = lines
    return read


def test_spacectl_stack_logs_reads_every_phase_of_a_failed_run(sim, jwt):
    stack, run = ended_run(sim, "FAILED")
    read = spacectl_run_logs(sim, stack.id, run.id, jwt)
    book = logbook(sim.world)
    expected = {
        (t.state, t.state_version): phase_lines(book, run, t.state, t.state_version)[0]
        for t in run.transitions
        if t.has_logs
    }
    assert read == expected and any(read.values())


def test_spacectl_run_changes(sim, jwt):
    stack, run = ended_run(sim, "UNCONFIRMED")
    variables = {"stack": stack.id, "run": run.id}
    answer = send(sim, "spacectl_run_changes", variables, jwt)["stack"]["run"]["changesV3"]
    expected = changes(sim.world, run)
    assert [r["address"] for e in answer for r in e["resources"]] == [
        r["address"] for e in expected for r in e["resources"]
    ]
    assert answer[0]["resources"]
    assert all(r["metadata"]["type"] for e in answer for r in e["resources"])


def test_a_lean_api_still_answers_every_client_document(sim, jwt):
    """None of Spacelift's own clients asks for an optional field."""
    sim.set_faults(lean=True)
    try:
        send(sim, "backstage_get_stacks", token=jwt)
        send(sim, "spacectl_stack_list", {"input": {"first": 5}}, jwt)
        send(sim, "spacectl_stack_show", {"stackId": sim.world.stacks[0].id}, jwt)
        # spacectl sends its fuller `stack show` only to Spacelift 6.0.0 and later.
        full = raw(sim, document("spacectl_stack_show_full"), jwt, {"stackId": "x"})
        assert 'Cannot query field "workflowTool"' in full["errors"][0]["message"]
        send(sim, "spacectl_module_list", {"input": {"first": 5}}, jwt)
        stack, run = ended_run(sim, "FAILED")
        assert any(spacectl_run_logs(sim, stack.id, run.id, jwt).values())
        stack, run = ended_run(sim, "UNCONFIRMED")
        changed = send(sim, "spacectl_run_changes", {"stack": stack.id, "run": run.id}, jwt)
        assert changed["stack"]["run"]["changesV3"][0]["resources"]
    finally:
        sim.clear_faults()


# -- the real API's ways, at the simulator ---------------------------------------------------


def raw(sim: SimulatorHandle, query: str, token: str | None = None, variables=None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": query, "variables": variables or {}}
    return requests.post(sim.graphql_url, json=body, headers=headers, timeout=10).json()


def test_a_lean_api_rejects_an_optional_field_in_spacelifts_words(sim, jwt):
    sim.set_faults(lean=True)
    try:
        answer = raw(sim, "{ stacks { id isDrifted trackedCommit { hash tag } } }", jwt)
    finally:
        sim.clear_faults()
    assert "data" not in answer or answer["data"] is None
    assert [e["message"] for e in answer["errors"]] == [
        'Cannot query field "isDrifted" on type "Stack".',
        'Cannot query field "tag" on type "Commit".',
    ]


def test_introspection_describes_the_lean_types(sim):
    query = '{ __type(name: "Stack") { fields { name } } }'
    full = {f["name"] for f in raw(sim, query)["data"]["__type"]["fields"]}
    sim.set_faults(lean=True)
    try:
        lean = {f["name"] for f in raw(sim, query)["data"]["__type"]["fields"]}
        sim.set_faults(no_introspection=True)
        refused = raw(sim, query)
    finally:
        sim.clear_faults()
    assert full - lean == {
        "isDrifted",
        "needsApproval",
        "repositoryURL",
        "lockedAt",
        "lockNote",
        "effectiveTerraformVersion",
    }
    assert "introspection is not allowed" in refused["errors"][0]["message"]


def test_an_unaccepted_token_gets_empty_lists_and_nulls_not_an_error(sim, jwt):
    query = (
        'query { stacks { id } stack(id: "payments-prod") { id } viewer { id } modules { id } '
        "spaces { id } searchStacks(input: {first: 5}) { edges { node { id } } } }"
    )
    assert "errors" in raw(sim, query, "not-a-token")  # by default: unauthorized
    sim.set_faults(unaccepted_empty=True)
    try:
        answer = raw(sim, query, "not-a-token")
        sim.set_faults(accept_no_tokens=True)
        revoked = raw(sim, "{ stacks { id } }", jwt)
    finally:
        sim.clear_faults()
    assert "errors" not in answer
    assert answer["data"] == {
        "stacks": [],
        "stack": None,
        "viewer": None,
        "modules": [],
        "spaces": [],
        "searchStacks": {"edges": []},
    }
    assert revoked == {"data": {"stacks": []}}
    assert sim.stats()["unaccepted"] == 2


def test_modules_have_versions_over_graphql(sim, jwt):
    module = sim.world.modules[0]
    query = """query ($id: ID!, $failed: Boolean!) { module(id: $id) {
        current { number yanked } versions(includeFailed: $failed) { number state yanked } } }"""
    published = raw(sim, query, jwt, {"id": module.id, "failed": False})["data"]["module"]
    with_failed = raw(sim, query, jwt, {"id": module.id, "failed": True})["data"]["module"]
    assert [v["number"] for v in published["versions"]] == list(reversed(module.versions))
    assert {v["state"] for v in published["versions"]} == {"ACTIVE"}
    assert with_failed["versions"][0]["state"] == "FAILED"
    assert len(with_failed["versions"]) == len(module.versions) + 1
    assert published["current"]["yanked"] is False
