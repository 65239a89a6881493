"""The Celery app, configured from Django settings under the ``CELERY_`` namespace."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

app = Celery("presence")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="presence.canary", ignore_result=False, acks_late=False)
def canary(token: str) -> str:
    """Echo ``token``: the health check's round trip through the broker and a worker."""
    return token
