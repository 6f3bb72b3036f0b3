"""The overview's view of the account: counts, filters, search, sorting and paging.

All of it runs on the one cached stack list, so any number of filtered views cost Spacelift
one query per interval. Every choice lives in the query string, so a view can be bookmarked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.http import QueryDict

from .spacelift.types import Health, Stack, StackState

PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 100
SORTS = {
    "name": lambda s: (s.name.lower(), s.id),
    "state": lambda s: (s.state_raw, s.name.lower()),
    "health": lambda s: (list(Health).index(s.health), s.name.lower()),
    "space": lambda s: (s.space_name.lower(), s.name.lower()),
    # Longest in its state first when ascending, so "what has been stuck" reads top-down.
    "since": lambda s: (s.state_set_at or datetime.min.replace(tzinfo=UTC), s.name.lower()),
}
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StackQuery:
    q: str = ""
    health: str = ""
    state: str = ""
    space: str = ""
    label: str = ""
    sort: str = "health"
    desc: bool = False
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    @classmethod
    def from_querydict(cls, params: QueryDict) -> StackQuery:
        def text(name: str, limit: int = 200) -> str:
            return (params.get(name) or "").strip()[:limit]

        health = text("health")
        sort = text("sort")
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
        try:
            per_page = int(params.get("per_page") or DEFAULT_PAGE_SIZE)
        except ValueError:
            per_page = DEFAULT_PAGE_SIZE
        return cls(
            q=text("q"),
            health=health if health in Health._value2member_map_ else "",
            state=text("state").upper(),
            space=text("space"),
            label=text("label"),
            sort=sort if sort in SORTS else "health",
            desc=params.get("dir") == "desc",
            page=page,
            per_page=per_page if per_page in PAGE_SIZES else DEFAULT_PAGE_SIZE,
        )

    def params(self, **changes) -> dict[str, str]:
        """The non-default parts of this query, with `changes` applied, for links."""
        values = {
            "q": self.q,
            "health": self.health,
            "state": self.state,
            "space": self.space,
            "label": self.label,
            "sort": "" if self.sort == "health" else self.sort,
            "dir": "desc" if self.desc else "",
            "page": "" if self.page == 1 else str(self.page),
            "per_page": "" if self.per_page == DEFAULT_PAGE_SIZE else str(self.per_page),
        }
        values.update({k: ("" if v is None else str(v)) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}

    def url(self, **changes) -> str:
        params = self.params(**changes)
        return "?" + urlencode(params) if params else "?"

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.health or self.state or self.space or self.label)

    def matches(self, stack: Stack) -> bool:
        if self.health and stack.health != self.health:
            return False
        if self.state and stack.state_raw != self.state:
            return False
        if self.space and self.space not in (stack.space_id, stack.space_name):
            return False
        if self.label and self.label not in stack.labels:
            return False
        if self.q:
            needle = self.q.lower()
            haystack = " ".join(
                (stack.id, stack.name, stack.repository_full_name, stack.branch, *stack.labels)
            ).lower()
            return all(word in haystack for word in needle.split())
        return True


@dataclass(frozen=True)
class SortLink:
    key: str
    label: str
    url: str
    active: bool
    desc: bool


@dataclass
class StackPage:
    query: StackQuery
    stacks: list[Stack]
    total: int
    matched: int
    page: int
    pages: int
    counts: list[tuple[Health, int]]
    spaces: list[tuple[str, str]]
    labels: list[str]
    states: list[str]
    sort_links: dict[str, SortLink] = field(default_factory=dict)

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.query.per_page + 1 if self.matched else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.stacks) - 1 if self.stacks else 0

    @property
    def previous_url(self) -> str | None:
        return self.query.url(page=self.page - 1) if self.page > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.query.url(page=self.page + 1) if self.page < self.pages else None


SORT_LABELS = {
    "name": "Stack",
    "health": "State",
    "space": "Space",
    "since": "In state since",
}


def build_page(stacks: list[Stack], query: StackQuery) -> StackPage:
    health_counts = Counter(stack.health for stack in stacks)
    matched = [stack for stack in stacks if query.matches(stack)]
    matched.sort(key=SORTS[query.sort], reverse=query.desc)
    pages = max(1, -(-len(matched) // query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    spaces = sorted({(s.space_id, s.space_name) for s in stacks}, key=lambda p: p[1].lower())
    labels = sorted({label for s in stacks for label in s.labels})
    known = [s.value for s in StackState if s is not StackState.UNKNOWN]
    states = sorted(set(known) | {s.state_raw for s in stacks})
    sort_links = {
        key: SortLink(
            key=key,
            label=label,
            url=query.url(sort=key, dir="" if query.sort != key or query.desc else "desc", page=""),
            active=query.sort == key,
            desc=query.desc,
        )
        for key, label in SORT_LABELS.items()
    }
    return StackPage(
        query=query,
        stacks=matched[start : start + query.per_page],
        total=len(stacks),
        matched=len(matched),
        page=page,
        pages=pages,
        counts=[(h, health_counts.get(h, 0)) for h in Health if h is not Health.UNKNOWN]
        + (
            [(Health.UNKNOWN, health_counts[Health.UNKNOWN])]
            if health_counts[Health.UNKNOWN]
            else []
        ),
        spaces=spaces,
        labels=labels,
        states=states,
        sort_links=sort_links,
    )
