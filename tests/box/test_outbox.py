"""The outbox row is part of the change it records: both are kept, or neither."""

import datetime as dt

import pytest

from appliance.db import database
from appliance.models import AuditEvent, Outbox, Patient
from appliance.patients import create_patient


def test_a_change_rolled_back_takes_its_outbox_rows_with_it(box):
    with pytest.raises(RuntimeError):
        with database.atomic():
            create_patient("424242", "Hopper", "Grace", dt.date(1906, 12, 9), actor="test")
            assert Outbox.select().count() > 0
            raise RuntimeError("power cut before the commit")
    assert Patient.select().count() == 0 and AuditEvent.select().count() == 0
    assert Outbox.select().count() == 0

    patient = create_patient("424242", "Hopper", "Grace", dt.date(1906, 12, 9), actor="test")
    kinds = {(row.kind, row.object_key) for row in Outbox.select()}
    assert ("patient", str(patient.id)) in kinds and any(kind == "audit" for kind, _ in kinds)
