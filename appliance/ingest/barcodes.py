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
SCAN_WIDTH = 1400


def read_barcodes(image: Image.Image) -> list[str]:
    """The text of every barcode found on the page (read at about 150 dpi, then full size)."""
    gray = image.convert("L")
    attempts = [gray]
    if gray.width > SCAN_WIDTH:
        scale = SCAN_WIDTH / gray.width
        attempts.insert(0, gray.resize((SCAN_WIDTH, round(gray.height * scale)), Image.BILINEAR))
    for attempt in attempts:
        found = [code.text for code in zxingcpp.read_barcodes(attempt, formats=FORMATS) if code.text]
        if found:
            return found
    return []
