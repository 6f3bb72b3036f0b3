"""The notification tables: routes staff manage, what was told, the outbox, and the sender's lease.

Imported by dashboard/models.py, so they belong to the `dashboard` app and its migrations.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.views.decorators.debug import sensitive_variables

from dashboard.connection import crypto


class NotificationRoute(models.Model):
    """A route saved on the Notifications page: where to send (an Apprise URL, encrypted,
    never shown back) and what (spaces with the spaces below them, labels, kinds; empty: all)."""

    name = models.CharField(max_length=100, unique=True)
    url_encrypted = models.TextField()
    # Only what can be shown of the URL: its scheme and host (routes.shown_url).
    shown_url = models.CharField(max_length=200)
    spaces = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=list, blank=True)
    kinds = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    from_environment = False  # as routes.Route: a saved route is edited on the page

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        """How the outbox names this route (routes.Route.key)."""
        return f"db:{self.pk}"

    @sensitive_variables()
    def set_url(self, url: str) -> None:
        self.url_encrypted = crypto.encrypt(url)

    def url(self) -> str:
        """The plaintext URL; raises crypto.UndecryptableSecret after a key change."""
        return crypto.decrypt(self.url_encrypted)


class NotifiedProblem(models.Model):
    """What the watcher last told about a stack: the kinds of problem it had (failed, waiting,
    drifted, stuck). A change is news against these rows, so a restart sends nothing twice."""

    connection = models.CharField(max_length=16)
    stack_id = models.CharField(max_length=128)
    kinds = models.JSONField(default=list)
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "stack_id"], name="one_notified_problem_per_stack"
            )
        ]

    def __str__(self) -> str:
        return f"{self.stack_id}: {', '.join(self.kinds)}"


class WatchedConnection(models.Model):
    """A connection the watcher has looked at once: its first look sends at most one summary,
    and every later one (after a restart too) only changes."""

    connection = models.CharField(max_length=16, unique=True)
    since = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.connection} since {self.since}"


class OutboxMessage(models.Model):
    """One message to one route, kept until it is delivered or given up (then kept for the
    Notifications page and /metrics for PORTAL_NOTIFY_KEEP_DAYS)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Delivered"
        GIVEN_UP = "given_up", "Given up"

    # "env:<name>" or "db:<id>": the URL is looked up when sending, never stored here.
    route_key = models.CharField(max_length=120, db_index=True)
    route_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20)  # "digest", "summary" or "test"
    title = models.CharField(max_length=250)
    body = models.TextField()
    stacks = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Why the last attempt failed, in words without the URL (delivery.failure_text).
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.route_name}: {self.title} ({self.status})"


class NotifierLease(models.Model):
    """Who sends: one row, taken with an atomic update by whoever holds it or finds it expired,
    so exactly one process sends and a holder that died is replaced once it expires."""

    name = models.CharField(max_length=40, primary_key=True)
    holder = models.CharField(max_length=120)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} until {self.expires_at}"
