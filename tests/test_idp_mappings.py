"""Spacelift's IdP group mappings (`managedUserGroups`) copied into the portal's rules: read
from the simulator over real HTTP, with a key that may, one that may not, and an API without
the field."""

from __future__ import annotations

import json

import pytest

from dashboard.accounts import access
from dashboard.models import AuditEntry
from dashboard.spacelift.account import Connection
from dashboard.spacelift.client import SpaceliftClient
from simulator import idp_groups
from tests.conftest import parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def refused(connected):
    idp_groups.refuse(connected.simulator)
    yield connected
    idp_groups.refuse(connected.simulator, False)


@pytest.fixture
def lean(connected):
    connected.set_faults(lean=True)
    yield connected
    connected.clear_faults()


def client_for(sim) -> SpaceliftClient:
    return SpaceliftClient(Connection(sim.url, sim.key_id, sim.key_secret), read_timeout=3.0)


def space_id(sim, name: str) -> str:
    return next(space.id for space in sim.world.spaces if space.name == name)


def test_the_client_reads_the_mappings_as_the_terraform_provider_does(connected):
    mappings = {m.group_name: m for m in client_for(connected).list_idp_group_mappings()}
    assert mappings["team-payments"].access_rules == ((space_id(connected, "payments"), "WRITE"),)
    assert mappings["sre"].spaces == ("root",)


def test_an_api_without_the_field_is_learned_and_never_asked_again(lean):
    lean.set_faults(no_introspection=True)
    client = client_for(lean)
    assert client.list_idp_group_mappings() is None
    lean.reset_stats()
    assert client.list_idp_group_mappings() is None
    assert "managedUserGroups" not in lean.stats()["by_field"]


def test_staff_copy_spacelifts_mappings_into_the_rules_and_it_is_audited(
    connected, staff_client, settings
):
    settings.PORTAL_SPACE_ACCESS = ""
    page = parse(staff_client.get("/administration/access/").content.decode())
    offer = page.select_one("form[data-mirror]")
    assert offer is not None and "team-payments" in offer.get_text()
    assert staff_client.post("/administration/access/mirror/").status_code == 302
    rules = access.current_rules()
    assert rules["team-payments"] == (space_id(connected, "payments"),)
    assert rules["data-readers"] == (space_id(connected, "data"), space_id(connected, "payments"))
    assert rules["sre"] == ("root",)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ACCESS_CHANGE)
    assert "Copied from Spacelift" in entry.message


def test_a_key_that_may_not_read_them_gets_a_note_not_an_error(refused, staff_client, settings):
    settings.PORTAL_SPACE_ACCESS = ""
    response = staff_client.get("/administration/access/")
    assert response.status_code == 200
    page = parse(response.content.decode())
    assert page.select_one("form[data-mirror]") is None
    assert (
        "may not read Spacelift's IdP group mappings" in page.select_one("[data-mirror-note]").text
    )
    staff_client.post("/administration/access/mirror/")
    assert access.current_rules() == {}


def test_an_api_without_them_gets_a_note(lean, staff_client, settings):
    settings.PORTAL_SPACE_ACCESS = ""
    page = parse(staff_client.get("/administration/access/").content.decode())
    assert "no IdP group mappings API" in page.select_one("[data-mirror-note]").text


def test_nothing_is_copied_over_rules_the_environment_sets(connected, staff_client, settings):
    settings.PORTAL_SPACE_ACCESS = json.dumps({"sre": ["root"]})
    staff_client.post("/administration/access/mirror/")
    assert access.current_rules() == {"sre": ("root",)}
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS_CHANGE).exists()
