"""gunicorn settings for the API (used by `make run` and `make bench`)."""
import os

bind = os.environ.get("MSB_BIND", "127.0.0.1:8700")
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
