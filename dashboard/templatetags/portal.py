"""Small template helpers: times, durations, Markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import markdown as markdown_lib
import nh3
from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from dashboard.spacelift.types import state_label

register = template.Library()

# What a stack description may keep after sanitising; everything else is stripped.
MARKDOWN_TAGS = {
    "a", "p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def humanize_seconds(seconds: float) -> str:
    """One format at every scale, the two largest units: `40 s`, `4 min 5 s`, `3 h 10 min`,
    `2 d 5 h`."""
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if minutes < 10 and seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def since(value: datetime | None) -> str:
    """How long ago, in one short phrase: `4 min`, `3 h 10 min`, `12 d 3 h`."""
    if not value:
        return "—"
    return humanize_seconds((datetime.now(tz=UTC) - value).total_seconds())


@register.filter
def duration(seconds: float | None) -> str:
    return "—" if seconds is None else humanize_seconds(seconds)


@register.filter
def markdown(text: str) -> str:
    """Render untrusted Markdown and sanitise the HTML with nh3 (Ammonia)."""
    if not text:
        return ""
    html = markdown_lib.markdown(text, extensions=["tables", "fenced_code"])
    clean = nh3.clean(
        html,
        tags=MARKDOWN_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


@register.simple_tag
def stack_url(connection, stack_id: str) -> str:
    return connection.stack_url(stack_id)


@register.simple_tag
def run_url(connection, stack_id: str, run_id: str) -> str:
    return connection.run_url(stack_id, run_id)


@register.simple_tag
def space_url(connection, space_id: str) -> str:
    return connection.space_url(space_id)


@register.simple_tag
def module_url(connection, module_id: str) -> str:
    return connection.module_url(module_id)


@register.simple_tag
def query_url(query, **changes) -> str:
    """The overview URL for `query` with `changes`, back on page one."""
    return query.url(page="", **changes)


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if mapping else None


@register.filter(name="state_label")
def state_label_filter(raw: str) -> str:
    """`PREPARING_APPLY` -> `Preparing apply`, as the chips say it."""
    return state_label(raw or "")


# Exact times carry their zone: the portal's TIME_ZONE (UTC unless configured).
EXACT_TIME = "Y-m-d H:i:s T"


@register.simple_tag
def ago(value: datetime | None) -> str:
    """`4 min` in a <time> whose tooltip gives the exact moment with its zone."""
    if not value:
        return "—"
    exact = date_format(localtime(value), EXACT_TIME)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, since(value)
    )


@register.filter
def exact(value: datetime | None) -> str:
    """The exact moment with its zone: `2026-11-23 11:05:00 UTC`."""
    return date_format(localtime(value), EXACT_TIME) if value else "—"


@register.filter
def http_url(value: str | None) -> str:
    """`value` if it is an http(s) URL, else "": only those become links (no `javascript:`)."""
    if not value:
        return ""
    try:
        scheme = urlsplit(str(value).strip()).scheme.lower()
    except ValueError:
        return ""
    return str(value).strip() if scheme in ("http", "https") else ""


@register.filter
def stack_path(stack_id: str) -> str:
    """The portal's page of a stack, or "" for an ID its URLs cannot carry (shown unlinked)."""
    try:
        return reverse("dashboard:stack", args=[stack_id])
    except NoReverseMatch:
        return ""
