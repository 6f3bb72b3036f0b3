"""Create the demo administrator admin/admin. Only `make run` calls this, for the local demo."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset) the demo administrator admin/admin for a local demo."

    def handle(self, *args, **options) -> None:
        user, created = get_user_model().objects.get_or_create(username="admin")
        user.is_staff = True
        user.is_superuser = True
        user.set_password("admin")
        user.save()
        self.stdout.write("Demo administrator admin/admin " + ("created" if created else "reset"))
