"""Create (or reset) the demo administrator admin/admin. Only `make run` calls this.

It lives outside the installable package on purpose: it resets any user named `admin` to the
password `admin`, which must never be one `manage.py` command away on a real deployment.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spacelift_portal.settings")


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(username="admin")
    user.is_staff = True
    user.is_superuser = True
    user.set_password("admin")
    user.save()
    print("Demo administrator admin/admin " + ("created" if created else "reset"))


if __name__ == "__main__":
    main()
