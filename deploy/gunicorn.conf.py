"""gunicorn settings for production (see deploy/README.md, "gunicorn: workers and recycling").

Every value can be set from the environment (deploy/env.example lists them); the defaults suit
one machine behind nginx.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = 60
# A worker told to stop (deploy, HUP, TERM) finishes the requests it is serving for up to this
# long before it is killed.
graceful_timeout = 30
# Workers are not recycled after a number of requests (max_requests = 0, gunicorn's default).
# gunicorn's gthread worker (23.0) drops connections when it recycles: once the request that
# reaches max_requests finishes, the worker leaves its loop and exits, closing every connection
# it has accepted but not yet read and every idle keep-alive connection, so those clients get a
# connection reset (gunicorn issue #3038; jitter and graceful_timeout do not help, the
# connections are closed before any request on them is read). The load test saw 0.1% resets
# from exactly this. Presence has no known memory growth to recycle away; an agency that sees
# one sets GUNICORN_MAX_REQUESTS (jitter is a tenth of it) and accepts the resets, which the
# phone's outbox retries (every write carries a client UUID, so a retry is never a duplicate).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = max_requests // 10
# Longer than nginx's upstream keepalive_timeout (deploy/nginx.conf, 60 s): the proxy, not
# gunicorn, closes an idle connection, so nginx never sends a request on a connection gunicorn
# is closing at that instant.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 75))
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
