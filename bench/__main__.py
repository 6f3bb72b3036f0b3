"""`make bench`: what the portal costs Spacelift and how quickly it answers. Figures only.

It starts the simulator and the portal (gunicorn, one worker with threads, DEBUG off) as real
processes on loopback, logs in, and measures:
- upstream queries per poll interval for 1, 10 and 100 concurrent viewers, cached and in
  pass-through mode (PORTAL_CACHE=false, what the peers do);
- median and 95th-percentile latency of /healthz, the overview page, its partial, an
  unchanged poll and a stack page, at 1,000 and 10,000 stacks, with ratios to /healthz;
- bytes per poll, changed and unchanged; the server process's peak memory (VmHWM).
Nothing here passes or fails: the machine is shared and noisy, so read the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import requests

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KEY_ID = "01HBENCH0000000000000000AA"
KEY_SECRET = "bench-simulator-secret"  # noqa: S105 - a local simulator's key


CREATE_BENCH_USER = (
    "from django.contrib.auth.models import User;"
    "User.objects.filter(username='bench').exists() or "
    "User.objects.create_user('bench', password='bench-password-1')"
)


def poll_version(html: str) -> str:
    """The version a polled region sends back (its hx-vals, see dashboard/regions.py)."""
    return json.loads(unescape(re.search(r'hx-vals="([^"]*)"', html).group(1)))["v"]


def stop(proc: subprocess.Popen) -> None:
    """Terminate, and kill what an overwhelmed server leaves hanging."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


@contextmanager
def simulator(stacks: int, step_seconds: float = 7.0):
    port = free_port()
    env = os.environ | {
        "SIMULATOR_KEY_ID": KEY_ID,
        "SIMULATOR_KEY_SECRET": KEY_SECRET,
        "PORTAL_ENV_FILE": "",
        "DEBUG": "true",
    }
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "bench.simulator",  # the simulator with bench's fast path for large queries
            "--quiet",
            "--port",
            str(port),
            "--stacks",
            str(stacks),
            "--step-seconds",
            str(step_seconds),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/_sim/stats", timeout=60)
        yield url
    finally:
        stop(proc)


def portal_environment(sim_url: str, workdir: Path, **settings: str) -> dict[str, str]:
    """The environment of a portal as deployed (DEBUG off), pointed at the simulator."""
    return os.environ | {
        "PORTAL_ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_ROOT": str(workdir / "static"),
        "SPACELIFT_API_KEY_ENDPOINT": sim_url,
        "SPACELIFT_API_KEY_ID": KEY_ID,
        "SPACELIFT_API_KEY_SECRET": KEY_SECRET,
        "AXES_FAILURE_LIMIT": "1000",
        **settings,
    }


@contextmanager
def served_portal(sim_url: str, workdir: Path, *, workers: int = 1, **settings: str):
    """A portal as its image serves it (gunicorn, uvicorn workers, migrated, static collected,
    the bench user created) on a free port, with `settings` as environment variables; yields
    its URL and its process (whose memory the bench reads)."""
    port = free_port()
    env = portal_environment(sim_url, workdir, **settings)
    manage = [PY, "manage.py"]
    for args in (["migrate", "--no-input", "-v0"], ["collectstatic", "--no-input", "-v0"]):
        subprocess.run(manage + args, cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "shell", "-c", CREATE_BENCH_USER], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    proc = subprocess.Popen(
        [PY, "-m", "gunicorn", "spacelift_portal.asgi:application", "-b", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "uvicorn_worker.UvicornWorker",
         "--timeout", "30", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/healthz")
        yield url, proc
    finally:
        stop(proc)


def portal(sim_url: str, workdir: Path, *, cache: bool, poll: int):
    return served_portal(
        sim_url,
        workdir,
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        PORTAL_POLL_SECONDS=str(poll),
        PORTAL_CACHE="true" if cache else "false",
        LOG_LEVEL="WARNING",
    )


def login(url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(url + "/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        url + "/accounts/login/",
        data={
            "username": "bench",
            "password": "bench-password-1",
            "csrfmiddlewaretoken": token,
            "next": "/healthz",
        },
        headers={"Referer": url + "/accounts/login/"},
    )
    response.raise_for_status()
    return session


def upstream_queries(sim_url: str) -> int:
    stats = requests.get(sim_url + "/_sim/stats", timeout=5).json()
    return int(stats["queries"])


def viewers_per_interval(
    url: str, sim_url: str, viewers: int, poll: int, intervals: int
) -> tuple[float, float, float, int]:
    """V viewers each poll the overview partial once per interval, spread over the interval.

    Returns upstream queries per interval (over the time the polls really took, which grows
    when the server is saturated), the median poll latency (ms), polls per second served, and
    how many polls failed (connection reset, timeout or a 5xx).
    """
    sessions = [login(url) for _ in range(viewers)]
    for s in sessions:
        s.headers["HX-Request"] = "true"
    sessions[0].get(url + "/", timeout=30)  # the token and first read, before counting
    time.sleep(poll)
    before = upstream_queries(sim_url)
    started = time.monotonic()
    stop = started + poll * intervals
    latencies: list[float] = []
    failures: list[int] = []

    def viewer(session: requests.Session, offset: float) -> None:
        # As htmx does: send the version of the region this viewer holds; 204 keeps it.
        held: dict[str, str] = {}
        time.sleep(offset)
        while time.monotonic() < stop:
            began = time.perf_counter()
            try:
                response = session.get(url + "/", params=held, timeout=30)
            except requests.RequestException:
                failures.append(1)  # an overwhelmed server resets or times out
                time.sleep(poll)
                continue
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code >= 500:
                failures.append(1)
            if response.status_code == 200:
                held = {"v": poll_version(response.text)}
            time.sleep(max(0.0, poll - (time.perf_counter() - began)))

    threads = [
        threading.Thread(target=viewer, args=(s, (i / viewers) * poll))
        for i, s in enumerate(sessions)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    queries = upstream_queries(sim_url) - before
    median = statistics.median(latencies) if latencies else float("nan")
    return queries / (elapsed / poll), median, len(latencies) / elapsed, len(failures)


def sample(
    session: requests.Session,
    url: str,
    count: int,
    *,
    as_browser: bool = False,
    fresh_views: bool = False,
    **kwargs,
) -> tuple[list[float], list[int], list[int]]:
    """Times (ms), bytes on the wire (headers and body) and status codes of `count` GETs.

    `as_browser`: send the version the last full answer carried, as htmx does after a swap.
    `fresh_views`: ask for up to 80 different views (page, sort, direction), one each.
    """
    times, sizes, statuses = [], [], []
    for i in range(count):
        if fresh_views:  # a view no one has asked for yet: rendered, not served from memory
            kwargs["params"] = {
                "page": 1 + i % 10,
                "sort": ("name", "health", "space", "since")[(i // 10) % 4],
                "dir": "desc" if (i // 40) % 2 else "",
            }
        started = time.perf_counter()
        response = session.get(url, timeout=60, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        if as_browser and response.status_code == 200:
            kwargs["params"] = {"v": poll_version(response.text)}
        head = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
        sizes.append(len(response.content) + head)
        statuses.append(response.status_code)
    return times, sizes, statuses


def p50_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def peak_memory_mb(master: subprocess.Popen) -> float:
    """VmHWM of gunicorn's worker (the child that serves requests)."""
    peak = 0.0
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    pids = [master.pid] + [int(p) for p in children.read_text().split()]
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        kb = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
        peak = max(peak, kb / 1024)
    return peak


def latency_table(url: str, stacks: int, samples: int) -> list[str]:
    session = login(url)
    htmx = {"HX-Request": "true"}
    session.get(url + "/")  # warm the cache
    stack_id = re.search(r'href="/stacks/([^/"]+)/"', session.get(url + "/").text).group(1)
    rows = {
        "/healthz": sample(session, url + "/healthz", samples),
        "overview page": sample(session, url + "/", samples),
        "overview partial": sample(session, url + "/", samples, headers=htmx),
        "partial, new view": sample(
            session, url + "/", min(samples, 80), headers=htmx, fresh_views=True
        ),
    }
    partial = session.get(url + "/", headers=htmx).text
    version = poll_version(partial)
    rows["unchanged poll"] = sample(
        session, url + "/", samples, headers=htmx, params={"v": version}, as_browser=True
    )
    rows["stack page"] = sample(session, f"{url}/stacks/{stack_id}/", samples)
    base = statistics.median(rows["/healthz"][0])
    lines = []
    for name, (times, sizes, _) in rows.items():
        p50, p95 = p50_p95(times)
        lines.append(
            f"  {stacks:>6} stacks  {name:<17} median {p50:7.1f} ms  p95 {p95:7.1f} ms"
            f"  ({p50 / base:5.1f}x healthz, p95 {p95 / base:5.1f}x)"
            f"  {statistics.median(sizes) / 1024:8.1f} KB"
        )
    statuses = rows["unchanged poll"][2]
    lines.append(
        f"  {stacks:>6} stacks  bytes per poll: changed "
        f"{statistics.median(rows['overview partial'][1]):,.0f} B, unchanged "
        f"{statistics.median(rows['unchanged poll'][1]):,.0f} B "
        f"({statuses.count(204)} of {len(statuses)} unchanged polls answered 204)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poll", type=int, default=3, help="poll interval for the viewer test")
    parser.add_argument("--intervals", type=int, default=5)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--stacks", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--skip-viewers", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--viewers", type=int, nargs="*", default=[1, 10, 100])
    parser.add_argument("--viewer-stacks", type=int, default=48)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    print(
        f"Spacelift Portal benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} cores; the portal is gunicorn, 1 worker, 16 threads, DEBUG off"
    )
    try:
        if not args.skip_viewers:
            print(
                f"\nUpstream queries per {args.poll} s poll interval, over {args.intervals} "
                f"intervals, {args.viewer_stacks} stacks (each viewer polls the overview partial"
                " once per interval):"
            )
            with simulator(args.viewer_stacks) as sim_url:
                for cache in (True, False):
                    with portal(sim_url, workdir, cache=cache, poll=args.poll) as (url, _):
                        for viewers in args.viewers:
                            q, p50, rate, failed = viewers_per_interval(
                                url, sim_url, viewers, args.poll, args.intervals
                            )
                            mode = "cached      " if cache else "pass-through"
                            print(
                                f"  {mode} {viewers:>3} viewers: {q:6.2f} queries per interval"
                                f"  (polls: median {p50:6.1f} ms, {rate:5.1f} served/s,"
                                f" {failed} failed)"
                            )
        if not args.skip_latency:
            print(
                "\nLatency of sequential requests, warm cache, 10 s interval, runs not moving."
                "\n('overview partial' repeats one view: after the first, its render is shared;"
                "\n 'partial, new view' asks for 80 different pages and sorts, each rendered.)"
            )
        for stacks in [] if args.skip_latency else args.stacks:
            with (
                simulator(stacks, step_seconds=3600) as sim_url,
                portal(sim_url, workdir, cache=True, poll=10) as (url, proc),
            ):
                print("\n".join(latency_table(url, stacks, args.samples)))
                peak = peak_memory_mb(proc)
                print(f"  {stacks:>6} stacks  peak memory of the server: {peak:.0f} MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
