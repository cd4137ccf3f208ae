"""What the photo path did to a photographed page, kept for the page to show."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class PhotoSteps:
    """What the photo path did, to show: each image float32 or bool at the working size.

    Attributes:
        photo: the grey photo, downscaled.
        flattened: the page with the light divided out.
        ink: the ink found (lines and specks removed).
        lines: the ruled or squared lines removed.
        kept: the digit kept (False everywhere when none was).
        digit_boxes: every digit's box (top, left, bottom, right), left to right.
    """

    photo: np.ndarray
    flattened: np.ndarray
    ink: np.ndarray
    lines: np.ndarray
    kept: np.ndarray
    digit_boxes: tuple[tuple[int, int, int, int], ...]

    @property
    def digit_count(self) -> int:
        """How many separate digits the page holds."""
        return len(self.digit_boxes)
