"""A saved API key ID may be longer than a ULID: OIDC API keys have IDs like oidc::<issuer>::<id>."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0010_badge_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="spaceliftconnection",
            name="key_id",
            field=models.CharField(max_length=255),
        ),
    ]
