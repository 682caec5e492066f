"""The box's document types and the keywords that recognise them.

An admin edits them on the Document types page (kept in `box_setting`); until then they come
from APPLIANCE_DOC_TYPE_RULES (a JSON file) or the built-in defaults. "other" always exists.
"""

from __future__ import annotations

import re

from core.ingest.extract import load_type_rules

from . import audit, box_settings
from .config import Config

TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class DocTypeError(ValueError):
    """The types as given cannot be used."""


def type_rules(config: Config) -> dict[str, list[str]]:
    """Keywords per document type as this box uses them now."""
    saved = box_settings.get(box_settings.DOC_TYPE_RULES)
    return saved if saved else load_type_rules(config.doc_type_rules)


def type_names(config: Config) -> list[str]:
    """Every document type staff can choose, "other" last."""
    return [*sorted(t for t in type_rules(config) if t != "other"), "other"]


def parse_rules(text: str) -> dict[str, list[str]]:
    """Rules from the admin page's text: one type a line, `name: keyword, keyword, ...`."""
    rules: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, keywords = line.partition(":")
        name = name.strip().lower().replace(" ", "_")
        if not TYPE_NAME.match(name):
            raise DocTypeError(f"line {number}: {name!r} is not a type name (letters, digits and _)")
        words = [k.strip().lower() for k in keywords.split(",") if k.strip()]
        if not words:
            raise DocTypeError(f"line {number}: type {name} needs at least one keyword")
        if name in rules:
            raise DocTypeError(f"line {number}: type {name} is listed twice")
        rules[name] = words
    if not rules:
        raise DocTypeError("give at least one document type")
    return rules


def format_rules(rules: dict[str, list[str]]) -> str:
    """The admin page's text for `rules`."""
    return "\n".join(f"{name}: {', '.join(words)}" for name, words in rules.items())


def save_rules(rules: dict[str, list[str]], actor: str) -> None:
    """Keep `rules` as the box's document types (audited)."""
    box_settings.put(box_settings.DOC_TYPE_RULES, rules)
    audit.record("settings.doc_types", actor=actor, types=sorted(rules))
