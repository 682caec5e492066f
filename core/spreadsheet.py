"""CSV cells a spreadsheet opens as text, never as a formula (OWASP's CSV injection advice).

Audit exports carry what anyone typed (a username at a failed sign-in, a box's name); a cell
that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would run as a formula when the
file is opened in Excel or LibreOffice, so it gets a leading single quote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` as it may go into a CSV cell: text that would start a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a CSV row made safe with `safe_cell`."""
    return [safe_cell(value) for value in values]
