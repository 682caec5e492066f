"""How this process keeps the box's files: the Sealing that `open_box` set from the data key
(plain on a box without encryption). Every file with patient data is written and read through it."""

from __future__ import annotations

from core.sealed_files import PLAIN, Sealing

from .data_key import DataKey

_current = PLAIN


def use(key: DataKey | None) -> Sealing:
    """Seal with `key` from now on (None: plain files)."""
    global _current
    _current = PLAIN if key is None else Sealing(recipient=key.recipient, identities=key.files)
    return _current


def sealing() -> Sealing:
    return _current
