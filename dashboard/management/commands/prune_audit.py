"""Deletes audit entries older than PORTAL_AUDIT_DAYS (writes prune too; this is for cron)."""

from django.core.management.base import BaseCommand

from dashboard.audit import prune


class Command(BaseCommand):
    help = "Delete audit log entries older than PORTAL_AUDIT_DAYS."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Deleted {prune()} audit entries.")
