# The webhook secret saved on the settings page, encrypted like the API key secret (issue 19).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0006_space_access"),
    ]

    operations = [
        migrations.AddField(
            model_name="spaceliftconnection",
            name="webhook_secret_encrypted",
            field=models.TextField(blank=True, default=""),
        ),
    ]
