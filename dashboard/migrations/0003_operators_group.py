from django.db import migrations


def create_operators(apps, schema_editor):
    """The group an administrator adds people to so they may act on runs."""
    from django.contrib.auth.management import create_permissions

    # The database being migrated, which is not always "default" (the tests migrate two).
    using = schema_editor.connection.alias
    app_config = apps.get_app_config("dashboard")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, using=using)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name="operators")
    group.permissions.add(
        Permission.objects.using(using).get(
            codename="operate_stacks", content_type__app_label="dashboard"
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0002_actions_audit_history"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_operators, migrations.RunPython.noop)]
