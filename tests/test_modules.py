"""The module registry page: modules, sources, versions, and telling "no access" from errors."""

from __future__ import annotations

import re

import pytest

from dashboard.spacelift import errors
from dashboard.spacelift.account import default_registry_org
from dashboard.spacelift.types import ModuleVersions, version_key
from dashboard.stacks import modules as module_views
from tests.conftest import parse

pytestmark = pytest.mark.django_db

NO_VERSIONS = (
    "The registry returned no versions. Spacelift answers this way when the key may not read "
    "the module's space (it does not send a 401): give the key the Reader role in that space."
)


@pytest.fixture
def registry(connected, settings):
    """The simulator named as the registry (SPACELIFT_REGISTRY_URL), with its switch put back
    whatever the test does."""
    settings.SPACELIFT_REGISTRY_URL = connected.url
    yield connected
    connected.set_faults(registry_no_access=False)


def module_items(html: str) -> dict[str, str]:
    """Each module's <li> (as HTML), by module ID."""
    return {item["data-module"]: str(item) for item in parse(html).select("li.module[data-module]")}


def squeezed(html: str) -> str:
    """The markup with every run of whitespace made one space, as a browser shows text."""
    return " ".join(html.split())


def shown_versions(item: str) -> list[str]:
    return [code.get_text() for code in parse(item).select("ol.versions > li > code")]


def test_the_modules_page_requires_login(client):
    response = client.get("/modules/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_navigation_links_to_the_modules_page(viewer_client, connected):
    html = viewer_client.get("/").content.decode()
    assert 'href="/modules/">Modules</a>' in html


def test_it_lists_every_module_with_source_versions_newest_first_and_deep_link(
    viewer_client, registry
):
    response = viewer_client.get("/modules/")
    assert response.status_code == 200
    html = response.content.decode()
    items = module_items(html)
    assert set(items) == {module.id for module in registry.world.modules}
    for module in registry.world.modules:
        item = items[module.id]
        assert f'href="{registry.url}/module/{module.id}"' in item
        source = f"spacelift.io/simulated/{module.name}/{module.terraform_provider}"
        assert f'<code class="source">{source}</code>' in item
        assert shown_versions(item) == list(reversed(module.versions))
        assert "latest" in item
    assert NO_VERSIONS not in squeezed(html)
    assert "<strong>VPC</strong>" in html  # descriptions are Markdown, sanitised
    assert registry.key_secret not in html


def test_an_empty_versions_list_is_explained_not_reported_as_no_versions(viewer_client, registry):
    registry.set_faults(registry_no_access=True)
    html = viewer_client.get("/modules/").content.decode()
    items = module_items(html)
    assert items
    for item in items.values():
        assert NO_VERSIONS in squeezed(item)
        assert shown_versions(item) == []
    assert "banner-error" not in html
    assert "could not be read" not in html


def test_when_spacelift_fails_the_page_says_so_with_status_200(viewer_client, registry):
    registry.set_faults(mode="http500")
    response = viewer_client.get("/modules/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "banner-error" in html
    assert "Spacelift could not be read" in html
    assert NO_VERSIONS not in squeezed(html)


def test_a_registry_that_cannot_be_reached_is_an_error_not_an_empty_list(
    viewer_client, registry, settings, closed_port
):
    settings.SPACELIFT_REGISTRY_URL = f"http://127.0.0.1:{closed_port}"
    html = viewer_client.get("/modules/").content.decode()
    items = list(module_items(html).values())
    assert "Could not connect to the module registry" in items[0]
    assert "banner-error" in items[0]
    # After the first failure the others are not asked, and the page says so.
    assert all("Versions not asked for" in item for item in items[1:])
    assert NO_VERSIONS not in squeezed(html)


def test_a_wrong_organisation_is_reported_per_module(viewer_client, registry, settings):
    settings.SPACELIFT_REGISTRY_ORG = "not-our-org"
    html = viewer_client.get("/modules/").content.decode()
    for module in registry.world.modules:
        assert f"no module not-our-org/{module.name}/{module.terraform_provider}" in html
    assert "spacelift.io/not-our-org/vpc/aws" in html


def test_versions_are_cached_and_asked_for_at_most_one_page_of_modules(
    viewer_client, registry, monkeypatch
):
    monkeypatch.setattr(module_views, "MODULES_PER_PAGE", 2)
    first = viewer_client.get("/modules/").content.decode()
    assert registry.stats()["registry"] == 2
    assert len(module_items(first)) == 2
    assert 'href="?page=2"' in first
    viewer_client.get("/modules/")
    assert registry.stats()["registry"] == 2  # served from the cache
    second = viewer_client.get("/modules/", {"page": 2}).content.decode()
    assert registry.stats()["registry"] == 4
    assert not set(module_items(first)) & set(module_items(second))


# -- the client and the types underneath -----------------------------------------------------


def test_the_client_reads_modules_and_their_versions_from_the_registry(registry, make_client):
    client = make_client(registry)
    modules = client.list_modules()
    vpc = next(m for m in modules if m.name == "vpc")
    assert vpc.terraform_provider == "aws"
    assert vpc.space_id
    versions = client.module_versions("simulated", vpc.name, vpc.terraform_provider)
    world_vpc = next(m for m in registry.world.modules if m.name == "vpc")
    assert versions == ModuleVersions("simulated/vpc/aws", tuple(reversed(world_vpc.versions)))


def test_the_client_maps_registry_failures_to_its_errors(registry, make_client):
    client = make_client(registry)
    with pytest.raises(errors.NotFound):
        client.module_versions("simulated", "no-such-module", "aws")
    registry.set_faults(mode="http500")
    with pytest.raises(errors.HTTPStatusError):
        client.module_versions("simulated", "vpc", "aws")
    registry.set_faults(mode="not_json")
    with pytest.raises(errors.NotJSON):
        client.module_versions("simulated", "vpc", "aws")


def test_the_client_exchanges_again_once_when_the_registry_answers_401(registry, make_client):
    client = make_client(registry)
    client.list_modules()
    registry.set_credentials(revoke_tokens=True)  # the cached token is no longer good
    versions = client.module_versions("simulated", "vpc", "aws")
    assert versions.versions
    assert registry.stats()["token_exchanges"] == 2


def test_versions_sort_as_versions_not_as_text():
    versions = ["1.9.0", "1.10.0", "1.10.0-rc.2", "1.10.0-rc.10", "0.2", "v2.0.0", "latest"]
    assert sorted(versions, key=version_key, reverse=True) == [
        "v2.0.0",
        "1.10.0",
        "1.10.0-rc.10",
        "1.10.0-rc.2",
        "1.9.0",
        "0.2",
        "latest",
    ]


@pytest.mark.parametrize(
    ("base_url", "org"),
    [
        ("https://mycorp.app.spacelift.io", "mycorp"),
        ("https://spacelift.example.com", "spacelift"),
        ("http://127.0.0.1:8765", "simulated"),
        ("http://localhost:8765", "simulated"),
        ("https://10.0.0.7", ""),
    ],
)
def test_the_registry_organisation_comes_from_the_host(base_url, org):
    assert default_registry_org(base_url) == org


def test_without_a_registry_url_versions_come_from_the_api_in_one_query(viewer_client, connected):
    response = viewer_client.get("/modules/")
    html = response.content.decode()
    items = module_items(html)
    assert set(items) == {m.id for m in connected.world.modules}
    for module in connected.world.modules:
        shown = re.findall(r"<li>\s*<code>([^<]+)</code>", items[module.id])
        assert shown == sorted(module.versions, key=version_key, reverse=True)
        assert items[module.id].count('<span class="tag">current</span>') == 1
    long_lived = next(m for m in connected.world.modules if len(m.versions) >= 5)
    assert "yanked</span>" in items[long_lived.id]
    stats = connected.stats()
    assert stats["registry"] == 0
    assert stats["by_operation"]["ModuleVersions"] == 1
    assert "Versions come from Spacelift's API" in html
