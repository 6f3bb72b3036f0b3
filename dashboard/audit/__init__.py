"""Writing the audit trail: one `record()` for every kind of entry, pruning as it writes.

Entries older than PORTAL_AUDIT_DAYS are deleted on every write (an indexed range delete, so
cheap); `manage.py prune_audit` does the same for a portal that has gone quiet.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from dashboard.models import AuditEntry

# The client address of the request being answered (PORTAL_TRUSTED_PROXY_COUNT decides it).
_address: ContextVar[str | None] = ContextVar("audit_address", default=None)


@contextmanager
def from_address(address: str | None) -> Iterator[None]:
    """Entries recorded inside name `address` (set by the portal's middleware per request)."""
    token = _address.set(address or None)
    try:
        yield
    finally:
        _address.reset(token)


def cutoff():
    return timezone.now() - timedelta(days=settings.PORTAL_AUDIT_DAYS)


def prune() -> int:
    deleted, _ = AuditEntry.objects.filter(created_at__lt=cutoff()).delete()
    return deleted


def record(
    user,
    action: str,
    *,
    stack_id: str = "",
    run_id: str = "",
    result_run_id: str = "",
    result_state: str = "",
    fields: list[str] | tuple[str, ...] = (),
    message: str = "",
    succeeded: bool = True,
) -> AuditEntry:
    """Write one entry. `fields` are field NAMES a change touched; never pass a value."""
    entry = AuditEntry.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        username=user.get_username() if user is not None else "",
        action=action,
        stack_id=stack_id,
        run_id=run_id,
        result_run_id=result_run_id[:26],
        result_state=result_state[:40],
        fields=", ".join(fields)[:200],
        message=message[:500],
        succeeded=succeeded,
        client_address=_address.get(),
    )
    prune()
    return entry


def record_sign_in(user, how: str) -> None:
    record(user, AuditEntry.Action.SIGN_IN, message=f"Signed in with {how}")


_CONNECTION_KINDS = {
    "save": AuditEntry.Action.CONNECTION_SAVE,
    "test": AuditEntry.Action.CONNECTION_TEST,
    "remove": AuditEntry.Action.CONNECTION_REMOVE,
}


def record_connection(user, kind: str, checks=None, fields=()) -> None:
    """A save, test or removal of the Spacelift connection; a test records whether it passed."""
    failed = [check.name for check in checks or () if not check.passed]
    record(
        user,
        _CONNECTION_KINDS[kind],
        fields=fields,
        succeeded=not failed,
        message=f"Failed checks: {', '.join(failed)}" if failed else "",
    )
