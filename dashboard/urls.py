from django.urls import path, register_converter

from . import (
    action_views,
    admin_views,
    audit_views,
    converters,
    export_views,
    log_views,
    module_views,
    people_views,
    run_views,
    views,
)

# A malformed stack or run ID is a 404 here, before any view runs.
register_converter(converters.StackIdConverter, "stack_id")
register_converter(converters.RunIdConverter, "run_id")

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("stacks/<stack_id:stack_id>/", views.stack_detail, name="stack"),
    path("stacks/<stack_id:stack_id>/runs/<run_id:run_id>/", run_views.run_detail, name="run"),
    path(
        "stacks/<stack_id:stack_id>/runs/<run_id:run_id>/logs/<str:phase_key>/",
        log_views.run_log,
        name="run_log",
    ),
    path("stacks/<stack_id:stack_id>/why/", log_views.stack_why, name="why"),
    path("modules/", module_views.module_list, name="modules"),
    path(
        "administration/spacelift/",
        admin_views.spacelift_connection,
        name="admin_connection",
    ),
    path("stacks/<stack_id:stack_id>/actions/trigger/", action_views.trigger_run, name="trigger"),
    path(
        "stacks/<stack_id:stack_id>/runs/<run_id:run_id>/actions/<str:action>/",
        action_views.run_action,
        name="run_action",
    ),
    path("administration/audit/", audit_views.audit_log, name="audit_log"),
    path("administration/audit/export.csv", audit_views.audit_csv, name="audit_csv"),
    path("administration/people/", people_views.people, name="people"),
    path(
        "administration/people/<int:user_id>/operator/",
        people_views.set_operator,
        name="people_operator",
    ),
    path("status.json", export_views.status_json, name="status_json"),
    path("stacks/<stack_id:stack_id>/badge.svg", export_views.stack_badge, name="badge"),
    path("metrics", export_views.metrics, name="metrics"),
    path("healthz", views.healthz, name="healthz"),
]
