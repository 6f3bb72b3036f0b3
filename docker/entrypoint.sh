#!/bin/sh
# Migrations at start, then gunicorn. With several replicas, run migrations once beforehand.
set -e
python manage.py migrate --no-input
exec gunicorn spacelift_portal.wsgi \
  --bind "0.0.0.0:${PORT:-8000}" \
  --workers "${GUNICORN_WORKERS:-2}" --threads "${GUNICORN_THREADS:-8}" \
  --worker-class gthread \
  --timeout "${GUNICORN_TIMEOUT:-30}" \
  --access-logfile - --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
