"""The overview's view of the account: counts, filters, search, sorting and paging.

All of it runs on the one cached stack list, so any number of filtered views cost Spacelift
one query per interval. Every choice lives in the query string, so a view can be bookmarked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import QueryDict

from dashboard.spacelift.types import Health, Stack, StackState

PAGE_SIZES = (25, 50, 100, 250)
# Longer search text is cut, not refused: a pasted paragraph still searches.
MAX_TEXT_LENGTH = 200
DEFAULT_PAGE_SIZE = 100
SORTS = {
    "name": lambda s: (s.name.lower(), s.id),
    "state": lambda s: (s.state_raw, s.name.lower()),
    # Problems first: what is failing, then what needs a human, and healthy stacks last.
    "health": lambda s: (SEVERITY.index(s.health), s.name.lower()),
    "space": lambda s: (s.space_name.lower(), s.name.lower()),
    # Longest in its state first when ascending, so "what has been stuck" reads top-down.
    "since": lambda s: (s.state_set_at or datetime.min.replace(tzinfo=UTC), s.name.lower()),
}
DRIFT_FILTERS = {
    "drifted": lambda s: bool(s.is_drifted),
    "unchecked": lambda s: s.drift_checked is False,
}
SEVERITY = [
    Health.FAILING,
    Health.NEEDS_ATTENTION,
    Health.UNKNOWN,
    Health.WAITING,
    Health.IN_PROGRESS,
    Health.NEVER_RUN,
    Health.HEALTHY,
]


@dataclass(frozen=True)
class StackQuery:
    """What the overview's query string asks for: a search, filters, an order and a page."""

    q: str = ""  # words that must all appear in its ID, name, repository, branch or labels
    # Filters: each empty for "any".
    health: str = ""
    state: str = ""
    space: str = ""
    label: str = ""
    drift: str = ""  # "drifted", or "unchecked": drift detection off (issue 22)
    sort: str = "health"  # a key of SORTS
    desc: bool = False
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE
    # "space", or "label:<prefix>" to group by the labels that start with "<prefix>:".
    group: str = ""

    @classmethod
    def from_querydict(cls, params: QueryDict) -> StackQuery:
        """The query a query string asks for; what is invalid in it falls back to defaults."""
        return StackQueryForm(params).query()

    def params(self, **changes) -> dict[str, str]:
        """The non-default parts of this query, with `changes` applied, for links."""
        values = {
            "q": self.q,
            "health": self.health,
            "state": self.state,
            "space": self.space,
            "label": self.label,
            "drift": self.drift,
            "sort": "" if self.sort == "health" else self.sort,
            "dir": "desc" if self.desc else "",
            "page": "" if self.page == 1 else str(self.page),
            "per_page": "" if self.per_page == DEFAULT_PAGE_SIZE else str(self.per_page),
            "group": self.group,
        }
        values.update({k: ("" if v is None else str(v)) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}

    def url(self, **changes) -> str:
        params = self.params(**changes)
        return "?" + urlencode(params) if params else "?"

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.health or self.state or self.space or self.label or self.drift)

    def matches(self, stack: Stack) -> bool:
        if self.health and stack.health != self.health:
            return False
        if self.state and stack.state_raw != self.state:
            return False
        if self.space and self.space not in (stack.space_id, stack.space_name):
            return False
        if self.label and self.label not in stack.labels:
            return False
        if self.drift and not DRIFT_FILTERS[self.drift](stack):
            return False
        if self.q:
            needle = self.q.lower()
            haystack = " ".join(
                (stack.id, stack.name, stack.repository_full_name, stack.branch, *stack.labels)
            ).lower()
            return all(word in haystack for word in needle.split())
        return True


class StackQueryForm(forms.Form):
    """The overview's query string. Never shown as a form: it reads links and bookmarks, and
    a field that does not validate is left at its default rather than failing the page."""

    q = forms.CharField(required=False)
    health = forms.ChoiceField(required=False, choices=[(h.value, h.value) for h in Health])
    state = forms.CharField(required=False)
    space = forms.CharField(required=False)
    label = forms.CharField(required=False)
    drift = forms.ChoiceField(required=False, choices=[(key, key) for key in DRIFT_FILTERS])
    sort = forms.ChoiceField(required=False, choices=[(key, key) for key in SORTS])
    dir = forms.ChoiceField(required=False, choices=[("asc", "asc"), ("desc", "desc")])
    page = forms.IntegerField(required=False, min_value=1)
    per_page = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(str(n), str(n)) for n in PAGE_SIZES]
    )
    # "space", or "label:<prefix>" to group by the labels that start with "<prefix>:".
    group = forms.RegexField(required=False, regex=r"^(space|label:.+)$", max_length=60)

    @classmethod
    def query_from(cls, params: QueryDict) -> StackQuery:
        return cls(params).query()

    def query(self) -> StackQuery:
        self.full_clean()
        data = self.cleaned_data  # holds only the fields that validated

        def text(name: str) -> str:
            return (data.get(name) or "")[:MAX_TEXT_LENGTH]

        return StackQuery(
            q=text("q"),
            health=data.get("health") or "",
            state=text("state").upper(),
            space=text("space"),
            label=text("label"),
            drift=data.get("drift") or "",
            sort=data.get("sort") or "health",
            desc=data.get("dir") == "desc",
            page=data.get("page") or 1,
            per_page=data.get("per_page") or DEFAULT_PAGE_SIZE,
            group=data.get("group") or "",
        )


def group_of(stack: Stack, group: str) -> str:
    if group == "space":
        return stack.space_name or "(no space)"
    prefix = group.removeprefix("label:") + ":"
    values = sorted(
        label.removeprefix(prefix) for label in stack.labels if label.startswith(prefix)
    )
    return ", ".join(values) if values else f"(no {prefix[:-1]} label)"


@dataclass(frozen=True)
class SortLink:
    key: str
    label: str
    url: str
    active: bool
    desc: bool


@dataclass
class StackPage:
    """One page of the overview, and what its filters offer."""

    query: StackQuery
    stacks: list[Stack]  # this page's
    total: int  # stacks the connection sees
    matched: int  # stacks the query matches
    page: int
    pages: int
    counts: list[tuple[Health, int]]  # of the matched stacks, by health
    # What the filters offer: spaces as (ID, name), labels and states in use.
    spaces: list[tuple[str, str]]
    labels: list[str]
    states: list[str]
    sort_links: dict[str, SortLink] = field(default_factory=dict)
    # Every stack the query matches, across pages: what the queue and counts describe.
    matching: list[Stack] = field(default_factory=list)
    # With a grouping: how many matching stacks each group has, in order.
    group_counts: dict[str, int] = field(default_factory=dict)
    label_prefixes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str | None, Stack]]:
        """The page's stacks, each with its group's name where a new group starts."""
        rows: list[tuple[str | None, Stack]] = []
        current = None
        for stack in self.stacks:
            name = group_of(stack, self.query.group) if self.query.group else None
            rows.append((name if name != current else None, stack))
            current = name
        return rows

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
    "since": "In state for",
}


class StackIndex:
    """What every view of one version of the stack list shares: counts, choices, orders.

    Built once per version and process, so a poll on 10,000 stacks only filters and slices.
    """

    def __init__(self, stacks: list[Stack]) -> None:
        self.stacks = stacks
        self.health_counts = Counter(stack.health for stack in stacks)
        self.spaces = sorted(
            {(s.space_id, s.space_name) for s in stacks}, key=lambda p: p[1].lower()
        )
        self.labels = sorted({label for s in stacks for label in s.labels})
        known = [s.value for s in StackState if s is not StackState.UNKNOWN]
        self.states = sorted(set(known) | {s.state_raw for s in stacks})
        self.label_prefixes = sorted({lb.split(":", 1)[0] for lb in self.labels if ":" in lb})
        self._orders: dict[tuple[str, bool], list[Stack]] = {}
        self._attention: list[AttentionItem] | None = None

    def attention(self, stuck_after: timedelta) -> list[AttentionItem]:
        if self._attention is None:
            self._attention = attention_queue(self.stacks, stuck_after=stuck_after)
        return self._attention

    def ordered(self, sort: str, desc: bool) -> list[Stack]:
        key = (sort, desc)
        if key not in self._orders:
            self._orders[key] = sorted(self.stacks, key=SORTS[sort], reverse=desc)
        return self._orders[key]


_indexes: dict[str, StackIndex] = {}
# A few versions, each per access set (accounts/access.py), at most: each index holds the
# list in a handful of orders.
MAX_INDEXES = 16


def index_for(version: str, stacks: list[Stack]) -> StackIndex:
    index = _indexes.get(version)
    if index is None or index.stacks is not stacks:
        index = StackIndex(stacks)
        if len(_indexes) >= MAX_INDEXES:
            _indexes.pop(next(iter(_indexes)))
        _indexes[version] = index
    return index


def build_page(stacks: list[Stack], query: StackQuery, version: str = "") -> StackPage:
    index = index_for(version, stacks) if version else StackIndex(stacks)
    ordered = index.ordered(query.sort, query.desc)
    matched = [stack for stack in ordered if query.matches(stack)] if query.filtered else ordered
    group_counts: dict[str, int] = {}
    if query.group:
        keyed = [(group_of(stack, query.group), stack) for stack in matched]
        group_counts = Counter(name for name, _ in keyed)
        order = {name: i for i, name in enumerate(sorted(group_counts, key=str.lower))}
        keyed.sort(key=lambda pair: order[pair[0]])  # stable: the sort holds within groups
        matched = [stack for _, stack in keyed]
        group_counts = {name: group_counts[name] for name in sorted(order, key=order.get)}
    # get_page: a page past the end shows the last one, as a bookmark of a shrunk list should.
    page = Paginator(matched, query.per_page).get_page(query.page)
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
    # The tiles follow every filter but health itself (one tile per health, as facets do).
    if query.filtered:
        others = replace(query, health="")
        counts = Counter(s.health for s in index.stacks if others.matches(s))
    else:
        counts = index.health_counts
    return StackPage(
        query=query,
        stacks=list(page.object_list),
        matching=matched,
        total=len(stacks),
        matched=len(matched),
        page=page.number,
        pages=page.paginator.num_pages,
        counts=[(h, counts.get(h, 0)) for h in Health if h is not Health.UNKNOWN]
        + ([(Health.UNKNOWN, counts[Health.UNKNOWN])] if counts[Health.UNKNOWN] else []),
        spaces=index.spaces,
        labels=index.labels,
        states=index.states,
        sort_links=sort_links,
        group_counts=group_counts,
        label_prefixes=index.label_prefixes,
    )


@dataclass(frozen=True)
class AttentionItem:
    stack: Stack
    reason: str
    kind: str
    since: datetime | None


# How many queue items the overview shows before "and N more".
ATTENTION_LIMIT = 12
# Most urgent first: a failed tracked run is broken now; a plan blocks its stack until someone
# decides; a stopped or discarded tracked run leaves code and infrastructure apart; drift and
# locks can wait a little; a stuck worker is usually an operator's problem.
ATTENTION_ORDER = ("failed", "unconfirmed", "stopped", "drifted", "locked", "stuck")
# What each kind is called where the queue counts what it hides.
ATTENTION_KINDS = {
    "failed": ("failed", "failed"),
    "unconfirmed": ("plan to confirm", "plans to confirm"),
    "stopped": ("stopped or discarded", "stopped or discarded"),
    "drifted": ("drifted", "drifted"),
    "locked": ("locked", "locked"),
    "stuck": ("stuck or waiting", "stuck or waiting"),
}
# A plan that just arrived is usually being looked at: it joins the queue after this long, so
# the list does not reorder on every poll while people are confirming.
PLAN_GRACE = timedelta(minutes=2)
# What a stack that waits too long in a state waits for, in words; a state not named here is
# "Stuck in <state>". See docs/spacelift-api.md, "Enums": READY waits for a worker to take the
# run, REPLAN_REQUESTED for Spacelift to start the new plan someone asked for.
STUCK_REASONS = {
    StackState.READY: "Waiting for a worker",
    StackState.REPLAN_REQUESTED: "Replan requested, not started",
    StackState.PREPARING: "Stuck preparing a run",
    StackState.PREPARING_APPLY: "Stuck preparing the apply",
    StackState.PREPARING_REPLAN: "Stuck preparing a replan",
    StackState.CONFIRMED: "Confirmed, apply not started",
}
STOPPED_REASONS = {
    StackState.STOPPED: "Tracked run stopped",
    StackState.DISCARDED: "Tracked plan discarded",
}


def attention_queue(
    stacks: list[Stack], *, stuck_after: timedelta, now: datetime | None = None
) -> list[AttentionItem]:
    """What waits for a human, most urgent kind first and, within a kind, longest waiting
    first: failed tracked runs, plans waiting for confirmation (after PLAN_GRACE), stopped or
    discarded tracked runs, drift, locks, and stacks stuck in a waiting or in-progress state
    longer than `stuck_after`."""
    now = now or datetime.now(tz=UTC)
    items = []
    for stack in stacks:
        set_at = stack.state_set_at
        waited = now - set_at if set_at else None
        if stack.state is StackState.FAILED:
            items.append(AttentionItem(stack, "Tracked run failed", "failed", set_at))
        elif stack.state is StackState.UNCONFIRMED and (waited is None or waited >= PLAN_GRACE):
            items.append(AttentionItem(stack, "Plan waits for confirmation", "unconfirmed", set_at))
        elif stack.state in STOPPED_REASONS:
            items.append(AttentionItem(stack, STOPPED_REASONS[stack.state], "stopped", set_at))
        elif (
            stack.health in (Health.IN_PROGRESS, Health.WAITING)
            and waited
            and (waited > stuck_after)
        ):
            reason = STUCK_REASONS.get(stack.state, f"Stuck in {stack.state_label}")
            items.append(AttentionItem(stack, reason, "stuck", set_at))
        if stack.is_drifted:
            items.append(AttentionItem(stack, "Drift detected", "drifted", None))
        if stack.locked_by:
            items.append(
                AttentionItem(stack, f"Locked by {stack.locked_by}", "locked", stack.locked_at)
            )
    return sorted(
        items,
        key=lambda i: (
            ATTENTION_ORDER.index(i.kind),
            i.since is None,
            i.since or now,
            i.stack.name.lower(),
        ),
    )


@dataclass(frozen=True)
class AttentionView:
    """The queue as the overview shows it: the first `limit` items, and what the rest are."""

    shown: list[AttentionItem]
    hidden: list[AttentionItem]
    stacks: int  # how many stacks the whole queue names

    @classmethod
    def of(cls, items: list[AttentionItem], limit: int = ATTENTION_LIMIT) -> AttentionView:
        return cls(items[:limit], items[limit:], len({item.stack.id for item in items}))

    @property
    def hidden_counts(self) -> list[str]:
        """What is hidden, counted by kind in the queue's order: ["3 failed", "2 locked"]."""
        counts = Counter(item.kind for item in self.hidden)
        words = []
        for kind in ATTENTION_ORDER:
            if counts[kind]:
                one, many = ATTENTION_KINDS[kind]
                words.append(f"{counts[kind]} {one if counts[kind] == 1 else many}")
        return words

    def __bool__(self) -> bool:
        return bool(self.shown)
