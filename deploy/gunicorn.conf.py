"""gunicorn settings shared by every service; numbers come from the environment.

MODELCHAIN_BIND (127.0.0.1:8000; comma-separated for a process group), MODELCHAIN_WORKERS (1), MODELCHAIN_THREADS (8),
MODELCHAIN_WORKER_TIMEOUT (60 s), MODELCHAIN_ACCESS_LOG (off; on in `make run`). The
launcher passes workers and threads on the command line, from ``<NAME>_WORKERS``,
``MODELCHAIN_WORKERS`` or the registry, in that order.
"""
import os
import tempfile

# A process group binds each member's address: MODELCHAIN_BIND="0.0.0.0:8101,0.0.0.0:8102"
bind = [b.strip() for b in os.environ.get("MODELCHAIN_BIND", "127.0.0.1:8000").split(",")
        if b.strip()]
workers = int(os.environ.get("MODELCHAIN_WORKERS", "1"))
threads = int(os.environ.get("MODELCHAIN_THREADS", "8"))
# gthread, with the JSON envelope on the errors gunicorn answers itself (deploy/worker.py)
# (MODELCHAIN_WORKER_CLASS=gthread: gunicorn's own, the baseline of `python -m bench.pressure`)
worker_class = os.environ.get("MODELCHAIN_WORKER_CLASS", "deploy.worker.ServiceWorker")
timeout = int(os.environ.get("MODELCHAIN_WORKER_TIMEOUT", "60"))
graceful_timeout = 10
keepalive = 5
# Request size limits (gunicorn's defaults, stated): the HTTPS front (deploy/front)
# enforces the same ones, read from here, and closes its idle upstream connections
# before `keepalive` does.
limit_request_line = 4094        # bytes of the request line
limit_request_fields = 100       # header fields
limit_request_field_size = 8190  # bytes of one header line, its CRLF included
# TensorFlow is not fork-safe: the app (and so the model) is created in each worker,
# after the fork, never in the master.
preload_app = False
# One line per request on the log; `make run` turns it on (MODELCHAIN_ACCESS_LOG=0: off).
accesslog = "-" if os.environ.get("MODELCHAIN_ACCESS_LOG", "").strip().lower() not in (
    "", "0", "false", "no", "off") else None
loglevel = os.environ.get("MODELCHAIN_LOG_LEVEL", "info")


def on_starting(server):
    """With several workers, let /metrics add up all of them (prometheus multiprocess)."""
    if server.cfg.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="modelchain-prom-")


def post_worker_init(worker):
    """Start loading the model in this worker, after the fork."""
    from common.serving.app import start_model
    start_model(worker.wsgi)


def child_exit(server, worker):
    """Drop a dead worker's live metrics files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


# gunicorn's control socket has one default path for every master on the machine
# (~/.gunicorn/gunicorn.ctl), and the first service to stop deletes it for all of them.
# Services are managed with signals (make restart), so it is off.
control_socket_disable = True
