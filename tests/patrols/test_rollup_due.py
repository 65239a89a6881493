"""An ended session's rollup is recorded as due in its row: a lost message is never lost work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backend.hotspots.models import Hotspot
from backend.patrols.models import PatrolSession, Visit
from backend.patrols.selectors import sessions_due_rollup
from backend.patrols.services import session_end
from tests.conftest import REPO, Worker, database_url_of_test_db
from tests.factories import UserFactory
from tests.patrols.test_rollup import T0, make_hotspot, patrol, visit_rows

END_WITH_DEAD_BROKER = (
    "import django, json, sys; django.setup()\n"
    "from django.test import Client\n"
    "from backend.accounts.models import User\n"
    "client = Client()\n"
    "client.force_login(User.objects.get(pk=int(sys.argv[1])))\n"
    "r = client.post(f'/api/v1/patrols/sessions/{sys.argv[2]}/end', {}, 'application/json')\n"
    "print(json.dumps({'status': r.status_code, 'type': r.headers.get('Content-Type')}))\n"
)


def test_ending_a_session_rolls_it_up_and_leaves_nothing_due(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    make_hotspot()
    officer = UserFactory(role="officer")
    session = patrol(officer)
    with django_capture_on_commit_callbacks(execute=True):
        session_end(officer=officer, session_id=session.pk)
    session.refresh_from_db()
    assert session.rolled_up_at is not None and session.rollup_queued_at is not None
    assert sessions_due_rollup() == []


def test_the_sweep_resends_only_rollups_lost_for_five_minutes(db: None) -> None:
    officer, other, third = (UserFactory(role="officer") for _ in range(3))
    now = timezone.now()
    start = now - timedelta(hours=2)

    def ended(user: Any, **fields: Any) -> PatrolSession:
        return PatrolSession.objects.create(
            officer=user,
            client_uuid=uuid.uuid4(),
            started_at=start,
            ended_at=now - timedelta(hours=1),
            **fields,
        )

    never_sent = ended(officer)  # the broker was down when it ended: due at once
    sent_2_min_ago = ended(other, rollup_queued_at=now - timedelta(minutes=2))  # still in flight
    sent_6_min_ago = ended(third, rollup_queued_at=now - timedelta(minutes=6))  # lost: resend
    done = ended(UserFactory(role="officer"), rollup_queued_at=now, rolled_up_at=now)
    PatrolSession.objects.create(
        officer=UserFactory(role="officer"),
        client_uuid=uuid.uuid4(),
        started_at=start,
    )  # open: nothing owed yet
    due = sessions_due_rollup(now=now)
    assert set(due) == {never_sent.pk, sent_6_min_ago.pk}
    assert sent_2_min_ago.pk not in due and done.pk not in due


@pytest.mark.services
def test_a_session_ended_while_the_broker_is_down_gets_its_visits_from_the_sweep(
    celery_worker: Worker,
) -> None:
    """The end answers 200 with the broker unreachable; the every-minute sweep (run here as beat
    would run it, once the broker is back) sends the rollup, and the worker writes the visit."""
    from backend.patrols.tasks import sweep_due_rollups_task

    hotspot: Hotspot = make_hotspot()
    officer = UserFactory(role="officer")
    session = patrol(officer)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", END_WITH_DEAD_BROKER, str(officer.pk), str(session.pk)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "backend.config.settings",
            "DATABASE_URL": database_url_of_test_db(),
            "REDIS_URL": "redis://127.0.0.1:1/0",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"status": 200, "type": "application/json"}
    session.refresh_from_db()
    assert session.ended_at is not None
    assert (session.rollup_queued_at, session.rolled_up_at) == (None, None)
    assert not Visit.objects.filter(officer=officer).exists()
    assert sessions_due_rollup() == [session.pk]

    assert sweep_due_rollups_task() == 1  # beat's every-minute job; the worker runs the rollup
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        session.refresh_from_db()
        if session.rolled_up_at is not None:
            break
        time.sleep(0.2)
    assert session.rolled_up_at is not None, celery_worker.log.read_text()[-3000:]
    # The same hand-worked visit as a clean rollup: inside from t = 120 s to t = 840 s.
    assert [(row[0], row[2], row[3], row[4]) for row in visit_rows(officer)] == [
        (hotspot.pk, T0 + timedelta(seconds=120), T0 + timedelta(seconds=840), 720.0)
    ]
