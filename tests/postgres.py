"""Part of the suite, run again on a real PostgreSQL server, in the same pytest process.

A test module opts in with `pytestmark = pytest.mark.usefixtures("each_database")`: each of
its tests then runs twice, `[sqlite]` and `[postgres]`. The PostgreSQL server starts only when a
`[postgres]` test is selected (`-m "not postgres"` leaves it out), once for the whole run
(tests/run_shared.py): each pytest-xdist worker has its own test database on it.

How: the server is added as a second database, "postgres", which pytest-django creates and
migrates beside the default one, and for a `[postgres]` test `connections["default"]` is that
connection, so the ORM, `transaction.atomic()` and raw cursors all run on PostgreSQL. The
test's transaction (pytest-django's) is on the same connection and is rolled back after it.
"""

from __future__ import annotations

import environ
import pytest
from django.db import connections

from tests.run_shared import postgres_url
from tests.servers import missing, postgres_available

ALIAS = "postgres"


def _on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("each_database") == ALIAS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Let `[postgres]` tests reach the second database (pytest-django then creates it).

    Without PostgreSQL they get no second database, and `each_database` skips them (or fails
    them, under PORTAL_REQUIRE_SERVICES).
    """
    if not postgres_available():
        return
    for item in items:
        if not _on_postgres(item):
            continue
        marker = item.get_closest_marker("django_db")
        kwargs = dict(marker.kwargs) if marker else {}
        kwargs["databases"] = ["default", ALIAS]
        item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    """Start PostgreSQL and add it as a database, when a selected test runs on it."""
    if not any(_on_postgres(item) for item in request.session.items) or not postgres_available():
        return
    databases = connections.settings  # the dict Django's connections read, as configured
    databases[ALIAS] = environ.Env.db_url_config(postgres_url())
    # One server for the run: each xdist worker creates and drops a test database of its own.
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    databases[ALIAS]["TEST"] = {"NAME": f"test_portal_{worker}"}
    connections.configure_settings(databases)  # Django's defaults for the new alias


@pytest.fixture(params=["sqlite", pytest.param(ALIAS, marks=pytest.mark.postgres)])
def each_database(request):
    """Run the test on the default database, then on PostgreSQL as the default database."""
    if request.param != ALIAS:
        yield request.param
        return
    if not postgres_available():
        missing("PostgreSQL")
    request.getfixturevalue("db")  # pytest-django's transaction first, so it is undone last
    default = connections["default"]
    connections["default"] = connections[ALIAS]
    try:
        yield request.param
    finally:
        connections["default"] = default
