"""Spacelift's IdP group mappings (`managedUserGroups`), as an admin API key reads them.

Kept apart from world.py: the mappings follow the world's spaces (a group per team and one
with the root space), and `refuse(simulator)` makes the key one that may not read them, which
Spacelift answers "unauthorized" (docs/spacelift-api.md, "Errors"). A lean API (realism.py)
has no `managedUserGroups` at all, like a self-hosted Spacelift without it.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

SDL = """
type ManagedUserGroup {
  id: ID!
  groupName: String!
  accessRules: [SpaceAccessRule!]!
}

type SpaceAccessRule {
  space: ID!
  spaceAccessLevel: SpaceAccessLevel!
}

extend type Query {
  managedUserGroups: [ManagedUserGroup!]!
}
"""

# Group name -> (space name, access level), over the world's spaces.
MAPPINGS = {
    "team-payments": [("payments", "WRITE")],
    "team-platform": [("platform", "ADMIN")],
    "data-readers": [("data", "READ"), ("payments", "READ")],
    "sre": [("root", "ADMIN")],
}


def refuse(simulator: Any, refused: bool = True) -> None:
    """Make the simulator's key one that may (not) read the mappings."""
    simulator.idp_groups_refused = refused


def managed_user_groups(_: Any, info: Any) -> list[dict[str, Any]]:
    if getattr(info.context.simulator, "idp_groups_refused", False):
        raise GraphQLError("unauthorized")
    spaces = {space.name: space.id for space in info.context.world.spaces}
    return [
        {
            "id": f"idp-{index:02d}",
            "group_name": group,
            "access_rules": [
                {"space": spaces[name], "space_access_level": level}
                for name, level in rules
                if name in spaces
            ],
        }
        for index, (group, rules) in enumerate(MAPPINGS.items(), start=1)
    ]


def resolvers() -> dict[str, Any]:
    return {"managedUserGroups": managed_user_groups}
