"""Read several digits at once, left to right: a number photographed or drawn with gaps.

A picture of a page is split by the photo path (``photo_digits``: ink pieces grouped side by
side); a drawing by its strokes, grouped the same way (strokes that overlap side by side
are one digit: a 4's two strokes, a 5's flag). Each digit is then framed and read as one
digit alone would be, with its own steps and confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .outcome import Outcome
from .photo_digits import one_digit
from .photo_reading import NO_DIGIT, preprocess_photo_digits, several_digits
from .preprocessing import (
    MIN_PHOTO_SIDE,
    NOTHING_DRAWN,
    Drawing,
    Preprocessed,
    grey_levels,
    looks_like_paper,
    preprocess_digit,
    preprocess_drawing,
)
from .recognition import Recognition, read

# The pad holds one line of writing: strokes one above the other are one digit however far
# apart (a number is written left to right, its digits side by side).


@dataclass(frozen=True, eq=False)
class Number:
    """The digits read from one picture or drawing, left to right, each with its steps.

    ``outcome`` is ``DIGIT`` for one digit, ``SEVERAL`` for more, or why there is none
    (``NOTHING``, ``TOO_DARK``, ``TOO_BLURRED``); ``message`` says it in words.
    """

    digits: tuple[Recognition, ...]
    outcome: Outcome
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when every digit found was read."""
        return bool(self.digits) and all(digit.ok for digit in self.digits)

    @property
    def text(self) -> str:
        """The digits read, left to right, a space between ("4 2"); "" when none were."""
        return " ".join(str(digit.digit) for digit in self.digits if digit.ok)

    @property
    def confidences(self) -> tuple[float, ...]:
        """Each digit's confidence, left to right."""
        return tuple(digit.confidence or 0.0 for digit in self.digits)


def preprocess_digits(image_or_drawing: np.ndarray | Drawing) -> list[Preprocessed]:
    """Every digit of a picture or drawing, left to right, each framed as MNIST's.

    Nothing to read gives one ``Preprocessed`` without an image that says why.

    Raises:
        ValueError: if an array has a shape that is not an image.
    """
    if isinstance(image_or_drawing, Drawing):
        return [preprocess_drawing(part) for part in split_drawing(image_or_drawing)] or [
            preprocess_drawing(image_or_drawing)
        ]
    grey = grey_levels(np.asarray(image_or_drawing))
    if grey is None or min(grey.shape) < MIN_PHOTO_SIDE or np.ptp(grey) < 0.05:
        return [preprocess_digit(np.asarray(image_or_drawing))]
    # A light digit on a dark ground is read as ink on paper once turned around.
    page = grey if looks_like_paper(grey) else 1.0 - grey
    return preprocess_photo_digits(page)


def read_digits(model, image_or_drawing: np.ndarray | Drawing) -> Number:
    """``model``'s reading of every digit in a picture or drawing, left to right.

    Raises:
        ValueError: if an array has a shape that is not an image.
    """
    prepared = preprocess_digits(image_or_drawing)
    digits = tuple(read(model, part) for part in prepared)
    found = [part for part in prepared if not part.empty]
    if not found:
        outcome = prepared[0].outcome if prepared else Outcome.NOTHING
        message = prepared[0].message if prepared else NOTHING_DRAWN
        return Number((), outcome, message or NO_DIGIT)
    if len(found) == 1:
        return Number(digits, Outcome.DIGIT, digits[0].message)
    message = several_digits(len(found))
    return Number(digits, Outcome.SEVERAL, message)


def split_drawing(drawing: Drawing) -> list[Drawing]:
    """The drawing's strokes grouped into digits, left to right, each on the same pad.

    Strokes that overlap side by side are one digit, as ink pieces are in a photo
    (``photo_digits.one_digit``); a stroke without points is dropped.
    """
    strokes = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in drawing.strokes]
    strokes = [stroke[np.isfinite(stroke).all(axis=1)] for stroke in strokes]
    strokes = [stroke for stroke in strokes if len(stroke)]
    if not strokes:
        return []
    half_pen = drawing.pen_width / 2
    boxes = []
    for stroke in strokes:
        low, high = stroke.min(axis=0) - half_pen, stroke.max(axis=0) + half_pen
        boxes.append((low[1], low[0], high[1], high[0]))  # top, left, bottom, right
    groups = _joined(boxes, float(drawing.height))
    groups.sort(key=lambda members: min(boxes[i][1] + boxes[i][3] for i in members))
    return [
        Drawing(
            strokes=tuple(drawing.strokes[i] for i in _original_indices(drawing, members)),
            width=drawing.width,
            height=drawing.height,
            pen_width=drawing.pen_width,
        )
        for members in groups
    ]


def _joined(boxes: list[tuple[float, float, float, float]], near: float) -> list[list[int]]:
    """Indices of boxes grouped: two boxes in one group when ``one_digit`` says so."""
    parent = list(range(len(boxes)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for first in range(len(boxes)):
        for second in range(first + 1, len(boxes)):
            if one_digit(boxes[first], boxes[second], near):
                parent[root(first)] = root(second)
    groups: dict[int, list[int]] = {}
    for index in range(len(boxes)):
        groups.setdefault(root(index), []).append(index)
    return list(groups.values())


def _original_indices(drawing: Drawing, members: list[int]) -> list[int]:
    """The positions in ``drawing.strokes`` of the kept (non-empty) strokes ``members``."""
    kept = [
        index
        for index, stroke in enumerate(drawing.strokes)
        if np.isfinite(np.asarray(stroke, dtype=np.float64).reshape(-1, 2)).all(axis=1).any()
    ]
    return [kept[i] for i in sorted(members)]
