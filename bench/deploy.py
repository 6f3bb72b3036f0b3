"""`make bench-deploy`: the portal as deployed, under a burst, a hung Spacelift, Redis gone.

gunicorn (uvicorn workers, ASGI) against the simulator, DEBUG off, as real processes on loopback:
- burst: 30 viewers open the overview at once, three times (the data moves in between, so
  each burst meets a new version to record); counts answers that are not 200;
- hang: Spacelift hangs (3 s timeout) while 16 stack pages are asked for at once; how long
  /healthz takes meanwhile, and the slowest stack page;
- Redis stopped (PostgreSQL + Redis only): the overview, a stack page and status.json after
  Redis is killed, and what /healthz says.
Run on SQLite (1 worker) and on PostgreSQL + Redis (2 workers). Figures only, nothing asserts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from bench.__main__ import (
    free_port,
    login,
    served_portal,
    simulator,
    stop,
)
from tests.servers import postgres_server

VIEWERS = 30
BURSTS = 3
HANGING_PAGES = 16
TIMEOUT_SECONDS = 3


@contextmanager
def redis_process():
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        stop(proc)


@contextmanager
def portal(sim_url: str, workdir: Path, *, workers: int, database_url: str, cache_url: str):
    with served_portal(
        sim_url,
        workdir,
        workers=workers,
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        SPACELIFT_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        PORTAL_POLL_SECONDS="2",
        LOG_LEVEL="ERROR",
    ) as (url, _):
        yield url


def at_once(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def timed_get(session: requests.Session, url: str) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        status = session.get(url, timeout=60).status_code
    except requests.RequestException:
        status = 0
    return status, time.perf_counter() - started


def burst(url: str, sim_url: str) -> str:
    sessions = [login(url) for _ in range(VIEWERS)]
    sessions[0].get(url + "/", timeout=30)  # a running portal has read Spacelift before
    failures, slowest = [], 0.0
    for _ in range(BURSTS):
        requests.post(sim_url + "/_sim/step", timeout=5)  # the data moves: a version to record
        time.sleep(2.5)  # the 2 s interval ends
        results = at_once(VIEWERS, lambda i: timed_get(sessions[i], url + "/"))
        failures += [status for status, _ in results if status != 200]
        slowest = max([slowest] + [t for _, t in results])
    return (
        f"burst: {VIEWERS} viewers x {BURSTS}: {len(failures)} of {VIEWERS * BURSTS} not 200"
        f" {sorted(set(failures)) or ''}, slowest {slowest:.2f} s"
    )


def hang(url: str, sim_url: str) -> str:
    session = login(url)
    overview = session.get(url + "/", timeout=30).text
    ids = list(dict.fromkeys(re.findall(r'href="/stacks/([^/"]+)/"', overview)))[:HANGING_PAGES]
    requests.post(sim_url + "/_sim/faults", json={"mode": "hang"}, timeout=5)
    pages: list = [None] * len(ids)

    def page(i: int) -> None:
        pages[i] = timed_get(session, f"{url}/stacks/{ids[i]}/")

    threads = [threading.Thread(target=page, args=(i,)) for i in range(len(ids))]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the pages are in
    health_status, health_seconds = timed_get(requests.Session(), url + "/healthz")
    for t in threads:
        t.join()
    requests.delete(sim_url + "/_sim/faults", timeout=5)
    statuses = sorted({status for status, _ in pages})
    return (
        f"hang ({TIMEOUT_SECONDS} s timeout): /healthz {health_status} in {health_seconds:.2f} s"
        f" while {len(ids)} stack pages waited; stack pages {statuses}, slowest"
        f" {max(t for _, t in pages):.2f} s"
    )


def redis_stopped(url: str, redis: subprocess.Popen) -> str:
    session = login(url)
    overview = session.get(url + "/", timeout=30).text
    stack_id = re.search(r'href="/stacks/([^/"]+)/"', overview).group(1)
    session.get(f"{url}/stacks/{stack_id}/", timeout=30)
    redis.kill()
    redis.wait(timeout=10)
    time.sleep(2.5)  # the interval ends: pages must refresh without the cache
    answers = {
        path: timed_get(session, url + path)[0]
        for path in ("/", f"/stacks/{stack_id}/", "/status.json")
    }
    health = session.get(url + "/healthz", timeout=10)
    return f"Redis stopped: {answers}; /healthz {health.status_code} {health.text}"


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="portal-deploy-"))
    print(
        f"Spacelift Portal as deployed, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} "
        "cores; gunicorn with uvicorn workers (ASGI), DEBUG off, 48 stacks"
    )
    try:
        with simulator(48, step_seconds=3600) as sim_url:
            sqlite = f"sqlite:///{workdir / 'deploy.sqlite3'}"
            with portal(sim_url, workdir, workers=1, database_url=sqlite,
                        cache_url="locmemcache://") as url:  # fmt: skip
                print("\nSQLite, locmem cache, 1 worker:")
                print("  " + burst(url, sim_url))
                print("  " + hang(url, sim_url))
            with ExitStack() as stack:
                database_url = stack.enter_context(postgres_server())
                cache_url, redis = stack.enter_context(redis_process())
                url = stack.enter_context(
                    portal(sim_url, workdir, workers=2, database_url=database_url,
                           cache_url=cache_url)
                )  # fmt: skip
                print("\nPostgreSQL + Redis, 2 workers:")
                print("  " + burst(url, sim_url))
                print("  " + hang(url, sim_url))
                print("  " + redis_stopped(url, redis))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
