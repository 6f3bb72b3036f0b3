"""Stale-while-revalidate, a page's one deadline, and requests that never queue on a hang."""

from __future__ import annotations

import threading

import pytest

from dashboard.spacelift import budget, outbound, process_state
from simulator.server import DEFAULT_HANG_SECONDS

# The client would wait this long; the simulator's hang ends first, with an error.
PATIENT_TIMEOUT = 20.0
HANG_SECONDS = 1.0


@pytest.fixture(autouse=True)
def hang_seconds_restored(sim):
    yield
    sim.set_faults(hang_seconds=DEFAULT_HANG_SECONDS)


def wait_until_simulator_saw(sim, field: str, count: int) -> None:
    """Block until the simulator has received `count` queries of `field` (bounded)."""
    event = threading.Event()
    for _ in range(400):
        if sim.stats()["by_field"].get(field, 0) >= count:
            return
        event.wait(0.025)
    raise AssertionError(f"the simulator never saw {count} {field} queries")


def in_thread(work) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    return thread, result


def test_an_expired_result_is_refreshed_by_one_request_and_the_others_get_it_at_once(
    sim, clock, make_service
):
    svc = make_service(sim, ttl=10, read_timeout=PATIENT_TIMEOUT)
    first = svc.stacks()
    clock.advance(11)  # the interval ends
    sim.set_faults(mode="hang", hang_seconds=HANG_SECONDS)
    refresher, refreshed = in_thread(svc.stacks)
    wait_until_simulator_saw(sim, "searchStacks", 3)  # the refresh is in flight, hanging
    others = [svc.stacks() for _ in range(5)]
    refresher.join(timeout=30)
    sim.set_faults(mode=None)
    # The refresh failed; had the others waited for it, they would carry its problem.
    assert refreshed[0].stale
    assert all(o.data == first.data and o.version == first.version and o.ok for o in others)
    assert sim.list_reads() == 2


def test_a_refresh_that_fails_marks_the_last_data_stale_for_everyone(sim, clock, make_service):
    svc = make_service(sim, ttl=10)
    first = svc.stacks()
    clock.advance(11)
    sim.set_faults(mode="http500")
    refreshed = svc.stacks()
    after = svc.stacks()
    assert refreshed.stale and after.stale
    assert after.data == first.data
    assert sim.list_reads() == 2


def test_when_every_permit_is_taken_a_read_answers_at_once_without_spacelift(
    sim, settings, clock, make_service
):
    settings.PORTAL_SPACELIFT_CONCURRENCY = 1
    svc = make_service(sim, ttl=10, read_timeout=PATIENT_TIMEOUT)
    svc.client.token()
    svc.client.known_fields()  # the schema's first look is not what these tests hang
    sim.set_faults(mode="hang", hang_seconds=HANG_SECONDS)
    waiting, _ = in_thread(lambda: svc.stack("payments-prod"))
    wait_until_simulator_saw(sim, "stack", 1)  # it holds the only permit
    answer = svc.stacks()
    waiting.join(timeout=30)
    sim.set_faults(mode=None)
    assert answer.data is None
    assert answer.problem.summary == "Spacelift did not answer in time"
    assert "already waiting" in answer.problem.detail
    assert sim.list_reads() == 0


def test_a_pages_reads_run_at_once_under_one_deadline(sim, make_service):
    svc = make_service(sim, ttl=10, read_timeout=1.0)
    svc.client.token()
    svc.client.known_fields()  # the schema's first look is not what these tests hang
    sim.set_faults(mode="hang")
    reads = svc.read_many(
        stack=lambda: svc.stack("payments-prod"),
        runs=lambda: svc.runs("payments-prod"),
        environment=lambda: svc.stack_config("payments-prod"),
    )
    sim.set_faults(mode=None)
    assert {name: r.problem.summary for name, r in reads.items()} == dict.fromkeys(
        ("stack", "runs", "environment"), "Spacelift did not answer in time"
    )
    # All three reached Spacelift: they ran side by side, not one after the other (in turn,
    # the second would have found the shared deadline already spent).
    assert sim.stats()["by_field"]["stack"] == 3


def test_an_invalidated_result_is_read_again(sim, make_service):
    svc = make_service(sim, ttl=10)
    svc.stacks()
    svc.invalidate("stacks")
    svc.stacks()
    assert sim.list_reads() == 2


def test_a_page_that_must_read_the_stack_list_first_still_has_one_deadline(sim, make_service):
    svc = make_service(sim, ttl=10, read_timeout=1.0)
    svc.client.token()
    svc.client.known_fields()  # the schema's first look is not what these tests hang
    sim.set_faults(mode="hang")
    with svc.one_deadline():
        listed = svc.may_exist("payments-prod")  # the list hangs until the page's deadline
        reads = svc.read_many(
            stack=lambda: svc.stack("payments-prod"), runs=lambda: svc.runs("payments-prod")
        )
    sim.set_faults(mode=None)
    assert listed  # without a list, the stack is asked for
    assert all(r.problem and r.data is None for r in reads.values())
    # The deadline was spent on the list: the page's other reads never reached Spacelift.
    assert sim.stats()["by_field"].get("stack", 0) == 0


def test_without_a_permit_a_read_of_what_another_is_fetching_says_so(sim, settings, make_service):
    settings.PORTAL_SPACELIFT_CONCURRENCY = 1
    svc = make_service(sim, ttl=10, read_timeout=PATIENT_TIMEOUT)
    svc.client.token()
    svc.client.known_fields()  # the schema's first look is not what these tests hang
    sim.set_faults(mode="hang", hang_seconds=HANG_SECONDS)
    fetching, _ = in_thread(svc.stacks)
    wait_until_simulator_saw(sim, "searchStacks", 1)
    answer = svc.stacks()
    fetching.join(timeout=30)
    sim.set_faults(mode=None)
    assert answer.data is None
    assert answer.problem.summary == "Still reading from Spacelift"
    assert sim.list_reads() == 1


def test_work_in_the_read_pool_carries_the_callers_deadline_and_permit(settings):
    settings.PORTAL_SPACELIFT_CONCURRENCY = 1  # a read that took its own would find none left

    def in_the_pool() -> tuple[float | None, bool]:
        with budget.permit() as permitted:
            return outbound.deadline_at(), permitted

    with outbound.deadline(12345.0), budget.permit() as permitted:
        assert permitted
        assert budget.submit(in_the_pool).result(timeout=10) == (12345.0, True)
    assert outbound.deadline_at() is None
    process_state.reset_all()  # the pool is shut down, and a new one starts when needed
    assert budget.submit(in_the_pool).result(timeout=10) == (None, True)
