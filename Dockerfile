# DM Reader's image: one image for every process of compose.yaml (web, worker, scheduler,
# migrate), each started by the same script the tests start (scripts/serve, scripts/worker,
# scripts/scheduler). Configuration comes from the environment only (.env.example).
FROM python:3.13-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The scripts default to .venv/bin/python, as in a checkout.
COPY requirements.txt ./
RUN python -m venv .venv \
    && .venv/bin/pip install --no-cache-dir -r requirements.txt

COPY . .
# var/ holds what a process writes: collected static files and, unless MEDIA_STORAGE=s3, the
# media cache (a volume shared by every web container). Nothing runs as root.
RUN useradd --system --uid 10001 --home-dir /app --no-create-home dmreader \
    && mkdir -p var/media-cache \
    && chown -R dmreader var
USER dmreader

ENV HOST=0.0.0.0 \
    PORT=8000 \
    MEDIA_CACHE_DIR=/app/var/media-cache
EXPOSE 8000
CMD ["scripts/serve"]
