"""Skew estimation by projection profile: the angle at which text rows line up best."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

MAX_ANGLE = 15.0
WORK_WIDTH = 800
MIN_GAIN = 1.15
MAX_POINTS = 20_000  # ink pixels sampled; a full page has several times more, and the angle is the same


def _sharpness(ys: np.ndarray, xs: np.ndarray, angle: float, height: int) -> float:
    """How crisp the row profile of the ink is once turned by `angle` degrees (shear model)."""
    rows = np.round(ys - xs * math.tan(math.radians(angle))).astype(np.int64) + height
    profile = np.bincount(rows, minlength=3 * height)
    return float(np.square(np.diff(profile)).sum())


def estimate_skew(image: Image.Image) -> float:
    """Degrees (counter-clockwise, as for Image.rotate) that straighten the text; 0.0 if not skewed.

    An angle is returned only when the text rows line up clearly better than as scanned, so a
    page of pictures or tables is never turned on a whim.
    """
    gray = image if image.mode == "L" else image.convert("L")
    factor = math.ceil(gray.width / WORK_WIDTH)
    if factor > 1:
        gray = gray.reduce(factor)
    ink_ys, ink_xs = np.nonzero(np.asarray(gray) < 128)
    if len(ink_ys) < 200:
        return 0.0
    stride = -(-len(ink_ys) // MAX_POINTS)
    ys, xs = ink_ys[::stride].astype(np.float64), ink_xs[::stride].astype(np.float64) - gray.width / 2
    as_scanned = _sharpness(ys, xs, 0.0, gray.height)
    coarse = np.arange(-MAX_ANGLE, MAX_ANGLE + 0.01, 0.5)
    best = max(coarse, key=lambda a: _sharpness(ys, xs, a, gray.height))
    fine = np.arange(best - 0.5, best + 0.51, 0.1)
    best = max(fine, key=lambda a: _sharpness(ys, xs, a, gray.height))
    if as_scanned <= 0 or _sharpness(ys, xs, best, gray.height) < as_scanned * MIN_GAIN:
        return 0.0
    return round(float(best), 2)
