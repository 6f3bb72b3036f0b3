# The audit log records stack locks and unlocks (issue 22) and run retries (issue 20).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0007_webhook_secret"),
    ]

    operations = [
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
                ],
                max_length=20,
            ),
        ),
    ]
