# One image for every process of the Procfile: web (the default command), worker, beat and the migrate step.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint (branded PDF reports) draws text with Pango; the slim image has neither it nor a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
        fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Requirements first: the dependency layer is rebuilt only when they change, not with every source edit.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image under content-hashed names with .gz and .br copies beside them, and
# WhiteNoise serves them from the web process. Settings refuse to load with DEBUG off and no SECRET_KEY; this
# throwaway one exists only for the build step and is in no running container.
ENV STATIC_ROOT=/app/staticfiles \
    VAR_DIR=/app/var \
    PORT=8000
RUN DEBUG=false SECRET_KEY=build-only-collectstatic-key-never-used-at-runtime \
        python manage.py collectstatic --noinput -v0

# Processes run unprivileged; VAR_DIR (beat's schedule, uploaded media) is theirs to write.
RUN useradd --system --create-home --uid 10001 app \
    && mkdir -p /app/var/media \
    && chown -R app:app /app/var
USER app

EXPOSE 8000
# exec: Daphne becomes PID 1 and receives the container's stop signal. Same command as the Procfile's web line.
CMD ["sh", "-c", "exec daphne --bind 0.0.0.0 --port $PORT --proxy-headers --verbosity 0 config.asgi:application"]
