from django.urls import path

from . import action_views, settings_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("stacks/<str:stack_id>/", views.stack_detail, name="stack"),
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
    path("healthz", views.healthz, name="healthz"),
]
