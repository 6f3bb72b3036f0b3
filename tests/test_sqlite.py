"""SQLite as the portal configures it for a web server (a real file, not the in-memory test DB)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
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
    """Twelve threads writing at once: the busy timeout makes them wait their turn."""
    path = tmp_path / "burst.sqlite3"
    setup = file_database(path)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE visit (n INTEGER)")
    setup.close()
    errors: list[Exception] = []
    barrier = threading.Barrier(12)

    def writer() -> None:
        database = file_database(path)
        try:
            barrier.wait()
            for n in range(10):
                with database.cursor() as cursor:
                    cursor.execute("BEGIN IMMEDIATE")
                    cursor.execute("SELECT count(*) FROM visit").fetchone()
                    cursor.execute("INSERT INTO visit VALUES (%s)", [n])
                    cursor.execute("COMMIT")
        except Exception as exc:  # any error is what this test is about
            errors.append(exc)
        finally:
            database.close()

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
