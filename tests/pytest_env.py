"""Loaded with `-p` before Django is set up: the environment every test run starts from.

The test run must not depend on the developer's shell or `.env`, and settings require a
SECRET_KEY outside DEBUG.
"""

import os
import sys
from pathlib import Path

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

# Compiled code is kept between runs, even where the shell sets PYTHONDONTWRITEBYTECODE (as
# this machine's does): otherwise every test process (each pytest-xdist worker, the browser
# tests' process, each Python a test starts) compiles the app again and pytest rewrites every
# test module's asserts again, some 13 s of CPU a process. It is kept under .pytest_cache, not
# beside the sources, which is what that setting is usually there to avoid.
sys.dont_write_bytecode = False
sys.pycache_prefix = str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "pycache")
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix
