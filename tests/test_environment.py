"""A stack's environment on its page: variables and mounted files, never a write-only value."""

from __future__ import annotations

import base64

import pytest

from dashboard.spacelift.types import ConfigElement, ConfigType
from tests.conftest import HTMX, poll_values, region_of

pytestmark = pytest.mark.django_db


def stack_with(sim, test):
    """A stack that does not move on its own and has a config element passing `test`."""
    return next(
        stack
        for stack in sim.world.stacks
        if stack.id not in sim.world.active_stack_ids and any(test(c) for c in stack.config)
    )


def test_the_stack_page_lists_variables_and_mounted_files_with_plain_values(
    viewer_client, connected
):
    stack = stack_with(connected, lambda c: c.type == "FILE_MOUNT")
    region = region_of(viewer_client.get(f"/stacks/{stack.id}/"), "environment")
    rows = {row["data-config"]: row for row in region.select("tr[data-config]")}
    assert set(rows) == {element.id for element in stack.config}
    for element in stack.config:
        name, kind, value = rows[element.id].select("td")[:3]
        assert name.code.get_text() == element.id
        if element.type == "FILE_MOUNT":
            assert kind.get_text(strip=True).startswith("Mounted file")
            assert (
                value.select_one("pre code").get_text() == base64.b64decode(element.value).decode()
            )
        else:
            assert kind.get_text(strip=True) == "Environment variable"
            if not element.write_only:
                assert value.code.get_text() == element.value


def test_a_write_only_value_never_reaches_the_page(viewer_client, connected):
    stack = stack_with(connected, lambda c: c.write_only)
    element = next(c for c in stack.config if c.write_only)
    # Spacelift sends null for a write-only value; make the simulator send one anyway, so the
    # page is tested against the worst case rather than against the API's good manners.
    planted = "planted-write-only-value-5e1f"
    element.value = planted
    try:
        html = viewer_client.get(f"/stacks/{stack.id}/").content.decode()
        partial = viewer_client.get(
            f"/stacks/{stack.id}/", {"region": "environment"}, **HTMX
        ).content.decode()
    finally:
        element.value = None
    row = region_of(html, "environment").select_one(f'tr[data-config="{element.id}"]')
    assert row.select_one("td.value").get_text(strip=True) == "hidden (write-only)"
    assert planted not in html
    assert planted not in partial
    assert element.checksum not in html  # a hash of a short secret can be guessed


def test_a_write_only_element_drops_any_value_it_is_sent():
    element = ConfigElement.from_api(
        {"id": "TOKEN", "type": "ENVIRONMENT_VARIABLE", "value": "s3cr3t", "writeOnly": True}
    )
    assert element.value is None
    assert element.write_only
    assert ConfigElement.from_api({"id": "X", "type": "SOMETHING_NEW"}).type is ConfigType.UNKNOWN


def test_a_mounted_file_that_is_not_base64_is_shown_as_it_came():
    element = ConfigElement.from_api(
        {"id": "/mnt/a.tfvars", "type": "FILE_MOUNT", "value": 'region = "eu-west-1"\n'}
    )
    assert element.file_text == 'region = "eu-west-1"\n'


def test_the_environment_region_polls_itself_and_answers_204_when_unchanged(
    viewer_client, connected, still_time
):
    stack = stack_with(connected, lambda c: True)
    url = f"/stacks/{stack.id}/"
    region = region_of(viewer_client.get(url, {"region": "environment"}, **HTMX), "environment")
    response = viewer_client.get(url, poll_values(region), **HTMX)
    assert response.status_code == 204


def test_when_spacelift_fails_the_region_says_so_with_status_200(viewer_client, connected):
    stack = stack_with(connected, lambda c: True)
    connected.set_faults(mode="http500")
    response = viewer_client.get(f"/stacks/{stack.id}/", {"region": "environment"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="environment"')
    assert "Spacelift could not be read" in html
