# The hub's image: one image for the ASGI processes, the workers, the
# scheduler and migrations.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/var/lib/hub
# The processes run as `hub`, which owns /var/lib/hub (media, the volume of
# compose.yaml) and nothing else: the code and the collected static files
# stay root's, read-only to it.
RUN useradd --system --user-group --home-dir /var/lib/hub --shell /usr/sbin/nologin hub \
    && install -d -o hub -g hub /var/lib/hub /var/lib/hub/media
WORKDIR /app
# The runtime dependencies exactly as locked (hashes checked), then the hub
# itself without resolving anything again (README, "Production":
# `make lock` refreshes requirements.lock).
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY core core
COPY hub hub
COPY frontend frontend
COPY manage.py ./
RUN pip install --no-cache-dir --no-deps . \
    && SECRET_KEY=build python manage.py collectstatic --noinput
USER hub
EXPOSE 8000
# The ASGI server of compose.yaml's asgi-N services (docs/decisions/0003).
# Proxy headers are trusted from FORWARDED_ALLOW_IPS only (uvicorn's default:
# 127.0.0.1; compose.yaml names its proxy).
CMD ["uvicorn", "core.asgi:application", "--host=0.0.0.0", "--port=8000", \
     "--ws=hub.realtime.uvicorn:SlimWebSocketProtocol", "--ws-per-message-deflate=false", \
     "--lifespan=off", "--no-access-log", "--timeout-graceful-shutdown=5", \
     "--ws-max-size=131072", \
     "--proxy-headers"]
