"""`make bench`, space access: renders of the overview region per poll interval for 100 viewers
in 5 access sets, and upstream reads of the stack list, with no rules for comparison.

In one process (Django's test client, the simulator over real HTTP on loopback), since what is
counted, the renders, happens inside the portal: each viewer polls the overview region with a
version it does not hold, all within one interval, and every `render_to_string` of a region is
counted. The issue's bound: at most one render per distinct access set, one stack-list read.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import KEY_ID, KEY_SECRET, portal_environment

VIEWERS = 100
# Five access sets over the simulator's spaces: each team alone, two teams, and the root.
ACCESS_SETS = {
    "team-payments": ["payments"],
    "team-platform": ["platform"],
    "team-data": ["data"],
    "team-money-and-metal": ["payments", "platform"],
    "sre": ["root"],
}


def main() -> None:
    from simulator.server import start_simulator

    sim = start_simulator(port=0, stacks=1000, seed=7, key_id=KEY_ID, key_secret=KEY_SECRET)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            (Path(workdir) / "static").mkdir()
            os.environ.update(
                portal_environment(
                    sim.url,
                    Path(workdir),
                    DATABASE_URL=f"sqlite:///{Path(workdir) / 'bench.sqlite3'}",
                    ALLOWED_HOSTS="testserver",
                    PORTAL_POLL_SECONDS="10",
                    LOG_LEVEL="ERROR",
                    DJANGO_SETTINGS_MODULE="spacelift_portal.settings",
                )
            )
            spaces = {space.name: space.id for space in sim.world.spaces}
            rules = {group: [spaces[n] for n in names] for group, names in ACCESS_SETS.items()}
            print("Space access (100 viewers, 1,000 stacks, one poll each within one interval)")
            for label, raw in (("no rules", ""), ("5 access sets", json.dumps(rules))):
                renders, stacks, spaces, seconds = measure(sim, raw)
                print(
                    f"  {label:>14}: {renders} render(s) of the overview region; upstream, "
                    f"{stacks} stack-list and {spaces} space-tree read(s); "
                    f"{seconds * 1000 / VIEWERS:.1f} ms a poll"
                )
    finally:
        sim.stop()


def measure(sim, raw_rules: str) -> tuple[int, int, int, float]:
    import django
    from django.apps import apps

    os.environ["PORTAL_SPACE_ACCESS"] = raw_rules
    if not apps.ready:
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.cache import cache
    from django.test import Client

    from dashboard import regions
    from dashboard.spacelift import process_state

    settings.PORTAL_SPACE_ACCESS = raw_rules
    process_state.reset_all()
    regions.shared_regions.clear()
    groups = [Group.objects.get_or_create(name=name)[0] for name in ACCESS_SETS]
    clients = []
    for number in range(VIEWERS):
        user, _ = User.objects.get_or_create(username=f"viewer{number}")
        user.groups.set([groups[number % len(groups)]])
        client = Client()
        client.force_login(user)
        clients.append(client)
    cache.clear()  # a new interval: the stack list (and the space tree) are read again
    sim.reset_stats()
    clients[0].get("/", {"region": "stacks", "v": "warm"}, HTTP_HX_REQUEST="true")
    regions.shared_regions.clear()  # the warm-up's render is not counted
    renders = []
    real = regions.render_to_string

    def counted(*args, **kwargs):
        renders.append(1)
        return real(*args, **kwargs)

    regions.render_to_string = counted
    started = time.perf_counter()
    try:
        for client in clients:
            poll = client.get("/", {"region": "stacks", "v": "stale"}, HTTP_HX_REQUEST="true")
            if poll.status_code != 200:
                sys.exit(f"a poll answered {poll.status_code}")
    finally:
        regions.render_to_string = real
    seconds = time.perf_counter() - started
    by_field = sim.stats()["by_field"]
    return len(renders), by_field.get("stacks", 0), by_field.get("spaces", 0), seconds


if __name__ == "__main__":
    main()
