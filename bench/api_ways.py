"""`python -m bench.api_ways`: what the real API's ways cost in upstream requests. Figures only.

For each way the simulator can play (every field; no optional fields; no optional fields and
no introspection), it starts the simulator and the portal as real processes, logs in, and
counts what reaches the simulator:
- the first look (overview, a stack's page, a run's page, /modules/): queries, rejected
  queries, introspection queries: the once-per-connection cost of learning the schema;
- steady state: queries per poll interval while one viewer polls the overview;
- a token Spacelift stops accepting (answered with empty lists, as Spacelift does): the extra
  requests of the next poll (viewer check, exchange, retry).
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import requests

from bench.__main__ import login, portal, simulator

WAYS = {
    "every optional field": {},
    "lean, introspection": {"lean": True},
    "lean, no introspection": {"lean": True, "no_introspection": True},
}


def stats(sim_url: str) -> dict:
    return requests.get(sim_url + "/_sim/stats", timeout=5).json()


def control(sim_url: str, path: str, body: dict | None = None) -> None:
    requests.post(sim_url + path, json=body or {}, timeout=5).raise_for_status()


def first_look(url: str, session: requests.Session) -> None:
    overview = session.get(url + "/?per_page=250", timeout=30).text
    stack_id = re.search(r'<tr data-stack="([^"]+)"', overview)[1]
    stack = session.get(f"{url}/stacks/{stack_id}/", timeout=30).text
    run = re.search(r'<tr data-run="([^"]+)"', stack)
    if run:
        session.get(f"{url}/stacks/{stack_id}/runs/{run[1]}/", timeout=30)
    session.get(url + "/modules/", timeout=30)


def poll(url: str, session: requests.Session, interval: float, intervals: int) -> None:
    for _ in range(intervals):
        time.sleep(interval)
        session.get(url + "/", headers={"HX-Request": "true"}, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poll", type=int, default=2, help="PORTAL_POLL_SECONDS")
    parser.add_argument("--intervals", type=int, default=5)
    parser.add_argument("--stacks", type=int, default=120)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-ways-"))
    print(f"Upstream requests by the API's ways, {args.stacks} stacks, {args.poll} s interval")
    try:
        with simulator(args.stacks, step_seconds=3600) as sim_url:
            for name, faults in WAYS.items():
                with portal(sim_url, workdir, cache=True, poll=args.poll) as (url, _):
                    control(sim_url, "/_sim/faults", {"unaccepted_empty": True, **faults})
                    session = login(url)
                    control(sim_url, "/_sim/reset-stats")
                    first_look(url, session)
                    first = stats(sim_url)
                    control(sim_url, "/_sim/reset-stats")
                    poll(url, session, args.poll + 0.2, args.intervals)
                    steady = stats(sim_url)
                    control(sim_url, "/_sim/reset-stats")
                    control(sim_url, "/_sim/credentials", {"revoke_tokens": True})
                    poll(url, session, args.poll + 0.2, 1)
                    revoked = stats(sim_url)
                    control(sim_url, "/_sim/faults", {"lean": False, "no_introspection": False})
                print(
                    f"  {name:<24} first look: {first['queries']:>2} queries, "
                    f"{first['invalid']} rejected, {first['by_field'].get('__type', 0)} "
                    f"introspection | steady: {steady['queries'] / args.intervals:.2f} queries "
                    f"per interval, {steady['invalid']} rejected | token revoked: "
                    f"{revoked['requests']} requests in the next interval "
                    f"({revoked['token_exchanges']} exchange, "
                    f"{revoked['by_field'].get('viewer', 0)} viewer)"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
