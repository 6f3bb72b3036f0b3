"""Playwright driving Debian's Chromium against the live portal and the simulator."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.asgi_server import asgi_server, share_the_test_database_with_server_threads
from tests.servers import missing

# Playwright's sync API runs an event loop in this thread; the live server's database access
# happens in its own thread, but Django's guard cannot tell, so it is told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

share_the_test_database_with_server_threads()

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    """Debian's old headless shell where installed (`apt install chromium-headless-shell`, what
    Playwright itself runs headless): the same Blink, without the full browser's start-up and
    per-page cost; otherwise the full Chromium in headless mode."""
    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="session")
def _static_from_whitenoise():
    """Serve static files as production does (WhiteNoise, hashed names from the manifest).

    The live server would otherwise answer /static/ itself from the finders, which know no
    hashed names; a pass-through handler leaves /static/ to WhiteNoise in the middleware.
    """
    from django.contrib.staticfiles import handlers

    original = handlers.StaticFilesHandler
    handlers.StaticFilesHandler = lambda application: application
    yield
    handlers.StaticFilesHandler = original


@pytest.fixture(scope="session")
def live_server(_static_from_whitenoise, live_server):
    """The pages served by the ASGI app under uvicorn, as the image serves them.

    pytest-django's own live server still runs: requesting it gives each test a database the
    server's threads share (and flushes it after), which uvicorn's threads then use too.
    """
    with asgi_server() as server:
        # pytest-django turns the live server's settings (ALLOWED_HOSTS) on for each test.
        server._live_server_modified_settings = live_server._live_server_modified_settings
        yield server


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    if not executable:
        missing("Chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class PageWatch:
    """Console errors and CSP violations seen by a page; a test asserts there are none."""

    def __init__(self, page) -> None:
        self._errors: list[str] = []
        self._after_request: str | None = None  # held until we know whether an abort follows
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self._errors.append(f"pageerror: {exc}"))

    @property
    def errors(self) -> list[str]:
        held = [self._after_request] if self._after_request else []
        return self._errors + held

    def clear(self) -> None:
        self._errors.clear()
        self._after_request = None

    def _console(self, message) -> None:
        if message.type != "error":
            return
        # A region's fetch replaced by a newer one (hx-sync "replace": an event arrived while
        # it polled) makes htmx log its failed afterRequest, then sendAbort. Only that pair is
        # expected; an afterRequest followed by anything else (sendError...) still counts.
        text, held = message.text, self._after_request
        self._after_request = None
        if text.startswith("htmx:sendAbort") and held:
            return
        if held:
            self._errors.append(held)
        if text.startswith("htmx:afterRequest"):
            self._after_request = text
            return
        self._errors.append(text)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.watch = PageWatch(page)
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def time_passes(page, clock):
    """`time_passes(seconds)`: for the portal (the service's clock: its interval and any backoff
    end) and for the page (Playwright's clock: its poll timers fire), without waiting.

    Installs the page's clock, so it must come before the test's first `page.goto`.
    """
    page.clock.install()

    def advance(seconds: float) -> None:
        clock.advance(seconds)
        page.clock.fast_forward(int(seconds * 1000))

    return advance


def sign_in_by_cookie(context, live_server, user) -> None:
    """The browser holds a session of `user`, as after signing in: no login page, no redirect
    to the overview. Signing in through the form is tested on its own."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    context.add_cookies(
        [{"name": name, "value": client.cookies[name].value, "url": live_server.url}]
    )


@pytest.fixture
def login(page, live_server, django_user_model):
    def log_in(username: str = "alice", *, staff: bool = False, by_form: bool = False):
        user = django_user_model.objects.create_user(
            username, password="pw-browser-123", is_staff=staff
        )
        if not by_form:
            sign_in_by_cookie(page.context, live_server, user)
            return page
        page.goto("/accounts/login/")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill("pw-browser-123")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        return page

    return log_in
