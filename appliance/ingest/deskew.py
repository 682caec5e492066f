"""Skew estimation by projection profile: the angle at which text rows line up best."""
from __future__ import annotations

import numpy as np
from PIL import Image

MAX_ANGLE = 15.0
WORK_WIDTH = 800


def _profile_sharpness(ink: Image.Image, angle: float) -> float:
    rotated = np.asarray(ink.rotate(angle, expand=False, fillcolor=0, resample=Image.NEAREST), dtype=np.float32)
    rows = rotated.sum(axis=1)
    return float(np.square(np.diff(rows)).sum())


def estimate_skew(image: Image.Image) -> float:
    """Degrees (counter-clockwise) that straighten the page's text lines; 0.0 if none found."""
    gray = image.convert("L")
    scale = WORK_WIDTH / gray.width
    if scale < 1:
        gray = gray.resize((WORK_WIDTH, max(1, round(gray.height * scale))), Image.BILINEAR)
    ink = gray.point(lambda v: 255 if v < 128 else 0)
    coarse = np.arange(-MAX_ANGLE, MAX_ANGLE + 0.01, 1.0)
    best = max(coarse, key=lambda a: _profile_sharpness(ink, a))
    fine = np.arange(best - 1.0, best + 1.01, 0.2)
    best = max(fine, key=lambda a: _profile_sharpness(ink, a))
    return round(float(best), 1)
