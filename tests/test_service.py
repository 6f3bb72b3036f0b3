"""The cached service: one upstream query per interval, single flight, stale on failure."""

from __future__ import annotations

import threading

import pytest

from dashboard.spacelift import cached_reads, process_state


def stacks_queries(sim) -> int:
    return sim.list_reads()


def concurrently(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_viewers_within_an_interval_cause_one_upstream_query(
    sim, settings, make_service
):
    settings.PORTAL_SPACELIFT_CONCURRENCY = 20  # every viewer may wait for the one fetch
    sim.set_faults(latency=0.3)  # keep the first fetch in flight while the others arrive
    results = concurrently(20, lambda: make_service(sim, ttl=60).stacks())
    assert all(len(r.data) == 48 for r in results)
    assert len({r.version for r in results}) == 1
    assert stacks_queries(sim) == 1
    assert sim.stats()["token_exchanges"] == 1


def test_pass_through_mode_queries_every_time(sim, make_service):
    concurrently(5, lambda: make_service(sim, cached=False).stacks())
    assert stacks_queries(sim) == 5


def test_a_result_is_reused_until_the_interval_ends(sim, make_service):
    svc = make_service(sim, ttl=60)
    first = svc.stacks()
    second = svc.stacks()
    assert first.version == second.version
    assert stacks_queries(sim) == 1


def test_a_failed_read_serves_the_last_good_data_marked_stale(sim, clock, make_service):
    svc = make_service(sim, ttl=60)
    good = svc.stacks()
    clock.advance(61)  # the interval ends
    sim.set_faults(mode="http500")
    stale = svc.stacks()
    assert stale.data == good.data
    assert stale.stale
    assert "HTTP" in stale.problem.summary
    assert stale.problem.retry_after > 0


def test_failing_reads_back_off_instead_of_hammering_spacelift(sim, make_service):
    svc = make_service(sim, ttl=5)
    svc.client.known_fields()  # the exchange and the schema's first look would meet it too
    sim.set_faults(mode="http500")
    for _ in range(5):
        snapshot = svc.stacks()
        assert snapshot.data is None and snapshot.problem is not None
    assert stacks_queries(sim) == 1


def test_retry_after_is_honoured(sim, make_service):
    svc = make_service(sim, ttl=2)
    sim.set_faults(mode="rate_limit")
    snapshot = svc.stacks()
    assert snapshot.problem.retry_after >= 6  # the simulator says Retry-After: 7


def test_recovery_clears_the_problem(sim, clock, make_service):
    svc = make_service(sim, ttl=5)
    sim.set_faults(mode="not_json")
    assert svc.stacks().problem is not None
    sim.set_faults(mode=None)
    clock.advance(6)  # the backoff period ends
    recovered = svc.stacks()
    assert recovered.ok and len(recovered.data) == 48


def test_a_process_that_holds_a_version_does_not_decode_it_again(sim, monkeypatch, make_service):
    svc = make_service(sim, ttl=60)
    svc.stacks()
    loads = []
    real_decode = cached_reads._decode
    monkeypatch.setattr(cached_reads, "_decode", lambda b: loads.append(1) or real_decode(b))
    svc.stacks()
    assert loads == []
    process_state.reset_all()  # as another process would: decode from the cache
    svc.stacks()
    assert loads == [1]


def test_forget_drops_cached_data_and_token(sim, make_service):
    svc = make_service(sim, ttl=60)
    svc.stacks()
    svc.forget()
    make_service(sim, ttl=60).stacks()
    assert stacks_queries(sim) == 2
    assert sim.stats()["token_exchanges"] == 2


@pytest.mark.parametrize("mode", ["hang"])
def test_a_hung_spacelift_holds_no_request_past_the_timeout(sim, mode, make_service):
    svc = make_service(sim, ttl=5, read_timeout=0.5)
    sim.set_faults(mode=mode)  # answers only after DEFAULT_HANG_SECONDS, with an error
    snapshot = svc.stacks()
    assert snapshot.problem.summary == "Spacelift did not answer in time"
