"""Barcodes on a page (zxing-cpp): separator sheets and patient cover sheets."""

from __future__ import annotations

import zxingcpp
from PIL import Image

FORMATS = zxingcpp.BarcodeFormats(
    [
        zxingcpp.BarcodeFormat.QRCode,
        zxingcpp.BarcodeFormat.DataMatrix,
        zxingcpp.BarcodeFormat.Aztec,
        zxingcpp.BarcodeFormat.PDF417,
        zxingcpp.BarcodeFormat.Code128,
        zxingcpp.BarcodeFormat.Code39,
        zxingcpp.BarcodeFormat.Code93,
    ]
)


def _read(image: Image.Image, thorough: bool) -> tuple[list[str], bool]:
    """Texts of the codes read, and whether a code was seen but could not be decoded."""
    found = zxingcpp.read_barcodes(
        image,
        formats=FORMATS,
        try_rotate=thorough,
        try_invert=thorough,
        try_downscale=thorough,
        return_errors=True,
    )
    texts = [code.text for code in found if code.valid and code.text]
    return texts, any(not code.valid for code in found)


def half_size(gray: Image.Image) -> Image.Image:
    """The page at half resolution (a scan is 150 dpi or more), or as it is when already small."""
    return gray.reduce(2) if min(gray.size) >= 1000 else gray


def read_barcodes(gray: Image.Image, half: Image.Image | None = None, little_text: bool = True) -> list[str]:
    """The text of every barcode on the page (`gray`: mode L; `half`: its `half_size`).

    The quick look is at half resolution, upright codes only: a separator sheet's code is
    large, and most pages have none, so this look must be cheap. A thorough look (full
    resolution, turned and inverted codes) follows when a code was seen but not decoded, or
    when nothing was found on a page with `little_text` (what separator and cover sheets are).
    """
    texts, unreadable = _read(half if half is not None else half_size(gray), thorough=False)
    if not texts and (unreadable or little_text):
        texts, _ = _read(gray, thorough=True)
    return texts
