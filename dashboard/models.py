from __future__ import annotations

from django.conf import settings
from django.db import models

from . import crypto
from .spacelift.connection import Connection


class SpaceliftConnection(models.Model):
    """The connection an administrator saved in the UI: one row, the secret encrypted."""

    SINGLETON_ID = 1

    base_url = models.CharField(max_length=300)
    key_id = models.CharField(max_length=26)
    secret_encrypted = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "Spacelift connection"

    def __str__(self) -> str:
        return f"{self.base_url} ({self.key_id})"

    @classmethod
    def load(cls) -> SpaceliftConnection | None:
        return cls.objects.filter(pk=cls.SINGLETON_ID).select_related("updated_by").first()

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt(secret)

    def secret(self) -> str:
        """The plaintext secret; raises crypto.UndecryptableSecret after a key change."""
        return crypto.decrypt(self.secret_encrypted)

    def as_connection(self) -> Connection:
        return Connection(self.base_url, self.key_id, self.secret(), source="database")
