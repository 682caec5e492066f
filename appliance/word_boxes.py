"""Where each OCR word of a page sits on the page image, stored compactly with the page.

Tesseract's words are the page text's runs of non-space characters, in order (core.ingest.ocr
builds the text from them), so only their boxes are stored: the image's width and height, then
left, top, width, height per word, as little-endian 16-bit numbers (8 bytes a word, about a
kilobyte and a half for a full page). A page wider or taller than 65,535 pixels keeps no boxes.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from core.ingest.ocr import Word

LIMIT = 0xFFFF
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Box:
    """One word's place in the page text (start, end) and on the page image (in pixels)."""

    start: int
    end: int
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class WordBoxes:
    width: int  # of the image the words were read from
    height: int
    boxes: list[Box]


def pack(words: Sequence[Word], size: tuple[int, int] | None) -> bytes | None:
    """The words' boxes as stored in page.word_boxes; None when there is nothing to store."""
    if not words or size is None:
        return None
    numbers = [*size]
    for word in words:
        numbers.extend(word[3:7])
    if min(numbers) < 0 or max(numbers) > LIMIT:
        return None
    packed = array("H", numbers)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes | None, text: str) -> WordBoxes | None:
    """The stored boxes paired with the words of `text`; None when none are stored or they do
    not pair up (the text is not the one they were read with)."""
    if not blob or len(blob) % 8 != 4:
        return None
    numbers = array("H")
    numbers.frombytes(blob)
    if sys.byteorder == "big":
        numbers.byteswap()
    spans = [match.span() for match in WORD.finditer(text)]
    if len(spans) * 4 + 2 != len(numbers):
        return None
    boxes = [Box(start, end, *numbers[2 + 4 * n : 6 + 4 * n]) for n, (start, end) in enumerate(spans)]
    return WordBoxes(numbers[0], numbers[1], boxes)


def image_size(blob: bytes | None) -> tuple[int, int] | None:
    """The width and height of the image the stored boxes are on, or None when none are stored."""
    if not blob or len(blob) < 4:
        return None
    return int.from_bytes(blob[0:2], "little"), int.from_bytes(blob[2:4], "little")
