"""Reading run logs and plan changes, kept in the cache for as long as they cannot change.

Logs and changes are read only when someone opens a run (or, for the "why" line, when a
failed stack is shown). A finished phase's log and a plan's changes never change, so they
are kept for `FINISHED_SECONDS`; what is still moving is kept for one poll interval.

A log is never held whole: pages are read one after another (joined by `nextToken`, as
spacectl does) into a bounded tail of `TAIL_LINES` lines, beside a small index of where
each page starts, so earlier lines can be read again page by page on demand.

Every read goes through the client's `read_stack` (empty_answers.py): Spacelift answers a
token it no longer accepts with `stack: null`, so a null stack the portal has seen is doubted
(one re-exchange, then TokenNotAccepted) instead of shown as a run that is gone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import documents, errors
from .clock import clock
from .service import SpaceliftService
from .shared_cache import shared_cache
from .types.logs import LogPage, Phase, ResourceChange, phases_from_history

T = TypeVar("T")

# A finished phase's log, a finished run's phases and a plan's changes never change.
FINISHED_SECONDS = 7 * 24 * 3600
# Lines of a phase shown at first; "load earlier" reads the rest a screen at a time.
TAIL_LINES = 300
# The most pages one request reads: a bound on what one page view costs upstream.
MAX_PAGES_PER_READ = 500


@dataclass(frozen=True)
class PhaseTail:
    """The end of one phase's log, and where to read more from."""

    lines: tuple[str, ...]
    first_line: int  # the number of lines before `lines` (0-based index of lines[0])
    total: int
    pages: tuple[tuple[str | None, int], ...]  # (token that reads a page, its first line)
    next_token: str | None
    finished: bool
    exists: bool
    checked_at: float

    @property
    def earlier(self) -> bool:
        return self.first_line > 0


def expired_note(phase: Phase, now: float | None = None) -> str:
    """What a phase that wrote a log, but whose log Spacelift answers `exists: false`, says.

    Spacelift keeps run logs for the account's `runLogRetentionDays`; past it the log is
    gone, which is neither an empty log nor an error.
    """
    note = "Spacelift no longer keeps this log"
    if phase.at is None:
        return note + " (its account keeps run logs for a set number of days)."
    days = max(0, int(((now if now is not None else clock()) - phase.at) // 86400))
    age = "less than a day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"
    return f"{note}: this run is {age} old, past the account's run log retention."


class RunRecords:
    def __init__(self, service: SpaceliftService):
        self.service = service
        self.client = service.client
        self.ttl = service.ttl
        self.prefix = service.prefix + "records:"

    # Reads --------------------------------------------------------------------------------

    def _held_or_read(
        self, name: str, document: str, stack_id: str, run_id: str
    ) -> tuple[str, Any, dict[str, Any] | None]:
        """(key, what is kept under it, None) or, when nothing is, (key, None, the run as
        `document` reads it; None: Spacelift no longer shows it)."""
        key = f"{name}:{stack_id}:{run_id}"
        held = shared_cache.get(self.prefix + key)
        if held is not None:
            return key, held, None
        data = self.client.read_stack(document, {"stack": stack_id, "run": run_id}, stack_id)
        return key, None, (data.get("stack") or {}).get("run")

    def phases(self, stack_id: str, run_id: str) -> tuple[list[Phase], str | None] | None:
        """The run's phases with logs, oldest first, and its final state (None: moving)."""
        key, held, run = self._held_or_read("phases", documents.RUN_PHASES, stack_id, run_id)
        if held is not None:
            return held
        if not run:
            return None
        found = _parse(lambda: phases_from_history(run.get("history") or []))
        self._keep(key, found, ended=found[1] is not None)
        return found

    def page(self, stack_id: str, run_id: str, phase: Phase, token: str | None) -> LogPage:
        key = f"page:{stack_id}:{run_id}:{phase.key}:{token or ''}"
        held = shared_cache.get(self.prefix + key)
        if held is not None:
            return held
        data = self.client.read_stack(
            documents.RUN_LOGS,
            {
                "stack": stack_id,
                "run": run_id,
                "state": phase.state_raw,
                "token": token,
                "stateVersion": phase.version,
            },
            stack_id,
        )
        run = (data.get("stack") or {}).get("run")
        if not run:
            raise errors.NotFound("Spacelift no longer shows this run")
        page = _parse(lambda: LogPage.from_api(run.get("logs")))
        # A full page (more follow) or the last page of a finished phase never changes; the
        # end of a phase still being written does, until Spacelift says it is finished.
        self._keep(key, page, ended=page.has_more or page.finished or not page.exists)
        return page

    def tail(self, stack_id: str, run_id: str, phase: Phase) -> PhaseTail:
        """The phase's last lines: read once for a finished phase, followed for a running one."""
        key = f"tail:{stack_id}:{run_id}:{phase.key}"
        held: PhaseTail | None = shared_cache.get(self.prefix + key)
        now = clock()
        if held is not None and (held.finished or now - held.checked_at < self.ttl):
            return held
        start = held or PhaseTail((), 0, 0, (), None, False, True, now)
        tail = self._walk(stack_id, run_id, phase, start)
        shared_cache.set(self.prefix + key, tail, timeout=FINISHED_SECONDS)
        return tail

    def _walk(self, stack_id: str, run_id: str, phase: Phase, start: PhaseTail) -> PhaseTail:
        lines = deque(start.lines, maxlen=TAIL_LINES)
        pages = list(start.pages)
        token, total, finished, exists = start.next_token, start.total, False, True
        for _ in range(MAX_PAGES_PER_READ):
            page = self.page(stack_id, run_id, phase, token)
            exists = page.exists
            if page.lines:
                pages.append((token, total))
                lines.extend(page.lines)
                total += len(page.lines)
            token = page.next_token or token
            # Only `finished` ends a phase: spacectl waits for it unless the state is terminal,
            # so a phase that just ended is read again until Spacelift has written it all.
            finished = page.finished or not page.exists
            if finished or not page.has_more or not page.next_token:
                break
        return PhaseTail(
            lines=tuple(lines),
            first_line=total - len(lines),
            total=total,
            pages=tuple(pages),
            next_token=token,
            finished=finished,
            exists=exists,
            checked_at=clock(),
        )

    def lines_before(
        self, stack_id: str, run_id: str, phase: Phase, upto: int, count: int = TAIL_LINES
    ) -> tuple[int, list[str]]:
        """Up to `count` lines just before line `upto`, and the number of the first."""
        tail = self.tail(stack_id, run_id, phase)
        upto = max(0, min(upto, tail.total))
        first = max(0, upto - count)
        lines: list[str] = []
        for index, (token, page_first) in enumerate(tail.pages):
            page_end = tail.pages[index + 1][1] if index + 1 < len(tail.pages) else tail.total
            if page_end <= first or page_first >= upto:
                continue
            page = self.page(stack_id, run_id, phase, token)
            lines.extend(page.lines[max(0, first - page_first) : upto - page_first])
        return first, lines

    def lines_after(
        self, stack_id: str, run_id: str, phase: Phase, token: str
    ) -> tuple[list[str], str, bool]:
        """New lines of a running phase after `token`: (lines, token to go on, finished)."""
        lines: list[str] = []
        finished = False
        for _ in range(MAX_PAGES_PER_READ):
            page = self.page(stack_id, run_id, phase, token)
            lines.extend(page.lines)
            token = page.next_token or token
            finished = page.finished or not page.exists
            if finished or not page.has_more:
                break
        return lines, token, finished

    def changes(self, stack_id: str, run_id: str, *, ended: bool) -> tuple[ResourceChange, ...]:
        """Every resource the run's plan changes, in Spacelift's order, without repeats."""
        key, held, run = self._held_or_read("changes", documents.RUN_CHANGES, stack_id, run_id)
        if held is not None:
            return held
        if not run:
            raise errors.NotFound("Spacelift no longer shows this run")

        def build() -> tuple[ResourceChange, ...]:
            seen: dict[tuple[str, str], ResourceChange] = {}
            for entry in run.get("changesV3") or ():
                for item in (entry or {}).get("resources") or ():
                    change = ResourceChange.from_api(item)
                    seen.setdefault((change.address, change.type_raw), change)
            return tuple(seen.values())

        found = _parse(build)
        self._keep(key, found, ended=ended)
        return found

    def held(self, name: str) -> tuple[Any] | None:
        """What `keep` stored under `name`, as a 1-tuple, or None."""
        return shared_cache.get(self.prefix + name)

    def keep(self, name: str, value: Any, *, ended: bool) -> None:
        self._keep(name, (value,), ended=ended)

    def remember(
        self, name: str, compute: Callable[[], T], *, ended: bool, keep_none: bool = True
    ) -> T:
        """A derived result (such as a "why" line) kept as long as what it was made from."""
        held = shared_cache.get(self.prefix + name)
        if held is not None:
            return held[0]
        value = compute()
        if value is not None or keep_none:
            self._keep(name, (value,), ended=ended)
        return value

    def _keep(self, name: str, value: Any, *, ended: bool) -> None:
        shared_cache.set(self.prefix + name, value, timeout=FINISHED_SECONDS if ended else self.ttl)


def _parse(build: Callable[[], T]) -> T:
    try:
        return build()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise errors.GraphQLError("Spacelift's answer did not have the expected shape") from exc
