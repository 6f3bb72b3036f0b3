"""Spacelift's own IdP group mappings (`managedUserGroups`), offered as the portal's rules.

Filled in below; until then nothing is offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.accounts.access import Rules
from dashboard.spacelift.service import SpaceliftService


@dataclass(frozen=True)
class Offer:
    rules: Rules | None  # None: nothing to copy, and `note` says why
    note: str


def offer(service: SpaceliftService | None) -> Offer:
    return Offer(None, "")
