# Spacelift Portal: gunicorn with uvicorn workers (ASGI) + whitenoise, non-root, static files
# collected at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin portal

COPY pyproject.toml README.md ./
COPY spacelift_portal ./spacelift_portal
COPY dashboard ./dashboard
COPY templates ./templates
COPY static ./static
COPY manage.py ./
COPY docker/entrypoint.sh /entrypoint.sh
COPY docker/healthcheck.py /healthcheck.py
RUN pip install . \
 && SECRET_KEY=build-only PORTAL_ENV_FILE= python manage.py collectstatic --no-input -v0 \
 && mkdir -p /app/data && chown portal /app/data \
 && chmod 0755 /entrypoint.sh

USER portal
ENV DATABASE_URL=sqlite:////app/data/db.sqlite3 PORT=8000
EXPOSE 8000
# It sends a Host that ALLOWED_HOSTS accepts (Django answers 400 to any other).
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "/healthcheck.py"]
ENTRYPOINT ["/entrypoint.sh"]
