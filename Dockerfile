# The Machinery API, served by gunicorn with the settings of gunicorn.conf.py.
#
#   docker build -t machinery .
#   docker run -p 5000:5000 -e MONGO_URI=mongodb://mongo:27017 machinery
#
# Without MONGO_URI the API keeps its data in the embedded store under /data (a volume).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MACHINERY_DATA_DIR=/data \
    MACHINERY_LOG_FORMAT=json \
    PORT=5000

# The dependencies first, so that a change to the code alone reuses this layer.
COPY requirements.txt /src/
RUN pip install --no-cache-dir -r /src/requirements.txt

# The package itself (pyproject.toml says how it is built, and with which data files).
# --build-arg EXTRAS=otel adds OpenTelemetry export (MACHINERY_OTEL_EXPORT=otlp).
ARG EXTRAS=""
COPY setup.py pyproject.toml README.md LICENSE /src/
COPY machinery /src/machinery
RUN pip install --no-cache-dir "/src${EXTRAS:+[$EXTRAS]}" && rm -rf /src

# A home of its own, for gunicorn's control socket when GUNICORN_CONTROL_SOCKET asks for one.
RUN useradd --system --user-group --create-home machinery \
    && mkdir -p /data \
    && chown machinery:machinery /data

WORKDIR /app
COPY gunicorn.conf.py ./

USER machinery
VOLUME ["/data"]
EXPOSE 5000

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthcheck' % os.environ.get('PORT', '5000'), timeout=4)"]

# gunicorn reads ./gunicorn.conf.py: it binds $HOST:$PORT (0.0.0.0:5000) with gthread workers.
CMD ["gunicorn", "machinery:create_app()"]
