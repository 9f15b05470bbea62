"""Gunicorn settings for serving Machinery: `gunicorn 'machinery:create_app()'` reads this file."""

import multiprocessing
import os
import shutil
import tempfile

# Metrics: each worker writes its own to files in one directory, and GET /metrics adds them up
# (prometheus_client's multiprocess mode; docs/operations.md). The variable must be set before
# prometheus_client is imported, so here, first. A directory given is emptied at start; with none,
# one is made for this run and removed at its end.
_metrics_dir_made = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir_made:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="machinery-metrics-")

from machinery import metrics  # noqa: E402 - after PROMETHEUS_MULTIPROC_DIR is set
from machinery.body_deadline import BodyDeadline  # noqa: E402
from machinery.logs import GunicornLogger, logging_config  # noqa: E402
from machinery.store.embedded import EmbeddedStore  # noqa: E402

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
# text or JSON (MACHINERY_LOG_FORMAT) on the standard error, the access log on the standard output,
# secrets hidden.
logconfig_dict = logging_config(loglevel, os.environ.get("MACHINERY_LOG_FORMAT", "text"))
logger_class = GunicornLogger

_embedded: EmbeddedStore | None = None


def on_starting(server):
    """Empty the metrics directory of an earlier run's files; with no MONGO_URI, start the
    embedded store once, in the master, for every worker."""
    global _embedded
    metrics.prepare_multiprocess_dir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if not os.environ.get("MONGO_URI"):
        _embedded = EmbeddedStore(os.environ.get("MACHINERY_DATA_DIR", ".machinery"))
        os.environ["MONGO_URI"] = _embedded.start()
        server.log.warning("No MONGO_URI: using the embedded store in %s", _embedded.data_dir)


def post_worker_init(worker):
    """Bound the time each request's body may take to arrive."""
    worker.wsgi = BodyDeadline(worker.wsgi, body_timeout)


def child_exit(server, worker):
    """A worker exited: its counters stay in the sums, its live gauges go."""
    metrics.mark_process_dead(worker.pid)


def on_exit(server):
    if _embedded is not None:
        _embedded.stop()
    if _metrics_dir_made:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
