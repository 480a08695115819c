"""gunicorn settings for the API (used by `make run` and `make bench`)."""
import os

bind = os.environ.get("MSB_BIND", "127.0.0.1:8700")
# Our own control socket under var/: gunicorn's default (~/.gunicorn/gunicorn.ctl) is shared by every
# gunicorn on the machine, so stopping one stack would remove another's.
_run_dir = os.path.join(os.environ.get("MSB_DATA_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "var")), "run")
os.makedirs(_run_dir, exist_ok=True)
control_socket = os.path.join(_run_dir, "gunicorn-api-" + bind.rsplit(":", 1)[-1] + ".ctl")
# Threads suit this service: search releases the GIL and Redis calls wait on the network.
worker_class = "gthread"
workers = int(os.environ.get("MSB_WORKERS", "2"))
threads = int(os.environ.get("MSB_THREADS", "4"))
timeout = 30
graceful_timeout = 10
keepalive = 5
# Access logs come from the app itself (one JSON line per request, no query strings).
accesslog = None
errorlog = "-"

# Prometheus: every worker writes its samples to files here and /metrics aggregates them. scripts/run.sh
# names (and empties) one directory shared with the push worker; otherwise the API gets its own,
# emptied when the master starts so counters restart with the server.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(_run_dir, "prometheus-api-" + bind.rsplit(":", 1)[-1]))


def on_starting(server):
    import shutil

    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
