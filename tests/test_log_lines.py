"""Log lines for people: ANSI colours as classes, escaping, and the one line that says why."""

from __future__ import annotations

import pytest

from dashboard.runs.log_lines import find_why, plain, render_lines
from dashboard.spacelift.types.logs import LogPage, ResourceChange, group_changes

RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"


def test_colours_become_classes_and_carry_to_the_next_line():
    first, second = render_lines([f"{RED}red {BOLD}bold", f"still{RESET} plain"])
    assert (
        first
        == '<span class="ansi-fg-red">red </span><span class="ansi-bold ansi-fg-red">bold</span>'
    )
    assert second == '<span class="ansi-bold ansi-fg-red">still</span> plain'


def test_markup_and_other_escape_sequences_never_pass_through():
    (line,) = render_lines(["\x1b]0;title\x07\x1b[2K<b onclick=x>&\x07\x1b[38;5;196mhot\x1b[0m"])
    assert line == "&lt;b onclick=x&gt;&amp;hot"


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        ([f"{RED}│{RESET} {BOLD}{RED}Error: {RESET}{BOLD}No valid credential sources{RESET}", "│",
          "│ Error: a second error"], "Error: No valid credential sources"),
        (["    error: update failed", "  aws:s3:Bucket (b):", "    error: BucketAlreadyExists"],
         "error: BucketAlreadyExists"),
        (["    error: update failed"], "error: update failed"),
        (['Plan policy "guardrails" denied the run: no deletes in prod'],
         'Plan policy "guardrails" denied the run: no deletes in prod'),
        (["working...", "Run timed out after 70 minutes"], "Run timed out after 70 minutes"),
        (["Worker lost: it stopped reporting"], "Worker lost: it stopped reporting"),
        (["exit status 1", "Unexpected exit code when planning changes: 1"], None),
        ([], None),
    ],
)  # fmt: skip
def test_the_why_line_is_found_and_never_guessed(lines, why):
    assert find_why(lines) == why


def test_plain_drops_every_code():
    assert plain(f"{RED}a\x1b[2Kb\x00c{RESET}") == "abc"


def test_a_page_of_messages_becomes_lines():
    page = LogPage.from_api(
        {"exists": True, "finished": False, "hasMore": True, "nextToken": "t",
         "messages": [{"message": "one\n"}, {"message": "two\nthree\n"}, {"message": "10%\r100%\n"},
                      {"message": "no newline"}, None]}
    )  # fmt: skip
    assert page.lines == ("one", "two", "three", "100%", "no newline", "")
    assert page.has_more and not page.finished and page.next_token == "t"


def test_changes_are_grouped_in_reading_order_and_unknown_kinds_kept():
    resources = tuple(
        ResourceChange(address, previous, kind)
        for address, previous, kind in (
            ("a.deleted", "", "DELETED"), ("a.new", "", "ADDED"), ("a.odd", "", "TELEPORTED"),
            ("a.moved", "a.old", "MOVED"), ("a.same", "", "NOOP"), ("a.created", "", "create"),
            ("a.cbd", "", "create-Before-destroy-replaced"), ("a.noop", "", "no-op"),
            ("a.dbc", "", "DESTROY-BEFORE-CREATE-REPLACED"), ("a.kept", "", "forget"),
        )
    )  # fmt: skip
    groups = group_changes(resources)
    assert [(g.label, [r.address for r in g.resources]) for g in groups] == [
        ("Add", ["a.new", "a.created"]),
        ("Replace", ["a.cbd", "a.dbc"]),
        ("Move", ["a.moved"]),
        ("Delete", ["a.deleted"]),
        ("Forget", ["a.kept"]),
        ("TELEPORTED", ["a.odd"]),
    ]
