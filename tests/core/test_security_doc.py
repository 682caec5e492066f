"""docs/security.md maps each safeguard to the tests that check it: every test it names exists,
and every row of its tables names a test."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def table_rows(text: str) -> list[str]:
    """The body rows of the page's tables (not their header or separator lines)."""
    rows, previous = [], ""
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[-| ]+\|", line) and not previous.startswith("|"):
            previous = line  # a header: the separator follows it
            continue
        if line.startswith("|") and not re.fullmatch(r"\|[-| ]+\|", line):
            rows.append(line)
        previous = line
    return rows


def test_every_test_the_page_names_exists():
    text = DOC.read_text()
    named = TEST_REF.findall(text)
    assert len(named) > 50
    missing = []
    for path, name in sorted(set(named)):
        file = ROOT / path
        if not file.is_file() or not re.search(rf"^(async )?def {name}\(", file.read_text(), re.MULTILINE):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_row_names_a_test():
    rows = table_rows(DOC.read_text())
    assert len(rows) > 30
    assert [row for row in rows if not TEST_REF.search(row)] == []


def test_the_page_covers_each_clause_and_area_it_promises():
    text = DOC.read_text()
    clauses = ["(a)(1)", "(a)(2)(i)", "(a)(2)(ii)", "(a)(2)(iii)", "(a)(2)(iv)", "(b)", "(c)(1)", "(d)", "(e)(1)"]
    areas = ["Authentication", "Session management", "Access control", "Validation and encoding",
             "Cryptography at rest", "Error handling and logging", "Data protection", "Communications",
             "File handling", "Configuration"]  # fmt: skip
    rows = table_rows(text)
    assert [c for c in clauses if not any(row.startswith(f"| {c}") for row in rows)] == []
    assert [a for a in areas if not any(row.startswith(f"| {a}") for row in rows)] == []
    threats = " ".join(re.findall(r"^### \d\. (.+)$", text, re.MULTILINE)).lower()
    for threat in ("stolen box", "hostile scan", "malicious insider", "compromised device key", "internet attacker"):
        assert threat in threats
    assert "\n## Out of scope\n" in text
