"""Settings, all from the environment (a `.env` file beside manage.py is read if present).

Every variable is listed in README.md and .env.example. Safe defaults: DEBUG off, and a
SECRET_KEY is required unless DEBUG is on.
"""

import os
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# FileAwareEnv: every variable may also come as NAME_FILE, a path to a file holding it.
env = environ.FileAwareEnv(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    PORTAL_POLL_SECONDS=(int, 10),
    SPACELIFT_TIMEOUT_SECONDS=(float, 10.0),
    SPACELIFT_CONNECT_TIMEOUT_SECONDS=(float, 5.0),
)
# PORTAL_ENV_FILE names another file to read, or none when empty (the tests do that).
ENV_FILE = os.environ.get("PORTAL_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.FileAwareEnv.read_env(ENV_FILE)

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set SECRET_KEY (or SECRET_KEY_FILE); it may only be left out when DEBUG is on."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.PortalMiddleware",
    # Last, as django-axes asks, so it sees the outcome of every login.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing passwords when PORTAL_LOCAL_LOGIN is false.
    "dashboard.accounts.backends.LocalPasswordBackend",
]
# Five failed logins for one user name from one address lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# How many proxies in front append X-Forwarded-For (a TLS proxy: 1). 0: the header is ignored.
# The lockout and the audit log use the client address this gives (dashboard/client_address.py).
PORTAL_TRUSTED_PROXY_COUNT = max(0, env.int("PORTAL_TRUSTED_PROXY_COUNT", default=0))
AXES_CLIENT_IP_CALLABLE = "dashboard.accounts.client_address.client_address"

ROOT_URLCONF = "spacelift_portal.urls"
WSGI_APPLICATION = "spacelift_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.portal",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite behind a threaded web server: WAL lets readers go on while one writes; writers
    # take the lock when their transaction starts (IMMEDIATE) and queue for up to `timeout`
    # seconds instead of failing with "database is locked" halfway through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# locmem (the default) serves one process; set CACHE_URL=redis://... for several workers or
# machines, so they share one token and one upstream query per interval.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://spacelift-portal")}
if "redis" in CACHES["default"]["BACKEND"].lower():
    # A Redis that stopped answering costs a page at most this long before the portal goes on
    # from its own memory (dashboard/spacelift/shared_cache.py).
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": 1, "socket_timeout": 1}
    )
# "Test connection" keeps its token and what it learned of the API here, apart from the portal's
# (dashboard/connection/diagnostics.py): in memory, for one run, never in Redis.
CACHES["diagnostics"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "diagnostics",
    "TIMEOUT": 600,  # a run takes seconds; its entries are never read after it
    "OPTIONS": {"MAX_ENTRIES": 1000},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

X_FRAME_OPTIONS = "DENY"
# No inline script anywhere, and htmx runs with allowEval off, so script-src is 'self' alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The Spacelift connection. Environment variables win over what is saved in the UI.
SPACELIFT_API_KEY_ENDPOINT = env("SPACELIFT_API_KEY_ENDPOINT", default="")
SPACELIFT_API_KEY_ID = env("SPACELIFT_API_KEY_ID", default="")
SPACELIFT_API_KEY_SECRET = env("SPACELIFT_API_KEY_SECRET", default="")
SPACELIFT_TIMEOUT_SECONDS = env("SPACELIFT_TIMEOUT_SECONDS")
SPACELIFT_CONNECT_TIMEOUT_SECONDS = env("SPACELIFT_CONNECT_TIMEOUT_SECONDS")
# The private module registry's organisation, as in spacelift.io/<org>/<module>/<provider>.
# Empty: the first label of the account's host (mycorp for mycorp.app.spacelift.io), or
# "simulated" for a simulator on this machine.
SPACELIFT_REGISTRY_ORG = env("SPACELIFT_REGISTRY_ORG", default="")
# Where the registry answers (https://host); empty: the account's own host. The API key's JWT
# is sent there as the registry token.
SPACELIFT_REGISTRY_URL = env("SPACELIFT_REGISTRY_URL", default="")
PORTAL_POLL_SECONDS = max(2, env("PORTAL_POLL_SECONDS"))
# Hides and refuses every action (trigger, confirm, discard): a pure dashboard.
PORTAL_READ_ONLY = env.bool("PORTAL_READ_ONLY", default=False)
# A READY stack (waiting for a worker) longer than this is listed as stuck.
PORTAL_STUCK_MINUTES = env.int("PORTAL_STUCK_MINUTES", default=15)
# Observed state changes are kept this many days.
PORTAL_HISTORY_DAYS = env.int("PORTAL_HISTORY_DAYS", default=30)
# Lets Prometheus scrape /metrics with "Authorization: Bearer <token>"; empty: login only.
PORTAL_METRICS_TOKEN = env("PORTAL_METRICS_TOKEN", default="")
# The secret Spacelift signs its webhooks with (POST /webhooks/spacelift/); empty: the one
# saved on the settings page, if any. With neither, the endpoint answers 404.
PORTAL_WEBHOOK_SECRET = env("PORTAL_WEBHOOK_SECRET", default="")
# Open event streams (live updates) one person may hold per process; more get 429 and poll.
PORTAL_EVENT_STREAMS_PER_PERSON = max(1, env.int("PORTAL_EVENT_STREAMS_PER_PERSON", default=8))
# A Spacelift simulator on this machine (http://127.0.0.1:8765): "Test connection" explains
# its failures. Other local addresses only get "nothing answered", so the settings page cannot
# be used to map which ports answer on the portal's own machine.
PORTAL_SIMULATOR_URL = env("PORTAL_SIMULATOR_URL", default="")

# How many requests per process may wait on Spacelift at once; the others answer from the
# cache at once. Keep it below gunicorn's --threads, so /healthz and cached pages always find
# a free thread while Spacelift hangs.
PORTAL_SPACELIFT_CONCURRENCY = max(1, env.int("PORTAL_SPACELIFT_CONCURRENCY", default=4))
# Off only for benchmarks: every page view then queries Spacelift, like the peers do.
PORTAL_CACHE = env.bool("PORTAL_CACHE", default=True)
# Fernet key(s) for the stored API key secret, newest first; derived from SECRET_KEY if unset.
PORTAL_ENCRYPTION_KEY = env("PORTAL_ENCRYPTION_KEY", default="")

# Single sign-on (OpenID Connect), on when PORTAL_OIDC_ISSUER is set; README "Single sign-on".
# Endpoints come from the issuer's discovery document; dashboard/oidc.py reads these.
PORTAL_OIDC_ISSUER = env("PORTAL_OIDC_ISSUER", default="")
PORTAL_OIDC_CLIENT_ID = env("PORTAL_OIDC_CLIENT_ID", default="")
PORTAL_OIDC_CLIENT_SECRET = env("PORTAL_OIDC_CLIENT_SECRET", default="")
PORTAL_OIDC_STAFF_GROUPS = env.list("PORTAL_OIDC_STAFF_GROUPS", default=[])
PORTAL_OIDC_OPERATOR_GROUPS = env.list("PORTAL_OIDC_OPERATOR_GROUPS", default=[])
PORTAL_OIDC_GROUPS_CLAIM = env("PORTAL_OIDC_GROUPS_CLAIM", default="groups")
PORTAL_OIDC_PROVIDER_NAME = env("PORTAL_OIDC_PROVIDER_NAME", default="single sign-on")
# Okta and Keycloak send groups only when a scope asks for them ("groups"); add it here.
PORTAL_OIDC_SCOPES = env("PORTAL_OIDC_SCOPES", default="openid email profile")
# Password sign-in, for a break-glass administrator; false leaves single sign-on alone.
PORTAL_LOCAL_LOGIN = env.bool("PORTAL_LOCAL_LOGIN", default=True)
if PORTAL_OIDC_ISSUER:
    from dashboard.accounts.oidc import check_configuration, csp_allowing_provider

    check_configuration(PORTAL_OIDC_ISSUER, PORTAL_OIDC_CLIENT_ID, PORTAL_OIDC_CLIENT_SECRET)
    CONTENT_SECURITY_POLICY = csp_allowing_provider(CONTENT_SECURITY_POLICY, PORTAL_OIDC_ISSUER)
# Always listed: it signs no one in while PORTAL_OIDC_ISSUER is empty.
AUTHENTICATION_BACKENDS.append("dashboard.accounts.backends.SingleSignOnBackend")
# Which identity-provider groups see which Spacelift spaces (and the spaces below them): a JSON
# object, {"group": ["space-id", ...]}. Empty: the rules are edited on the Access page; no rule
# at all: everyone sees everything. README "Who sees which spaces"; checked in dashboard/checks.py.
PORTAL_SPACE_ACCESS = env("PORTAL_SPACE_ACCESS", default="")
# The audit log keeps this many days; older entries go on every write (and `prune_audit`).
PORTAL_AUDIT_DAYS = env.int("PORTAL_AUDIT_DAYS", default=365)

# Notifications (README "Notifications"; dashboard/notifications/). PORTAL_NOTIFY: routes as a
# JSON list, [{"name": "...", "url": "<Apprise URL>", "spaces": [...], "labels": [...],
# "kinds": ["failed", "waiting", "drifted", "stuck", "recovered"]}]; empty: the routes saved on
# the Notifications page. Checked at start-up (dashboard/notifications/checks.py).
PORTAL_NOTIFY = env("PORTAL_NOTIFY", default="")
# The portal's public address (https://portal.example.com), for links in messages.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="").rstrip("/")
# A message not delivered within this many hours of being written is given up (and shown).
PORTAL_NOTIFY_RETRY_HOURS = env.float("PORTAL_NOTIFY_RETRY_HOURS", default=6.0)
# Delivered and given-up messages are listed on the Notifications page this many days.
PORTAL_NOTIFY_KEEP_DAYS = env.int("PORTAL_NOTIFY_KEEP_DAYS", default=7)
# false: this process never looks or sends (the others, holding the lease, do).
PORTAL_NOTIFY_WATCH = env.bool("PORTAL_NOTIFY_WATCH", default=True)

# Mail, for password reset only: without EMAIL_URL (smtp+tls://user:password@host:587) the
# password-reset pages are not published, since their mail would go nowhere.
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
    DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="webmaster@localhost")

# Secret-bearing variables and POST fields are hidden on error pages even with DEBUG on.
DEFAULT_EXCEPTION_REPORTER_FILTER = "dashboard.error_reports.SecretSafeReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "one_line": {
            "()": "dashboard.error_reports.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "console_one_line": {"class": "logging.StreamHandler", "formatter": "one_line"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # A bad Host header is a scanner or a misconfigured proxy: one line, no traceback.
        "django.security": {"handlers": ["console_one_line"], "propagate": False},
        # gql logs request payloads at DEBUG, and the token exchange carries the secret.
        "gql": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Apprise logs a receiver's full URL (its tokens) at DEBUG when it sends a notification.
        "apprise": {"level": "WARNING"},
    },
}
