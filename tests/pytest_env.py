"""Loaded with `-p` before Django is set up: the environment every test run starts from.

The test run must not depend on the developer's shell or `.env`, and settings require a
SECRET_KEY outside DEBUG.
"""

import os

os.environ["SECRET_KEY"] = "test-only-secret-key-not-for-production"
os.environ["PORTAL_ENV_FILE"] = ""
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
for name in (
    "SPACELIFT_API_KEY_ENDPOINT",
    "SPACELIFT_API_KEY_ID",
    "SPACELIFT_API_KEY_SECRET",
    "CACHE_URL",
    "DEBUG",
    "PORTAL_ENCRYPTION_KEY",
    "PORTAL_NOTIFY",
    "PORTAL_BASE_URL",
):
    os.environ.pop(name, None)
# No notification watcher thread in the servers tests start (tests/test_notifications.py starts
# one itself where it means to).
os.environ["PORTAL_NOTIFY_WATCH"] = "false"
