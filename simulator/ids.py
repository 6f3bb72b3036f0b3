"""IDs as Spacelift makes them: ULIDs, run IDs that name their stack, and stack slugs.

A ULID is 10 Crockford base32 characters of millisecond time, then 16 random ones, so IDs
sort by creation time (docs/spacelift-api.md: runs are paged with `before`, the last ID
received). A run ID hides its stack's index in its first random characters, so `runStack`
finds the stack without an index of runs that are generated lazily. Stack slugs are
component-environment names, the first few fixed so demos and tests can name them.
"""

from __future__ import annotations

import random
import re

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Crockford's digits as the ones int(text, 32) reads, so decoding runs in C.
_AS_PYTHON_BASE32 = str.maketrans(CROCKFORD32, "0123456789abcdefghijklmnopqrstuv")
_CROCKFORD_TEXT = re.compile(r"[0-9A-HJKMNP-TV-Z]+")


def encode_base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(CROCKFORD32[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode_base32(text: str) -> int | None:
    text = text.upper()
    if not _CROCKFORD_TEXT.fullmatch(text):
        return None if text else 0
    return int(text.translate(_AS_PYTHON_BASE32), 32)


def make_ulid(timestamp_ms: int, rng: random.Random) -> str:
    """A ULID: 10 characters of millisecond time, then 16 random ones."""
    return encode_base32(timestamp_ms, 10) + encode_base32(rng.getrandbits(80), 16)


def _index_mask(timestamp_ms: int) -> int:
    return (timestamp_ms * 2654435761 >> 11) & 0xFFFFF


def make_run_id(timestamp_ms: int, stack_index: int, rng: random.Random) -> str:
    """A ULID whose first 20 random bits carry the stack index (scrambled by the time), so
    `runStack` finds the stack without a global index of lazily generated runs."""
    return (
        encode_base32(timestamp_ms, 10)
        + encode_base32(stack_index ^ _index_mask(timestamp_ms), 4)
        + encode_base32(rng.getrandbits(60), 12)
    )


def stack_index_of_run(run_id: str) -> int | None:
    if len(run_id) != 26:
        return None
    timestamp_ms = decode_base32(run_id[:10])
    tag = decode_base32(run_id[10:14])
    if timestamp_ms is None or tag is None:
        return None
    return tag ^ _index_mask(timestamp_ms)


def random_hex(rng: random.Random, length: int = 40) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


def run_id_moved(run_id: str, milliseconds: int) -> str:
    """The ID the same run gets when it is made `milliseconds` later (same random part)."""
    timestamp_ms = decode_base32(run_id[:10])
    index = stack_index_of_run(run_id)
    assert timestamp_ms is not None and index is not None, run_id
    moved = timestamp_ms + milliseconds
    return encode_base32(moved, 10) + encode_base32(index ^ _index_mask(moved), 4) + run_id[14:]


# -- stack slugs ----------------------------------------------------------------------------

COMPONENTS = (
    # component, space key, team, folder
    ("network-core", "platform", "platform", "networking"),
    ("dns", "platform", "platform", "networking"),
    ("k8s-cluster", "platform", "sre", "kubernetes"),
    ("iam-baseline", "platform", "security", "security"),
    ("observability", "platform", "sre", "observability"),
    ("ci-runners", "platform", "devex", "ci"),
    ("secrets", "platform", "security", "security"),
    ("edge-cdn", "platform", "platform", "networking"),
    ("vpn-gateway", "platform", "platform", "networking"),
    ("payments", "payments", "payments", "payments"),
    ("billing", "payments", "billing", "payments"),
    ("checkout", "payments", "payments", "storefront"),
    ("fraud-detection", "payments", "risk", "risk"),
    ("ledger", "payments", "billing", "payments"),
    ("card-vault", "payments", "security", "payments"),
    ("invoicing", "payments", "billing", "payments"),
    ("data-lake", "data", "data-eng", "data"),
    ("kafka", "data", "data-eng", "streaming"),
    ("warehouse", "data", "analytics", "data"),
    ("ml-platform", "data", "ml", "ml"),
    ("airflow", "data", "data-eng", "data"),
    ("search", "data", "search", "search"),
    ("analytics-api", "data", "analytics", "data"),
)
_ENVS = ("prod", "staging", "dev", "sandbox", "eu-prod", "us-prod", "qa")
_REGIONS = ("", "-eu-west-1", "-us-east-1", "-ap-southeast-2")
# The first stacks always exist, so demos and tests can name them.
HEAD_STACKS = (
    "payments-prod",
    "network-core-staging",
    "network-core-prod",
    "payments-staging",
    "data-lake-prod",
    "k8s-cluster-prod",
    "checkout-dev",
    "kafka-staging",
)


def stack_slugs(count: int, rng: random.Random) -> list[tuple[str, tuple[str, str, str, str], str]]:
    """(slug, component, environment): the head names, shuffled combinations, then numbered."""
    combos = [(f"{c[0]}-{e}{r}", c, e) for r in _REGIONS for c in COMPONENTS for e in _ENVS]
    by_id = {combo[0]: combo for combo in combos}
    head = [by_id[stack_id] for stack_id in HEAD_STACKS]
    rest = [combo for combo in combos if combo[0] not in HEAD_STACKS]
    rng.shuffle(rest)
    ids = (head + rest)[:count]
    suffix = 2
    while len(ids) < count:
        ids.extend((f"{i}-{suffix}", c, e) for i, c, e in combos[: count - len(ids)])
        suffix += 1
    return ids
