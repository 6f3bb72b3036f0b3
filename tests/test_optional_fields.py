"""Optional fields and empty answers: the client against the simulator, over real HTTP."""

from __future__ import annotations

import pytest

from dashboard.connection.diagnostics import run_checks
from dashboard.spacelift import documents, errors, fields, health
from dashboard.spacelift.account import Connection
from dashboard.spacelift.client import SpaceliftClient
from dashboard.spacelift.documents import OPTIONAL_FIELDS, Document
from simulator import realism


@pytest.fixture
def lean(sim):
    sim.set_faults(lean=True)
    yield sim
    sim.clear_faults()


# -- documents ------------------------------------------------------------------------------


def test_every_marked_field_is_declared_with_what_the_portal_does_without_it():
    marked = set()
    for value in [*vars(documents).values(), *vars(health).values()]:
        if isinstance(value, Document):
            marked |= value.optional
    assert marked | documents.OPTIONAL_ROOT_FIELDS == set(OPTIONAL_FIELDS)
    assert all(OPTIONAL_FIELDS.values())


def test_the_simulator_lean_mode_lacks_exactly_the_portals_optional_fields():
    assert frozenset(OPTIONAL_FIELDS) == realism.LEAN_MISSING_FIELDS


def test_a_document_renders_without_its_missing_fields_only():
    text = documents.STACK.render(frozenset({"Stack.isDrifted", "Commit.tag"}))
    assert "isDrifted" not in text and " tag" not in text and "?" not in text
    assert "needsApproval" in text and "workflowTool" in text


def test_rejected_fields_reads_spacelifts_and_graphql_cores_wording():
    assert fields.rejected_fields(
        [{"message": 'Cannot query field "isDrifted" on type "Stack".'}]
    ) == {"Stack.isDrifted"}
    assert fields.rejected_fields(
        [{"message": "Cannot query field 'tag' on type 'Commit'. Did you mean 'hash'?"}]
    ) == {"Commit.tag"}
    assert fields.rejected_fields([{"message": "internal error"}]) is None


# -- learning -------------------------------------------------------------------------------


def test_a_lean_api_is_learned_by_one_introspection_query_and_nothing_is_rejected(
    lean, make_client
):
    client = make_client(lean)
    stacks = client.list_stacks()
    assert len(stacks) == 48
    assert all(s.is_drifted is None and s.needs_approval is None for s in stacks)
    stats = lean.stats()
    assert stats["invalid"] == 0
    assert stats["by_field"]["__type"] == 1
    assert client.known_fields().missing == frozenset(OPTIONAL_FIELDS)


def test_a_full_api_keeps_every_optional_field(sim, make_client):
    client = make_client(sim)
    stacks = client.list_stacks()
    assert client.known_fields().missing == frozenset()
    assert all(s.is_drifted is not None for s in stacks)
    assert any(s.is_drifted for s in stacks)


def test_without_introspection_a_rejected_field_is_dropped_and_retried_once(lean, make_client):
    lean.set_faults(no_introspection=True)
    client = make_client(lean)
    assert len(client.list_stacks()) == 48
    stats = lean.stats()
    assert stats["invalid"] == 2  # the introspection query, and the stack list once
    assert stats["by_operation"]["Stacks"] == 2
    assert {"Stack.isDrifted", "Commit.tag"} <= client.known_fields().missing


def test_no_worker_sends_a_rejected_query_twice(lean, make_client):
    lean.set_faults(no_introspection=True)
    make_client(lean).list_stacks()
    lean.reset_stats()
    other_worker = make_client(lean)  # another process: same connection, same shared cache
    other_worker.list_stacks()
    assert lean.stats()["invalid"] == 0
    assert lean.stats()["queries"] == 1


def test_a_changed_connection_learns_again(lean, sim, make_client):
    make_client(lean).list_stacks()
    lean.clear_faults()  # this Spacelift was upgraded; the key is rotated with it
    lean.set_credentials(key_secret="rotated-secret-0123456789abcdef")
    try:
        rotated = SpaceliftClient(
            Connection(lean.url, lean.key_id, "rotated-secret-0123456789abcdef"),
            read_timeout=3.0,
        )
        stacks = rotated.list_stacks()
        assert rotated.known_fields().missing == frozenset()
        assert any(s.is_drifted for s in stacks)
    finally:
        lean.set_credentials(key_secret=sim.key_secret)


def test_a_rejection_for_a_core_field_is_an_error_not_a_retry_loop(sim, make_client):
    client = make_client(sim)
    with pytest.raises(errors.GraphQLError):
        client.execute(Document("query Bad { stacks { id ?Stack.isDrifted noSuchField } }"))
    assert sim.stats()["invalid"] == 1


# -- empty answers --------------------------------------------------------------------------


@pytest.fixture
def unaccepted(sim):
    sim.set_faults(unaccepted_empty=True)
    yield sim
    sim.clear_faults()


def test_an_empty_list_after_data_is_checked_with_viewer_and_the_key_exchanged_again(
    unaccepted, make_client
):
    client = make_client(unaccepted)
    assert len(client.list_stacks()) == 48
    unaccepted.set_credentials(revoke_tokens=True)
    assert len(client.list_stacks()) == 48
    stats = unaccepted.stats()
    assert stats["token_exchanges"] == 2
    assert stats["by_field"]["viewer"] == 1


def test_a_null_stack_the_portal_has_seen_is_checked_too(unaccepted, make_client):
    client = make_client(unaccepted)
    stack_id = client.list_stacks()[0].id
    unaccepted.set_credentials(revoke_tokens=True)
    stack = client.get_stack(stack_id)
    assert stack is not None and stack.id == stack_id


def test_a_null_stack_the_portal_never_saw_is_simply_gone(unaccepted, make_client):
    client = make_client(unaccepted)
    client.list_stacks()
    assert client.get_stack("no-such-stack") is None
    assert unaccepted.stats()["by_field"].get("viewer", 0) == 0


def test_tokens_never_accepted_raise_a_clear_error_after_one_exchange(unaccepted, make_client):
    client = make_client(unaccepted)
    client.list_stacks()
    unaccepted.set_faults(accept_no_tokens=True)
    with pytest.raises(errors.TokenNotAccepted) as raised:
        client.list_stacks()
    assert "revoked" in raised.value.summary
    assert unaccepted.key_secret not in raised.value.message
    assert unaccepted.stats()["token_exchanges"] == 2


def test_a_first_empty_list_is_believed_without_asking_viewer(unaccepted, make_client):
    unaccepted.set_faults(accept_no_tokens=True)
    assert make_client(unaccepted).list_stacks() == []
    assert unaccepted.stats()["by_field"].get("viewer", 0) == 0


# -- Test connection ------------------------------------------------------------------------


def test_test_connection_lists_the_optional_fields_the_api_has(sim):
    check = run_checks(Connection(sim.url, sim.key_id, sim.key_secret))[-1]
    assert check.passed
    assert f"has {len(OPTIONAL_FIELDS)} of the {len(OPTIONAL_FIELDS)}" in check.message
    assert "introspection" in check.message


def test_test_connection_says_what_the_portal_does_without_each_missing_field(lean):
    lean.set_faults(no_introspection=True)
    check = run_checks(Connection(lean.url, lean.key_id, lean.key_secret))[-1]
    assert check.passed
    assert "has 0 of the" in check.message and "rejects" in check.message
    assert "No Stack.isDrifted: no drift badge on the overview or the stack page." in check.details
    assert len(check.details) == len(OPTIONAL_FIELDS)


def test_test_connection_tells_an_unaccepted_token_from_an_empty_account(unaccepted):
    unaccepted.set_faults(accept_no_tokens=True)
    checks = run_checks(Connection(unaccepted.url, unaccepted.key_id, unaccepted.key_secret))
    assert [c.passed for c in checks] == [True, True, False]
    assert "viewer is null" in checks[-1].message
    assert "new API key" in checks[-1].fix
