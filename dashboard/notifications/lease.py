"""Exactly one process sends: a lease row in the database, taken with one atomic update.

Whoever holds the lease, or finds it expired, extends it by LEASE_INTERVALS intervals; everyone
else finds nothing to update. A holder that dies stops extending it, and another process takes
it over once it has expired. The clock is the service clock, which tests move.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from dashboard.models import NotifierLease
from dashboard.spacelift.clock import clock

NAME = "notifications"
# A lease lasts this many intervals: a holder that died is replaced within them.
LEASE_INTERVALS = 3


def now() -> datetime:
    return datetime.fromtimestamp(clock(), tz=UTC)


def lease_seconds() -> float:
    return LEASE_INTERVALS * settings.PORTAL_POLL_SECONDS


def take(holder: str) -> bool:
    """Hold (or keep holding) the lease; False when another live process holds it."""
    moment = now()
    until = moment + timedelta(seconds=lease_seconds())
    taken = (
        NotifierLease.objects.filter(name=NAME)
        .filter(Q(holder=holder) | Q(expires_at__lt=moment))
        .update(holder=holder, expires_at=until)
    )
    if taken:
        return True
    try:
        with transaction.atomic():
            NotifierLease.objects.create(name=NAME, holder=holder, expires_at=until)
    except IntegrityError:  # the row exists, held by another
        return False
    return True


def release(holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so another process need not wait."""
    NotifierLease.objects.filter(name=NAME, holder=holder).update(expires_at=now())


def holder_now() -> NotifierLease | None:
    return NotifierLease.objects.filter(name=NAME).first()
