"""Run logs, why a run failed, and the plan, read from the simulator over real HTTP."""

from __future__ import annotations

import html as html_lib
import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl

import pytest
from django.core.cache import cache

from dashboard.spacelift.run_records import TAIL_LINES
from simulator.logs import LOG_PAGE_SIZE, changes, logbook, phase_lines
from simulator.server import start_simulator
from tests.conftest import failed_stack, parse, quiet_stacks

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"
PAYLOAD = '<script>alert("from the log")</script><img src=x onerror=alert(1)>'
FAILED_LOG = [
    f"{BOLD}Refreshing state...{RESET}",
    f"aws_s3_bucket.logs: note = {PAYLOAD}",
    f"{RED}╷{RESET}",
    f"{RED}│{RESET} {BOLD}{RED}Error: {RESET}{BOLD}creating IAM role (deployer): "
    f"AccessDenied{RESET}",
    f"{RED}│{RESET}",
    f"{RED}╵{RESET}",
    "Terraform exited with code 1",
]
WHY = "Error: creating IAM role (deployer): AccessDenied"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each `ol.log` line."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.log_lines: list[str] = []
        self._in_line = False
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "li" and self._in_log():
            self._in_line = True
            self.log_lines.append("")

    def handle_endtag(self, tag):
        if tag == "li":
            self._in_line = False

    def handle_data(self, data):
        if self._in_line:
            self.log_lines[-1] += data

    def _in_log(self) -> bool:
        for tag, attrs in reversed(self.tags[:-1]):
            if tag == "ol":
                return "log" in (attrs.get("class") or "").split()
        return False

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and (cls is None or cls in (attrs.get("class") or "").split())
        ]


def run_page(client, stack, run, **extra):
    return client.get(f"/stacks/{stack.id}/runs/{run.id}/", **extra)


@pytest.fixture
def fresh_world(sim):
    """For a test that changes the account: before and after, the same one as always."""
    sim.rebuild_world(48, seed=7)
    yield sim
    sim.rebuild_world(48, seed=7)


def test_a_failed_run_page_shows_the_failing_line_without_a_click(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    logbook(connected.world).script(run.id, phase.state, FAILED_LOG)
    response = run_page(viewer_client, stack, run)
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'class="why-line".*?<strong class="why">' + re.escape(WHY), page, re.S)
    tags = Tags(page)
    failed = tags.find("details", "phase-failed")
    assert len(failed) == 1 and "open" in failed[0]
    assert failed[0]["id"] == f"phase-{phase.state}-{phase.state_version}"
    assert any(WHY in line for line in tags.log_lines)
    # The failing line has the id the why lines link to; the run page's own why links to it.
    marked = parse(page).select("ol.log li.failed-line")
    assert [m.get("id") for m in marked] == ["failed-line"]
    assert WHY.removeprefix("Error: ") in marked[0].get_text()
    assert parse(page).select_one(".why-line a")["href"] == "#failed-line"


def test_colour_codes_become_classes_and_never_show_raw(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    logbook(connected.world).script(run.id, phase.state, FAILED_LOG)
    page = run_page(viewer_client, stack, run).content.decode()
    assert "\x1b" not in page and "[31m" not in page and "[0m" not in page
    red = Tags(page).find("span", "ansi-fg-red")
    assert red, "a red error marker is a span with a colour class"
    assert not any("style" in attrs for _, attrs in Tags(page).tags if _ == "span")


def test_html_inside_a_log_line_is_shown_as_text(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    logbook(connected.world).script(run.id, phase.state, FAILED_LOG)
    page = run_page(viewer_client, stack, run).content.decode()
    tags = Tags(page)
    assert not tags.find("img"), "the payload's <img> must not become a tag"
    assert not [t for t, _ in tags.tags if t == "script" and "alert" in page.split("<script")[1]]
    assert html_lib.escape(PAYLOAD, quote=True) in page or "&lt;script&gt;alert(" in page
    assert any(PAYLOAD in line for line in tags.log_lines)


def test_every_page_of_a_long_phase_can_be_read(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    total = TAIL_LINES * 2 + 77
    logbook(connected.world).script(run.id, phase.state, [f"line {n}" for n in range(1, total + 1)])
    page = run_page(viewer_client, stack, run).content.decode()
    tags = Tags(page)
    assert tags.log_lines == [f"line {n}" for n in range(total - TAIL_LINES + 1, total + 1)]
    seen = list(tags.log_lines)
    earlier = tags.find("a", "log-earlier")
    while earlier:
        fragment = viewer_client.get(html_lib.unescape(earlier[0]["hx-get"]), **HTMX)
        assert fragment.status_code == 200
        chunk = Tags(fragment.content.decode())
        seen = chunk.log_lines + seen
        earlier = chunk.find("a", "log-earlier")
    assert seen == [f"line {n}" for n in range(1, total + 1)]
    # Without JavaScript the same link opens the lines as a page of their own.
    plain = viewer_client.get(html_lib.unescape(tags.find("a", "log-earlier")[0]["href"]))
    assert plain.status_code == 200 and "<html" in plain.content.decode()


def test_opening_a_failed_run_reads_its_log_once(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    lines, _ = phase_lines(logbook(connected.world), run, phase.state, phase.state_version)
    run_page(viewer_client, stack, run)
    cost = connected.stats()["by_operation"]
    pages = -(-len(lines) // LOG_PAGE_SIZE)
    assert cost.get("RunPhases") == 1
    assert pages <= cost.get("RunLogs") <= pages + 1
    connected.reset_stats()
    run_page(viewer_client, stack, run)
    again = connected.stats()["by_operation"]
    assert "RunLogs" not in again and "RunPhases" not in again


def test_the_failed_stack_page_and_needs_a_human_name_why(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    logbook(connected.world).script(run.id, phase.state, FAILED_LOG)
    overview = viewer_client.get("/").content.decode()
    assert "RunLogs" not in connected.stats()["by_operation"], "the overview never waits on a log"
    slot = f'hx-get="/stacks/{stack.id}/why/"'
    attention = overview.split('class="attention"')[1].split("</section>")[0]
    assert slot in attention
    stack_page = viewer_client.get(f"/stacks/{stack.id}/").content.decode()
    assert slot in stack_page
    why = viewer_client.get(f"/stacks/{stack.id}/why/", **HTMX)
    assert why.status_code == 200
    assert WHY in why.content.decode()
    assert f'href="/stacks/{stack.id}/runs/{run.id}/#failed-line"' in why.content.decode()


def test_a_log_that_says_nothing_plain_falls_back_to_see_the_log(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    logbook(connected.world).script(run.id, phase.state, ["exit status 1"])
    page = run_page(viewer_client, stack, run).content.decode()
    assert "see the log" in page
    assert "see the log" in viewer_client.get(f"/stacks/{stack.id}/why/", **HTMX).content.decode()


def test_a_stack_that_did_not_fail_has_no_why(viewer_client, connected):
    stack = next(s for s in quiet_stacks(connected) if s.state == "FINISHED")
    assert 'class="why-line"' not in viewer_client.get(f"/stacks/{stack.id}/").content.decode()
    assert viewer_client.get(f"/stacks/{stack.id}/why/", **HTMX).content.decode().count("<a") == 0


def test_spacelift_failing_on_a_log_is_explained_not_a_500(viewer_client, connected):
    stack, run, phase = failed_stack(connected)
    connected.set_faults(mode="graphql_error")
    url = f"/stacks/{stack.id}/runs/{run.id}/logs/{phase.state}-{phase.state_version}/"
    response = viewer_client.get(url, **HTMX)
    assert response.status_code == 200
    assert "Spacelift did not give this log" in response.content.decode()


def test_a_phase_of_another_run_is_not_found(viewer_client, connected):
    stack, run, _ = failed_stack(connected)
    assert viewer_client.get(f"/stacks/{stack.id}/runs/{run.id}/logs/NOPE-1/").status_code == 404
    assert viewer_client.get(f"/stacks/{stack.id}/runs/{run.id}/logs/x/").status_code == 404


def unconfirmed(sim):
    for stack in quiet_stacks(sim):
        if stack.can_write and not stack.locked_by and not stack.is_disabled:
            for run in stack.tracked:
                if run.state == "UNCONFIRMED":
                    return stack, run
    raise AssertionError("no unconfirmed run")


def addresses(sim, run) -> list[str]:
    return [r["address"] for entry in changes(sim.world, run) for r in entry["resources"]]


def test_an_unconfirmed_run_page_lists_every_resource_its_plan_changes(viewer_client, connected):
    stack, run = unconfirmed(connected)
    page = run_page(viewer_client, stack, run).content.decode()
    plan = page.split('class="plan"')[1].split("</section>")[0]
    expected = addresses(connected, run)
    assert expected
    for address in expected:
        assert f"<code>{html_lib.escape(address)}</code>" in plan
    assert f"+{run.delta.add_count}" in plan
    moved = [
        r for e in changes(connected.world, run) for r in e["resources"] if r["previous_address"]
    ]
    for resource in moved:
        assert f"moved from <code>{html_lib.escape(resource['previous_address'])}</code>" in plan
    # The plan is part of the run region: its poll brings it with Confirm; the logs' does not.
    assert 'class="plan"' in run_page(viewer_client, stack, run, data={"region": "run"}, **HTMX)\
        .content.decode()  # fmt: skip
    logs = run_page(viewer_client, stack, run, data={"region": "logs"}, **HTMX)
    assert 'class="plan"' not in logs.content.decode()


def test_an_unknown_kind_of_change_is_shown_as_it_came(viewer_client, connected):
    stack, run = unconfirmed(connected)
    logbook(connected.world).script_changes(
        run.id,
        [
            {
                "address": "aws_s3_bucket.odd",
                "previous_address": None,
                "metadata": {"type": "TELEPORTED"},
            }
        ],
    )
    plan = run_page(viewer_client, stack, run).content.decode().split('class="plan"')[1]
    assert "TELEPORTED" in plan and "<code>aws_s3_bucket.odd</code>" in plan


def test_an_operator_confirms_from_the_run_page(operator_client, fresh_world, connected):
    stack, run = unconfirmed(connected)
    page = run_page(operator_client, stack, run).content.decode()
    confirm_url = f"/stacks/{stack.id}/runs/{run.id}/actions/confirm/"
    assert f'href="{confirm_url}"' in page
    assert f'href="/stacks/{stack.id}/runs/{run.id}/actions/discard/"' in page
    confirmation = operator_client.get(confirm_url).content.decode()
    listed = confirmation.split('class="plan"')[1].split("</section>")[0]
    for address in addresses(connected, run):
        assert f"<code>{html_lib.escape(address)}</code>" in listed
    assert confirmation.index('class="plan"') < confirmation.index("Confirm and apply</button>")
    assert operator_client.post(confirm_url).status_code == 302
    assert run.state == "CONFIRMED"


def test_viewers_see_no_confirm_on_the_run_page(viewer_client, connected):
    stack, run = unconfirmed(connected)
    page = run_page(viewer_client, stack, run).content.decode()
    assert "/actions/confirm/" not in page


@pytest.fixture
def frozen(settings, sim):
    """A simulator of its own whose clock never moves: only `step()` makes time pass."""
    handle = start_simulator(port=0, stacks=48, seed=7, clock=lambda: 1_790_000_000.0)
    settings.SPACELIFT_API_KEY_ENDPOINT = handle.url
    settings.SPACELIFT_API_KEY_ID = handle.key_id
    settings.SPACELIFT_API_KEY_SECRET = handle.key_secret
    settings.SPACELIFT_TIMEOUT_SECONDS = 2.0
    yield handle
    handle.stop()


def poll(client, follower: dict[str, str]):
    """What htmx sends when an element of `regions.py`'s protocol polls: its URL's query and
    its `hx-vals` together."""
    path, _, query = follower["hx-get"].partition("?")
    values = dict(parse_qsl(query)) | json.loads(follower["hx-vals"])
    return client.get(path, values, **HTMX)


def running_with_logs(frozen):
    """A quiet stack's recent run that is still running in a phase that writes a log."""
    return next(
        (s, r)
        for s in quiet_stacks(frozen)
        for r in s.tracked[:2]
        if not r.finished and r.transitions[-1].has_logs
    )


def test_a_running_phase_appends_only_new_lines(viewer_client, frozen, still_time):
    stack, run = running_with_logs(frozen)
    current = run.transitions[-1]
    page = run_page(viewer_client, stack, run).content.decode()
    tags = Tags(page)
    shown = list(tags.log_lines)
    follow = tags.find("div", "log-follow")
    assert shown and len(follow) == 1

    frozen.step()
    response = poll(viewer_client, follow[0])
    assert response.status_code == 200
    chunk = Tags(response.content.decode())
    lines, _ = phase_lines(logbook(frozen.world), run, current.state, current.state_version)
    expected = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip("\n") for line in lines]
    assert chunk.log_lines == expected[len(shown) :]
    assert chunk.find("ol", "log")[0]["start"] == str(len(shown) + 1)
    next_follow = chunk.find("div", "log-follow")
    assert len(next_follow) == 1 and next_follow[0]["hx-get"] != follow[0]["hx-get"]
    again = poll(viewer_client, next_follow[0])
    assert again.status_code == 204, "nothing new since: the page keeps its token"
    assert again["HX-Trigger"].startswith('{"portal:unchanged"')


def test_following_a_phase_survives_spacelift_failing_and_keeps_its_place(
    viewer_client, frozen, still_time
):
    stack, run = running_with_logs(frozen)
    follow = Tags(run_page(viewer_client, stack, run).content.decode()).find("div", "log-follow")
    frozen.set_faults(mode="http500")
    cache.clear()  # what the portal read of the log is gone: the poll must ask Spacelift
    response = poll(viewer_client, follow[0])
    assert response.status_code == 200, "a failed read keeps the follower polling"
    fragment = Tags(response.content.decode())
    assert not fragment.log_lines
    again = fragment.find("div", "log-follow")
    assert len(again) == 1 and again[0]["hx-get"] == follow[0]["hx-get"], "same token and line"
    assert "Spacelift could not be read" in response.content.decode()
    frozen.set_faults(mode=None)
    frozen.step()
    recovered = poll(viewer_client, again[0])
    assert recovered.status_code == 200 and Tags(recovered.content.decode()).log_lines
    assert "Spacelift could not be read" not in recovered.content.decode()


def test_the_logs_region_refreshes_only_when_a_phase_starts_or_ends(
    viewer_client, frozen, still_time
):
    stack, run = running_with_logs(frozen)
    page = run_page(viewer_client, stack, run).content.decode()
    logs = json.loads(Tags(page).find("section", "logs")[0]["hx-vals"])
    assert logs["region"] == "logs"
    assert run_page(viewer_client, stack, run, data=logs, **HTMX).status_code == 204
    with frozen.world.lock:  # the run fails in its phase, as Spacelift would record it
        run.transition("FAILED", int(frozen.world.clock()))
    cache.clear()  # the portal would see it after one poll interval
    response = run_page(viewer_client, stack, run, data=logs, **HTMX)
    assert response.status_code == 200
    tags = Tags(response.content.decode())
    failed = tags.find("details", "phase-failed")
    assert len(failed) == 1 and "open" in failed[0] and "hx-preserve" not in failed[0]
    # The label follows the run; only the log body is kept as the browser has it.
    bodies = tags.find("div", "log-body")
    assert bodies and all(body.get("hx-preserve") == "true" for body in bodies)
    assert "phase-running" not in response.content.decode(), "no phase says running"
    assert not tags.find("section", "logs")[0].get("hx-get"), "a finished run stops polling"


# -- with issue 9's empty answers: a null stack from an unaccepted token is doubted ----------


@pytest.fixture
def unaccepted(connected):
    """Spacelift's way with a token it no longer accepts: `stack: null`, no error."""
    connected.set_faults(unaccepted_empty=True)
    yield connected
    connected.clear_faults()


def log_url(stack, run, phase) -> str:
    return f"/stacks/{stack.id}/runs/{run.id}/logs/{phase.state}-{phase.state_version}/"


def test_a_revoked_token_is_exchanged_again_and_the_log_still_reads(viewer_client, unaccepted):
    stack, run, phase = failed_stack(unaccepted)
    logbook(unaccepted.world).script(run.id, phase.state, FAILED_LOG)
    assert viewer_client.get("/").status_code == 200  # the portal has seen the stack
    unaccepted.set_credentials(revoke_tokens=True)
    response = viewer_client.get(log_url(stack, run, phase), **HTMX)
    assert response.status_code == 200
    assert any(WHY in line for line in Tags(response.content.decode()).log_lines)
    assert unaccepted.stats()["by_field"]["viewer"] == 1


def test_a_token_never_accepted_says_so_on_the_log_not_that_the_run_is_gone(
    viewer_client, unaccepted
):
    stack, run, phase = failed_stack(unaccepted)
    assert viewer_client.get("/").status_code == 200
    unaccepted.set_faults(accept_no_tokens=True)
    response = viewer_client.get(log_url(stack, run, phase), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Spacelift did not give this log" in page and "viewer is null" in page
    assert unaccepted.key_secret not in page
    logs = viewer_client.get(f"/stacks/{stack.id}/runs/{run.id}/?region=logs", **HTMX)
    assert "viewer is null" in logs.content.decode()


def test_a_phase_whose_log_spacelift_no_longer_keeps_says_so_with_the_runs_age(
    viewer_client, connected
):
    stack, run, _phase = failed_stack(connected)
    connected.set_faults(logs_expired=True)
    page = run_page(viewer_client, stack, run).content.decode()
    assert "Spacelift no longer keeps this log: this run is" in page
    assert "past the account&#x27;s run log retention" in page
    assert "did not give this log" not in page and "This phase wrote nothing" not in page
    # Only phases that wrote a log are offered: one per `hasLogs` transition.
    with_logs = [t for t in run.transitions if t.has_logs]
    assert page.count('class="phase') == len(with_logs)
