"""How this process keeps the box's files: the Sealing that `open_box` set from the data key
(plain on a box without encryption). Every file with patient data is written and read through it."""

from __future__ import annotations

from core.sealed_files import PLAIN, Sealing

from .data_key import DataKey

_current = PLAIN


def use(key: DataKey | None, accept_plain: bool = False) -> Sealing:
    """Seal with `key` from now on (None: plain files); with `accept_plain` (a plain box being
    converted), files not sealed yet still read."""
    global _current
    _current = PLAIN if key is None else Sealing(key.recipient, key.files, accept_plain)
    return _current


def sealing() -> Sealing:
    return _current
