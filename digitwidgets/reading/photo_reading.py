"""From the ink on a photographed page to digits framed as MNIST's, or a clear reason why not.

``photo.find_ink`` finds the ink and ``photo_digits.digit_inks`` groups it into digits; here
the photo is judged (too dark, too blurred, no digit, several) and each digit is framed by
``framing.frame_ink``, with the steps kept for the page to show.
"""

from __future__ import annotations

import numpy as np

from .framing import Preprocessed, frame_ink
from .outcome import Outcome
from .photo import PageInk, find_ink, smudge_strength
from .photo_digits import DigitInk, digit_inks
from .photo_steps import PhotoSteps

NO_DIGIT = "No digit found on the paper: write one larger or darker, or photograph it closer."
TOO_DARK = "The photo is too dark to read: take it again in more light."
TOO_BLURRED = "The photo is too blurred to read: hold the phone still and let it focus."


def several_digits(count: int) -> str:
    """The message for a photo or drawing of ``count`` separate digits."""
    return f"{count} separate digits: they are read one by one, left to right."


# The paper's median brightness below which ink cannot be told from noise.
_DARKEST_PAPER = 0.12
# A picture spanning fewer grey levels than this holds nothing (as ``preprocess_digit`` says).
_LEAST_CONTRAST = 0.05
# Ink covering more of the frame than this is not writing on paper (noise, a dark picture).
_MOST_INK = 0.35
# A stroke's soft edge reaches this share of the digit's height beyond its thresholded ink.
_SOFT_EDGE = 0.03
# An edge spread over more than this share of the digit's height (and 4 px) is a blur.
_BLURRIEST_EDGE = 0.12
_SOFTEST_SHARP_EDGE = 4.0
# Contrast and slope are taken at this percentile of the digit's box: its strokes and their
# edges, not one noisy pixel.
_STEEP_SHARE = 97
# A digit's box darker than this is writing: its edges are measured.
_SMUDGE_CONTRAST = 0.03
# With no digit found, a smudge this dark (smoothed) and at least this tall (a share of the
# shorter side) is a digit blurred out of focus; paper's grain and slow texture are lighter,
# a speck or a crease smaller.
_BLURRED_SMUDGE_CONTRAST = 0.08
_BLURRED_SMUDGE_HEIGHT = 0.15
_BLURRED_SMUDGE_WIDEST = 0.6
_BLURRED_SMUDGE_FILL = 0.3
_SMUDGE_SMOOTHING = 2.0


def preprocess_photo(grey: np.ndarray) -> Preprocessed | None:
    """The one digit of a photographed page, framed as MNIST's, or why there is none.

    Args:
        grey: float (H, W) in [0, 1], dark ink on light paper.

    Returns:
        A ``Preprocessed`` with ``photo`` steps and an ``outcome``; None when the picture is
        not writing on paper (ink over much of it): the plain path reads it then.
    """
    if np.ptp(grey) < _LEAST_CONTRAST:
        return None  # an even picture: nothing drawn
    page = find_ink(grey)
    if page.paper_level < _DARKEST_PAPER:
        # Before anything else: in the dark, noise looks like ink everywhere.
        return Preprocessed(
            None,
            message=TOO_DARK,
            outcome=Outcome.TOO_DARK,
            inverted=True,
            photo=_steps(page, [], None),
        )
    if page.ink.mean() > _MOST_INK:
        return None
    digits = digit_inks(page)
    problem = _problem(page, digits)
    if problem is not None:
        outcome, message = problem
        return Preprocessed(
            image=None,
            message=message,
            outcome=outcome,
            inverted=True,
            photo=_steps(page, digits, None),
        )
    return frame_digit(page, digits, digits[0])


def preprocess_photo_digits(grey: np.ndarray) -> list[Preprocessed]:
    """Every digit of a photographed page, left to right, each framed with its steps.

    A page without a readable digit gives one ``Preprocessed`` that says why.
    """
    page = find_ink(grey)
    if page.ink.mean() > _MOST_INK:
        return [Preprocessed(image=None, message=NO_DIGIT, outcome=Outcome.NOTHING)]
    digits = digit_inks(page)
    problem = _problem(page, digits)
    if problem is not None and problem[0] is not Outcome.SEVERAL:
        outcome, message = problem
        steps = _steps(page, digits, None)
        return [Preprocessed(None, message=message, outcome=outcome, inverted=True, photo=steps)]
    return [frame_digit(page, digits, digit) for digit in digits]


def frame_digit(page: PageInk, digits: list[DigitInk], digit: DigitInk) -> Preprocessed:
    """Frame one digit's ink as MNIST's, keeping the photo's steps."""
    from skimage import morphology

    kept = np.isin(page.labels, digit.labels)
    top, left, bottom, right = digit.box
    # The soft edge of each stroke belongs to it too, as far as a pen's edge blurs.
    reach = max(1, round(_SOFT_EDGE * digit.height))
    top, left = max(top - reach, 0), max(left - reach, 0)
    bottom, right = bottom + reach, right + reach
    region = kept[top:bottom, left:right]
    around = (
        morphology.dilation(region, morphology.disk(reach)) & ~page.lines[top:bottom, left:right]
    )
    strength = page.strength[top:bottom, left:right] * around
    peak = float(strength[region].max()) if region.any() else 0.0
    framed = frame_ink(np.clip(strength / max(peak, 1e-3), 0.0, 1.0))
    if framed.empty:
        return Preprocessed(
            image=None, message=NO_DIGIT, inverted=True, photo=_steps(page, digits, None)
        )
    return Preprocessed(
        image=framed.image,
        cropped=framed.cropped,
        scaled=framed.scaled,
        inverted=True,
        photo=_steps(page, digits, kept),
    )


def _problem(page: PageInk, digits: list[DigitInk]) -> tuple[Outcome, str] | None:
    """Why the page cannot be read as one digit, or None when it can."""
    if page.paper_level < _DARKEST_PAPER:
        return Outcome.TOO_DARK, TOO_DARK
    if _blurred(page, digits):
        return Outcome.TOO_BLURRED, TOO_BLURRED
    if not digits:
        return Outcome.NOTHING, NO_DIGIT
    if len(digits) > 1:
        return Outcome.SEVERAL, several_digits(len(digits))
    return None


def _blurred(page: PageInk, digits: list[DigitInk]) -> bool:
    """True when the writing's edges are spread wider than a sharp photo's.

    The width of an edge is the ink's contrast over its steepest slope: a pixel or two in a
    sharp photo, a few times the blur in a blurred one. Without a digit found, blur has
    smeared the strokes below the threshold when a smudge is left as large as a digit and
    darker than paper's grain and texture (``_smudge``).
    """
    from skimage import filters

    if not digits:
        return _smudge(page) is not None
    top, left, bottom, right = max(digits, key=lambda digit: digit.mass).box
    region = page.strength[top:bottom, left:right]
    height = bottom - top
    contrast = float(np.percentile(region, _STEEP_SHARE)) if region.size else 0.0
    if contrast < _SMUDGE_CONTRAST:
        return False
    slope = float(np.percentile(filters.sobel(region), _STEEP_SHARE)) * 4  # Sobel: 4 differences
    edge = contrast / max(slope, 1e-6)
    return edge > max(_SOFTEST_SHARP_EDGE, _BLURRIEST_EDGE * height)


def _smudge(page: PageInk) -> tuple[slice, slice] | None:
    """Where a digit blurred out of focus lies: the heaviest smudge wholly inside the frame.

    The page is flattened again with the light filled as far as a digit's width (a smudge
    that wide is divided out with the light otherwise) and smoothed; a smudge is as tall
    as a small digit, no wider than a large one, filling a fair share of its box, darker
    than paper's grain and texture and away from the frame's edge (a table, a shadow or a
    gradient reaches it). None when there is none.
    """
    from scipy import ndimage
    from skimage import filters

    smooth = filters.gaussian(smudge_strength(page.photo), sigma=_SMUDGE_SMOOTHING)
    labels, _ = ndimage.label(smooth >= _BLURRED_SMUDGE_CONTRAST)
    rows, cols = smooth.shape
    best, heaviest = None, 0.0
    for number, where in enumerate(ndimage.find_objects(labels), start=1):
        top, bottom = where[0].start, where[0].stop
        left, right = where[1].start, where[1].stop
        if top == 0 or left == 0 or bottom == rows or right == cols:
            continue
        if bottom - top < _BLURRED_SMUDGE_HEIGHT * min(rows, cols):
            continue
        if right - left > _BLURRED_SMUDGE_WIDEST * cols:
            continue  # wider than a digit: the lit or shaded part of the page
        inside = labels[where] == number
        if inside.mean() < _BLURRED_SMUDGE_FILL:
            continue  # thin across its box: ruling or a crease, not a smudge
        weight = float(smooth[where][inside].sum())
        if weight > heaviest:
            best, heaviest = where, weight
    return best


def _steps(page: PageInk, digits: list[DigitInk], kept: np.ndarray | None) -> PhotoSteps:
    return PhotoSteps(
        photo=page.photo,
        flattened=page.flattened,
        ink=page.ink,
        lines=page.lines,
        kept=np.zeros_like(page.ink) if kept is None else kept,
        digit_boxes=tuple(digit.box for digit in digits),
    )
