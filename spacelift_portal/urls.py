from django.contrib import admin
from django.urls import include, path

from dashboard import sso_views

urlpatterns = [
    # Before django.contrib.auth.urls: these replace its login and logout.
    path("accounts/login/", sso_views.login_page, name="login"),
    path("accounts/logout/", sso_views.sign_out, name="logout"),
    path("accounts/sso/start/", sso_views.start_sign_in, name="sso_start"),
    path("accounts/sso/callback/", sso_views.finish_sign_in, name="sso_callback"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("dashboard.urls")),
]
