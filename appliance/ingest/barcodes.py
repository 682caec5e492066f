"""Barcodes on a page (zxing-cpp): separator sheets and patient cover sheets."""
from __future__ import annotations

import zxingcpp
from PIL import Image

FORMATS = (
    zxingcpp.BarcodeFormat.QRCode,
    zxingcpp.BarcodeFormat.DataMatrix,
    zxingcpp.BarcodeFormat.Aztec,
    zxingcpp.BarcodeFormat.PDF417,
    zxingcpp.BarcodeFormat.Code128,
    zxingcpp.BarcodeFormat.Code39,
    zxingcpp.BarcodeFormat.Code93,
)


def _read(image: Image.Image, try_invert: bool) -> tuple[list[str], bool]:
    """Texts of the codes read, and whether a code was seen but could not be decoded."""
    found = zxingcpp.read_barcodes(image, formats=FORMATS, try_invert=try_invert, return_errors=True)
    texts = [code.text for code in found if code.valid and code.text]
    return texts, any(not code.valid for code in found)


def read_barcodes(image: Image.Image) -> list[str]:
    """The text of every barcode on the page.

    Read at half resolution first (a separator sheet's code is large, and most pages have
    none, so this pass is the one that must be cheap); only a code seen there but not
    decoded earns a second, full-resolution look.
    """
    gray = image if image.mode == "L" else image.convert("L")
    texts, unreadable = _read(gray.reduce(2) if min(gray.size) >= 1000 else gray, try_invert=False)
    if unreadable and not texts:
        texts, _ = _read(gray, try_invert=True)
    return texts
