"""/administration/spacelift/: permissions, CSRF, the write-only secret, validation, tests."""

from __future__ import annotations

import logging

import pytest
from django.db import connection as db
from django.test import Client

from dashboard.models import AuditEntry, SpaceliftConnection
from tests.conftest import parse

# Each test runs on SQLite and again on PostgreSQL (tests/postgres.py).
pytestmark = pytest.mark.django_db
# The tests that write or read the saved connection run again on PostgreSQL (tests/postgres.py);
# the ones that only test a connection are about Spacelift, not the database.
on_each_database = pytest.mark.usefixtures("each_database")

URL = "/administration/spacelift/"
# The page's actions, each with its own URL the page's forms post to.
SAVE = URL + "save/"
TEST = URL + "test/"
TEST_IN_USE = URL + "test-in-use/"
REMOVE = URL + "remove/"
ACTIONS = {"save": SAVE, "test": TEST, "test_in_use": TEST_IN_USE, "remove": REMOVE}
GOOD_KEY = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def save(client, **values):
    data = {"host": "", "key_id": "", "secret": ""} | values
    return client.post(SAVE, data)


def saved_sim(client, sim):
    response = save(client, host=sim.url, key_id=sim.key_id, secret=sim.key_secret)
    assert response.status_code == 302
    return SpaceliftConnection.load()


def database_dump() -> str:
    """Every row of every table, as text: what the database file holds, on any backend."""
    rows = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")  # noqa: S608
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_anonymous_users_go_to_login(client):
    for response in (client.get(URL), *(client.post(url) for url in ACTIONS.values())):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_users_who_are_not_staff_get_403(viewer_client):
    assert viewer_client.get(URL).status_code == 403
    for url in ACTIONS.values():
        assert viewer_client.post(url, {"host": "x.io", "confirm": "yes"}).status_code == 403
    assert SpaceliftConnection.load() is None


def test_the_fields_have_real_labels(staff_client):
    html = staff_client.get(URL).content.decode()
    for field, label in (
        ("host", "Host URL"),
        ("key_id", "API key ID"),
        ("secret", "API key secret"),
    ):
        assert f'<label for="id_{field}">{label}</label>' in html
        assert f'id="id_{field}"' in html


def test_csrf_is_enforced_on_every_form(django_user_model, sim):
    staff = django_user_model.objects.create_user("csrf", password="pw-csrf-123", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    for action, url in ACTIONS.items():
        response = client.post(
            url,
            {
                "host": sim.url,
                "key_id": sim.key_id,
                "secret": sim.key_secret,
                "confirm": "yes",
            },
        )
        assert response.status_code == 403, action
    assert client.post("/accounts/logout/").status_code == 403
    assert SpaceliftConnection.load() is None


def test_each_action_has_its_own_url_and_the_page_posts_to_it(staff_client, sim):
    saved_sim(staff_client, sim)
    page = parse(staff_client.get(URL))
    form = page.select_one("form.stacked")
    assert form["action"] == form["hx-post"] == SAVE
    assert page.find("button", string="Test connection")["formaction"] == TEST
    assert page.select_one("form.danger-zone")["action"] == REMOVE
    assert page.select_one("form.inline")["action"] == TEST_IN_USE
    assert not page.select("button[name=action]")


def test_the_actions_answer_only_post(staff_client):
    for url in ACTIONS.values():
        assert staff_client.get(url).status_code == 405


def test_a_saved_connection_redirects_back_to_the_page(staff_client, sim):
    response = save(staff_client, host=sim.url, key_id=sim.key_id, secret=sim.key_secret)
    assert response.status_code == 302 and response["Location"] == URL
    page = parse(staff_client.get(URL))
    assert "Saved. Every dashboard" in page.get_text()


def test_the_connection_in_use_is_tested_over_htmx_in_the_results_only(staff_client, sim):
    saved_sim(staff_client, sim)
    response = staff_client.post(TEST_IN_USE, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="connection-results"')
    assert [c[0] for c in checks_of(response)] == ["pass", "pass", "pass", "pass"]


@on_each_database
def test_saving_stores_the_secret_encrypted_and_never_shows_it(staff_client, sim):
    row = saved_sim(staff_client, sim)
    assert row.base_url == sim.url
    assert row.key_id == sim.key_id
    assert sim.key_secret not in row.secret_encrypted
    assert row.secret() == sim.key_secret
    assert sim.key_secret not in database_dump()
    html = staff_client.get(URL).content.decode()
    assert sim.key_secret not in html
    assert "a secret is saved" in html
    secret = parse(html).select_one('input[type="password"][name="secret"]')
    assert secret is not None and not secret.has_attr("value")


@on_each_database
def test_who_saved_last_and_when_is_shown(staff_client, sim):
    saved_sim(staff_client, sim)
    html = staff_client.get(URL).content.decode()
    assert "Last saved by ops on" in html


@on_each_database
def test_a_blank_secret_keeps_the_saved_one(staff_client, sim):
    saved_sim(staff_client, sim)
    response = save(staff_client, host=sim.url, key_id=sim.key_id, secret="")
    assert response.status_code == 302
    assert SpaceliftConnection.load().secret() == sim.key_secret


def test_a_new_connection_needs_a_secret(staff_client):
    response = save(staff_client, host="mycorp.app.spacelift.io", key_id=GOOD_KEY)
    assert response.status_code == 200
    assert b"Enter the API key secret." in response.content
    assert SpaceliftConnection.load() is None


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("https://mycorp.app.spacelift.io/some/path", "without a path"),
        ("https://admin:pw@mycorp.app.spacelift.io", "Leave user names and passwords out"),
        ("javascript:alert(1)", "Only https://"),
        ("not a host", "cannot contain spaces"),
        ("exa_mple!.io", "is not a valid host name"),
        ("http://mycorp.app.spacelift.io", "only accepted for this machine"),
        ("", "This field is required."),
    ],
)
@on_each_database
def test_bad_hosts_get_a_message_and_change_nothing(staff_client, sim, host, message):
    before = saved_sim(staff_client, sim)
    response = save(staff_client, host=host, key_id=GOOD_KEY, secret="new-secret-xyz")
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'id="id_host-error"' in response.content.decode()
    after = SpaceliftConnection.load()
    assert (after.base_url, after.key_id, after.secret()) == (
        before.base_url,
        before.key_id,
        sim.key_secret,
    )
    assert "new-secret-xyz" not in response.content.decode()


@pytest.mark.parametrize(
    "key_id", ["", "123", "01ARZ3NDEKTSV4RRFFQ69G5FA", "OOOOOOOOOOOOOOOOOOOOOOOOOO"]
)
def test_bad_key_ids_get_a_message_and_change_nothing(staff_client, sim, key_id):
    before = saved_sim(staff_client, sim)
    response = save(staff_client, host=sim.url, key_id=key_id, secret="other")
    assert response.status_code == 200
    assert 'id="id_key_id-error"' in response.content.decode()
    assert SpaceliftConnection.load().key_id == before.key_id


@on_each_database
def test_hosts_are_normalised_before_saving(staff_client):
    save(
        staff_client,
        host="  HTTPS://MyCorp.App.Spacelift.IO/ ",
        key_id=GOOD_KEY.lower(),
        secret="s3cret-value",
        save_anyway="on",
    )
    row = SpaceliftConnection.load()
    assert (row.base_url, row.key_id) == ("https://mycorp.app.spacelift.io", GOOD_KEY)


@on_each_database
def test_removing_the_connection_needs_a_confirmation(staff_client, sim):
    saved_sim(staff_client, sim)
    staff_client.post(REMOVE)
    assert SpaceliftConnection.load() is not None
    staff_client.post(REMOVE, {"confirm": "yes"})
    assert SpaceliftConnection.load() is None


@on_each_database
def test_a_changed_encryption_key_asks_to_reenter_the_secret(staff_client, sim, settings):
    saved_sim(staff_client, sim)
    user = SpaceliftConnection.load().updated_by
    settings.SECRET_KEY = "a-different-secret-key-after-a-rotation"
    staff_client.force_login(user)  # the old session was signed with the old key
    html = staff_client.get(URL).content.decode()
    assert "Re-enter the secret" in html
    overview = staff_client.get("/").content.decode()
    assert "re-enter the secret" in overview
    response = save(staff_client, host=sim.url, key_id=sim.key_id, secret="")
    assert b"Enter the API key secret." in response.content


@on_each_database
def test_a_secret_key_rotation_with_fallbacks_keeps_the_secret(staff_client, sim, settings):
    saved_sim(staff_client, sim)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-after-a-rotation"
    assert SpaceliftConnection.load().secret() == sim.key_secret


@on_each_database
def test_encryption_key_rotation_keeps_old_secrets_readable(staff_client, sim, settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEY = old
    saved_sim(staff_client, sim)
    settings.PORTAL_ENCRYPTION_KEY = f"{new},{old}"
    assert SpaceliftConnection.load().secret() == sim.key_secret


def test_the_environment_wins_and_cannot_be_edited(staff_client, connected):
    html = staff_client.get(URL).content.decode()
    assert "managed by the environment" in html
    assert connected.key_id in html
    assert connected.key_secret not in html
    assert 'name="host"' not in html
    save(staff_client, host="mycorp.app.spacelift.io", key_id=GOOD_KEY, secret="x")
    assert SpaceliftConnection.load() is None


@on_each_database
def test_saving_takes_effect_at_once(staff_client, sim):
    saved_sim(staff_client, sim)
    assert b'data-stack="' in staff_client.get("/").content
    save(staff_client, host=sim.url, key_id=GOOD_KEY, secret="whatever", save_anyway="on")
    html = staff_client.get("/").content.decode()
    assert 'data-stack="' not in html
    assert "does not know this API key ID" in html


def test_without_a_connection_the_overview_points_staff_to_the_settings(staff_client):
    html = staff_client.get("/").content.decode()
    assert f'href="{URL}"' in html


def press_test_connection(client, sim, *, htmx: bool = False, **values):
    """Press "Test connection" with the simulator's values, some replaced by `values`."""
    data = {"host": sim.url, "key_id": sim.key_id, "secret": sim.key_secret}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(TEST, data | values, headers=headers)


def checks_of(response) -> list[tuple[str, str]]:
    """(pass or fail, the check's name) for each check shown, in order."""
    return [
        (
            "pass" if "pass" in item["class"] else "fail",
            item.get_text().split("·", 1)[1].split(":", 1)[0].strip(),
        )
        for item in parse(response).select("li.check")
    ]


def test_connection_test_passes_every_check_against_the_simulator(staff_client, sim):
    response = press_test_connection(staff_client, sim)
    assert [c[0] for c in checks_of(response)] == ["pass", "pass", "pass", "pass"]
    assert b"48 stack(s)" in response.content
    assert SpaceliftConnection.load() is None  # testing saves nothing


def test_connection_test_reports_a_wrong_secret_as_such(staff_client, sim):
    response = press_test_connection(staff_client, sim, secret="not-the-secret")
    assert [c[0] for c in checks_of(response)] == ["pass", "fail"]
    html = response.content.decode()
    assert "refused to sign it in" in html and f"api::{sim.key_id}" in html
    assert "not-the-secret" not in html


def test_connection_test_reports_an_unknown_key_id(staff_client, sim):
    response = press_test_connection(staff_client, sim, key_id=GOOD_KEY, secret="x")
    assert [c[0] for c in checks_of(response)] == ["pass", "fail"]
    assert b"has no API key with ID" in response.content


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        ("http500", "HTTP 500"),
        ("not_json", "not Spacelift&#x27;s GraphQL API"),
        ("rate_limit", "429"),
    ],
)
def test_connection_test_reports_a_host_that_does_not_speak_graphql(
    staff_client, sim, mode, text, settings
):
    settings.PORTAL_SIMULATOR_URL = sim.url
    sim.set_faults(mode=mode)
    response = press_test_connection(staff_client, sim)
    assert [c[0] for c in checks_of(response)] == ["fail"]
    assert text in response.content.decode()


def test_connection_test_reports_an_unreachable_named_simulator(
    staff_client, settings, closed_port
):
    port = closed_port
    response = staff_client.post(
        TEST,
        {"host": f"http://127.0.0.1:{port}", "key_id": GOOD_KEY, "secret": "x"},
    )
    settings.PORTAL_SIMULATOR_URL = f"http://127.0.0.1:{port}"
    response = staff_client.post(
        TEST,
        {"host": f"http://127.0.0.1:{port}", "key_id": GOOD_KEY, "secret": "x"},
    )
    assert [c[0] for c in checks_of(response)] == ["fail"]
    assert b"Check the host for typos" in response.content


@on_each_database
def test_the_saved_connection_can_be_tested(staff_client, sim):
    saved_sim(staff_client, sim)
    response = staff_client.post(TEST_IN_USE)
    assert [c[0] for c in checks_of(response)] == ["pass", "pass", "pass", "pass"]


def test_the_secret_is_never_logged(staff_client, sim, caplog):
    caplog.set_level(logging.DEBUG)
    saved_sim(staff_client, sim)
    staff_client.post(TEST_IN_USE)
    staff_client.get("/")
    press_test_connection(staff_client, sim, secret="typo-secret-abc")
    assert sim.key_secret not in caplog.text
    assert "typo-secret-abc" not in caplog.text


@pytest.fixture
def empty_sim():
    from simulator.server import start_simulator

    handle = start_simulator(port=0, stacks=0, seed=3)
    yield handle
    handle.stop()


def test_connection_test_explains_an_empty_stack_list(staff_client, empty_sim):
    response = press_test_connection(staff_client, empty_sim)
    assert [c[0] for c in checks_of(response)] == ["pass", "pass", "fail", "pass"]
    html = response.content.decode()
    assert "sees no stacks" in html
    assert "the key can read no space with stacks" in html


def test_connection_test_explains_a_key_that_reads_no_space(staff_client, empty_sim):
    empty_sim.world.spaces.clear()
    response = press_test_connection(staff_client, empty_sim)
    assert [c[0] for c in checks_of(response)] == ["pass", "pass", "fail", "pass"]
    assert b"The key can read no space." in response.content
    assert b"Reader role" in response.content


# Test, then Save: the form is left alone and Save refuses what does not work ------------------


def test_test_connection_over_htmx_answers_only_the_results(staff_client, sim):
    response = press_test_connection(staff_client, sim, htmx=True)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="connection-results"')
    assert 'name="secret"' not in html and "<form" not in html
    assert sim.key_secret not in html
    assert [c[0] for c in checks_of(response)] == ["pass", "pass", "pass", "pass"]


def test_save_refuses_a_connection_that_fails_its_test(staff_client, sim):
    response = save(staff_client, host=sim.url, key_id=sim.key_id, secret="a-wrong-secret")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not saved: API key exchange failed." in html
    assert "refused to sign it in" in html
    assert "a-wrong-secret" not in html
    assert SpaceliftConnection.load() is None


@on_each_database
def test_save_anyway_saves_a_connection_that_fails(staff_client, sim):
    response = save(
        staff_client, host=sim.url, key_id=sim.key_id, secret="a-wrong-secret", save_anyway="on"
    )
    assert response.status_code == 302
    assert SpaceliftConnection.load().secret() == "a-wrong-secret"
    banner = parse(staff_client.get(URL)).select_one(".messages .banner")
    assert "banner-stale" in banner["class"]
    assert banner.get_text().startswith("Saved despite a failing test: API key exchange failed.")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_SAVE)
    assert (
        entry.succeeded and entry.message == "Saved despite a failing test: API key exchange failed"
    )


def test_a_refused_save_is_audited_as_refused(staff_client, sim):
    save(staff_client, host=sim.url, key_id=sim.key_id, secret="a-wrong-secret")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CONNECTION_SAVE)
    assert not entry.succeeded and entry.message.startswith("Not saved: API key exchange failed.")
    assert "a-wrong-secret" not in entry.message


def test_save_over_htmx_redirects_the_page_when_saved(staff_client, sim):
    response = staff_client.post(
        SAVE,
        {"host": sim.url, "key_id": sim.key_id, "secret": sim.key_secret},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == URL
    assert SpaceliftConnection.load().secret() == sim.key_secret


@on_each_database
def test_the_right_secret_typed_after_a_wrong_one_saved_is_the_one_saved(staff_client, sim):
    save(staff_client, host=sim.url, key_id=sim.key_id, secret="a-wrong-secret", save_anyway="on")
    tested = press_test_connection(staff_client, sim, htmx=True)
    assert [c[0] for c in checks_of(tested)] == ["pass", "pass", "pass", "pass"]
    assert save(staff_client, host=sim.url, key_id=sim.key_id, secret=sim.key_secret).status_code
    assert SpaceliftConnection.load().secret() == sim.key_secret
    assert b'data-stack="' in staff_client.get("/").content


# The saved secret stays bound to its host and key ID ------------------------------------------


@pytest.fixture
def other_host():
    """A second Spacelift-compatible server: where a staff member might point the portal."""
    from simulator.server import start_simulator

    handle = start_simulator(port=0, stacks=2, seed=5)
    yield handle
    handle.stop()


@pytest.mark.parametrize("action", ["test", "save"])
def test_a_blank_secret_is_never_sent_to_another_host(staff_client, sim, other_host, action):
    saved_sim(staff_client, sim)
    other_host.reset_stats()
    response = staff_client.post(
        ACTIONS[action], {"host": other_host.url, "key_id": sim.key_id, "secret": ""}
    )
    assert response.status_code == 200
    assert "Type the secret again" in response.content.decode()
    assert other_host.stats()["requests"] == 0
    assert SpaceliftConnection.load().base_url == sim.url


def test_a_blank_secret_with_another_key_id_needs_the_secret(staff_client, sim):
    saved_sim(staff_client, sim)
    response = save(staff_client, host=sim.url, key_id=GOOD_KEY, secret="", save_anyway="on")
    assert "Type the secret again" in response.content.decode()
    assert SpaceliftConnection.load().key_id == sim.key_id


METADATA_REFUSED = "Link-local and cloud metadata addresses cannot be a Spacelift account."


# All https://, which the scheme rule accepts: only the metadata-address rule refuses them.
@pytest.mark.parametrize(
    "host",
    [
        "https://169.254.169.254",
        "https://[fe80::1]",
        "https://[::ffff:169.254.169.254]",
        "https://[fd00:ec2::254]",
        "https://metadata.google.internal",
        "https://instance-data.ec2.internal",
        "https://100.100.100.200",
    ],
)
def test_link_local_and_metadata_addresses_are_refused(staff_client, host):
    response = staff_client.post(TEST, {"host": host, "key_id": GOOD_KEY, "secret": "s3cret"})
    assert METADATA_REFUSED in response.content.decode()
    assert checks_of(response) == []


def test_a_name_that_resolves_to_a_metadata_address_is_refused(staff_client, monkeypatch):
    import socket

    real = socket.getaddrinfo

    def resolves_to_metadata(host, port, *args, **kwargs):
        if host != "innocent.example.com":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolves_to_metadata)
    response = staff_client.post(
        TEST, {"host": "https://innocent.example.com", "key_id": GOOD_KEY, "secret": "s3cret"}
    )
    assert METADATA_REFUSED in response.content.decode()
    assert checks_of(response) == []


def test_errors_on_unnamed_local_ports_do_not_say_what_answers(staff_client, sim, closed_port):
    sim.set_faults(mode="not_json")
    answering = press_test_connection(staff_client, sim)
    closed = closed_port
    silent = staff_client.post(
        TEST,
        {"host": f"http://127.0.0.1:{closed}", "key_id": GOOD_KEY, "secret": "x"},
    )
    generic = "No Spacelift GraphQL API answered at this local address."
    for response in (answering, silent):
        html = response.content.decode()
        assert generic in html
        assert "refused" not in html.lower() and "not Spacelift" not in html


def test_an_error_report_never_shows_the_typed_secret(staff_client, sim, monkeypatch):
    """What an error e-mail or log would hold (DEBUG off) when the settings view fails."""
    import sys

    from django.core.signals import got_request_exception
    from django.views.debug import ExceptionReporter

    from dashboard.connection import settings_page

    def broken(connection, **kwargs):
        raise RuntimeError("a bug while testing")

    reports = []

    def report(sender, request, **kwargs):
        reports.append(ExceptionReporter(request, *sys.exc_info(), is_email=True))

    monkeypatch.setattr(settings_page, "run_checks", broken)
    got_request_exception.connect(report)
    staff_client.raise_request_exception = False
    try:
        response = press_test_connection(staff_client, sim, secret="typed-secret-xyz")
    finally:
        got_request_exception.disconnect(report)
    assert response.status_code == 500
    text = reports[0].get_traceback_text()
    assert "a bug while testing" in text and "key_id" in text
    assert "typed-secret-xyz" not in text
