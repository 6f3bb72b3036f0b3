"""The Spacelift client against the simulator, over real HTTP."""

from __future__ import annotations

import time

import pytest

from dashboard.spacelift import errors
from dashboard.spacelift.account import Connection
from dashboard.spacelift.client import SpaceliftClient
from dashboard.spacelift.types import Health, StackState
from simulator.world import RUNS_PAGE_SIZE


def test_it_lists_every_stack_with_typed_fields(sim, make_client):
    stacks = make_client(sim).list_stacks()
    assert len(stacks) == 48
    states = {s.state for s in stacks}
    assert StackState.UNKNOWN not in states
    assert len(states) >= 16
    stack = next(s for s in stacks if s.tracked_commit)
    assert len(stack.tracked_commit.hash) == 40
    assert stack.space_name and stack.branch


def test_it_exchanges_the_key_once_and_reuses_the_token(sim, make_client):
    first = make_client(sim)
    first.list_stacks()
    first.list_spaces()
    # A second client (another request, another thread) shares the cached token.
    make_client(sim).list_stacks()
    stats = sim.stats()
    assert stats["token_exchanges"] == 1
    assert stats["queries"] >= 3


def test_it_refreshes_the_token_30_seconds_before_it_expires(sim, make_client):
    now = [time.time()]
    client = make_client(sim, clock=lambda: now[0])
    client.list_stacks()
    token = client.token()
    assert sim.stats()["token_exchanges"] == 1
    now[0] = token.valid_until - 31
    client.list_stacks()
    assert sim.stats()["token_exchanges"] == 1
    client.forget_token()  # the cached entry's own timeout would also have passed by now
    now[0] = token.valid_until - 29
    client.list_stacks()
    assert sim.stats()["token_exchanges"] == 2


def test_it_exchanges_again_and_retries_once_on_unauthorized(sim, make_client):
    client = make_client(sim)
    client.list_stacks()
    sim.set_faults(unauthorized_once=True)
    assert len(client.list_stacks()) == 48
    assert sim.stats()["token_exchanges"] == 2


def test_it_gives_up_after_one_retry_when_always_unauthorized(sim, make_client):
    client = make_client(sim)
    client.list_stacks()
    sim.set_faults(mode="unauthorized")
    before = sim.stats()
    with pytest.raises(errors.Unauthorized):
        client.list_stacks()
    after = sim.stats()
    assert after["token_exchanges"] - before["token_exchanges"] == 1
    # The read, its retry with a fresh token, and `viewer` (null: a dead token, not a role).
    assert after["queries"] - before["queries"] == 3


def test_an_unknown_key_id_is_reported_as_such(sim, make_client):
    client = make_client(sim, key_id="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(errors.UnknownKeyID, match="key ID may be incorrect"):
        client.list_stacks()


def test_a_wrong_secret_is_reported_as_rejected_and_never_echoed(sim, make_client):
    client = make_client(sim, secret="wrong-secret-value-123")
    with pytest.raises(errors.RejectedSecret) as caught:
        client.list_stacks()
    assert "wrong-secret-value-123" not in str(caught.value)


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("http500", errors.HTTPStatusError),
        ("not_json", errors.NotJSON),
        ("graphql_error", errors.GraphQLError),
        ("rate_limit", errors.RateLimited),
    ],
)
def test_each_fault_maps_to_its_error_type(sim, mode, error, make_client):
    client = make_client(sim)
    client.token()
    sim.set_faults(mode=mode)
    with pytest.raises(error):
        client.list_stacks()


def test_http_500_carries_its_status(sim, make_client):
    client = make_client(sim)
    client.token()
    sim.set_faults(mode="http500")
    with pytest.raises(errors.HTTPStatusError) as caught:
        client.list_stacks()
    assert caught.value.status == 500


def test_429_carries_retry_after(sim, make_client):
    client = make_client(sim)
    client.token()
    sim.set_faults(mode="rate_limit")
    with pytest.raises(errors.RateLimited) as caught:
        client.list_stacks()
    assert caught.value.retry_after == 7


def test_a_hung_spacelift_is_a_timeout_within_the_read_timeout(sim, make_client):
    client = make_client(sim, read_timeout=0.5)
    client.token()
    sim.set_faults(mode="hang")  # answers only after DEFAULT_HANG_SECONDS, with an error
    with pytest.raises(errors.Timeout):
        client.list_stacks()


def test_an_unreachable_host_is_reported_as_unreachable(closed_port):
    connection = Connection(f"http://127.0.0.1:{closed_port}", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "s")
    client = SpaceliftClient(connection, connect_timeout=1.0, read_timeout=1.0)
    with pytest.raises(errors.Unreachable):
        client.list_stacks()


def test_a_stack_reads_with_its_configuration(sim, make_client):
    client = make_client(sim)
    stack_id = make_client(sim).list_stacks()[0].id
    stack = client.get_stack(stack_id)
    assert stack.id == stack_id
    assert stack.tool


def test_an_unknown_stack_is_none_not_an_error(sim, make_client):
    assert make_client(sim).get_stack("no-such-stack") is None
    assert make_client(sim).list_runs("no-such-stack") is None


def test_runs_page_through_before_newest_first(sim, make_client):
    client = make_client(sim)
    world = sim.world
    stack = next(
        s
        for s in world.stacks
        if s.id not in world.active_stack_ids and len(s.runs_of_type("TRACKED")) > RUNS_PAGE_SIZE
    )
    first = client.list_runs(stack.id)
    assert len(first) == RUNS_PAGE_SIZE
    created = [r.created_at for r in first]
    assert created == sorted(created, reverse=True)
    second = client.list_runs(stack.id, before=first[-1].id)
    assert second, "the stack has more runs than one page"
    assert not {r.id for r in first} & {r.id for r in second}
    assert second[0].created_at <= first[-1].created_at


def test_a_single_run_reads_with_its_history(sim, make_client):
    client = make_client(sim)
    stack = next(s for s in client.list_stacks() if s.health is Health.HEALTHY)
    run_id = client.list_runs(stack.id)[0].id
    run = client.get_run(stack.id, run_id)
    assert run.id == run_id
    assert run.history
