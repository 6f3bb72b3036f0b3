from django.urls import path

from . import (
    action_views,
    export_views,
    log_views,
    module_views,
    run_views,
    settings_views,
    views,
)

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("stacks/<str:stack_id>/", views.stack_detail, name="stack"),
    path("stacks/<str:stack_id>/runs/<str:run_id>/", run_views.run_detail, name="run"),
    path(
        "stacks/<str:stack_id>/runs/<str:run_id>/logs/<str:phase_key>/",
        log_views.run_log,
        name="run_log",
    ),
    path("stacks/<str:stack_id>/why/", log_views.stack_why, name="why"),
    path("modules/", module_views.module_list, name="modules"),
    path(
        "administration/spacelift/",
        settings_views.spacelift_connection,
        name="admin_connection",
    ),
    path("stacks/<str:stack_id>/actions/trigger/", action_views.trigger_run, name="trigger"),
    path(
        "stacks/<str:stack_id>/runs/<str:run_id>/actions/<str:action>/",
        action_views.run_action,
        name="run_action",
    ),
    path("administration/audit/", action_views.audit_log, name="audit_log"),
    path("status.json", export_views.status_json, name="status_json"),
    path("stacks/<str:stack_id>/badge.svg", export_views.stack_badge, name="badge"),
    path("metrics", export_views.metrics, name="metrics"),
    path("healthz", views.healthz, name="healthz"),
]
