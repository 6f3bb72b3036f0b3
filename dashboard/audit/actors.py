"""Who in the portal acted on a run, from the audit log.

Spacelift records a run triggered or confirmed through the portal as the portal's API key
(`api::<key ID>`), not as the person; the portal's own audit log knows the person.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from dashboard.models import AuditEntry

VERBS = {
    AuditEntry.Action.TRIGGER: "Triggered",
    AuditEntry.Action.CONFIRM: "Confirmed",
    AuditEntry.Action.DISCARD: "Discarded",
    AuditEntry.Action.RETRY: "Retried",  # said of the new run a retry started
}
# Actions that start a new run: the person is shown beside the run they started.
STARTS_A_RUN = (AuditEntry.Action.TRIGGER, AuditEntry.Action.RETRY)


def portal_actors(run_ids: Iterable[str]) -> dict[str, list[str]]:
    """For each run an action in the portal touched: `Triggered in the portal by alice`, ..."""
    ids = [run_id for run_id in run_ids if run_id]
    if not ids:
        return {}
    entries = AuditEntry.objects.filter(succeeded=True).filter(
        Q(result_run_id__in=ids) | Q(run_id__in=ids)
    )
    actors: dict[str, list[str]] = {}
    for entry in entries.order_by("created_at"):
        run_id = entry.result_run_id if entry.action in STARTS_A_RUN else entry.run_id
        if run_id in ids and entry.action in VERBS:
            actors.setdefault(run_id, []).append(
                f"{VERBS[entry.action]} in the portal by {entry.username}"
            )
    return actors
