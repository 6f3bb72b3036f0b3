"""Who may do what, in words: staff (configures the portal), operator (acts on runs), viewer."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

# Created by migration 0003 with the dashboard.operate_stacks permission.
OPERATORS_GROUP = "operators"
OPERATE_CODENAME = "operate_stacks"


def is_operator(user) -> bool:
    # Asked of the database, not has_perm(): its per-object cache misses a change just made.
    if user.is_superuser:
        return True
    return (
        user.groups.filter(permissions__codename=OPERATE_CODENAME).exists()
        or user.user_permissions.filter(codename=OPERATE_CODENAME).exists()
    )


def role_of(user) -> str:
    staff = user.is_staff or user.is_superuser
    operator = is_operator(user)
    if staff and operator:
        return "staff, operator"
    if staff:
        return "staff"
    return "operator" if operator else "viewer"


def operators_group() -> Group:
    """The group, made again with its permission if someone deleted it in the admin."""
    group, created = Group.objects.get_or_create(name=OPERATORS_GROUP)
    if created:
        group.permissions.add(
            Permission.objects.get(codename=OPERATE_CODENAME, content_type__app_label="dashboard")
        )
    return group


def set_operator(user, operator: bool) -> None:
    group = operators_group()
    if operator:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    for cache_name in ("_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache_name, None)
