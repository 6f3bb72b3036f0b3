"""The dashboard app's configuration: system checks, and forgetting process state."""

from django.apps import AppConfig
from django.core.signals import setting_changed


def _forget_process_state(**kwargs) -> None:
    from dashboard.spacelift import process_state

    process_state.reset_all()


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Spacelift Portal"

    def ready(self) -> None:
        from dashboard import (
            checks,  # noqa: F401 - registers the system checks
            regions,  # noqa: F401 - registers its process state
        )
        from dashboard.connection import diagnostics  # noqa: F401 - likewise
        from dashboard.notifications import (
            checks as notification_checks,  # noqa: F401 - registers its checks
        )
        from dashboard.notifications import watcher  # noqa: F401 - registers its process state

        # What a process holds (memos, clients, rendered regions) was built under the old
        # settings; Django sends this when tests change one (pytest-django's `settings`).
        setting_changed.connect(_forget_process_state, dispatch_uid="dashboard-process-state")
