"""The app's URLs: one line a page, named as the templates and tests reverse them."""

from django.urls import path, register_converter

from dashboard import converters
from dashboard.accounts import people
from dashboard.audit import views as audit
from dashboard.connection import views as connection
from dashboard.live import views as live
from dashboard.runs import actions, log_views
from dashboard.runs import views as runs
from dashboard.stacks import exports, modules
from dashboard.stacks import views as stacks
from dashboard.webhooks import panel as webhook_panel
from dashboard.webhooks import receiver as webhooks

# A malformed stack or run ID is a 404 here, before any view runs.
register_converter(converters.StackIdConverter, "stack_id")
register_converter(converters.RunIdConverter, "run_id")

app_name = "dashboard"

urlpatterns = [
    path("", stacks.overview, name="overview"),
    path("stacks/<stack_id:stack_id>/", stacks.stack_detail, name="stack"),
    path("stacks/<stack_id:stack_id>/runs/<run_id:run_id>/", runs.run_detail, name="run"),
    path(
        "stacks/<stack_id:stack_id>/runs/<run_id:run_id>/logs/<str:phase_key>/",
        log_views.run_log,
        name="run_log",
    ),
    path("stacks/<stack_id:stack_id>/why/", log_views.stack_why, name="why"),
    path("modules/", modules.module_list, name="modules"),
    path(
        "administration/spacelift/",
        connection.spacelift_connection,
        name="admin_connection",
    ),
    path("stacks/<stack_id:stack_id>/actions/trigger/", actions.trigger_run, name="trigger"),
    path(
        "stacks/<stack_id:stack_id>/runs/<run_id:run_id>/actions/<str:action>/",
        actions.run_action,
        name="run_action",
    ),
    path("administration/audit/", audit.audit_log, name="audit_log"),
    path("administration/audit/export.csv", audit.audit_csv, name="audit_csv"),
    path("administration/people/", people.people, name="people"),
    path(
        "administration/people/<int:user_id>/operator/",
        people.set_operator,
        name="people_operator",
    ),
    path("status.json", exports.status_json, name="status_json"),
    path("stacks/<stack_id:stack_id>/badge.svg", exports.stack_badge, name="badge"),
    path("metrics", exports.metrics, name="metrics"),
    path("healthz", stacks.healthz, name="healthz"),
    path("webhooks/spacelift/", webhooks.receive, name="webhook"),
    path(
        "administration/spacelift/webhook-secret/",
        webhook_panel.save_secret,
        name="webhook_secret",
    ),
    path("events/", live.events, name="events"),
]
