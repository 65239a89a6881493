"""Patrol session services: historical times are accepted only against a matching clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from backend.patrols.services import session_end, session_start
from tests.factories import UserFactory

THEN = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_session_weeks_old_is_refused_by_the_real_clock_and_kept_under_its_own() -> None:
    officer = UserFactory(role="officer")
    with pytest.raises(ValidationError, match="12 hours"):
        session_start(officer=officer, client_uuid=uuid.uuid4(), started_at=THEN)
    key = uuid.uuid4()
    session = session_start(officer=officer, client_uuid=key, started_at=THEN, now=THEN).obj
    again = session_start(officer=officer, client_uuid=key, started_at=THEN, now=THEN)
    assert not again.created and again.obj.pk == session.pk
    end = THEN + timedelta(hours=2)
    with pytest.raises(ValidationError, match="12 hours"):
        session_end(officer=officer, session_id=session.pk, ended_at=end)
    ended = session_end(officer=officer, session_id=session.pk, ended_at=end, now=end)
    assert (ended.started_at, ended.ended_at) == (THEN, end)
