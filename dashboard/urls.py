"""The app's URLs, grouped by what they belong to: a stack, a run, the administration pages."""

from django.urls import include, path, register_converter

from dashboard import converters
from dashboard.accounts import access_views, people
from dashboard.audit import views as audit
from dashboard.connection import settings_page
from dashboard.live import views as live
from dashboard.notifications import views as notifications
from dashboard.runs import actions, log_views
from dashboard.runs import views as runs
from dashboard.stacks import exports, modules
from dashboard.stacks import health as stack_health
from dashboard.stacks import locks as stack_locks
from dashboard.stacks import views as stacks
from dashboard.webhooks import panel as webhook_panel
from dashboard.webhooks import receiver as webhooks

# A malformed stack or run ID is a 404 here, before any view runs.
register_converter(converters.StackIdConverter, "stack_id")
register_converter(converters.RunIdConverter, "run_id")

app_name = "dashboard"

# Below stacks/<stack_id>/runs/<run_id>/.
run_urls = [
    path("", runs.run_detail, name="run"),
    path("logs/<str:phase_key>/", log_views.run_log, name="run_log"),
    path("actions/<str:action>/", actions.run_action, name="run_action"),
]

# Below stacks/<stack_id>/.
stack_urls = [
    path("", stacks.stack_detail, name="stack"),
    path("why/", log_views.stack_why, name="why"),
    path("badge.svg", exports.stack_badge, name="badge"),
    path("health/<str:part>/", stack_health.stack_health, name="health"),
    path("lock/", stack_locks.lock_stack, name="stack_lock"),
    path("unlock/", stack_locks.unlock_stack, name="stack_unlock"),
    path("actions/trigger/", actions.trigger_run, name="trigger"),
    path("runs/<run_id:run_id>/", include(run_urls)),
]

# The Spacelift connection: the page, and the actions its forms post to.
connection_urls = [
    path("", settings_page.connection_settings, name="admin_connection"),
    path("save/", settings_page.save_connection, name="admin_connection_save"),
    path("test/", settings_page.test_typed_connection, name="admin_connection_test"),
    path("test-in-use/", settings_page.test_connection_in_use, name="admin_connection_test_in_use"),
    path("remove/", settings_page.remove_connection, name="admin_connection_remove"),
    path("webhook-secret/", webhook_panel.save_secret, name="webhook_secret"),
]

# The notification routes: the page, and the actions its forms post to.
notification_urls = [
    path("", notifications.notifications, name="notifications"),
    path("add/", notifications.add_route, name="notifications_add"),
    path("<int:route_id>/", notifications.edit_route, name="notifications_edit"),
    path("<int:route_id>/remove/", notifications.remove_route, name="notifications_remove"),
    path("test/", notifications.send_test, name="notifications_test"),
]

# Below administration/: staff pages.
administration_urls = [
    path("spacelift/", include(connection_urls)),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/export.csv", audit.audit_csv, name="audit_csv"),
    path("people/", people.people, name="people"),
    path("people/<int:user_id>/operator/", people.set_operator, name="people_operator"),
    path("access/", access_views.access_rules, name="access"),
    path("access/mirror/", access_views.mirror_idp_mappings, name="access_mirror"),
    path("notifications/", include(notification_urls)),
]

urlpatterns = [
    path("", stacks.overview, name="overview"),
    path("stacks/<stack_id:stack_id>/", include(stack_urls)),
    path("modules/", modules.module_list, name="modules"),
    path("administration/", include(administration_urls)),
    path("status.json", exports.status_json, name="status_json"),
    path("metrics", exports.metrics, name="metrics"),
    path("healthz", stacks.healthz, name="healthz"),
    path("webhooks/spacelift/", webhooks.receive, name="webhook"),
    path("events/", live.events, name="events"),
]
