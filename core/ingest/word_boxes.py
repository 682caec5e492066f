"""A page's OCR word boxes, kept beside its thumbnail (sealed on an encrypted box).

They place a searchable PDF's invisible text layer without reading the page again. The boxes are
on the image as Tesseract read it: the rendered page turned by `rotation` degrees and levelled by
`skew` degrees, `size` pixels; each word names its place in the page's stored text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..sealed_files import PLAIN, SealBroken, Sealing
from .ocr import Word


@dataclass(frozen=True)
class WordBoxes:
    size: tuple[int, int]
    rotation: int = 0
    skew: float = 0.0
    words: list[Word] = field(default_factory=list)


def word_boxes_path(sha256: str, number: int) -> str:
    """Where a page's word boxes live, relative to the data directory (beside its thumbnail)."""
    return f"thumbs/{sha256[:2]}/{sha256}/{number}.words.json"


def write_word_boxes(data_dir: str | Path, sha256: str, number: int, boxes: WordBoxes, sealing: Sealing = PLAIN):
    """Keep the page's word boxes (sealed as written when the box seals)."""
    body = {"size": list(boxes.size), "rotation": boxes.rotation, "skew": boxes.skew, "words": boxes.words}
    sealing.write(Path(data_dir) / word_boxes_path(sha256, number), json.dumps(body).encode(), mode=0o644)


def read_word_boxes(data_dir: str | Path, sha256: str, number: int, sealing: Sealing = PLAIN) -> WordBoxes | None:
    """The page's word boxes; None when none were kept (not OCRed, or read before boxes were kept)."""
    try:
        body = json.loads(sealing.read(Path(data_dir) / word_boxes_path(sha256, number)))
    except (FileNotFoundError, SealBroken, ValueError):
        return None
    return WordBoxes(
        size=(int(body["size"][0]), int(body["size"][1])),
        rotation=int(body.get("rotation", 0)),
        skew=float(body.get("skew", 0.0)),
        words=[(int(a), int(b), int(c), int(d), int(e), int(f), int(g)) for a, b, c, d, e, f, g in body["words"]],
    )
