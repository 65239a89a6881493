"""gunicorn settings for production (see deploy/README.md)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker: object) -> None:
    """Import every view now and move everything loaded so far out of the garbage collector's
    sight (``gc.freeze``): a full collection then walks only what requests allocate, not the
    whole of Django, numpy and the apps. Measured on the ping ingest (bench/ingest.py): about a
    fifth of a batch's CPU went to collections that re-scanned the startup heap."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf (and so every view)
    gc.freeze()
