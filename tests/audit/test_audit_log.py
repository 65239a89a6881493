from __future__ import annotations

import pytest

from backend.accounts.models import District
from backend.audit.models import AuditEvent
from backend.audit.services import audit_record
from tests.factories import DistrictFactory, UserFactory


@pytest.mark.django_db
def test_the_audit_log_is_append_only() -> None:
    event = audit_record(actor=UserFactory(), action="test.action", obj=DistrictFactory())
    event.action = "tampered"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action"


@pytest.mark.django_db
def test_audit_record_names_the_object_and_keeps_json_values() -> None:
    district = DistrictFactory()
    event = audit_record(
        actor=None, action="district.update", obj=district, before={"n": 1}, after={"n": 2}
    )
    assert event.object_type == "accounts.district"
    assert event.object_id == str(district.pk)
    assert event.actor is None
    assert (event.before, event.after) == ({"n": 1}, {"n": 2})
    assert District.objects.count() == 1


@pytest.mark.django_db
def test_the_admin_cannot_change_or_delete_audit_rows(admin_client: object) -> None:
    event = audit_record(actor=None, action="x", obj=DistrictFactory())
    url = f"/admin/audit/auditevent/{event.pk}/delete/"
    assert admin_client.get(url).status_code == 403  # type: ignore[attr-defined]
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403  # type: ignore[attr-defined]


def test_postgresql_itself_refuses_update_and_delete_on_the_audit_table(postgres: None) -> None:
    """Raw SQL bypasses the model's guard: the trigger must still refuse."""
    from django.db import DatabaseError, connection, transaction

    event = audit_record(actor=UserFactory(), action="test.action", obj=DistrictFactory())
    for sql in [
        "UPDATE audit_auditevent SET action = 'tampered' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action"
