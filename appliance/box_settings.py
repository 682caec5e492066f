"""Settings an admin changes on the box's own pages, kept in the database (`box_setting`).

Environment settings (`Config`) are IT's; these are the clinic's: the document types and their
keywords, and the state of the patient register.
"""

from __future__ import annotations

from typing import Any

from core.clock import utcnow

from .models import BoxSetting

DOC_TYPE_RULES = "doc_type_rules"
REGISTER_IMPORTED_AT = "register_imported_at"


def get(key: str, default: Any = None) -> Any:
    """The stored value of `key`, or `default`."""
    row = BoxSetting.get_or_none(BoxSetting.key == key)
    return row.value if row is not None else default


def put(key: str, value: Any) -> None:
    """Store `value` (JSON) under `key`."""
    BoxSetting.insert(key=key, value=value, updated_at=utcnow()).on_conflict_replace().execute()


def register_imported() -> bool:
    """True once a patient register has been imported on this box."""
    return get(REGISTER_IMPORTED_AT) is not None
