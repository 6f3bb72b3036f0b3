"""The Spacelift simulator, over real HTTP: schema, auth, paging, faults, counters, time.

No database: every test talks to `start_simulator()` on a free port, or to a `World`.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from graphql import GraphQLObjectType, GraphQLUnionType, execute
from graphql.utilities import get_operation_ast

from bench.fast_graphql import execute_plain, fast_path_applies
from simulator.__main__ import _moving, parse_args
from simulator.api import DEFAULT_KEY_ID, DEFAULT_KEY_SECRET, Faults, Simulator
from simulator.logs import logbook
from simulator.model import RUN_STATES, RUN_TYPES, STACK_STATES, TERMINAL_RUN_STATES, Run
from simulator.schema import RequestContext, load_schema, prepare
from simulator.server import SimulatorHandle, start_simulator
from simulator.world import RUNS_PAGE_SIZE, PristineWorld, World

EXCHANGE = """
mutation ApiKeyUser($id: ID!, $secret: String!) {
  apiKeyUser(id: $id, secret: $secret) { id jwt validUntil }
}
"""
STACK_FIELDS = """
  id name description state stateSetAt branch repository namespace projectRoot provider
  repositoryURL labels space spaceDetails { id name description parentSpace accessLevel }
  administrative autodeploy autoretry canWrite deleted deleting isDisabled starred createdAt
  lockedBy lockedAt lockNote needsApproval isDrifted entityCount terraformVersion
  effectiveTerraformVersion runnerImage
  trackedCommit { authorLogin authorName hash message timestamp url tag }
  trackedCommitSetBy
  blocker { id state type title }
  workerPool { id name }
  vendorConfig {
    __typename
    ... on StackConfigVendorTerraform { version workspace workflowTool }
    ... on StackConfigVendorOpenTofu { version workspace }
    ... on StackConfigVendorTerragrunt { terraformVersion terragruntVersion }
    ... on StackConfigVendorPulumi { loginURL stackName }
    ... on StackConfigVendorCloudFormation { region stackName }
    ... on StackConfigVendorKubernetes { namespace kubectlVersion }
    ... on StackConfigVendorAnsible { playbook }
  }
  config { id type value checksum description runtime writeOnly fileMode }
  attachedContexts { id contextId contextName priority }
  attachedPolicies { id policyId policyName policyType }
  outputs { id value sensitive description }
"""
RUN_FIELDS = """
  id state type title branch triggeredBy createdAt updatedAt finished canRetry driftDetection
  expired isMostRecent needsApproval
  commit { authorLogin authorName hash message timestamp url tag }
  delta { addCount changeCount deleteCount resources }
  history { hasLogs note state stateVersion terminal timestamp username }
"""
# docs/spacelift-api.md, "Stack fields", plus the run lists.
DOCUMENTED_STACK_FIELDS = """
  id name description state stateSetAt branch repository namespace projectRoot provider
  repositoryURL labels space spaceDetails administrative autodeploy autoretry canWrite deleted
  deleting isDisabled starred createdAt lockedBy lockedAt lockNote needsApproval isDrifted
  entityCount terraformVersion effectiveTerraformVersion runnerImage trackedCommit
  trackedCommitSetBy blocker workerPool vendorConfig config attachedContexts attachedPolicies
  outputs runs proposedRuns tasks run
"""
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    handle = start_simulator(port=0)
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").reset()


def post(handle: SimulatorHandle, query: str, variables=None, token=None, **kwargs) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        handle.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=kwargs.pop("timeout", 10),
        **kwargs,
    )


def exchange(handle: SimulatorHandle) -> str:
    response = post(handle, EXCHANGE, {"id": handle.key_id, "secret": handle.key_secret})
    return response.json()["data"]["apiKeyUser"]["jwt"]


def query(handle: SimulatorHandle, document: str, variables=None) -> dict[str, Any]:
    body = post(handle, document, variables, token=exchange(handle)).json()
    assert "errors" not in body, body
    return body["data"]


# -- schema -------------------------------------------------------------------------------


def test_schema_builds_with_every_documented_type_and_enum_value() -> None:
    schema = load_schema()
    enum_sizes = {
        name: len(schema.get_type(name).values)  # type: ignore[union-attr]
        for name in ("StackState", "RunState", "RunType", "ConfigType")
    }
    assert enum_sizes == {"StackState": 16, "RunState": 21, "RunType": 6, "ConfigType": 2}
    assert set(schema.get_type("RunState").values) == set(RUN_STATES)  # type: ignore[union-attr]
    assert set(schema.get_type("RunType").values) == set(RUN_TYPES)  # type: ignore[union-attr]
    vendor = schema.get_type("StackConfigVendor")
    assert isinstance(vendor, GraphQLUnionType)
    assert len(vendor.types) == 7
    stack = schema.get_type("Stack")
    assert isinstance(stack, GraphQLObjectType)
    documented = set(DOCUMENTED_STACK_FIELDS.split())
    assert documented <= set(stack.fields)


def test_it_offers_only_the_mutations_the_portal_and_spacelifts_clients_send() -> None:
    mutation = load_schema().mutation_type
    assert mutation is not None
    assert set(mutation.fields) == {
        "apiKeyUser",
        "runTrigger",
        "runConfirm",
        "runDiscard",
        "runRetry",
        "stackLock",
        "stackUnlock",  # spacectl's `run retry`, the portal's Retry
    }


def test_every_stack_and_run_field_resolves_for_every_stack(sim: SimulatorHandle) -> None:
    data = query(
        sim,
        f"""{{ stacks {{ {STACK_FIELDS}
            runs {{ {RUN_FIELDS} }} proposedRuns {{ id type }} tasks {{ id type title }} }} }}""",
    )
    stacks = data["stacks"]
    assert len(stacks) == 48
    assert {s["vendorConfig"]["__typename"] for s in stacks} == {
        f"StackConfigVendor{v}"
        for v in (
            "Terraform",
            "OpenTofu",
            "Terragrunt",
            "Pulumi",
            "CloudFormation",
            "Kubernetes",
            "Ansible",
        )
    }
    runs = [run for stack in stacks for run in stack["runs"]]
    assert all(ULID.match(run["id"]) for run in runs)
    assert all(run["type"] == "TRACKED" for run in runs)
    assert all(len(run["commit"]["hash"]) == 40 for run in runs)
    assert any(stack["tasks"] for stack in stacks)
    assert any(stack["proposedRuns"] for stack in stacks)


def test_it_rejects_unknown_fields_like_a_real_graphql_server(sim: SimulatorHandle) -> None:
    response = post(sim, "{ stacks { id doesNotExist } }", token=exchange(sim))

    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert "doesNotExist" in body["errors"][0]["message"]


def test_it_rejects_syntax_errors_and_bad_bodies(sim: SimulatorHandle) -> None:
    assert "errors" in post(sim, "{ stacks { id ").json()
    response = requests.post(sim.graphql_url, data=b"not json", timeout=5)
    assert response.status_code == 400
    assert response.json()["errors"]


# -- the world ----------------------------------------------------------------------------


def test_every_stack_state_occurs(sim: SimulatorHandle) -> None:
    states = {stack["state"] for stack in query(sim, "{ stacks { state } }")["stacks"]}
    assert states == set(STACK_STATES)


def test_a_stack_state_is_that_of_its_latest_tracked_run() -> None:
    world = World(clock=FakeClock())
    for stack in world.stacks:
        stack.ensure_history()
        with_state = [run for run in stack.tracked if run.state in STACK_STATES]
        assert stack.state == (with_state[0].state if with_state else "NONE"), stack.id
        if with_state:
            assert stack.state_set_at == with_state[0].updated_at


def test_the_world_is_deterministic_from_its_seed() -> None:
    def fingerprint(world: World) -> list[tuple[str, str, str]]:
        return [(s.id, s.state, s.tracked[0].id if s.tracked else "") for s in world.stacks]

    assert fingerprint(World(seed=7, clock=FakeClock())) == fingerprint(
        World(seed=7, clock=FakeClock())
    )
    assert fingerprint(World(seed=7, clock=FakeClock())) != fingerprint(
        World(seed=8, clock=FakeClock())
    )


def everything_in(world: World) -> dict[str, Any]:
    """The world's records as plain data, every field, to compare two worlds with."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            if isinstance(value, Run):
                fields["stack"] = value.stack.id  # not the stack again
            return {"type": type(value).__name__, **{k: plain(v) for k, v in fields.items()}}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value

    for stack in world.stacks:  # what is made on first use, too
        stack.ensure_history()
        stack.ensure_details()
    return {
        "anchor": world.anchor,
        "ticks": world.ticks,
        "active": list(world.active_stack_ids),
        **{name: plain(getattr(world, name)) for name in ("spaces", "stacks", "modules")},
    }


def test_a_pristine_world_hands_out_the_world_that_would_be_built_now() -> None:
    clock = FakeClock()
    pristine = PristineWorld(48, 7, clock=clock, step_seconds=7, active_stacks=6)
    clock.now += 86_400 + 12.5  # a day later, between two seconds

    fresh, built = pristine.fresh(), World(48, 7, clock=clock, step_seconds=7)
    assert fresh.anchor == int(clock.now)
    assert everything_in(fresh) == everything_in(built)
    assert fresh.stack_of_run(fresh.stacks[0].tracked[0].id) is fresh.stacks[0]

    clock.now += 7 * 30
    assert fresh.advance() == built.advance() == 30
    assert everything_in(fresh) == everything_in(built)
    assert pristine.fresh().stacks[0] is not fresh.stacks[0]  # each one a copy of its own


def test_the_world_holds_untrusted_text_for_escaping_tests() -> None:
    world = World(clock=FakeClock())
    assert any("<script>alert(1)</script>" in (s.description or "") for s in world.stacks)
    assert any("<b>" in (s.description or "") for s in world.stacks)
    messages = [s.tracked_commit.message for s in world.stacks if s.tracked_commit]
    assert any("<img src=x onerror=alert(1)>" in message for message in messages)


def test_the_world_has_locked_disabled_drifted_and_public_pool_stacks() -> None:
    stacks = World(clock=FakeClock()).stacks
    assert any(s.locked_by and s.locked_at for s in stacks)
    assert any(s.is_disabled for s in stacks)
    assert any(s.is_drifted for s in stacks)
    assert any(s.worker_pool is None for s in stacks)
    assert any(s.worker_pool is not None for s in stacks)
    assert len({s.space for s in stacks}) == 3
    assert any(label.startswith("folder:") for s in stacks for label in s.labels)


def test_a_ten_thousand_stack_world_has_unique_slugs_and_finds_a_runs_stack() -> None:
    world = World(stack_count=10_000, clock=FakeClock())  # how fast: make bench, not a test

    ids = [stack.id for stack in world.stacks]
    assert len(set(ids)) == 10_000
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", stack_id) for stack_id in ids)
    last = world.stacks[-1]
    assert world.stack_of_run(world.runs_page(last, "TRACKED", None)[-1].id) is last


# -- tokens -------------------------------------------------------------------------------


def test_it_exchanges_a_known_key_for_a_token(sim: SimulatorHandle) -> None:
    response = post(sim, EXCHANGE, {"id": sim.key_id, "secret": sim.key_secret})

    user = response.json()["data"]["apiKeyUser"]
    assert user["id"] == sim.key_id
    assert user["jwt"].count(".") == 2
    assert abs(user["validUntil"] - (time.time() + 3600)) < 5
    assert sim.key_id == DEFAULT_KEY_ID
    assert sim.key_secret == DEFAULT_KEY_SECRET
    assert ULID.match(DEFAULT_KEY_ID)


def test_it_answers_null_for_an_unknown_key_id(sim: SimulatorHandle) -> None:
    body = post(sim, EXCHANGE, {"id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "secret": "x"}).json()

    assert body == {"data": {"apiKeyUser": None}}


def test_it_rejects_a_wrong_secret_with_a_graphql_error(sim: SimulatorHandle) -> None:
    body = post(sim, EXCHANGE, {"id": sim.key_id, "secret": "wrong"}).json()

    assert body["data"] == {"apiKeyUser": None}
    assert "unauthorized" in body["errors"][0]["message"]


@pytest.mark.parametrize("token", [None, "garbage", "a.b.c"])
def test_it_requires_a_token_it_issued(sim: SimulatorHandle, token: str | None) -> None:
    response = post(sim, "{ viewer { id name } }", token=token)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert "unauthorized" in body["errors"][0]["message"]


def test_it_rejects_an_expired_token_and_tokens_of_another_server(sim: SimulatorHandle) -> None:
    clock = FakeClock()
    with start_simulator(port=0, stacks=20, token_lifetime=60, clock=clock) as other:
        response = post(other, EXCHANGE, {"id": other.key_id, "secret": other.key_secret})
        user = response.json()["data"]["apiKeyUser"]
        assert user["validUntil"] == int(clock.now) + 60
        assert post(other, "{ viewer { id } }", token=user["jwt"]).json()["data"]["viewer"]

        clock.now += 61
        expired = post(other, "{ viewer { id } }", token=user["jwt"]).json()
        assert "unauthorized" in expired["errors"][0]["message"]

        foreign = post(other, "{ viewer { id } }", token=exchange(sim)).json()
        assert "unauthorized" in foreign["errors"][0]["message"]


def test_viewer_names_the_api_key(sim: SimulatorHandle) -> None:
    assert query(sim, "{ viewer { id name } }")["viewer"]["id"] == f"api::{sim.key_id}"


# -- reading ------------------------------------------------------------------------------

RUNS = "query($id: ID!, $before: ID) { stack(id: $id) { runs(before: $before) { id state } } }"


def test_runs_page_newest_first_ten_at_a_time_until_an_empty_page(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    pages: list[list[str]] = []
    before = None
    while True:
        body = post(sim, RUNS, {"id": "payments-prod", "before": before}, token=token).json()
        page = [run["id"] for run in body["data"]["stack"]["runs"]]
        if not page:
            break
        pages.append(page)
        before = page[-1]

    assert [len(page) for page in pages[:-1]] == [RUNS_PAGE_SIZE] * (len(pages) - 1)
    assert len(pages) >= 4
    ids = [run_id for page in pages for run_id in page]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)


def test_a_run_and_its_stack_can_be_read_by_id(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    runs = post(sim, RUNS, {"id": "payments-prod", "before": None}, token=token).json()
    old_run = runs["data"]["stack"]["runs"][-1]["id"]

    owner = post(
        sim, "query($r: ID!) { runStack(runId: $r) { id } }", {"r": old_run}, token=token
    ).json()
    assert owner["data"]["runStack"]["id"] == "payments-prod"
    body = post(
        sim,
        f"query($s: ID!, $r: ID!) {{ stack(id: $s) {{ run(id: $r) {{ {RUN_FIELDS} }} }} }}",
        {"s": "payments-prod", "r": old_run},
        token=token,
    ).json()
    run = body["data"]["stack"]["run"]
    assert run["id"] == old_run
    history = run["history"]
    assert history[0]["state"] == run["state"]  # newest first, as spacectl expects
    assert history[-1]["state"] == "QUEUED"
    assert [h["stateVersion"] for h in history] == list(range(len(history), 0, -1))
    assert history[0]["terminal"] == (run["state"] in TERMINAL_RUN_STATES)


def test_unknown_stacks_and_runs_are_null_not_errors(sim: SimulatorHandle) -> None:
    data = query(
        sim,
        """{ stack(id: "no-such-stack") { id } runStack(runId: "01HZZZZZZZZZZZZZZZZZZZZZZZ") { id }
             space(id: "nope") { id } }""",
    )
    assert data == {"stack": None, "runStack": None, "space": None}


SEARCH = """
query($input: SearchInput!) {
  searchStacks(input: $input) {
    edges { cursor node { id state labels lockedBy } }
    pageInfo { endCursor hasNextPage hasPreviousPage }
  }
}
"""


def test_search_stacks_pages_with_first_and_after(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    seen: list[str] = []
    after = None
    pages = []
    while True:
        body = post(sim, SEARCH, {"input": {"first": 20, "after": after}}, token=token).json()
        result = body["data"]["searchStacks"]
        pages.append(result)
        seen.extend(edge["node"]["id"] for edge in result["edges"])
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]

    assert [len(page["edges"]) for page in pages] == [20, 20, 8]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert pages[0]["pageInfo"]["endCursor"] == pages[0]["edges"][-1]["cursor"]
    assert sorted(seen) == sorted(stack.id for stack in sim.world.stacks)


def test_search_stacks_refuses_pages_over_fifty_and_filters(sim: SimulatorHandle) -> None:
    token = exchange(sim)

    def search(**search_input: Any) -> list[dict[str, Any]]:
        body = post(sim, SEARCH, {"input": search_input}, token=token).json()
        assert "errors" not in body, body
        return [edge["node"] for edge in body["data"]["searchStacks"]["edges"]]

    too_many = post(sim, SEARCH, {"input": {"first": 500}}, token=token).json()
    assert too_many["errors"][0]["message"] == "first: must be at most 50, got 500"
    assert len(search(first=50)) == 48
    failed = search(predicates=[{"field": "state", "constraint": {"enumEquals": ["FAILED"]}}])
    assert failed
    assert {node["state"] for node in failed} == {"FAILED"}
    locked = search(predicates=[{"field": "locked", "constraint": {"booleanEquals": [True]}}])
    assert locked
    assert all(node["lockedBy"] for node in locked)
    not_prod = search(
        predicates=[
            {"field": "label", "exclude": True, "constraint": {"stringMatches": ["env:prod"]}}
        ]
    )
    assert not_prod
    assert all("env:prod" not in node["labels"] for node in not_prod)
    by_name = search(orderBy=[{"field": "name", "direction": "DESC"}], first=3)
    assert len(by_name) == 3
    body = post(
        sim, SEARCH, {"input": {"predicates": [{"field": "x", "constraint": {}}]}}, token=token
    ).json()
    assert "unknown predicate field" in body["errors"][0]["message"]


def test_benchs_fast_path_answers_exactly_like_graphql_core() -> None:
    world = World(clock=FakeClock())
    simulator = Simulator(world)
    prepared = prepare(
        f"""query Plain {{ stacks {{ ...S alias: id __typename }} spaces {{ id name }} }}
        fragment S on Stack {{ {STACK_FIELDS} }}"""
    )
    assert prepared.document is not None and not prepared.errors
    operation = get_operation_ast(prepared.document)
    assert operation is not None
    assert fast_path_applies(prepared.document, operation)
    context = RequestContext(simulator, world, "api::test")

    fast = execute_plain(simulator.schema, prepared.document, operation, context)
    slow = execute(simulator.schema, prepared.document, context_value=context)

    assert slow.errors is None and fast is not None
    assert fast == slow.data
    assert [list(s) for s in fast["stacks"]] == [list(s) for s in slow.data["stacks"]]


# -- time and actions ---------------------------------------------------------------------


def test_step_moves_an_active_stack_to_a_new_state() -> None:
    world = World(clock=FakeClock())
    before = {stack_id: world.get_stack(stack_id).state for stack_id in world.active_stack_ids}

    world.step()

    after = {stack_id: world.get_stack(stack_id).state for stack_id in world.active_stack_ids}
    assert len(before) == 6
    assert before != after


def test_the_demo_moves_a_third_of_its_stacks_and_says_which() -> None:
    """`make run` passes --active-stacks 16: those 16 stacks' runs move, the others keep still."""
    args = parse_args(["--active-stacks", "16"])
    world = World(clock=FakeClock(), active_stacks=args.active_stacks)
    still = {s.id: s.state for s in world.stacks if s.id not in world.active_stack_ids}
    moving = {stack_id: world.get_stack(stack_id).state for stack_id in world.active_stack_ids}

    for _ in range(3):
        world.step()

    assert len(moving) == 16
    after = {stack_id: world.get_stack(stack_id).state for stack_id in world.active_stack_ids}
    assert sum(after[stack_id] != state for stack_id, state in moving.items()) >= 12
    assert {s.id: s.state for s in world.stacks if s.id in still} == still
    assert _moving(world).startswith("16 stacks step every 7 s and get new pushes: ")


def test_time_moves_runs_lazily_with_the_clock() -> None:
    clock = FakeClock()
    world = World(clock=clock, step_seconds=7)
    assert world.advance() == 0

    clock.now += 7 * 40
    assert world.advance() == 40

    active = [world.get_stack(stack_id) for stack_id in world.active_stack_ids]
    new_runs = [run for s in active for run in s.tracked if run.created_at > world.anchor]
    assert new_runs  # finished runs were followed by new pushes
    assert all(run.triggered_by == "" for run in new_runs)
    finished = [run for s in active for run in s.tracked[:3] if run.finished]
    assert any(run.state in ("FINISHED", "FAILED", "DISCARDED") for run in finished)
    for stack in active:
        stack_state = next((r.state for r in stack.tracked if r.state in STACK_STATES), "NONE")
        assert stack.state == stack_state


def test_sim_step_endpoint_forces_a_transition(sim: SimulatorHandle) -> None:
    before = requests.get(f"{sim.url}/_sim/world", timeout=5).json()["active_stacks"]
    after = requests.post(f"{sim.url}/_sim/step", timeout=5).json()["active_stacks"]

    assert before != after


TRIGGER = "mutation($s: ID!) { runTrigger(stack: $s) { id state type triggeredBy } }"
CONFIRM = """mutation($s: ID!, $r: ID, $n: String) {
  runConfirm(stack: $s, run: $r, note: $n) { id state history { state username note } } }"""


def test_triggered_runs_queue_plan_and_wait_for_confirmation() -> None:
    clock = FakeClock()
    with start_simulator(port=0, clock=clock) as handle:
        token = exchange(handle)
        stack = next(
            s
            for s in handle.world.stacks
            if s.state == "FINISHED"
            and s.can_write
            and not s.autodeploy
            and not s.locked_by
            and not s.is_disabled
            and s.id not in handle.world.active_stack_ids
        )
        run = post(handle, TRIGGER, {"s": stack.id}, token=token).json()["data"]["runTrigger"]
        assert run["state"] == "QUEUED"
        assert run["type"] == "TRACKED"
        assert run["triggeredBy"] == f"api::{handle.key_id}"

        for _ in range(12):
            handle.step()
            if stack.tracked[0].state in ("UNCONFIRMED", "FAILED", "FINISHED"):
                break
        state = stack.tracked[0].state
        assert state in ("UNCONFIRMED", "FAILED", "FINISHED")
        assert stack.state == state
        if state == "UNCONFIRMED":
            body = post(handle, CONFIRM, {"s": stack.id, "n": "ship it"}, token=token).json()
            confirmed = body["data"]["runConfirm"]
            assert confirmed["state"] == "CONFIRMED"
            assert confirmed["history"][0] == {
                "state": "CONFIRMED",
                "username": f"api::{handle.key_id}",
                "note": "ship it",
            }
            handle.step()
            assert stack.state == "PREPARING_APPLY"


def test_confirm_discard_and_what_refuses_a_trigger(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    world = sim.world
    waiting = next(
        s
        for s in world.stacks
        if s.state == "UNCONFIRMED" and s.can_write and s.id not in world.active_stack_ids
    )
    discard = """mutation($s: ID!) { runDiscard(stack: $s, note: "not now") { id state } }"""
    assert post(sim, discard, {"s": waiting.id}, token=token).json()["data"]["runDiscard"][
        "state"
    ] == ("DISCARDED")
    assert waiting.state == "DISCARDED"
    again = post(sim, CONFIRM, {"s": waiting.id}, token=token).json()
    assert "no run awaiting confirmation" in again["errors"][0]["message"]

    others = next(s for s in world.stacks if s.locked_by and s.can_write)
    refused = post(sim, TRIGGER, {"s": others.id}, token=token).json()
    assert "locked by" in refused["errors"][0]["message"]
    read_only = next(s for s in world.stacks if not s.can_write)
    forbidden = post(sim, TRIGGER, {"s": read_only.id}, token=token).json()
    assert "forbidden" in forbidden["errors"][0]["message"]


RETRY = (
    "mutation($s: ID!, $r: ID!) { runRetry(stack: $s, run: $r) { id state type commit { hash } } }"
)


def test_retry_takes_a_failed_run_only_and_starts_a_new_one_on_its_commit(
    sim: SimulatorHandle,
) -> None:
    token = exchange(sim)
    world = sim.world
    stack, failed = next(
        (s, r)
        for s in world.stacks
        if s.can_write and not s.is_disabled and not s.locked_by
        for r in (s.ensure_history() or s.tracked)
        if r.state == "FAILED"
    )
    runs_before = len(stack.tracked)
    body = post(sim, RETRY, {"s": stack.id, "r": failed.id}, token=token).json()
    retried = body["data"]["runRetry"]
    assert retried["id"] != failed.id and retried["state"] == "QUEUED"
    assert retried["type"] == "TRACKED" and retried["commit"]["hash"] == failed.commit.hash
    assert len(stack.tracked) == runs_before + 1 and stack.tracked[0].id == retried["id"]
    assert failed.state == "FAILED", "the failed run itself is left as it was"
    finished = next(
        r
        for s in world.stacks
        if s.can_write
        for r in (s.ensure_history() or s.tracked)
        if r.state == "FINISHED"
    )
    refused = post(sim, RETRY, {"s": finished.stack.id, "r": finished.id}, token=token).json()
    assert "only a failed run can be retried" in refused["errors"][0]["message"]
    read_only = next(s for s in world.stacks if not s.can_write)
    some_run = read_only.ensure_history() or read_only.tracked
    forbidden = post(sim, RETRY, {"s": read_only.id, "r": some_run[0].id}, token=token).json()
    assert "forbidden" in forbidden["errors"][0]["message"]


# -- faults -------------------------------------------------------------------------------


def test_http500_fault_answers_an_html_500(sim: SimulatorHandle) -> None:
    sim.set_faults(mode="http500")
    response = post(sim, EXCHANGE, {"id": sim.key_id, "secret": sim.key_secret})

    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text


def test_not_json_fault_answers_a_proxy_page_with_200(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    sim.set_faults(mode="not_json")
    response = post(sim, "{ stacks { id } }", token=token)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


def test_rate_limit_fault_answers_429_with_retry_after(sim: SimulatorHandle) -> None:
    sim.set_faults(mode="rate_limit")
    response = post(sim, "{ stacks { id } }")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_graphql_error_fault_answers_a_generic_error(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    sim.set_faults(mode="graphql_error")
    response = post(sim, "{ stacks { id } }", token=token)

    assert response.status_code == 200
    assert response.json() == {"errors": [{"message": "internal error"}], "data": None}


def test_unauthorized_fault_fails_every_query_but_not_the_exchange(sim: SimulatorHandle) -> None:
    sim.set_faults(mode="unauthorized")
    token = exchange(sim)

    for _ in range(2):
        body = post(sim, "{ viewer { id } }", token=token).json()
        assert body["data"] is None
        assert "unauthorized" in body["errors"][0]["message"]


def test_unauthorized_once_fails_exactly_one_request(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    sim.set_faults(unauthorized_once=True)

    first = post(sim, "{ viewer { id } }", token=token).json()
    token = exchange(sim)  # what a client does: re-exchange once, retry once
    second = post(sim, "{ viewer { id } }", token=token).json()

    assert "unauthorized" in first["errors"][0]["message"]
    assert "errors" not in second
    assert sim.faults()["unauthorized_once"] is False


def test_hang_fault_holds_the_request_until_the_client_gives_up(sim: SimulatorHandle) -> None:
    sim.set_faults(mode="hang")
    with pytest.raises(requests.Timeout):
        post(sim, "{ stacks { id } }", timeout=0.5)

    sim.clear_faults()
    assert post(sim, EXCHANGE, {"id": sim.key_id, "secret": sim.key_secret}).ok


def test_hang_gives_up_after_hang_seconds(sim: SimulatorHandle) -> None:
    sim.set_faults(mode="hang", hang_seconds=0.3)
    response = post(sim, "{ stacks { id } }", timeout=5)

    assert response.status_code == 504


def test_latency_fault_delays_every_answer(sim: SimulatorHandle) -> None:
    sim.set_faults(latency=0.3)
    started = time.monotonic()
    post(sim, EXCHANGE, {"id": sim.key_id, "secret": sim.key_secret})

    assert time.monotonic() - started >= 0.3


def test_faults_are_switched_over_http_and_spare_the_control_endpoints(
    sim: SimulatorHandle,
) -> None:
    faults_url = f"{sim.url}/_sim/faults"
    changed = requests.post(faults_url, json={"mode": "http500", "latency": 0.1}, timeout=5)
    assert changed.json() == {
        "latency": 0.1,
        "mode": "http500",
        "unauthorized_once": False,
        "hang_seconds": 60.0,
        "registry_no_access": False,
        "lean": False,
        "no_introspection": False,
        "unaccepted_empty": False,
        "accept_no_tokens": False,
        "no_worker_pools": False,
        "no_search": False,
        "gateway_401_once": False,
        "read_only_key": False,
        "logs_expired": False,
        "fail_search_page": 0,
    }
    assert requests.get(faults_url, timeout=5).json()["mode"] == "http500"
    assert requests.get(f"{sim.url}/_sim/stats", timeout=5).status_code == 200
    assert post(sim, "{ stacks { id } }").status_code == 500

    assert requests.post(faults_url, json={"mode": "bogus"}, timeout=5).status_code == 400
    assert requests.post(faults_url, json={"fail_search_page": -1}, timeout=5).status_code == 400
    assert requests.post(faults_url, json={"mode": None}, timeout=5).json()["mode"] is None
    assert requests.delete(faults_url, timeout=5).json()["latency"] == 0.0


# -- counters, logs, world size -----------------------------------------------------------


def test_it_counts_token_exchanges_and_queries(sim: SimulatorHandle) -> None:
    requests.post(f"{sim.url}/_sim/reset-stats", timeout=5)
    token = exchange(sim)
    for _ in range(3):
        post(sim, "query Stacks { stacks { id } }", token=token)
    post(sim, "query Spaces { spaces { id } }", token=token)

    stats = requests.get(f"{sim.url}/_sim/stats", timeout=5).json()
    assert stats["requests"] == 5
    assert stats["token_exchanges"] == 1
    assert stats["queries"] == 4
    assert stats["by_field"] == {"apiKeyUser": 1, "stacks": 3, "spaces": 1}
    assert stats["by_operation"] == {"ApiKeyUser": 1, "Stacks": 3, "Spaces": 1}

    reset = requests.post(f"{sim.url}/_sim/reset-stats", timeout=5).json()
    assert reset["requests"] == reset["queries"] == reset["token_exchanges"] == 0


def test_the_log_never_holds_the_secret_variables_or_token(
    sim: SimulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="simulator"):
        token = exchange(sim)
        post(sim, RUNS, {"id": "payments-prod"}, token=token)
        deadline = time.monotonic() + 2
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /graphql apiKeyUser 200" in text
    assert "POST /graphql stack 200" in text
    for leak in (sim.key_secret, token, "payments-prod", "Bearer"):
        assert leak not in text


def test_reset_puts_back_the_world_key_faults_and_counters_it_started_with() -> None:
    clock = FakeClock()
    with start_simulator(port=0, stacks=20, seed=5, clock=clock, latency=0.25) as handle:
        first_token = exchange(handle)
        stack = next(s for s in handle.world.stacks if s.state == "UNCONFIRMED" and s.can_write)
        post(handle, CONFIRM, {"s": stack.id}, token=first_token)
        handle.step()
        logbook(handle.world).script(stack.tracked[0].id, "PLANNING", ["scripted"])
        handle.rebuild_world(3, seed=1)
        handle.set_faults(mode="http500", unauthorized_once=True)
        handle.set_credentials(key_secret="another-secret", revoke_tokens=True)
        clock.now += 600  # ten minutes later (the first token is good for an hour)

        handle.reset()

        assert everything_in(handle.world) == everything_in(World(20, 5, clock=clock))
        assert "logbook" not in vars(handle.world)  # scripted logs went with the old world
        assert handle.faults() == Faults(latency=0.25).as_dict()
        assert handle.key_secret == DEFAULT_KEY_SECRET
        assert handle.stats()["requests"] == 0
        handle.set_faults(latency=0)
        body = post(handle, "{ viewer { id } }", token=first_token).json()
        assert body["data"]["viewer"]["id"] == f"api::{handle.key_id}"  # its tokens are good


def test_the_world_can_be_rebuilt_at_another_size(sim: SimulatorHandle) -> None:
    world_url = f"{sim.url}/_sim/world"
    try:
        assert requests.post(world_url, json={"stacks": 100}, timeout=10).json()["stacks"] == 100
        assert len(query(sim, "{ stacks { id } }")["stacks"]) == 100
        assert requests.post(world_url, json={"stacks": "x"}, timeout=5).status_code == 400
    finally:
        sim.rebuild_world(48)


# -- the module registry ------------------------------------------------------------------


def registry_get(handle: SimulatorHandle, path: str, token: str | None = None, **kwargs) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        f"{handle.url}/registry/modules/v1/{path}", headers=headers, timeout=5, **kwargs
    )


def test_the_registry_lists_a_modules_versions_in_the_terraform_registry_format(
    sim: SimulatorHandle,
) -> None:
    module = sim.world.modules[0]
    path = f"simulated/{module.name}/{module.terraform_provider}/versions"
    response = registry_get(sim, path, token=exchange(sim))

    assert response.status_code == 200
    assert response.json() == {
        "modules": [
            {
                "source": f"simulated/{module.name}/{module.terraform_provider}",
                "versions": [{"version": version} for version in module.versions],
            }
        ]
    }
    assert len(module.versions) >= 3
    assert sim.stats()["registry"] == 1


@pytest.mark.parametrize("token", [None, "not-a-jwt", "a.b.c"])
def test_the_registry_requires_a_token_it_issued(sim: SimulatorHandle, token: str | None) -> None:
    response = registry_get(sim, "simulated/vpc/aws/versions", token=token)

    assert response.status_code == 401
    assert "unauthorized" in response.json()["errors"][0]


def test_without_access_the_registry_answers_an_empty_list_not_a_401(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    requests.post(f"{sim.url}/_sim/faults", json={"registry_no_access": True}, timeout=5)

    response = registry_get(sim, "simulated/vpc/aws/versions", token=token)

    assert response.status_code == 200
    assert response.json() == {"modules": [{"source": "simulated/vpc/aws", "versions": []}]}
    assert sim.faults()["registry_no_access"] is True
    bad = requests.post(f"{sim.url}/_sim/faults", json={"registry_no_access": "yes"}, timeout=5)
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "simulated/no-such-module/aws/versions",
        "simulated/vpc/google/versions",
        "another-org/vpc/aws/versions",
        "simulated/vpc/aws",
        "simulated/vpc/aws/versions/extra",
    ],
)
def test_the_registry_answers_404_for_unknown_modules_and_paths(
    sim: SimulatorHandle, path: str
) -> None:
    response = registry_get(sim, path, token=exchange(sim))

    assert response.status_code == 404
    assert response.json() == {"errors": ["Not Found"]}


def test_transport_faults_apply_to_the_registry_too(sim: SimulatorHandle) -> None:
    token = exchange(sim)
    sim.set_faults(mode="http500")
    assert registry_get(sim, "simulated/vpc/aws/versions", token=token).status_code == 500
    sim.set_faults(mode="rate_limit")
    assert registry_get(sim, "simulated/vpc/aws/versions", token=token).status_code == 429
    sim.set_faults(mode="unauthorized")
    assert registry_get(sim, "simulated/vpc/aws/versions", token=token).status_code == 401
    sim.set_faults(mode="graphql_error")  # a GraphQL error has no meaning here
    assert registry_get(sim, "simulated/vpc/aws/versions", token=token).status_code == 200


def test_the_portals_deep_links_open_a_page_that_says_this_is_the_simulator(sim):
    """The demo's "Open in Spacelift" links land on a page, not on a JSON 404."""
    world = sim.world
    stack, run = next((s, r) for s in world.stacks for r in world.runs_page(s, "TRACKED", None))
    space, module = world.spaces[0], world.modules[0]
    pages = {
        f"/stack/{stack.id}": f"Stack {stack.name}",
        f"/stack/{stack.id}/run/{run.id}": f"Run {run.id} of {stack.name}",
        f"/spaces/{space.id}": f"Space {space.name}",
        f"/module/{module.id}": f"Module {module.name}",
    }
    for path, heading in pages.items():
        response = requests.get(sim.url + path, timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "This is the Spacelift simulator" in response.text
        assert f"<h1>{html.escape(heading)}</h1>" in response.text
    missing = requests.get(f"{sim.url}/stack/no-such-stack", timeout=5)
    assert missing.status_code == 404 and "Not in the simulated account" in missing.text
    assert requests.get(f"{sim.url}/elsewhere", timeout=5).json() == {"error": "not found"}
