"""A gateway's 401 and a role without the permission (issue 21, items 3 and 4), over HTTP."""

from __future__ import annotations

import pytest

from dashboard.spacelift import errors


def test_one_gateway_401_costs_one_new_token_and_the_read_stays_fresh(sim, make_service):
    svc = make_service(sim, ttl=10)
    svc.client.token()
    sim.set_faults(gateway_401_once=True)
    listed = svc.stacks()
    assert listed.ok and len(listed.data) == 48
    stats = sim.stats()
    assert stats["token_exchanges"] == 2 and stats["faults"] == 1


def test_a_key_that_may_read_but_not_act_is_told_so_with_at_most_one_exchange(sim, make_client):
    client = make_client(sim)
    stack = client.list_stacks()[0]
    sim.set_faults(read_only_key=True)
    for _ in range(2):
        with pytest.raises(errors.PermissionDenied) as refused:
            client.trigger_run(stack.id)
    assert "lacks the permission for this action or this stack" in refused.value.message
    assert "signed in" in refused.value.hint and "stack's own role" in refused.value.hint
    assert sim.stats()["token_exchanges"] == 2  # the first sign-in, and one fresh exchange
    assert len(client.list_stacks()) == 48  # reading still works


def test_a_dead_token_is_still_unauthorized_after_one_exchange(sim, make_client):
    client = make_client(sim)
    client.token()
    sim.set_faults(mode="unauthorized")
    with pytest.raises(errors.Unauthorized):
        client.get_stack("payments-prod")
    assert sim.stats()["token_exchanges"] == 2
