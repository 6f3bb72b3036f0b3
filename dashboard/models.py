"""The app's tables: the saved connection, the audit trail, sign-in identities, stack history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.views.decorators.debug import sensitive_variables

from dashboard.connection import crypto
from dashboard.spacelift.account import Connection


def one_row_per(*fields: str, name: str) -> models.UniqueConstraint:
    """No two rows share these fields' values (a constraint named `name` in the database)."""
    return models.UniqueConstraint(fields=list(fields), name=name)


class SpaceliftConnection(models.Model):
    """The connection an administrator saved in the UI: one row, the secret encrypted."""

    SINGLETON_ID = 1

    base_url = models.CharField(max_length=300)
    key_id = models.CharField(max_length=26)
    secret_encrypted = models.TextField()
    # The secret Spacelift signs webhooks with, encrypted like the API key secret; PORTAL_WEBHOOK_
    # SECRET wins over it (dashboard/webhooks/secret.py).
    webhook_secret_encrypted = models.TextField(blank=True, default="")
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

    @sensitive_variables()
    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt(secret)

    def secret(self) -> str:
        """The plaintext secret; raises crypto.UndecryptableSecret after a key change."""
        return crypto.decrypt(self.secret_encrypted)

    @sensitive_variables()
    def set_webhook_secret(self, secret: str) -> None:
        self.webhook_secret_encrypted = crypto.encrypt(secret) if secret else ""

    def webhook_secret(self) -> str:
        """The plaintext webhook secret; empty when none is saved or it cannot be decrypted."""
        if not self.webhook_secret_encrypted:
            return ""
        try:
            return crypto.decrypt(self.webhook_secret_encrypted)
        except crypto.UndecryptableSecret:
            return ""

    @sensitive_variables()
    def as_connection(self) -> Connection:
        return Connection(self.base_url, self.key_id, self.secret(), source="database")


class AuditEntry(models.Model):
    """One thing a portal user did: an action on Spacelift (successful or not), a change to
    the Spacelift connection, a sign-in or a change of someone's role. Kept PORTAL_AUDIT_DAYS."""

    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger run"
        CONFIRM = "confirm", "Confirm run"
        DISCARD = "discard", "Discard run"
        RETRY = "retry", "Retry run"
        CONNECTION_SAVE = "connection_save", "Save connection"
        CONNECTION_TEST = "connection_test", "Test connection"
        CONNECTION_REMOVE = "connection_remove", "Remove connection"
        SIGN_IN = "sign_in", "Sign in"
        ROLE_CHANGE = "role_change", "Role change"
        ACCESS_CHANGE = "access_change", "Space access change"
        LOCK = "stack_lock", "Lock stack"
        UNLOCK = "stack_unlock", "Unlock stack"
        NOTIFICATION_CHANGE = "notification", "Notification route change"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so the log still names who acted after the account is deleted.
    username = models.CharField(max_length=150)
    # Where from, as PORTAL_TRUSTED_PROXY_COUNT lets the portal know (dashboard/client_address.py).
    client_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    stack_id = models.CharField(max_length=128, blank=True)
    run_id = models.CharField(max_length=26, blank=True)
    # The run Spacelift reports for the action (the new run for a trigger).
    result_run_id = models.CharField(max_length=26, blank=True)
    result_state = models.CharField(max_length=40, blank=True)
    succeeded = models.BooleanField(default=False)
    message = models.CharField(max_length=500, blank=True)
    # Which fields a connection change touched ("host, key ID"): names only, never values.
    fields = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("operate_stacks", "Can trigger, confirm and discard runs from the portal"),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.stack_id} at {self.created_at:%Y-%m-%d %H:%M}"


class SignInIdentity(models.Model):
    """The single sign-on identity behind a portal user: the provider's `sub`, never the
    e-mail, which people change and providers reuse. Groups are those seen at last sign-in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_identity"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [one_row_per("issuer", "subject", name="one_user_per_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class StackStateChange(models.Model):
    """A change of a stack's state that the portal observed, for history and "since you
    last looked". Kept for PORTAL_HISTORY_DAYS."""

    connection = models.CharField(max_length=16, db_index=True)
    stack_id = models.CharField(max_length=128)
    from_state = models.CharField(max_length=40, blank=True)
    to_state = models.CharField(max_length=40)
    observed_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["connection", "stack_id", "observed_at"])]
        ordering = ["-observed_at"]

    def __str__(self) -> str:
        return f"{self.stack_id}: {self.from_state or '?'} -> {self.to_state}"


class LastSeenState(models.Model):
    """The last state the portal saw for each stack, to tell what changed."""

    connection = models.CharField(max_length=16)
    stack_id = models.CharField(max_length=128)
    state = models.CharField(max_length=40)

    class Meta:
        constraints = [one_row_per("connection", "stack_id", name="one_state_per_stack")]

    def __str__(self) -> str:
        return f"{self.stack_id}: {self.state}"


class LastVisit(models.Model):
    """When a user last opened the overview, for "since you last looked"."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} at {self.seen_at}"


class SpaceAccessRule(models.Model):
    """One rule of who sees which Spacelift spaces, as edited on the Access page: a group of
    the identity provider (or a local Django group) and the space IDs it sees, with every
    space below them. Ignored while PORTAL_SPACE_ACCESS sets the rules (accounts/access.py)."""

    group = models.CharField(max_length=200, unique=True)
    spaces = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group"]

    def __str__(self) -> str:
        return f"{self.group}: {', '.join(self.spaces)}"


# The notification tables live beside their code (dashboard/notifications/); imported here so
# they are the app's models.
from dashboard.notifications.models import (  # noqa: E402, F401
    NotificationRoute,
    NotifiedProblem,
    NotifierLease,
    OutboxMessage,
    WatchedConnection,
)
