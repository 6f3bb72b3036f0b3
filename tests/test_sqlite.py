"""SQLite as the portal configures it for a web server (a real file, not the in-memory test DB)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper


@pytest.fixture(autouse=True)
def real_database_files(django_db_blocker):
    """These tests open their own SQLite files, outside the test database."""
    with django_db_blocker.unblock():
        yield


def file_database(path) -> DatabaseWrapper:
    settings_dict = dict(connections["default"].settings_dict) | {"NAME": str(path)}
    return DatabaseWrapper(settings_dict, alias="sqlite-probe")


def test_sqlite_runs_in_wal_mode_with_immediate_transactions_and_a_busy_timeout(tmp_path):
    database = file_database(tmp_path / "portal.sqlite3")
    try:
        with database.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 20_000
        assert database.transaction_mode == "IMMEDIATE"
    finally:
        database.close()


def test_concurrent_writers_queue_instead_of_failing(tmp_path):
    """Twelve threads in `transaction.atomic()` at once, each reading then writing (as a page
    that records a visit does). With the portal's settings each transaction takes the write
    lock when it begins (IMMEDIATE) and waits its turn (busy timeout); a deferred transaction
    would fail with "database is locked" when it tries to write after another's read."""
    path = tmp_path / "burst.sqlite3"
    setup = file_database(path)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE visit (n INTEGER)")
    setup.close()
    errors: list[Exception] = []
    barrier = threading.Barrier(12)

    def writer() -> None:
        database = file_database(path)
        connections[database.alias] = database  # this thread's connection under that alias
        try:
            barrier.wait()
            for n in range(10):
                with transaction.atomic(using=database.alias), database.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM visit").fetchone()
                    cursor.execute("INSERT INTO visit VALUES (%s)", [n])
        except Exception as exc:  # any error is what this test is about
            errors.append(exc)
        finally:
            database.close()
            del connections[database.alias]

    threads = [threading.Thread(target=writer) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    check = file_database(path)
    with check.cursor() as cursor:
        assert cursor.execute("SELECT count(*) FROM visit").fetchone()[0] == 120
    check.close()
