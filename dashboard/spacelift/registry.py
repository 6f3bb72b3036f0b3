"""Module versions from a Terraform registry, where SPACELIFT_REGISTRY_URL names one.

The portal reads module versions over GraphQL by default (client.list_module_versions). This
is the Terraform registry protocol: `GET <registry>/registry/modules/v1/<org>/<name>/
<provider>/versions`, with the client's JWT, one request per module.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

from . import errors, outbound
from .types import ModuleVersions

if TYPE_CHECKING:
    import requests

    from .client import SpaceliftClient

logger = logging.getLogger(__name__)


def read_versions(
    client: SpaceliftClient, org: str, name: str, provider: str, *, registry_url: str | None = None
) -> ModuleVersions:
    """A module's versions from the registry (Terraform registry protocol, not GraphQL).

    `GET <registry>/registry/modules/v1/<org>/<name>/<provider>/versions` with the same
    JWT. An empty list may mean the token may not read the module's space: Spacelift
    answers that way instead of a 401 (docs/spacelift-api.md, "Module registry").
    A 401 gets one re-exchange and one retry, like `unauthorized` on GraphQL.
    """
    source = f"{org}/{name}/{provider}"
    url = "/".join(
        (
            (registry_url or client.connection.base_url).rstrip("/"),
            "registry/modules/v1",
            *(quote(part, safe="") for part in (org, name, provider)),
            "versions",
        )
    )
    with outbound.within(client.timeout[1]):
        token = client.token()
        response = _get(client, url, token.jwt)
        if response.status_code == 401:
            logger.info("The module registry answered 401; exchanging the key again once")
            response = _get(client, url, client.renew_token(token.jwt).jwt)
    return _answer(response, source)


def _get(client: SpaceliftClient, url: str, jwt: str) -> requests.Response:
    return outbound.request(
        "GET",
        url,
        who="the module registry",
        timeout=client.timeout,
        headers={"Authorization": f"Bearer {jwt}", "Accept": "application/json"},
    )


def _answer(response: requests.Response, source: str) -> ModuleVersions:
    status = response.status_code
    if status == 401:
        raise errors.Unauthorized("The module registry refused a fresh token (HTTP 401)")
    if status == 404:
        raise errors.NotFound(
            f"The module registry has no module {source}; check the organisation name "
            "(SPACELIFT_REGISTRY_ORG)"
        )
    errors.raise_for_status(response, "The module registry")
    try:
        return ModuleVersions.from_registry(response.json(), source)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise errors.NotJSON(
            "The module registry answered with something that is not a Terraform registry "
            "versions list (a proxy or login page?)"
        ) from None
