"""Templates read like code: no line longer than the limit the style guide sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template import engines

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LIMIT = 120
FILES = sorted(TEMPLATES.rglob("*.html"))


def long_lines(text: str) -> list[tuple[int, int]]:
    """(line number, length) of every line over the limit."""
    return [
        (number, len(line))
        for number, line in enumerate(text.splitlines(), start=1)
        if len(line) > LIMIT
    ]


def test_there_are_templates_to_check():
    assert len(FILES) > 10


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_no_template_line_is_longer_than_the_limit(path):
    assert long_lines(path.read_text(encoding="utf-8")) == []


def test_the_check_catches_a_long_line():
    assert long_lines("<p>short</p>\n" + "x" * (LIMIT + 1)) == [(2, LIMIT + 1)]
    assert long_lines("y" * LIMIT) == []


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_no_template_tag_is_split_across_lines(path):
    """Django tags cannot span lines: a split one would be shown as text on the page."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for opener, closer in (("{%", "%}"), ("{{", "}}"), ("{#", "#}")):
            assert line.count(opener) == line.count(closer), f"{path.name}:{number}"


def test_every_template_compiles():
    django_engine = engines["django"]
    for path in FILES:
        django_engine.get_template(str(path.relative_to(TEMPLATES)))
