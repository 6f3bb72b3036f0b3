#!/bin/sh
# Migrations at start, then gunicorn managing uvicorn workers serving the ASGI app (event
# streams wait on each worker's event loop). On SIGTERM the app ends its event streams at once
# (spacelift_portal/asgi.py); other requests get GUNICORN_GRACEFUL_TIMEOUT to finish.
# With several replicas, run migrations once beforehand.
set -e
python manage.py migrate --no-input
exec gunicorn spacelift_portal.asgi:application \
  --bind "0.0.0.0:${PORT:-8000}" \
  --workers "${GUNICORN_WORKERS:-2}" \
  --worker-class uvicorn_worker.UvicornWorker \
  --timeout "${GUNICORN_TIMEOUT:-30}" --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-10}" \
  --access-logfile - --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
