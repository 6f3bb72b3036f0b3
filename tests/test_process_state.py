"""process_state.ProcessCache: the locked, self-forgetting LRU/TTL cache the app's memos use."""

from __future__ import annotations

from dashboard.spacelift import errors, process_state


def test_a_process_cache_makes_once_evicts_the_oldest_and_is_forgotten_by_reset_all() -> None:
    cache = process_state.ProcessCache("test: lru", 2)
    made = []
    assert cache.get_or_make("a", lambda: made.append("a") or "A") == "A"
    assert cache.get_or_make("a", lambda: made.append("a") or "again") == "A"
    assert made == ["a"]
    cache.set("b", "B")
    cache.set("c", "C")  # past maxsize: "a", the least recently used, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "B", "C")
    assert cache.pop("b") == "B" and cache.get("b") is None
    process_state.reset_all()
    assert cache.get("c") is None


def test_a_process_cache_with_a_ttl_forgets_by_its_timer() -> None:
    now = [100.0]
    cache = process_state.ProcessCache("test: ttl", 4, ttl=10, timer=lambda: now[0])
    cache.set("k", "v")
    now[0] += 9
    assert cache.get("k") == "v"
    now[0] += 2
    assert cache.get("k") is None


def test_every_error_takes_its_words_from_the_table_and_a_new_one_may_bring_its_own() -> None:
    assert errors.NotFound().message == errors.WORDS["NotFound"][0]
    assert errors.RateLimited.hint == errors.WORDS["RateLimited"][1]
    assert errors.HTTPStatusError(502).status == 502
    assert issubclass(errors.RateLimited, errors.HTTPStatusError)

    class Refused(errors.SpaceliftError):
        summary = "Refused here"
        hint = "Ask someone."

    assert (Refused().message, Refused.hint) == ("Refused here", "Ask someone.")
    assert errors.SpaceliftError.summary == "Spacelift could not be read"
