# The hub's image: one image for the ASGI processes, the scheduler and migrations.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/var/lib/hub
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY hub hub
COPY frontend frontend
COPY manage.py ./
RUN pip install --no-cache-dir . && mkdir -p /var/lib/hub \
    && SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "core.asgi:application"]
