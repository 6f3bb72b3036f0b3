"""Log lines for people: ANSI colours as CSS classes, and the one line that says why.

Everything in a log is untrusted text. Each line is escaped; the only markup added is
`<span class="ansi-...">`, so the page needs no inline style and the CSP stays strict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# SGR ("select graphic rendition") sequences carry colours; every other escape sequence
# (cursor moves, window titles) and control character is dropped.
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPES = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[A-Za-z]|\x1b.")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_EFFECTS = {1: "bold", 2: "dim", 3: "italic", 4: "underline"}
_EFFECT_OFF = {21: "bold", 22: ("bold", "dim"), 23: "italic", 24: "underline"}


def _colour(code: int) -> tuple[str, str] | None:
    """What an SGR code sets: ("fg" or "bg", its colour, "" for the default); None if it
    sets no colour. 30-37 and 40-47 are the eight colours, 90-97 and 100-107 their bright
    forms, 39 and 49 the defaults."""
    for layer, base in (("fg", 30), ("bg", 40)):
        if base <= code <= base + 7:
            return layer, _COLOURS[code - base]
        if base + 60 <= code <= base + 67:
            return layer, "bright-" + _COLOURS[code - base - 60]
        if code == base + 9:
            return layer, ""
    return None


@dataclass
class _Style:
    effects: set[str]
    fg: str = ""
    bg: str = ""

    def classes(self) -> str:
        names = [f"ansi-{effect}" for effect in sorted(self.effects)]
        if self.fg:
            names.append(f"ansi-fg-{self.fg}")
        if self.bg:
            names.append(f"ansi-bg-{self.bg}")
        return " ".join(names)

    def apply(self, params: str) -> None:
        codes = [int(c) if c.isdigit() else 0 for c in params.split(";")] if params else [0]
        index = 0
        while index < len(codes):
            code = codes[index]
            if code == 0:
                self.effects.clear()
                self.fg = self.bg = ""
            elif code in _EFFECTS:
                self.effects.add(_EFFECTS[code])
            elif code in _EFFECT_OFF:
                off = _EFFECT_OFF[code]
                self.effects.difference_update((off,) if isinstance(off, str) else off)
            elif (colour := _colour(code)) is not None:
                setattr(self, *colour)
            elif code in (38, 48):  # 256-colour and true colour: skipped, not guessed
                index += 2 if codes[index + 1 : index + 2] == [5] else 4
            index += 1


def plain(line: str) -> str:
    """The line as text, without any escape sequence or control character."""
    return _CONTROL.sub("", _OTHER_ESCAPES.sub("", _SGR.sub("", line)))


def render_lines(lines: Iterable[str]) -> list[SafeString]:
    """Each line as safe HTML; a colour set on one line carries on to the next, as on a
    terminal."""
    style = _Style(set())
    rendered = []
    for line in lines:
        parts: list[str] = []
        position = 0
        for match in _SGR.finditer(line):
            _append(parts, line[position : match.start()], style)
            style.apply(match.group(1))
            position = match.end()
        _append(parts, line[position:], style)
        rendered.append(mark_safe("".join(parts)))  # noqa: S308 - every piece is escaped
    return rendered


def _append(parts: list[str], text: str, style: _Style) -> None:
    text = _CONTROL.sub("", _OTHER_ESCAPES.sub("", text))
    if not text:
        return
    classes = style.classes()
    if classes:
        parts.append(f'<span class="{classes}">{escape(text)}</span>')
    else:
        parts.append(escape(text))


# -- why ------------------------------------------------------------------------------------

# Terraform and OpenTofu draw an error block with box characters: "│ Error: <summary>".
_TERRAFORM_ERROR = re.compile(r"^[\s│╷╵|]*(Error: .+)$")
# Pulumi: "error: <message>", indented under the resource that failed.
_PULUMI_ERROR = re.compile(r"^\s*(error: .+)$")
_PULUMI_GENERIC = re.compile(
    r"^error: (update failed|preview failed|\d+ errors? occurred:?|an unhandled error occurred.*)$",
    re.I,
)
_POLICY_DENIAL = re.compile(
    r"polic(y|ies)\b.*\b(denied|deny|rejected)|\b(denied|rejected) by .*polic", re.I
)
_WORKER_FAILURE = re.compile(
    r"timed out|\btimeout\b|deadline exceeded|worker (was )?(lost|died|crashed|terminated|"
    r"stopped responding)|oomkilled|out of memory",
    re.I,
)
WHY_MAX_CHARS = 300


def find_why(lines: Iterable[str]) -> str | None:
    """The line a person needs from a failed phase's log, or None: never a guess."""
    found = find_why_at(lines)
    return found[1] if found else None


def find_why_at(lines: Iterable[str]) -> tuple[int, str] | None:
    """Where in `lines` (0-based) the line a person needs is, and what it says; None: none.

    In order: a Terraform or OpenTofu `Error:` (the first one, usually the cause), a Pulumi
    `error:` that is more than "update failed", a policy denial, a worker or timeout failure.
    """
    text = [plain(line).strip() for line in lines]
    for pattern, pick in (
        (_TERRAFORM_ERROR, lambda found: found[0]),
        (_PULUMI_ERROR, _specific_pulumi_error),
        (_POLICY_DENIAL, lambda found: found[-1]),
        (_WORKER_FAILURE, lambda found: found[-1]),
    ):
        found = []
        for index, line in enumerate(text):
            match = pattern.search(line)
            if match:
                found.append((index, match.group(1) if match.re.groups == 1 else line))
        if found:
            index, line = pick(found)
            return index, line[:WHY_MAX_CHARS]
    return None


def _specific_pulumi_error(found: list[tuple[int, str]]) -> tuple[int, str]:
    specific = [item for item in found if not _PULUMI_GENERIC.match(item[1])]
    return (specific or found)[0]
