"""X-Signature-256: `sha256=` and the hex HMAC-SHA256 of the raw body, keyed with the secret.

The header is Spacelift's (docs/spacelift-api.md, "Webhooks"); the older X-Signature (SHA-1)
is not accepted, so a body is only ever trusted on the SHA-256 one.
"""

from __future__ import annotations

import hashlib
import hmac

from django.views.decorators.debug import sensitive_variables

PREFIX = "sha256="


@sensitive_variables()
def sign(secret: str, body: bytes) -> str:
    """The header value Spacelift sends for `body` (the simulator and the tests sign so)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@sensitive_variables()
def is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """True only for the exact signature of `body`, compared in constant time."""
    if not secret or not header:
        return False
    return hmac.compare_digest(header.strip().encode(), sign(secret, body).encode())
