"""The Celery app, configured from Django settings under the ``CELERY_`` namespace."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

logger = logging.getLogger(__name__)

app = Celery("presence")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="presence.canary", ignore_result=False, acks_late=False)
def canary(token: str) -> str:
    """Echo ``token``: the health check's round trip through the broker and a worker."""
    return token


# A job row still waiting this long after it was recorded lost its message: send it again.
RESEND_AFTER = timedelta(minutes=5)


def task_send(task: Any, *args: Any) -> bool:
    """Send ``task(*args)``; False (logged, not raised) when the broker cannot be reached.

    For work that a committed row already records as due: the app's every-minute sweep sends it
    again, so a broker outage delays the work and never fails the request that asked for it.
    In eager mode (tests, no broker) the task runs here and its errors propagate.
    """
    if app.conf.task_always_eager:
        task.delay(*args)
        return True
    try:
        task.delay(*args)
    except (BrokerError, ConnectionError, OSError) as exc:
        logger.warning("%s%r not queued (%s); its sweep will send it", task.name, args, exc)
        return False
    return True


def task_resend_due(task: Any, due_ids: Iterable[int]) -> int:
    """Send ``task(pk)`` for each due job not sent by a sweep in the last ``RESEND_AFTER``.

    The sweeps run every minute: a cache key per job (Redis in production) keeps a job waiting
    behind a long queue from collecting a duplicate message every minute. A Redis that restarted
    empty forgets the keys, and the jobs are sent again at once. Returns how many were sent.
    """
    from django.conf import settings
    from django.core.cache import cache

    sent = 0
    for pk in due_ids:
        key = f"{settings.PRESENCE_THROTTLE_PREFIX}resent:{task.name}:{pk}"
        try:
            fresh = cache.add(key, 1, timeout=int(RESEND_AFTER.total_seconds()))
        except Exception:  # a cache that is down must not stop the sweep
            fresh = True
        if fresh and task_send(task, pk):
            sent += 1
    return sent
