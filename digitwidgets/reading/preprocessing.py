"""Turn a drawing or an uploaded picture into a 28x28 digit the way MNIST's were made.

MNIST digits were cropped to their ink, scaled so the longest side is 20 pixels with
anti-aliasing, and pasted into 28x28 with the centre of mass at the centre. A model trained
on them recognizes other digits well only after the same steps.

Two ways in:

- ``preprocess_drawing`` for the pad, which keeps the strokes: they are drawn again straight
  at MNIST's scale with a pen proportional to the digit's size (MNIST's strokes are 2-3 px
  wide in the 20 px box), so a small, large, off-centre, thick- or thin-pen digit all reach
  the model looking alike.
- ``preprocess_digit`` for a picture (an upload): crop, scale and centre the raster. It can
  also thin strokes a thick pen drew (grey erosion, ``stroke_width``); uploads are not
  thinned, because the model trained on full MNIST reads thick strokes better as they are
  (``docs/handwriting.md``, "Uploads"). A picture of dark ink on light paper (a phone photo
  of a page) first goes through the photo path (``photo_reading``, ``docs/photos.md``):
  the light flattened, the ink thresholded, lines and specks removed, the digit kept.

The framing both paths end with (``frame_ink``) and the ``Preprocessed`` they return live in
``framing``, which both import; only this module chooses between them.

NumPy and Pillow only here (the photo path imports scikit-image when a photo comes): no
TensorFlow, so preprocessing stays fast to import and to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .framing import (
    DIGIT_SIZE,
    NOTHING_DRAWN,
    SIZE,
    THINNED_STROKE_WIDTH,
    Preprocessed,
    frame_ink,
    paste_centred_by_mass,
    resize,
    scaled_shape,
)
from .photo_reading import preprocess_photo

__all__ = [
    "DIGIT_SIZE",
    "NOTHING_DRAWN",
    "SIZE",
    "THINNED_STROKE_WIDTH",
    "Drawing",
    "Preprocessed",
    "frame_ink",
    "grey_levels",
    "looks_like_paper",
    "plain_resize",
    "preprocess_digit",
    "preprocess_drawing",
    "rasterize_strokes",
]


# Ink weaker than this (on a 0..1 scale) is noise: JPEG ringing, paper grain, a stray alpha.
_MIN_CONTRAST = 0.05
# Pillow draws with C ints; farther coordinates only move lines that are off the canvas anyway.
_COORDINATE_LIMIT = 1e6
# The pen a drawing is drawn again with, in pixels of the 28x28 image: MNIST's strokes are
# about this wide once the digit's longest side is 20 px.
MODEL_PEN_WIDTH = 2.5
# Strokes are drawn this many times finer than the 20 px box, then averaged down: the
# anti-aliasing MNIST's digits have.
_SUPERSAMPLING = 4
# The cropped ink shown in the steps view needs no more pixels than this a side.
_MAX_INK_SIDE = 280
# Pictures of dark ink on a light ground at least this many pixels on their shorter side go
# through the photo path; smaller ones are icons or MNIST-sized digits, read as they are.
MIN_PHOTO_SIDE = 48
# A picture whose median grey is at least this is a light page (0 black, 1 white).
_LIGHT_PAGE = 0.35
# A dark ground whose darker half spans more grey levels than this is not a drawing's.
_EVEN_GROUND = 0.04
# A picture whose median grey is at least this but that is nowhere light is a dim page.
_DIM_PAGE = 0.02


@dataclass(frozen=True)
class Drawing:
    """Strokes drawn on a canvas, kept in canvas coordinates so they can be rasterized exactly."""

    strokes: tuple[tuple[tuple[float, float], ...], ...]
    width: int
    height: int
    pen_width: float

    def rasterize(self) -> np.ndarray:
        """Render the strokes: uint8 (height, width), ink 255 on 0."""
        return rasterize_strokes(self.strokes, (self.height, self.width), self.pen_width)


def rasterize_strokes(
    strokes: Iterable[Sequence[tuple[float, float]]],
    size: tuple[int, int],
    pen_width: float,
) -> np.ndarray:
    """Render strokes of (x, y) points as round-capped lines: uint8 (height, width), ink 255 on 0.

    A stroke of one point is a dot; points off the canvas are clipped by drawing.
    """
    height, width = (int(side) for side in size)
    if height <= 0 or width <= 0:
        return np.zeros((max(height, 0), max(width, 0)), dtype=np.uint8)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    line_width = max(1, round(float(pen_width)))
    radius = line_width / 2
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        points = points[np.isfinite(points).all(axis=1)]
        if len(points) == 0:
            continue
        points = np.clip(points, -_COORDINATE_LIMIT, _COORDINATE_LIMIT)
        if len(points) > 1:
            draw.line(points.ravel().tolist(), fill=255, width=line_width)
        # Circles at every point give round joins and caps; Pillow's own joints leave notches.
        for x, y in points.tolist():
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas)


def preprocess_digit(image: np.ndarray, stroke_width: float | None = None) -> Preprocessed:
    """Crop, scale to 20 pixels and centre by mass in 28x28, as MNIST was made.

    Args:
        image: 2-D grey, or (H, W, 1|2|3|4) grey, grey+alpha, RGB or RGBA; uint8, uint16,
            other integers, float in [0, 1] or bool. Dark ink on light or light on dark.
        stroke_width: if given, strokes wider in the 20 px box than nearly all of MNIST's
            (3.5 px) are first thinned to about this many pixels (grey erosion of the
            cropped ink), so a picture drawn with a thick pen reaches the model with MNIST's
            stroke width; other strokes are left as they are (thickening thin ones measured
            worse).
            ``None`` keeps the picture's own pen.

    Returns:
        The (28, 28) float32 digit, ink high with maximum 1, or ``image=None`` and a message
        when the image holds no ink. A photo of paper says in ``outcome`` (and the message)
        when it holds no digit, several, or is too dark or blurred to read, and keeps its
        steps in ``photo``.

    Raises:
        ValueError: if the array has a shape that is not an image.
    """
    grey = grey_levels(image)
    ink, inverted = _ink_from_grey(grey)
    if grey is not None and looks_like_paper(grey, inverted):
        photo = preprocess_photo(grey)
        if photo is not None:
            return photo
    if ink is None:
        return Preprocessed(image=None, message=NOTHING_DRAWN)
    return frame_ink(ink, stroke_width=stroke_width, inverted=inverted)


def looks_like_paper(grey: np.ndarray, inverted: bool | None = None) -> bool:
    """True for a picture of dark writing on a page, the photo path's kind of picture.

    Anything large enough for a photo except a light digit on a dark, even ground (a pad's
    raster, an MNIST digit): a page is lit unevenly (a vignette, a gradient, a table past its
    edge can make its border or most of it darker than the paper), and a photo has grain.

    Args:
        grey: float (H, W) in [0, 1], as ``grey_levels`` gives.
        inverted: whether the ink is darker than the picture's border, if known already.
    """
    if min(grey.shape) < MIN_PHOTO_SIDE:
        return False
    darkest, lightest = grey.min(), grey.max()
    if not ((grey != darkest) & (grey != lightest)).any():
        return False  # two grey levels: a drawing or a clean scan, not a photo
    if inverted is None:
        inverted = _ink_from_grey(grey)[1]
    if inverted:
        return True
    low, middle, brightest = np.percentile(grey, [1, 50, 99.5])
    # A photo taken in the dark is dim all over, where a drawing's ground is black.
    dim = middle >= _DIM_PAGE and brightest < _LIGHT_PAGE
    return bool(middle >= _LIGHT_PAGE or middle - low > _EVEN_GROUND or dim)


def preprocess_drawing(drawing: Drawing, pen_width: float = MODEL_PEN_WIDTH) -> Preprocessed:
    """Draw the strokes again at MNIST's scale and centre them by mass in 28x28.

    The strokes' own extent (without the pad's pen) is scaled so that the digit, drawn with a
    pen of ``pen_width`` model pixels, has its longest side ``DIGIT_SIZE``; the pen is thus
    proportional to the digit's size and the pad's pen, the digit's size and its place on the
    pad do not change what the model sees. Points off the canvas are kept: the strokes were
    recorded there. ``cropped`` is the drawing's ink on the pad, as the person saw it.

    Returns:
        The (28, 28) float32 digit, ink high with maximum 1, or ``image=None`` and a message
        when the drawing has no points.
    """
    strokes = _finite_strokes(drawing.strokes)
    if not strokes:
        return Preprocessed(image=None, message=NOTHING_DRAWN)
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    pen = float(np.clip(pen_width, 0.5, DIGIT_SIZE / 2))
    # A dot or a very short dash stays as wide as the pen drew it, relative to the box.
    extent = max(float((high - low).max()), float(drawing.pen_width), 1e-6)
    scale = (DIGIT_SIZE - pen) / extent
    ink_width, ink_height = (high - low) * scale + pen
    shape = scaled_shape((ink_height, ink_width))
    fine = _SUPERSAMPLING
    # Centre the strokes in the supersampled box, whose size is a whole number of pixels.
    box = np.array([shape[1], shape[0]], dtype=np.float64) * fine
    offset = (box - (high - low) * scale * fine) / 2
    rendered = rasterize_strokes(
        [(stroke - low) * scale * fine + offset for stroke in strokes],
        (shape[0] * fine, shape[1] * fine),
        pen * fine,
    )
    scaled = np.asarray(Image.fromarray(rendered).reduce(fine), dtype=np.float64) / 255.0
    if scaled.max() <= 0:
        return Preprocessed(image=None, message=NOTHING_DRAWN)
    digit = paste_centred_by_mass(scaled / scaled.max())
    return Preprocessed(
        image=(digit / digit.max()).astype(np.float32),
        cropped=_ink_on_pad(strokes, low, high, drawing),
        scaled=(scaled / scaled.max()).astype(np.float32),
    )


def _finite_strokes(strokes) -> list[np.ndarray]:
    """Each stroke as a float64 (n, 2) array of its finite points; empty strokes dropped."""
    arrays = []
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        points = points[np.isfinite(points).all(axis=1)]
        if len(points):
            arrays.append(np.clip(points, -_COORDINATE_LIMIT, _COORDINATE_LIMIT))
    return arrays


def _ink_on_pad(strokes, low, high, drawing: Drawing) -> np.ndarray:
    """The drawing's ink with the pad's pen, cropped to the part of the pad it covers.

    Shrunk (strokes and pen alike) to at most ``_MAX_INK_SIDE`` pixels: it is only shown,
    and drawing it costs time in proportion to its area.
    """
    margin = drawing.pen_width / 2 + 1
    corner = np.maximum(low - margin, 0)
    far = np.minimum(high + margin, [drawing.width, drawing.height])
    extent = np.maximum(far - corner, 1)
    shrink = min(1.0, _MAX_INK_SIDE / float(extent.max()))
    height, width = (max(1, int(np.ceil(side * shrink))) for side in extent[::-1])
    ink = rasterize_strokes(
        [(stroke - corner) * shrink for stroke in strokes],
        (height, width),
        drawing.pen_width * shrink,
    )
    return (ink / 255.0).astype(np.float32)


def plain_resize(image: np.ndarray) -> np.ndarray:
    """Squeeze the whole image into 28x28 without cropping or centring, ink high; for comparison.

    Raises:
        ValueError: if the array has a shape that is not an image.
    """
    ink, _ = _ink_map(image)
    if ink is None:
        return np.zeros((SIZE, SIZE), dtype=np.float32)
    resized = resize(ink, (SIZE, SIZE))
    peak = resized.max()
    return (resized / peak if peak > 0 else resized).astype(np.float32)


def _ink_map(image: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """Ink strength per pixel in [0, 1] and whether the ink was darker than the background.

    The background is the median colour of the image's border; the ink is whichever way
    the other pixels mostly depart from it. Returns ``(None, False)`` for an image without
    ink (empty, uniform, or only faint noise).

    Raises:
        ValueError: if the array has a shape that is not an image.
    """
    return _ink_from_grey(grey_levels(image))


def _ink_from_grey(grey: np.ndarray | None) -> tuple[np.ndarray | None, bool]:
    if grey is None:
        return None, False
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    departure = grey - np.median(border)
    inverted = bool(np.clip(-departure, 0, None).sum() > np.clip(departure, 0, None).sum())
    ink = np.clip(-departure if inverted else departure, 0.0, 1.0)
    if ink.max() < _MIN_CONTRAST:
        return None, False
    return ink, inverted


def grey_levels(image: np.ndarray) -> np.ndarray | None:
    """A float64 (H, W) grey image in [0, 1] with any alpha composited; None when 0-size.

    Transparent pixels become a background that contrasts with the visible ink, so a drawing
    whose ink lives only in the alpha channel still shows.

    Raises:
        ValueError: if the array has a shape that is not an image.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] in (1, 2, 3, 4):
        channels = array.shape[2]
    elif array.ndim == 2:
        channels = 0
    else:
        raise ValueError(
            f"Expected a 2-D grey image or (height, width, 1-4 channels), got shape {array.shape}."
        )
    if array.size == 0:
        return None
    values = _unit_range(array)
    if channels == 0:
        return values
    if channels in (1, 2):
        grey = values[..., 0]
    else:
        grey = values[..., :3] @ np.array([0.299, 0.587, 0.114])
    if channels in (2, 4):
        grey = _composite_on_background(grey, values[..., -1])
    return grey


def _composite_on_background(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite grey levels with alpha in [0, 1] onto black or white, whichever the ink is not."""
    if alpha.min() >= 1.0:
        return grey
    weight = alpha.sum()
    ink_level = float((grey * alpha).sum() / weight) if weight > 0 else 0.0
    background = 1.0 if ink_level < 0.5 else 0.0
    return grey * alpha + background * (1.0 - alpha)


def _unit_range(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        top = np.iinfo(array.dtype).max
        return np.clip(array.astype(np.float64) / top, 0.0, 1.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"Expected numbers in the image, got dtype {array.dtype}.")
    values = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(values, 0.0, 1.0)
