"""gunicorn settings for the API (used by `make run` and `make bench`)."""
import os

bind = os.environ.get("MSB_BIND", "127.0.0.1:8700")
# Our own control socket under var/: gunicorn's default (~/.gunicorn/gunicorn.ctl) is shared by every
# gunicorn on the machine, so stopping one stack would remove another's.
_run_dir = os.path.join(os.environ.get("MSB_DATA_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "var")), "run")
os.makedirs(_run_dir, exist_ok=True)
control_socket = os.path.join(_run_dir, "gunicorn-api-" + bind.rsplit(":", 1)[-1] + ".ctl")
# Threads suit this service: search releases the GIL and Redis calls wait on the network. The gthread
# worker with gunicorn's HTML error pages replaced by the API's JSON error envelope.
worker_class = "bff.gunicorn_worker.EnvelopeThreadWorker"
# Request limits. gunicorn refuses what exceeds them before the app runs (in the envelope, see
# bff/gunicorn_worker.py); below them the app decides, with field-level 422s (e.g. `q` ≤ 100
# characters). The request line is gunicorn's maximum (8190, the default 4094 refused ordinary
# long URLs with its own page); one header line may be 16 KB (large cookies, long tokens), at most
# 100 of them. The fronting proxy should enforce tighter bounds first (README: "Behind a proxy").
limit_request_line = 8190
limit_request_field_size = 16384
limit_request_fields = 100
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
