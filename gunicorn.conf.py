"""Gunicorn settings for serving Machinery: `gunicorn 'machinery:create_app()'` reads this file."""

import multiprocessing
import os

from machinery.body_deadline import BodyDeadline
from machinery.logs import GunicornLogger, logging_config
from machinery.store.embedded import EmbeddedStore

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
# Workers mostly wait on services, so threads serve many events at once in each worker; a worker
# uses at most one CPU (the GIL), so one per CPU, at least 2 (one restarting leaves one serving),
# at most 8. More workers cost memory and no CPU per event (docs/performance.md).
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", min(max(multiprocessing.cpu_count(), 2), 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Seconds a request's body may take to arrive after its headers (408 beyond): a client trickling
# its body holds a thread this long at most (docs/deployment.md, "Slow clients").
body_timeout = float(os.environ.get("GUNICORN_BODY_TIMEOUT", "10"))
# A worker silent for this long is restarted (gthread workers answer while requests run).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# gunicorn's control socket (gunicornc) sits at one path per user: off unless a path is given,
# so that several Machinery servers can run on one host.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
loglevel = os.environ.get("LOG_LEVEL", "info")
# Every log line of the server, Machinery's and gunicorn's, is configured in machinery/logs.py:
# plain text on the standard error, the access log on the standard output, secrets hidden.
logconfig_dict = logging_config(loglevel)
logger_class = GunicornLogger

_embedded: EmbeddedStore | None = None


def on_starting(server):
    """With no MONGO_URI, start the embedded store once, in the master, for every worker."""
    global _embedded
    if not os.environ.get("MONGO_URI"):
        _embedded = EmbeddedStore(os.environ.get("MACHINERY_DATA_DIR", ".machinery"))
        os.environ["MONGO_URI"] = _embedded.start()
        server.log.warning("No MONGO_URI: using the embedded store in %s", _embedded.data_dir)


def post_worker_init(worker):
    """Bound the time each request's body may take to arrive."""
    worker.wsgi = BodyDeadline(worker.wsgi, body_timeout)


def on_exit(server):
    if _embedded is not None:
        _embedded.stop()
