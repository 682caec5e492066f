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


ELLIPSIS = "…"
MAX_WIDEN = 40  # characters a snippet may grow by at either end to reach a space


def widen_to_words(snippet: str, text: str) -> str:
    """A snippet of `text` (FTS5's, which starts and ends on its tokens and so can cut
    "blood-pressure" or "O'Brien" in two) grown at either end to the nearest whitespace."""
    marked = snippet.removeprefix(ELLIPSIS).removesuffix(ELLIPSIS)
    plain = mark_hits(marked, "", "")
    start = text.find(plain)
    if not plain or start < 0:
        return snippet
    end = start + len(plain)
    left = start
    while left > 0 and start - left < MAX_WIDEN and not text[left - 1].isspace():
        left -= 1
    right = end
    while right < len(text) and right - end < MAX_WIDEN and not text[right].isspace():
        right += 1
    before = ELLIPSIS if left > 0 else ""
    after = ELLIPSIS if right < len(text) else ""
    return f"{before}{text[left:start]}{marked}{text[end:right]}{after}"
