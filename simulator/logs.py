"""Run logs and plan changes, as the simulator serves them.

Shapes follow spacectl (docs/spacelift-api.md, "Learned since"):

- `Run.logs(state, token, stateVersion)` answers one page `{ exists finished hasMore nextToken
  messages { message } }`; each message is one line ending in a newline (spacectl prints
  them with no separator). Pages are joined through `nextToken`. A phase that is still
  running answers `hasMore: false, finished: false` until it ends; its log grows by
  `LINES_PER_TICK` lines each tick of the world's clock (a test calls `step()`).
- `Run.changesV3(input: {})` answers a list of `{ resources { address previousAddress
  metadata { type } } }`. The values of `metadata.type` are undocumented; the simulator
  sends ADDED, CHANGED, DELETED, REPLACED, MOVED and IMPORTED (a guess), and a test can
  script others.

Logs are made from the run's ID, so they are the same every time. Terraform's colours come
as ANSI escape codes; a failed phase ends with the block a person needs (a Terraform or
OpenTofu `Error:`, a Pulumi `error:`, a policy denial or a lost worker). Every plan prints a
value holding HTML, as a real log of untrusted input would.
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass, field
from typing import Any

LOG_PAGE_SIZE = 40  # messages a page; Spacelift does not document its page size
LINES_PER_TICK = 6  # how much a running phase's log grows per tick
RUNNING_START_LINES = 2  # what a running phase has written when first read

RED, GREEN, YELLOW, CYAN, BOLD, RESET = (
    "\x1b[31m",
    "\x1b[32m",
    "\x1b[33m",
    "\x1b[36m",
    "\x1b[1m",
    "\x1b[0m",
)
HTML_PAYLOAD = "<img src=x onerror=\"alert('log')\">"

_KINDS = (
    "aws_s3_bucket",
    "aws_iam_role",
    "aws_security_group",
    "aws_lambda_function",
    "aws_route53_record",
    "aws_sqs_queue",
    "aws_kms_key",
    "aws_cloudwatch_log_group",
)
_NAMES = ("logs", "assets", "api", "worker", "events", "audit", "primary", "replica", "edge")


@dataclass
class LogBook:
    """Per-world log state: when running phases started growing, and scripted logs."""

    world: Any
    started: dict[tuple[str, int], int] = field(default_factory=dict)
    scripted: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    scripted_changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def script(self, run_id: str, state: str, lines: list[str]) -> None:
        """Make a phase's full log exactly `lines` (for tests)."""
        self.scripted[(run_id, state)] = [line.rstrip("\n") + "\n" for line in lines]

    def script_changes(self, run_id: str, resources: list[dict[str, Any]]) -> None:
        self.scripted_changes[run_id] = resources


def logbook(world: Any) -> LogBook:
    book = world.__dict__.get("logbook")
    if book is None:
        book = world.__dict__["logbook"] = LogBook(world)
    return book


# -- tokens ---------------------------------------------------------------------------------


def _encode(version: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{version}:{offset}".encode()).decode().rstrip("=")


def _decode(token: str, version: int) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        tag, token_version, offset = raw.split(":")
        if tag != "v1" or int(token_version) != version or int(offset) < 0:
            raise ValueError
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("invalid logs token") from None


# -- content --------------------------------------------------------------------------------


def _resources(rng: random.Random, count: int) -> list[str]:
    return [
        f"{rng.choice(_KINDS)}.{rng.choice(_NAMES)}_{i}" if i % 4 else
        f'module.{rng.choice(_NAMES)}.{rng.choice(_KINDS)}.this["{rng.choice(_NAMES)}"]'
        for i in range(count)
    ]  # fmt: skip


def _body(run: Any, state: str, version: int) -> list[str]:
    rng = random.Random(f"{run.id}:{state}:{version}")
    stack = run.stack
    if state in ("PREPARING", "PREPARING_APPLY", "PREPARING_REPLAN"):
        pool = stack.worker_pool.name if stack.worker_pool else "public"
        sha = (run.commit.hash if run.commit else "")[:7]
        return [
            f"{CYAN}[{run.id}]{RESET} Preparing the workspace on worker pool {pool}",
            f"{CYAN}[{run.id}]{RESET} Downloading source code at {sha}",
            f"{CYAN}[{run.id}]{RESET} Pulling the runner image",
            f"{CYAN}[{run.id}]{RESET} Mounting {rng.randint(1, 6)} files from contexts",
            f"{CYAN}[{run.id}]{RESET} Workspace ready",
        ]  # fmt: skip
    if state == "INITIALIZING":
        tool = "tofu" if stack.vendor == "OPENTOFU" else "terraform"
        lines = [
            f"{BOLD}Initializing the backend...{RESET}",
            f"{BOLD}Initializing provider plugins...{RESET}",
        ]
        lines += [
            f"- Installing hashicorp/{p} v5.{rng.randint(0, 80)}.0..."
            for p in ("aws", "random", "tls")
        ]
        lines += ["", f"{BOLD}{GREEN}{tool.title()} has been successfully initialized!{RESET}"]
        return lines  # fmt: skip
    if state == "PERFORMING":
        return [f"$ {run.title}"] + [f"output line {i}" for i in range(rng.randint(8, 60))]
    resources = _resources(rng, rng.randint(30, 140) if rng.random() > 0.1 else 900)
    if state == "PLANNING":
        lines = [f"{r}: Refreshing state... [id={rng.getrandbits(32):08x}]" for r in resources]
        lines += ["", "Terraform will perform the following actions:", ""]
        for r in resources[: rng.randint(2, 6)]:
            kind = next(part for part in r.split(".") if part.startswith("aws_"))
            lines += [f"  {BOLD}# {r}{RESET} will be updated in-place",
                      f"  {YELLOW}~{RESET} resource \"{kind}\" {{",
                      f'      {YELLOW}~{RESET} tags = {{ "note" = "{HTML_PAYLOAD}" }}',
                      "    }"]  # fmt: skip
        delta = run.delta
        if delta:
            lines.append(
                f"{BOLD}Plan:{RESET} {delta.add_count} to add, {delta.change_count} to change, "
                f"{delta.delete_count} to destroy."
            )
        return lines
    # APPLYING, DESTROYING and anything else: one line per resource touched.
    verb = "Destroying" if state == "DESTROYING" else "Modifying"
    done = "Destruction" if state == "DESTROYING" else "Modifications"
    lines = []
    for r in resources[: max(3, len(resources) // 3)]:
        lines += [f"{r}: {verb}... [id={rng.getrandbits(32):08x}]",
                  f"{r}: {GREEN}{done} complete after {rng.randint(1, 40)}s{RESET}"]  # fmt: skip
    return lines


def _failure(run: Any, state: str) -> list[str]:
    """How the phase ended when the run failed in it: the line a person needs, last."""
    rng = random.Random(f"{run.id}:failure")
    roll = rng.random()
    stack = run.stack
    if roll < 0.12:
        return [f"{CYAN}[{run.id}]{RESET} Worker lost: the run did not report back for 10 minutes",
                f"{RED}Run timed out: worker stopped responding{RESET}"]  # fmt: skip
    if roll < 0.27 and state == "PLANNING":
        return [f"{BOLD}Evaluating plan policies...{RESET}",
                f'{RED}Plan policy "production-guardrails" denied the run: '
                f"deleting aws_kms_key.primary is not allowed{RESET}"]  # fmt: skip
    if roll < 0.32:
        return ["Unexpected exit code when planning changes: 1"]  # nothing a person can use
    if stack.vendor == "PULUMI":
        return ["Diagnostics:", "  pulumi:pulumi:Stack (app-prod):",
                f"    {RED}error:{RESET} update failed",
                "  aws:s3:Bucket (assets):",
                f"    {RED}error:{RESET} creating S3 Bucket (acme-assets): "
                "BucketAlreadyExists"]  # fmt: skip
    tool = "OpenTofu" if stack.vendor == "OPENTOFU" else "Terraform"
    return [f"{RED}╷{RESET}",
            f"{RED}│{RESET} {BOLD}{RED}Error: {RESET}{BOLD}creating S3 Bucket (acme-logs): "
            f"BucketAlreadyExists: the requested bucket name is not available{RESET}",
            f"{RED}│{RESET}",
            f"{RED}│{RESET}   with aws_s3_bucket.logs,",
            f'{RED}│{RESET}   on main.tf line 12, in resource "aws_s3_bucket" "logs":',
            f"{RED}╵{RESET}",
            f"{tool} exited with code 1"]  # fmt: skip


def phase_lines(book: LogBook, run: Any, state: str, version: int) -> tuple[list[str], bool]:
    """The lines written so far in one phase, and whether the phase has ended."""
    transitions = run.transitions
    index = next(
        (i for i, t in enumerate(transitions) if t.state == state and t.state_version == version),
        None,
    )
    if index is None or not transitions[index].has_logs:
        raise LookupError
    ended = index < len(transitions) - 1
    scripted = book.scripted.get((run.id, state))
    if scripted is not None:
        full = scripted
    else:
        full = [line + "\n" for line in _body(run, state, version)]
        if ended and transitions[index + 1].state == "FAILED":
            full += [line + "\n" for line in _failure(run, state)]
    if ended:
        return full, True
    start = book.started.setdefault((run.id, version), book.world.ticks)
    grown = RUNNING_START_LINES + LINES_PER_TICK * (book.world.ticks - start)
    return full[: min(len(full), grown)], False


def logs_page(
    world: Any,
    run: Any,
    state: str,
    token: str | None,
    version: int | None,
    expired: bool = False,
):
    book = logbook(world)
    if version is None:  # the latest visit of that state
        versions = [t.state_version for t in run.transitions if t.state == state]
        version = versions[-1] if versions else 0
    try:
        lines, ended = phase_lines(book, run, state, version)
        if expired:  # past the account's runLogRetentionDays: Spacelift keeps no log
            raise LookupError(run.id)
    except LookupError:
        return {"exists": False, "finished": True, "has_more": False, "next_token": None,
                "messages": []}  # fmt: skip
    offset = _decode(token, version) if token else 0
    end = min(offset + LOG_PAGE_SIZE, len(lines))
    has_more = end < len(lines)
    return {
        "exists": True,
        "finished": ended and not has_more,
        "has_more": has_more,
        "next_token": _encode(version, max(end, offset)),
        "messages": [{"message": line} for line in lines[offset:end]],
    }


def changes(world: Any, run: Any) -> list[dict[str, Any]]:
    """The plan's resource changes, consistent with the run's delta."""
    book = logbook(world)
    if run.id in book.scripted_changes:
        return [{"resources": book.scripted_changes[run.id]}]
    delta = run.delta
    if delta is None or not (delta.add_count or delta.change_count or delta.delete_count):
        return []
    rng = random.Random(f"{run.id}:changes")
    names = iter(dict.fromkeys(_resources(rng, 200)))
    replaced = 1 if delta.add_count and delta.delete_count else 0
    moved = 1 if delta.change_count >= 2 else 0
    imported = 1 if delta.add_count - replaced >= 2 else 0

    def resource(kind: str, previous: str | None = None) -> dict[str, Any]:
        return {"address": next(names), "previous_address": previous, "metadata": {"type": kind}}

    resources = [resource("ADDED") for _ in range(delta.add_count - replaced - imported)]
    resources += [resource("IMPORTED") for _ in range(imported)]
    resources += [resource("CHANGED") for _ in range(delta.change_count - moved)]
    resources += [resource("MOVED", f"aws_s3_bucket.legacy_{i}") for i in range(moved)]
    resources += [resource("DELETED") for _ in range(delta.delete_count - replaced)]
    resources += [resource("REPLACED") for _ in range(replaced)]
    return [{"resources": resources}]


def run_resolvers() -> dict[str, Any]:
    """Resolvers for the fields this module adds to `Run`."""
    return {
        "logs": lambda run, info, state, token=None, stateVersion=None: logs_page(
            info.context.world,
            run,
            state,
            token,
            stateVersion,
            expired=info.context.simulator.faults.logs_expired,
        ),
        "changesV3": lambda run, info, input=None: changes(info.context.world, run),
    }
