from django.urls import path

from . import settings_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("stacks/<str:stack_id>/", views.stack_detail, name="stack"),
    path(
        "administration/spacelift/",
        settings_views.spacelift_connection,
        name="admin_connection",
    ),
    path("healthz", views.healthz, name="healthz"),
]
