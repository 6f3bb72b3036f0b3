"""The stack list as Spacelift asks it to be read: `searchStacks` pages, paced, one list a pass.

A Spacelift maintainer wrote in spacectl#242 "Stop using the `stacks` query. Use search
instead"; spacectl reads `searchStacks(input: {first, after})` 50 at a time
(`internal/cmd/stack/list.go`, `maxPageSize = 50`). Here:

- The pages of one pass make one list, under one deadline (long enough for the pages at the
  paced rate); a failed page fails the pass, so the service keeps the last good list.
- The largest page size is learned once per connection: the first pass asks for
  ASKED_PAGE_SIZE, and an error that names a limit steps it down (to the number named, else to
  spacectl's 50). What was learned is kept in the shared cache.
- Pages are paced at PAGES_PER_SECOND at most, so 10,000 stacks (200 pages) take 40 s: the
  pass then outlasts the poll interval, the next one starts only after it (cached_reads), and
  the page's "Updated … ago" says how old the list is (it is dated when the pass began).
- An empty first page is doubted with `viewer` (empty_answers.py), as spacectl's
  `open_command.go` does: search does not report an unaccepted token as an error.
- Where `searchStacks` is refused (an old self-hosted Spacelift), the `stacks` query is read
  instead, and that is remembered for the connection; nowhere else is `stacks` sent.
"""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any

from . import documents, errors, fields, outbound, process_state
from .types import Stack

# Asked for once per connection, to learn whether the API takes pages larger than 50.
ASKED_PAGE_SIZE = 100
# spacectl's `maxPageSize`: where an error names a limit without a number.
DEFAULT_PAGE_SIZE = 50
# The most search pages a pass sends a second: bounds what a 10,000-stack account costs.
PAGES_PER_SECOND = 5.0
# Before a first pass has counted the stacks, a pass may take as long as this many need.
UNKNOWN_COUNT_STACKS = 20_000
# How long what was learned (page size, search refused) is trusted: an upgraded self-hosted
# Spacelift gains search, or larger pages.
LEARNED_SECONDS = fields.KNOWN_FIELDS_SECONDS

# "must be at most 50", "maximum page size is 50", "first: max 50", "limit of 50", "<= 50"
_LIMIT_NUMBER = re.compile(
    r"(?:at most|maximum|max|limit|exceed\w*|up to|not (?:be )?(?:more|greater) than|<=)"
    r"\D{0,24}?(\d+)",
    re.IGNORECASE,
)
_NAMES_A_LIMIT = re.compile(
    r"\b(?:first|page size|limit|maximum|at most|too (?:many|large|big))\b", re.IGNORECASE
)
_BAD_SHAPE = "Spacelift's answer did not have the expected shape"
_UNKNOWN_SEARCH_INPUT = re.compile(r"""Unknown type ["']SearchInput["']""")


def limit_named(message: str, asked: int) -> int | None:
    """The page size to try after `message` refused `asked`, or None if it names no limit."""
    numbers = [int(n) for n in _LIMIT_NUMBER.findall(message)]
    smaller = [n for n in numbers if 0 < n < asked]
    if smaller:
        return max(smaller)
    if _NAMES_A_LIMIT.search(message) and asked > DEFAULT_PAGE_SIZE:
        return DEFAULT_PAGE_SIZE
    return None


def search_refused(message: str) -> bool:
    """Whether an error says this API has no `searchStacks` (or no SearchInput)."""
    rejected = fields.rejected_fields([{"message": message}]) or set()
    return "Query.searchStacks" in rejected or bool(_UNKNOWN_SEARCH_INPUT.search(message))


def _edges(data: dict[str, Any]) -> list[Any]:
    return (data.get("searchStacks") or {}).get("edges") or []


class StackSearch:
    """Mixed into SpaceliftClient: `list_stacks` and how long a pass of it may take."""

    pages_per_second = PAGES_PER_SECOND
    # The bench runs passes on a simulated clock; everything else paces in real time.
    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def _search_key(self, name: str) -> str:
        return f"spacelift:{self.connection.fingerprint}:search:{name}"

    def page_size(self) -> int:
        """The page size this connection's API takes (ASKED_PAGE_SIZE until learned)."""
        learned = self.cache.get(self._search_key("page-size"))
        return learned if isinstance(learned, int) and learned > 0 else ASKED_PAGE_SIZE

    def stack_pass_seconds(self) -> float:
        """How long one pass may take: the read timeout, plus the pages at the paced rate
        (as many as UNKNOWN_COUNT_STACKS need, before the first pass has counted them)."""
        count = self.cache.get(self._search_key("count"))
        if count is None:
            count = UNKNOWN_COUNT_STACKS
        pages = math.ceil(count / min(self.page_size(), ASKED_PAGE_SIZE)) + 1
        return self.timeout[1] + pages / self.pages_per_second

    def list_stacks(self) -> list[Stack]:
        if self.cache.get(self._search_key("refused")):
            return self._list_stacks_unpaged()
        with outbound.within(self.stack_pass_seconds()):
            stacks = self._search_pass()
        if stacks is None:
            return self._list_stacks_unpaged()
        self.cache.set(self._search_key("count"), len(stacks), timeout=LEARNED_SECONDS)
        self._note_stacks({s.id for s in stacks})
        return stacks

    def _search_pass(self) -> list[Stack] | None:
        """Every page, in order; None where the API has no search."""
        size = self.page_size()
        found: dict[str, Stack] = {}
        after: str | None = None
        first_page = True
        while True:
            variables = {"input": {"first": size, "after": after}}
            self._pace()
            try:
                if first_page:
                    data = self.read(
                        documents.SEARCH_STACKS,
                        variables,
                        empty=lambda d: not _edges(d),
                        seen="stacks",
                    )
                else:
                    data = self.execute(documents.SEARCH_STACKS, variables)
            except errors.GraphQLError as exc:
                if first_page and (smaller := limit_named(exc.message, size)):
                    size = smaller
                    self.cache.set(self._search_key("page-size"), size, timeout=LEARNED_SECONDS)
                    continue
                if first_page and search_refused(exc.message):
                    self.cache.set(self._search_key("refused"), True, timeout=LEARNED_SECONDS)
                    return None
                raise
            if first_page and size == ASKED_PAGE_SIZE:
                self.cache.set(self._search_key("page-size"), size, timeout=LEARNED_SECONDS)
            first_page = False
            try:
                for edge in _edges(data):
                    stack = Stack.from_api(edge["node"])
                    found.setdefault(stack.id, stack)  # a stack that moved pages: once
                info = data["searchStacks"]["pageInfo"]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise errors.GraphQLError(_BAD_SHAPE) from exc
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after:
                return list(found.values())

    def _list_stacks_unpaged(self) -> list[Stack]:
        data = self.read(documents.STACKS, None, empty=lambda d: not d.get("stacks"), seen="stacks")
        try:
            stacks = [Stack.from_api(s) for s in data["stacks"] or ()]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise errors.GraphQLError(_BAD_SHAPE) from exc
        self._note_stacks({s.id for s in stacks})
        return stacks

    def _pace(self) -> None:
        """Wait for this connection's next search slot: PAGES_PER_SECOND at most."""
        lock = _pace_locks.setdefault(self.connection.fingerprint, threading.Lock())
        with lock:
            now = self.monotonic()
            next_at = _next_slot.get(self.connection.fingerprint, now)
            if next_at > now:
                self.sleep(next_at - now)
            _next_slot[self.connection.fingerprint] = max(now, next_at) + 1 / self.pages_per_second


# Per process and connection: when the next search page may go.
_pace_locks: dict[str, threading.Lock] = {}
_next_slot: dict[str, float] = {}


@process_state.forgets("search pacing")
def _forget_pacing() -> None:
    _next_slot.clear()
