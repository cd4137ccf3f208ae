"""Which ink on a photographed page makes which digit: pieces grouped side by side.

``photo.find_ink`` labels the page's connected ink; here the pieces that are writing (not the
page's edge, a shadow or a line the ruling missed) are grouped into digits, and the digits
of the line of writing nearest the middle of the frame are kept, left to right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .photo import PageInk

# Pieces one above the other closer than this share of the frame's height are one digit.
_NEAR_LINES = 0.15
# Two pieces both at least this share of the taller's height are separate digits unless they
# overlap side by side by this share of the narrower one (slanted digits written close).
_TALL_PIECE = 0.6
# A piece flatter than this (height over width) is a stroke of a digit, never a whole one.
_UPRIGHT = 0.5
_DIGIT_OVERLAP = 0.35
# Ink spanning more than this share of the frame's height or width is not a digit.
_WIDEST_DIGIT = 0.92
# Pieces this close side by side (a share of the taller one's height) belong to one digit.
_SAME_DIGIT_GAP = 0.08
# A group of ink counts as a digit when at least this tall and heavy next to the main one.
_DIGIT_HEIGHT_SHARE = 0.45
_DIGIT_MASS_SHARE = 0.12
# One piece spanning this share of the frame and at most this thick (a share of the shorter
# side) is a line when other writing is beside it.
_LINE_LIKE_LENGTH = 0.6
_LINE_LIKE_THICKNESS = 0.03
_LINE_LIKE_ASPECT = 6
# Digits of one number share this much of their height and stand at most this many heights
# apart.
_SHARED_HEIGHT = 0.4
_WIDEST_GAP = 2.0
# A small piece much fainter than the heaviest piece's ink is not the same pen's: a shadow's
# tip, a smudge. Small: under this share of the heaviest's area; faint: its median darkness
# under this share of the heaviest's.
_SMALL_PIECE = 0.3
_FAINTER_PEN = 0.65
# A piece at least this share of the largest one's area sets the pen's darkness; ink under
# this share of it, whatever its size, is a shadow's (its median darkness).
_SIZABLE = 0.1
_SHADOW_DARKNESS = 0.7
# Ink whose edge is wider than this many pixels is a shadow's (its penumbra), not a pen's.
_SOFTEST_INK_EDGE = 3.5
# Ink with an edge wider than a pen's (a pen's measures about 0.5) that is no darker in the
# photo than a shadow reaching the frame's edge is that shadow: a wedge of it the light's
# closing could not fill. The photo is smoothed this much first (its noise and JPEG blocks).
_SHADOW_EDGE = 1.5
_SHADE_SMOOTHING = 2.0


@dataclass(frozen=True, eq=False)
class DigitInk:
    """One digit's ink on the page: the labels of its pieces and its box (top, left, bottom,
    right) at the working size."""

    labels: tuple[int, ...]
    box: tuple[int, int, int, int]
    mass: int

    @property
    def height(self) -> int:
        """The box's height in pixels."""
        return self.box[2] - self.box[0]


def digit_inks(page: PageInk) -> list[DigitInk]:
    """The page's digits, left to right: ink pieces grouped side by side, small ones dropped.

    The digits are those of the line of writing nearest the middle of the frame (by weight
    and place), so a stain or a note elsewhere on the page is not one of them.

    Pieces touching the frame's edge or spanning it are the page's edge, the table or a
    shadow's rim, not writing; so is a soft-edged piece no darker than a shadow that reaches
    the frame's edge (a blank page under a shadow holds nothing else). Pieces that overlap
    side by side (within a small gap) are one digit; a group counts as a digit when it is
    nearly as tall and a fair share as heavy as the largest. Soft-edged pieces are a
    shadow's, not a pen's, and so is a small piece much fainter than its digit's heaviest.
    """
    from scipy import ndimage
    from skimage import filters

    height, width = page.labels.shape
    areas = np.bincount(page.labels.ravel())
    slopes = filters.sobel(page.strength)
    shade = None  # the smoothed photo, made for the first soft piece
    pieces, soft_pieces = [], []
    for number, where in enumerate(ndimage.find_objects(page.labels), start=1):
        if where is None:
            continue
        top, bottom = where[0].start, where[0].stop
        left, right = where[1].start, where[1].stop
        if top == 0 or left == 0 or bottom == height or right == width:
            continue
        if bottom - top > _WIDEST_DIGIT * height or right - left > _WIDEST_DIGIT * width:
            continue  # across the whole frame: the rim of the page or of a shadow, a line
        edge = _edge_width(page, slopes, number, where)
        if edge > _SHADOW_EDGE:
            if shade is None:
                shade = filters.gaussian(page.photo, sigma=_SHADE_SMOOTHING)
            if _part_of_a_shadow(shade, page.labels == number):
                continue
        piece = (number, (top, left, bottom, right), int(areas[number]))
        (soft_pieces if edge > _SOFTEST_INK_EDGE else pieces).append(piece)
    # In a sharp photo soft ink is a shadow's; when all of it is soft the photo is blurred,
    # which ``photo_reading`` tells from the digits' edges.
    pieces = _same_pen(page, pieces or soft_pieces)
    groups = _side_by_side(pieces, _NEAR_LINES * height)
    if len(groups) > 1:
        # A long thin straight piece beside other writing is a line the ruling missed (a
        # margin, a page's edge): a 1 is as tall as the digits beside it.
        groups = [group for group in groups if not _line_like(group, page.labels.shape)]
    # Then each digit is one pen's: a shadow's tip beside it is not part of it.
    by_number = {piece[0]: piece for piece in pieces}
    groups = [
        regrouped
        for group in groups
        for regrouped in _side_by_side(
            _one_pen(page, [by_number[number] for number in group.labels]), _NEAR_LINES * height
        )
    ]
    if not groups:
        return []
    tallest = max(group.height for group in groups)
    heaviest = max(group.mass for group in groups)
    candidates = sorted(
        (
            group
            for group in groups
            if group.height >= _DIGIT_HEIGHT_SHARE * tallest
            and group.mass >= _DIGIT_MASS_SHARE * heaviest
        ),
        key=lambda group: group.box[1] + group.box[3],
    )
    return _written_together(candidates, _main_index(page, candidates))


def _same_pen(page: PageInk, pieces: list[tuple[int, tuple, int]]) -> list[tuple[int, tuple, int]]:
    """The pieces as dark as the darkest sizable one's pen: a shadow's spikes are lighter.

    A shadow's wedge that the light's closing could not fill is as large as a digit and
    sharp on one side, but it darkens the paper by half of what a pen's ink does.
    """
    if len(pieces) < 2:
        return pieces
    darkness = {
        number: float(np.median(page.strength[page.labels == number])) for number, _, _ in pieces
    }
    largest = max(area for _, _, area in pieces)
    pen = max(darkness[number] for number, _, area in pieces if area >= _SIZABLE * largest)
    return [piece for piece in pieces if darkness[piece[0]] >= _SHADOW_DARKNESS * pen]


def _one_pen(page: PageInk, pieces: list[tuple[int, tuple, int]]) -> list[tuple[int, tuple, int]]:
    """One digit's pieces less small ones much fainter than its heaviest: one pen wrote it."""
    if len(pieces) < 2:
        return pieces
    darkness = {
        number: float(np.median(page.strength[page.labels == number])) for number, _, _ in pieces
    }
    heaviest = max(pieces, key=lambda piece: piece[2])
    pen = darkness[heaviest[0]]
    return [
        piece
        for piece in pieces
        if piece[2] >= _SMALL_PIECE * heaviest[2] or darkness[piece[0]] >= _FAINTER_PEN * pen
    ]


def _line_like(group: DigitInk, shape: tuple[int, int]) -> bool:
    """True for thin, straight ink spanning most of the frame: a line, not a digit.

    Its length is its box's diagonal (a page's edge may lie slanted in the frame), its
    thickness its ink over that length.
    """
    top, left, bottom, right = group.box
    long_side = float(np.hypot(bottom - top, right - left))
    length = max((bottom - top) / shape[0], (right - left) / shape[1])
    thickness = group.mass / long_side
    return (
        length >= _LINE_LIKE_LENGTH
        and long_side >= _LINE_LIKE_ASPECT * thickness
        and thickness <= _LINE_LIKE_THICKNESS * min(shape)
    )


def _written_together(digits: list[DigitInk], main: int) -> list[DigitInk]:
    """The main digit and its neighbours on its line of writing, left to right.

    A neighbour shares most of its height with the digit next to it and is at most a few
    digits' heights away; ink elsewhere on the page (a note, a stain) is not part of it.
    """
    first = last = main
    while first > 0 and _neighbours(digits[first - 1], digits[first]):
        first -= 1
    while last < len(digits) - 1 and _neighbours(digits[last], digits[last + 1]):
        last += 1
    return digits[first : last + 1]


def _neighbours(left: DigitInk, right: DigitInk) -> bool:
    shared = min(left.box[2], right.box[2]) - max(left.box[0], right.box[0])
    gap = right.box[1] - left.box[3]
    taller = max(left.height, right.height)
    return shared >= _SHARED_HEIGHT * min(left.height, right.height) and gap <= _WIDEST_GAP * taller


def _side_by_side(pieces: list[tuple[int, tuple, int]], near: float) -> list[DigitInk]:
    """Groups of pieces joined when they overlap (or nearly) along the line of writing."""
    parent = list(range(len(pieces)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for first in range(len(pieces)):
        for second in range(first + 1, len(pieces)):
            if one_digit(pieces[first][1], pieces[second][1], near):
                parent[root(first)] = root(second)
    members: dict[int, list[int]] = {}
    for index in range(len(pieces)):
        members.setdefault(root(index), []).append(index)
    groups = []
    for indices in members.values():
        boxes = np.array([pieces[i][1] for i in indices])
        box = (*boxes[:, :2].min(axis=0).tolist(), *boxes[:, 2:].max(axis=0).tolist())
        groups.append(
            DigitInk(
                labels=tuple(pieces[i][0] for i in indices),
                box=tuple(int(side) for side in box),
                mass=sum(pieces[i][2] for i in indices),
            )
        )
    return groups


def one_digit(first: tuple, second: tuple, near: float = 0.0) -> bool:
    """True when two pieces of ink, boxes (top, left, bottom, right), are parts of one digit.

    They overlap side by side (or nearly), and not as two slanted digits written close do:
    those are both tall and overlap only at their edges. One above the other, they are
    farther apart than the taller's height and than ``near`` pixels only when they are two
    lines of writing (a blurred or broken stroke leaves gaps shorter than its pieces).
    """
    heights = sorted((first[2] - first[0], second[2] - second[0]))
    gap = _SAME_DIGIT_GAP * heights[1]
    overlap = min(first[3], second[3]) - max(first[1], second[1])
    if overlap <= -gap:
        return False
    # Far above or below is another line of writing, not the same digit.
    apart = max(heights[1], near)
    if first[0] - apart >= second[2] or second[0] - apart >= first[2]:
        return False
    narrower = min(first[3] - first[1], second[3] - second[1])
    upright = all(box[2] - box[0] >= _UPRIGHT * (box[3] - box[1]) for box in (first, second))
    both_tall = upright and heights[0] >= _TALL_PIECE * heights[1]
    return not both_tall or overlap >= _DIGIT_OVERLAP * narrower


def _main_index(page: PageInk, digits: list[DigitInk]) -> int:
    """The digit a person meant: heavy and near the middle of the frame."""
    if not digits:
        return 0
    height, width = page.labels.shape
    centre = np.array([height, width]) / 2
    scores = []
    for digit in digits:
        top, left, bottom, right = digit.box
        middle = np.array([top + bottom, left + right]) / 2
        distance = np.linalg.norm((middle - centre) / centre)
        scores.append(digit.mass * np.exp(-(distance**2)))
    return int(np.argmax(scores))


def _part_of_a_shadow(shade: np.ndarray, piece: np.ndarray) -> bool:
    """True when the photo is as dark as the piece all the way from it to the frame's edge.

    Ink is darker than the paper around it, lit or shaded. A shadow's wedge the light's
    closing could not fill is ink only in the flattened page: in the photo it is part of
    the shadow, which reaches in from the page's side. ``shade`` is the smoothed photo,
    ``piece`` the piece's pixels.
    """
    from scipy import ndimage

    level = float(np.median(shade[piece]))
    regions, _ = ndimage.label(shade <= level)
    border = np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])
    reached = np.unique(regions[piece])
    return bool(np.isin(reached[reached > 0], border).any())


def _edge_width(page: PageInk, slopes: np.ndarray, number: int, where: tuple) -> float:
    """One ink piece's edge width in pixels: its contrast over its steepest slope.

    A pen's edge is a pixel or two wide in a sharp photo; a shadow's is its penumbra.
    ``slopes`` is the page's Sobel gradient of ``strength``.
    """
    from skimage import morphology

    rows = slice(max(where[0].start - 1, 0), where[0].stop + 1)
    cols = slice(max(where[1].start - 1, 0), where[1].stop + 1)
    piece = page.labels[rows, cols] == number
    contrast = float(page.strength[rows, cols][piece].max())
    # The steepest slope may lie just outside the thresholded pixels.
    near = morphology.dilation(piece, np.ones((3, 3), dtype=bool))
    slope = float(slopes[rows, cols][near].max()) * 4  # Sobel averages 4 differences
    return contrast / max(slope, 1e-6)
