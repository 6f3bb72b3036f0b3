"""Where the Spacelift connection comes from, and how a host is read.

The host may be given bare (`mycorp.app.spacelift.io`, Roadie's convention) or as a URL
(`https://mycorp.app.spacelift.io/`, spacectl's `SPACELIFT_API_KEY_ENDPOINT`); see
docs/spacelift-api.md, "Transport and authentication". Plain http is for loopback only,
which is where a simulator runs.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# One DNS label: letters, digits and inner hyphens, at most 63 characters.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A Spacelift API key ID is a ULID: 26 characters of Crockford's base32.
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
# Spacelift's other key IDs (OIDC API keys: `oidc::<issuer>::<id>`, per its Prometheus
# exporter's README; integration keys): printable, no spaces, at most KEY_ID_MAX_CHARS.
KEY_ID_MAX_CHARS = 255
_NAMESPACED_KEY_ID = re.compile(r"^[a-z][a-z0-9-]*::[\x21-\x7e]{1,250}$")


class InvalidEndpoint(ValueError):
    """The host cannot be used; the message says why, in words for the person who typed it."""


class InvalidKeyID(ValueError):
    pass


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_endpoint(raw: str) -> str:
    """Return the account base URL (`https://host[:port]`) or raise InvalidEndpoint."""
    text = (raw or "").strip()
    if not text:
        raise InvalidEndpoint("Enter the Spacelift host, for example mycorp.app.spacelift.io.")
    if any(ch.isspace() for ch in text):
        raise InvalidEndpoint("The host cannot contain spaces.")
    if "://" not in text:
        if ":" in text.split("/")[0] and not text.split("/")[0].rsplit(":", 1)[1].isdigit():
            raise InvalidEndpoint(
                "Only https:// (or http:// for this machine) addresses are accepted."
            )
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidEndpoint("That is not a valid host or port.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidEndpoint("Only https:// (or http:// for this machine) addresses are accepted.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidEndpoint("Leave user names and passwords out of the host; use an API key.")
    path = parts.path.rstrip("/")
    # A pasted GraphQL endpoint is the same account; anything else is another site.
    if path not in ("", "/graphql") or parts.query or parts.fragment:
        raise InvalidEndpoint(
            "Give the host only, without a path, for example mycorp.app.spacelift.io."
        )
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise InvalidEndpoint("Enter the Spacelift host, for example mycorp.app.spacelift.io.")
    if not _is_ip(host) and not all(_LABEL.match(label) for label in host.split(".")):
        raise InvalidEndpoint(f"“{host}” is not a valid host name.")
    if scheme == "http" and not is_loopback_host(host):
        raise InvalidEndpoint(
            "Use https://; plain http:// is only accepted for this machine (a local simulator)."
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and not (scheme == "https" and port == 443):
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# The simulator's registry organisation; a loopback host is a simulator (see normalize_endpoint).
SIMULATOR_REGISTRY_ORG = "simulated"


def default_registry_org(base_url: str) -> str:
    """The registry organisation of an account: `mycorp` for mycorp.app.spacelift.io.

    Module sources read `spacelift.io/<org>/<module>/<provider>`, where the org is the
    account's name, which is the first label of its host. Empty when it cannot be told (an IP
    address): then SPACELIFT_REGISTRY_ORG must say it.
    """
    host = (urlsplit(base_url).hostname or "").lower()
    if is_loopback_host(host):
        return SIMULATOR_REGISTRY_ORG
    if not host or _is_ip(host):
        return ""
    return host.split(".")[0]


def validate_key_id(raw: str) -> str:
    """A key ID as Spacelift issues it: a ULID (upper-cased), or a namespaced ID such as an
    OIDC API key's `oidc::<issuer>::<id>` (kept as given). Anything else gets the ULID hint."""
    given = (raw or "").strip()
    if _ULID.match(given.upper()):
        return given.upper()
    if "::" in given and _NAMESPACED_KEY_ID.match(given):
        return given
    raise InvalidKeyID(
        "An API key ID is the 26-character ID Spacelift shows under Organization "
        "settings > API keys (letters and digits, like 01HZX3K8Q9V1W2E3R4T5Y6V7A8), or an "
        "OIDC API key's ID as Spacelift shows it (oidc::…)."
        if given
        else "Enter the API key ID."
    )


@dataclass(frozen=True)
class Connection:
    """A usable Spacelift connection. `repr` never shows the secret."""

    base_url: str
    key_id: str
    secret: str = field(repr=False)
    source: str = "environment"

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    @property
    def fingerprint(self) -> str:
        """Names this connection in cache keys; changes when any part of it changes."""
        digest = hashlib.sha256(
            f"{self.base_url}\0{self.key_id}\0{self.secret}".encode()
        ).hexdigest()
        return digest[:16]

    def stack_url(self, stack_id: str) -> str:
        return f"{self.base_url}/stack/{stack_id}"

    def run_url(self, stack_id: str, run_id: str) -> str:
        return f"{self.base_url}/stack/{stack_id}/run/{run_id}"

    def space_url(self, space_id: str) -> str:
        return f"{self.base_url}/spaces/{space_id}"

    def module_url(self, module_id: str) -> str:
        return f"{self.base_url}/module/{module_id}"


# Where cloud instances answer with their own credentials: never a Spacelift account.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html and the
# equivalents of GCP, Azure (169.254.169.254) and Alibaba Cloud (100.100.100.200).
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32")
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)


def _forbidden_ip(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in METADATA_NETWORKS)


def refuse_internal_address(base_url: str) -> None:
    """Raise InvalidEndpoint when `base_url` names or resolves to a link-local or cloud
    metadata address: the portal would send the API key secret to the instance's own
    credentials service. A name that does not resolve passes; the test then says so."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower().rstrip(".")
    message = "Link-local and cloud metadata addresses cannot be a Spacelift account."
    if host in METADATA_NAMES:
        raise InvalidEndpoint(message)
    if _is_ip(host):
        addresses = [host]
    else:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return
        addresses = [str(info[4][0]) for info in infos]
    if any(_forbidden_ip(address) for address in addresses):
        raise InvalidEndpoint(message)


def is_loopback_url(base_url: str) -> bool:
    return is_loopback_host((urlsplit(base_url).hostname or "").lower())
