"""CSV cells that a spreadsheet would run as a formula get a leading quote; others stay as they are."""

import pytest

from core.spreadsheet import safe_cell, safe_row


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_that_would_start_a_formula_are_quoted(start):
    assert safe_cell(f"{start}cmd|' /C calc'!A0") == f"'{start}cmd|' /C calc'!A0"


def test_other_cells_are_unchanged():
    assert safe_row([7, None, "alice", "2026-01-01T00:00:00", '{"n": 1}', ""]) == [
        7,
        None,
        "alice",
        "2026-01-01T00:00:00",
        '{"n": 1}',
        "",
    ]
