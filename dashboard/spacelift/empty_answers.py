"""Empty answers, doubted: how the client tells an unaccepted token from an empty account.

Spacelift answers a token it no longer accepts with `stacks: []`, `stack: null` and
`viewer: null`, without an error (docs/spacelift-api.md, "Learned since"; spacectl
661b675 and 7a8ea4b). An answer that looks empty where data was seen before is checked with
`viewer { id }`, and only then, never on every poll: a null viewer gets one re-exchange of
the key and one retry, and if the answer is still empty and the viewer still null, the read
fails with TokenNotAccepted, so the service keeps the last good data under the stale banner.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from . import documents, errors, outbound
from .documents import Document

logger = logging.getLogger(__name__)

# How long the portal remembers that a list held data (to doubt an empty answer after it).
SEEN_SECONDS = 7 * 24 * 3600


class EmptyAnswerChecks:
    """Mixed into SpaceliftClient, whose transport, token and cache it uses."""

    def read(
        self,
        document: str | Document,
        variables: dict[str, Any] | None,
        *,
        empty: Callable[[dict[str, Any]], bool],
        seen: str | None = None,
        doubt: Callable[[], bool] | None = None,
    ) -> dict[str, Any]:
        """`execute`, doubting an `empty` answer where data was `seen` (or `doubt` says so)."""
        with outbound.within(self.timeout[1]):
            return self._read(document, variables, empty, seen, doubt)

    def _read(self, document, variables, empty, seen, doubt) -> dict[str, Any]:
        data = self._execute(document, variables)
        if not empty(data):
            if seen:
                self._note_seen(seen)
            return data
        if not ((seen and self.cache.get(self._seen_key + seen)) or (doubt and doubt())):
            return data
        if self.viewer_present():
            return data  # a real empty answer: the key can read, and there is nothing
        logger.warning("Spacelift answered as if signed out (viewer is null); exchanging again")
        self._exchange_once(stale_jwt=self.token().jwt)
        data = self._execute(document, variables)
        if empty(data) and not self.viewer_present():
            raise errors.TokenNotAccepted(
                f"Spacelift signs API key {self.connection.key_id} in, then answers its "
                "token as if signed out (viewer is null)"
            )
        return data

    def viewer_present(self) -> bool:
        """Whether Spacelift still accepts the token: `viewer` is null when it does not."""
        data = self._checked(*self._authorized_post(documents.VIEWER, None))
        return bool(data.get("viewer"))

    def read_stack(
        self, document: str | Document, variables: dict[str, Any], stack_id: str
    ) -> dict[str, Any]:
        """`read` a document rooted at `stack(id:)`, doubting a null stack the portal has seen
        (in a list or on its own page), as Spacelift answers an unaccepted token that way."""
        return self.read(
            document,
            variables,
            empty=lambda d: not d.get("stack"),
            doubt=lambda: (
                bool(self.cache.get(self._seen_key + "stack:" + stack_id))
                or stack_id in (self.cache.get(self._seen_key + "stack-ids") or ())
            ),
        )

    def _note_seen(self, name: str) -> None:
        if not self.cache.get(self._seen_key + name):
            self.cache.set(self._seen_key + name, True, timeout=SEEN_SECONDS)

    def _note_stacks(self, ids: set[str]) -> None:
        """Remember the stacks seen, so a null `stack(id)` for one of them is doubted.

        Every poll reads the list, so only a small digest is read each time; the set itself
        is written when it changes and read only to doubt an answer.
        """
        if not ids:
            return
        digest = hashlib.blake2b("\0".join(sorted(ids)).encode(), digest_size=8).hexdigest()
        if self.cache.get(self._seen_key + "stack-digest") != digest:
            self.cache.set(self._seen_key + "stack-ids", frozenset(ids), timeout=SEEN_SECONDS)
            self.cache.set(self._seen_key + "stack-digest", digest, timeout=SEEN_SECONDS)

    def _note_stack(self, stack_id: str) -> None:
        """Remember one stack whose page was read (it may not be in a list read yet)."""
        self.cache.add(self._seen_key + "stack:" + stack_id, True, timeout=SEEN_SECONDS)
