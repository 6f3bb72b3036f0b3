"""A stack's health read and changed over real HTTP: the client against the simulator (issue 22)."""

from __future__ import annotations

import pytest

from dashboard.spacelift import errors
from dashboard.spacelift.cached_reads import CachedReads

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_world(sim):
    """Locks change the simulated account: each test starts from the same one."""
    sim.rebuild_world(48, seed=7)


def test_it_reads_dependencies_drift_detection_and_resources(sim, make_client):
    client = make_client(sim)
    k8s = client.get_stack_health("k8s-cluster-prod")
    assert [s.id for s in k8s.depends_on] == ["network-core-prod"]
    assert [s.id for s in k8s.needed_by] == ["payments-prod"]
    payments = client.get_stack_health("payments-prod")
    assert payments.drift_detection.schedule == ("0 */6 * * *",)
    assert payments.drift_detection.next_check is not None
    assert client.get_stack_health("network-core-prod").drift_detection is None
    assert client.get_stack_health("no-such-stack") is None

    world_stack = sim.world.get_stack("payments-prod")
    resources = client.list_resources("payments-prod")
    assert len(resources) == world_stack.entity_count
    drifted = [r for r in resources if r.drifted_at]
    assert world_stack.is_drifted and 1 <= len(drifted) <= 3
    assert all(r.type and r.address and r.creator_run for r in resources)

    previews = client.list_proposed_runs("payments-prod")
    assert previews and all(r.type_raw == "PROPOSED" for r in previews)
    older = client.list_proposed_runs("payments-prod", previews[-1].id)
    assert not {r.id for r in older} & {r.id for r in previews}


def test_it_reads_a_busy_pool_and_says_when_the_key_may_not(sim, make_client):
    client = make_client(sim)
    pool = next(p for p in sim.world.worker_pools if p.name == "aws-private-us")
    load = client.worker_pool_load(pool.id, pool.name)
    assert (load.name, load.workers, load.drained, load.busy_workers) == (pool.name, 3, 1, 2)
    assert load.pending_runs == 2  # two READY stacks wait on it
    public = client.worker_pool_load("", "")
    assert public.public and public.workers == 2

    sim.set_faults(no_worker_pools=True)
    denied = client.worker_pool_load(pool.id, pool.name)
    assert (denied.readable, denied.name) == (False, pool.name)
    sim.set_faults(accept_no_tokens=True)  # a dead token is not a refused permission
    with pytest.raises(errors.SpaceliftError):
        client.worker_pool_load(pool.id, pool.name)


def test_it_locks_and_unlocks_and_the_simulator_keeps_others_locks(sim, make_client):
    client = make_client(sim)
    stack = next(s for s in sim.world.stacks if s.can_write and not s.locked_by)
    assert client.lock_stack(stack.id, "Migrating state") == stack.id
    assert (stack.locked_by, stack.lock_note) == (f"api::{sim.key_id}", "Migrating state")
    read = client.get_stack(stack.id)
    assert (read.locked_by, read.lock_note) == (f"api::{sim.key_id}", "Migrating state")
    assert read.locked_at is not None
    with pytest.raises(errors.GraphQLError, match="already locked"):
        client.lock_stack(stack.id, "again")
    client.unlock_stack(stack.id)
    assert stack.locked_by is None
    # Someone else's lock, on a space the key only writes to: Spacelift keeps it.
    other = next(s for s in sim.world.stacks if s.space_details.access_level == "WRITE")
    other.locked_by = "api::SOMEONEELSE"
    with pytest.raises(errors.GraphQLError, match="locked by api::SOMEONEELSE"):
        client.unlock_stack(other.id)


def test_a_lean_api_reads_health_without_the_optional_fields(sim, make_client):
    sim.set_faults(lean=True)
    client = make_client(sim)
    assert client.get_stack_health("payments-prod").drift_detection.next_check is None
    public = client.worker_pool_load("", "")
    assert public.public and public.workers is None
    assert sim.stats()["invalid"] == 0


def test_health_reads_are_cached_one_query_a_key(sim, make_service):
    service = make_service(sim)
    assert isinstance(service, CachedReads)
    sim.reset_stats()
    for _ in range(3):
        service.stack_health("payments-prod")
        service.resources("payments-prod")
        service.proposed_runs("payments-prod")
    assert sim.stats()["queries"] == 3
