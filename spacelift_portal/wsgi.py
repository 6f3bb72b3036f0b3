import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spacelift_portal.settings")
application = get_wsgi_application()

# Notifications are looked for in every serving process (dashboard/notifications/watcher.py).
from dashboard.notifications.watcher import start_in_background  # noqa: E402

start_in_background()
