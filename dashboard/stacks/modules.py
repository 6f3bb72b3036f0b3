"""The private module registry: every module, its source line and its published versions.

Versions are read over GraphQL, as spacectl reads them (`module(id) { versions }`), all
modules of a page in one query. Only where SPACELIFT_REGISTRY_URL names a registry are they
read from it with the Terraform registry protocol, one request per module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.accounts import access as space_access
from dashboard.decorators import with_service
from dashboard.spacelift import errors
from dashboard.spacelift.service import Snapshot, SpaceliftService
from dashboard.spacelift.types import Module, ModuleVersion, ModuleVersions, version_key

# Each module's versions cost one registry request, so a page asks for at most this many.
MODULES_PER_PAGE = 50
# The host in a module source (spacelift.io/<org>/<module>/<provider>), per Spacelift's docs.
REGISTRY_SOURCE_HOST = "spacelift.io"


@dataclass(frozen=True)
class ModuleRow:
    module: Module
    source: str  # empty when the organisation or the provider is unknown
    versions: Snapshot[ModuleVersions] | None  # None: the registry was not asked
    deferred: bool = False  # not asked this time: the registry failed for another module
    # Read over GraphQL, newest first; None: not read that way (or the module is gone).
    api_versions: tuple[ModuleVersion, ...] | None = None


@require_GET
@login_required
@with_service
def module_list(request: HttpRequest, service: SpaceliftService) -> HttpResponse:
    connection = service.connection
    access = space_access.access_of(request, service)
    listed = service.modules()
    snapshot = replace(listed, data=space_access.visible_modules(listed.data, access))
    org = service.registry_org()
    modules = sorted(snapshot.data or (), key=lambda m: (m.name.lower(), m.terraform_provider))
    page = Paginator(modules, MODULES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "connection": connection,
        "snapshot": snapshot,
        "modules": snapshot.data,
        "page": page,
        "org": org,
        "from_registry": bool(settings.SPACELIFT_REGISTRY_URL),
        "versions_snapshot": None,
    }
    if context["from_registry"]:
        context["rows"] = _rows(service, org, list(page.object_list))
    else:
        context["versions_snapshot"], context["rows"] = _api_rows(
            service, org, list(page.object_list)
        )
    return render(request, "dashboard/modules.html", context)


def _rows(service: SpaceliftService, org: str, modules: list[Module]) -> list[ModuleRow]:
    """Each module with its versions, all fetched within one read timeout.

    Once the registry fails (other than for one unknown module) or the time is spent, the
    rest come from the cache only: a hanging registry holds the page for one timeout, not
    one per module, and is not asked again and again while it fails.
    """
    deadline = time.monotonic() + settings.SPACELIFT_TIMEOUT_SECONDS
    fetching = True
    rows = []
    for module in modules:
        provider = module.terraform_provider
        if not (org and provider):
            rows.append(ModuleRow(module, "", None))
            continue
        fetching = fetching and time.monotonic() < deadline
        versions = service.module_versions(org, module.name, provider, cached_only=not fetching)
        if versions and versions.problem and versions.problem.summary != errors.NotFound.summary:
            fetching = False
        source = f"{REGISTRY_SOURCE_HOST}/{org}/{module.name}/{provider}"
        rows.append(ModuleRow(module, source, versions, deferred=versions is None))
    return rows


def _api_rows(
    service: SpaceliftService, org: str, modules: list[Module]
) -> tuple[Snapshot | None, list[ModuleRow]]:
    """Each module with its versions from the API, one query for the page."""
    if not modules:
        return None, []
    snapshot = service.module_version_lists([m.id for m in modules])
    found = snapshot.data or {}
    rows = []
    for module in modules:
        versions = found.get(module.id)
        if versions is not None:
            versions = tuple(sorted(versions, key=lambda v: version_key(v.number), reverse=True))
        source = (
            f"{REGISTRY_SOURCE_HOST}/{org}/{module.name}/{module.terraform_provider}"
            if org and module.terraform_provider
            else ""
        )
        rows.append(ModuleRow(module, source, None, api_versions=versions))
    return snapshot, rows
