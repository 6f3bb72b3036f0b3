# Notifications (issue 23): routes, what was told, the outbox and the sender's lease; the audit
# trail gains "Notification route change".

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0008_stack_locks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NotifierLease",
            fields=[
                ("name", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("holder", models.CharField(max_length=120)),
                ("expires_at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="WatchedConnection",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("connection", models.CharField(max_length=16, unique=True)),
                ("since", models.DateTimeField()),
            ],
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("trigger", "Trigger run"),
                    ("confirm", "Confirm run"),
                    ("discard", "Discard run"),
                    ("retry", "Retry run"),
                    ("connection_save", "Save connection"),
                    ("connection_test", "Test connection"),
                    ("connection_remove", "Remove connection"),
                    ("sign_in", "Sign in"),
                    ("role_change", "Role change"),
                    ("access_change", "Space access change"),
                    ("stack_lock", "Lock stack"),
                    ("stack_unlock", "Unlock stack"),
                    ("notification", "Notification route change"),
                ],
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="NotificationRoute",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                ("url_encrypted", models.TextField()),
                ("url_shown", models.CharField(max_length=200)),
                ("spaces", models.JSONField(blank=True, default=list)),
                ("labels", models.JSONField(blank=True, default=list)),
                ("kinds", models.JSONField(blank=True, default=list)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "updated_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="NotifiedProblem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("connection", models.CharField(max_length=16)),
                ("stack_id", models.CharField(max_length=128)),
                ("kinds", models.JSONField(default=list)),
                ("since", models.DateTimeField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("connection", "stack_id"), name="one_notified_problem_per_stack"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="OutboxMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("route_key", models.CharField(db_index=True, max_length=120)),
                ("route_name", models.CharField(max_length=100)),
                ("kind", models.CharField(max_length=20)),
                ("title", models.CharField(max_length=250)),
                ("body", models.TextField()),
                ("stacks", models.PositiveIntegerField(default=0)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting to be sent"),
                            ("sent", "Delivered"),
                            ("given_up", "Given up"),
                        ],
                        db_index=True,
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField()),
                ("next_attempt_at", models.DateTimeField()),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.CharField(blank=True, max_length=300)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["status", "next_attempt_at"], name="dashboard_o_status_722863_idx"
                    )
                ],
            },
        ),
    ]
