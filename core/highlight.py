"""The markers search puts around a hit in a snippet, turned into HTML by the pages."""

from __future__ import annotations

from markupsafe import Markup, escape

HIT_START, HIT_END = "\x02", "\x03"


def mark_hits(snippet: str, start: str, end: str) -> str:
    """`snippet` with its hit markers replaced by `start` and `end`."""
    return snippet.replace(HIT_START, start).replace(HIT_END, end)


def highlighted(snippet: str) -> Markup:
    """The snippet HTML-escaped, with its hits wrapped in <mark>."""
    # Safe: the text is escaped first; only the two markers become the fixed <mark> tags.
    return Markup(mark_hits(str(escape(snippet)), "<mark>", "</mark>"))  # noqa: S704
