"""The simulator's run logs and plan changes, over real HTTP, read the way spacectl does."""

from __future__ import annotations

import requests

from simulator.logs import LOG_PAGE_SIZE, logbook, phase_lines
from simulator.server import start_simulator

LOGS = """query RunLogs($stack: ID!, $run: ID!, $state: RunState!, $token: String,
  $stateVersion: Int) {
  stack(id: $stack) { run(id: $run) {
    logs(state: $state, token: $token, stateVersion: $stateVersion) {
      exists finished hasMore nextToken messages { message } } } } }"""
CHANGES = """query RunChanges($stack: ID!, $run: ID!) { stack(id: $stack) { run(id: $run) {
  changesV3(input: {}) { resources { address previousAddress metadata { type } } } } } }"""


def post(sim, query, variables):
    jwt = requests.post(sim.graphql_url, json={
        "query": "mutation($id: ID!, $s: String!) { apiKeyUser(id: $id, secret: $s) { jwt } }",
        "variables": {"id": sim.key_id, "s": sim.key_secret},
    }, timeout=5).json()["data"]["apiKeyUser"]["jwt"]  # fmt: skip
    answer = requests.post(
        sim.graphql_url, json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {jwt}"}, timeout=5,
    ).json()  # fmt: skip
    return answer


def read_phase(sim, stack, run, transition):
    """spacectl's loop: follow nextToken until finished, or no more for a terminal state."""
    token, lines, pages = None, [], 0
    while True:
        variables = {"stack": stack.id, "run": run.id, "state": transition.state,
                     "token": token, "stateVersion": transition.state_version}  # fmt: skip
        logs = post(sim, LOGS, variables)
        logs = logs["data"]["stack"]["run"]["logs"]
        pages += 1
        lines += [m["message"] for m in logs["messages"]]
        token = logs["nextToken"]
        if logs["finished"] or not logs["hasMore"]:
            return lines, logs, pages


def failed_run(sim):
    for stack in sim.world.stacks:
        if stack.id not in sim.world.active_stack_ids and stack.state == "FAILED":
            stack.ensure_history()
            run = next(r for r in stack.tracked if r.state != "QUEUED")
            if run.state == "FAILED":
                return stack, run
    raise AssertionError


def test_a_failed_phase_reads_in_pages_and_ends_with_its_error(sim):
    book = logbook(sim.world)
    candidates = []
    for stack in sim.world.stacks:
        stack.ensure_history()
        for run in stack.tracked:
            if run.state == "FAILED":
                transition = [t for t in run.transitions if t.has_logs][-1]
                size = len(phase_lines(book, run, transition.state, transition.state_version)[0])
                candidates.append((size, stack.id, run, transition))
    _, stack_id, run, transition = max(candidates, key=lambda c: c[0])
    stack = sim.world.get_stack(stack_id)
    lines, last, pages = read_phase(sim, stack, run, transition)
    assert last["exists"] and last["finished"] and not last["hasMore"]
    assert pages == -(-len(lines) // LOG_PAGE_SIZE) > 1
    assert all(line.endswith("\n") for line in lines)
    assert any("\x1b[" in line for line in lines)
    assert any(word in "".join(lines[-8:]) for word in ("Error:", "error:", "denied", "timed out",
                                                         "exit code"))  # fmt: skip


def test_a_state_without_logs_does_not_exist(sim):
    stack, run = failed_run(sim)
    queued = run.transitions[0]
    _, last, _ = read_phase(sim, stack, run, queued)
    assert last["exists"] is False and last["messages"] == []


def test_a_bad_token_is_an_error(sim):
    stack, run = failed_run(sim)
    transition = [t for t in run.transitions if t.has_logs][-1]
    variables = {"stack": stack.id, "run": run.id, "state": transition.state,
                 "token": "garbage", "stateVersion": transition.state_version}  # fmt: skip
    answer = post(sim, LOGS, variables)
    assert "invalid logs token" in answer["errors"][0]["message"]


def test_a_running_phase_grows_with_each_step_and_never_says_finished():
    handle = start_simulator(port=0, stacks=48, seed=7, clock=lambda: 1_790_000_000.0)
    try:
        world = handle.world
        stack, run = next(
            (s, r) for s in world.stacks if s.id not in world.active_stack_ids
            for r in s.tracked[:2] if not r.finished and r.state in ("PLANNING", "APPLYING")
        )  # fmt: skip
        current = run.transitions[-1]
        first, last, _ = read_phase(handle, stack, run, current)
        assert not last["finished"] and not last["hasMore"]
        handle.step()
        grown, _ = phase_lines(logbook(world), run, current.state, current.state_version)
        assert len(grown) > len(first) and grown[: len(first)] == first
    finally:
        handle.stop()


def test_changes_match_the_plans_delta(sim):
    stack, run = next(
        (s, r) for s in sim.world.stacks if s.id not in sim.world.active_stack_ids
        for r in s.tracked if r.state == "UNCONFIRMED" and r.delta
    )  # fmt: skip
    data = post(sim, CHANGES, {"stack": stack.id, "run": run.id})["data"]
    resources = data["stack"]["run"]["changesV3"][0]["resources"]
    kinds = [r["metadata"]["type"] for r in resources]
    replaced = kinds.count("REPLACED")
    assert kinds.count("ADDED") + kinds.count("IMPORTED") + replaced == run.delta.add_count
    assert kinds.count("CHANGED") + kinds.count("MOVED") == run.delta.change_count
    assert kinds.count("DELETED") + replaced == run.delta.delete_count
    assert all(r["previousAddress"] for r in resources if r["metadata"]["type"] == "MOVED")
    assert len({r["address"] for r in resources}) == len(resources)
