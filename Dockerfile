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
# The ASGI server of compose.yaml's asgi-N services (docs/decisions/0003).
# Proxy headers are trusted from FORWARDED_ALLOW_IPS only (uvicorn's default:
# 127.0.0.1; compose.yaml names its proxy).
CMD ["uvicorn", "core.asgi:application", "--host=0.0.0.0", "--port=8000", \
     "--ws=hub.uvicorn_ws:SlimWebSocketProtocol", "--ws-per-message-deflate=false", \
     "--lifespan=off", "--no-access-log", "--timeout-graceful-shutdown=5", \
     "--ws-max-size=131072", \
     "--proxy-headers"]
