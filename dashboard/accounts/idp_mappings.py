"""Spacelift's own IdP group mappings (`managedUserGroups`), offered as the portal's rules, so
who sees which space can be kept in one place.

Reading them takes an admin key: any other key is answered "unauthorized", and the Access page
says so in a note rather than an error. A Spacelift without the field (learned per connection,
as every optional field is) gets a note too. Every access level (READ, WRITE, ADMIN) counts as
seeing the space: the portal only shows, and acting stays with the operators group.
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
    """What the Access page may offer to copy from Spacelift, or why it offers nothing."""
    if service is None:
        return Offer(None, "")
    snapshot = service.idp_group_mappings()
    if snapshot.data is None and snapshot.problem is not None:
        return Offer(
            None,
            "This API key may not read Spacelift's IdP group mappings (reading them takes an "
            "admin key), so they cannot be copied here. Spacelift said: "
            f"{snapshot.problem.summary}",
        )
    if snapshot.data is None:
        return Offer(None, "This Spacelift has no IdP group mappings API (managedUserGroups).")
    rules = {m.group_name: m.spaces for m in snapshot.data if m.group_name}
    if not rules:
        return Offer(None, "Spacelift has no IdP group mappings to copy.")
    listed = "; ".join(
        f"{group}: {', '.join(spaces) or 'no space'}" for group, spaces in rules.items()
    )
    return Offer(
        rules,
        f"Spacelift maps {len(rules)} IdP group{'s' if len(rules) != 1 else ''} to spaces "
        f"({listed}). Copying them replaces the rules above.",
    )
