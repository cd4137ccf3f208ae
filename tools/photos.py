"""A photo test set made here: digits written on paper and photographed with a phone.

Nothing in the project trains on these, and they are made differently from anything it
trains on. Each photo is built the way a real one comes about:

1. **The writing**: one of three styles, chosen per photo: the pad set's stroke templates
   (``drawn_digits``), the broader set's other templates (``drawn_variations``), each with
   its own slant, width, turn and wobble, or a real MNIST test digit from the embedded
   sample (never trained on) printed as ink. No handwriting-like font is installed here
   (DejaVu and Liberation only), so none is used: printed type is not what people upload.
2. **The pen**: ballpoint (blue or black, thin), pencil (grey, thin, grainy, light) or
   marker (thick, in one of several colours).
3. **The paper**: white, cream, grey or bluish, with a grain and a slow texture; plain,
   ruled (blue lines, sometimes a red margin) or squared; sometimes the table shows past
   the page's edge.
4. **The light**: even with a slight vignette, a gradient across the page, or a shadow
   over part of it, with a colour cast.
5. **The camera**: turned (the whole page) and tilted in perspective, a digit small or large
   in the frame, slightly out of focus, sensor noise, saved as JPEG.

Variations (``VARIATIONS``) push one of these at a time; the rest stay mild. Sample ``i``
depends only on the seed, the variation and ``i``. NumPy and Pillow only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from digitwidgets.reading.preprocessing import rasterize_strokes

from . import drawn_digits, drawn_variations
from .strokes import hand_transform, wobble

VARIATIONS = (
    "flat",
    "turned",
    "pencil",
    "small",
    "ruled",
    "gradient",
    "squared",
    "shadow_jpeg",
    "marker_colour",
    "perspective",
    "large",
)
"""Each pushes one way a photo of paper differs from a scan (see the module docstring)."""

ISSUE_VARIATIONS = ("flat", "turned", "pencil", "small", "ruled", "gradient", "squared")
"""The variations issue 31 measured the upload path on (its shadow case is ``shadow_jpeg``)."""

WRITING_STYLES = ("pad_strokes", "broad_strokes", "mnist_ink")
DEFAULT_PER_CLASS = 10
DEFAULT_SEED = 20261207
PHOTO_SIZE = (480, 360)
"""(width, height) of the test set's photos: a phone photo, downsized."""
PHONE_SIZE = (4000, 3000)
"""(width, height) of a 12-megapixel phone photo."""

_MNIST_PATH_PARTS = ("digitwidgets", "assets", "mnist_sample.npz")


@dataclass(frozen=True, eq=False)
class Photos:
    """Photos of written digits as JPEG files, with their digits and how each was made."""

    files: tuple[bytes, ...]
    labels: np.ndarray  # uint8 (N,)
    variations: tuple[str, ...]
    styles: tuple[str, ...]  # "<writing style>:<pen>"
    seed: int

    def __len__(self) -> int:
        return len(self.files)


@dataclass(frozen=True)
class _Look:
    """How one photo is made; drawn from a variation and a random generator."""

    height: float  # the digit's height as a fraction of the frame's height
    pen: str  # "ballpoint", "pencil" or "marker"
    paper: str  # "plain", "ruled" or "squared"
    light: str  # "even", "gradient" or "shadow"
    turn: float  # degrees, the whole page in the frame
    tilt: float  # the largest corner shift of the perspective, as a fraction of the frame
    quality: int  # JPEG


def make_photos(
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = DEFAULT_SEED,
    variations: Sequence[str] = VARIATIONS,
    size: tuple[int, int] = PHOTO_SIZE,
) -> Photos:
    """``per_class`` photos of each digit in each variation, the same for the same seed.

    Raises:
        ValueError: for a variation not in ``VARIATIONS``.
    """
    _check_variations(variations)
    files, labels, names, styles = [], [], [], []
    for variation in variations:
        number = VARIATIONS.index(variation)
        for index in range(per_class * 10):
            digit = index % 10
            rng = np.random.default_rng([seed, number, index])
            data, style = _photograph([digit], variation, rng, size)
            files.append(data)
            labels.append(digit)
            names.append(variation)
            styles.append(style)
    return Photos(tuple(files), np.array(labels, dtype=np.uint8), tuple(names), tuple(styles), seed)


def photo_of(
    digits: Sequence[int],
    variation: str = "flat",
    seed: int = DEFAULT_SEED,
    size: tuple[int, int] = PHOTO_SIZE,
    *,
    exposure: float = 1.0,
    blur: float | None = None,
) -> bytes:
    """One JPEG photo of ``digits`` written left to right (none: a blank page).

    Args:
        exposure: the page's brightness is multiplied by this (0.1 is a photo in the dark).
        blur: a Gaussian blur of this many pixels of the frame instead of the slight one of
            every photo (10 is badly out of focus).

    Raises:
        ValueError: for a variation not in ``VARIATIONS``.
    """
    _check_variations([variation])
    rng = np.random.default_rng([seed, VARIATIONS.index(variation), len(digits), *digits])
    data, _ = _photograph(list(digits), variation, rng, size, exposure=exposure, blur=blur)
    return data


def phone_photo(digit: int = 4, seed: int = DEFAULT_SEED) -> bytes:
    """A 12-megapixel JPEG (4000x3000, quality 90) of one digit on ruled paper, for timing.

    The page is drawn at half the size and enlarged, then the camera's noise is added at
    full size, so the file is as large and as busy to decode as a phone's.
    """
    rng = np.random.default_rng([seed, digit, 12])
    half = (PHONE_SIZE[0] // 2, PHONE_SIZE[1] // 2)
    look = _look("ruled", rng)
    frame = _render([digit], look, rng, half)
    large = np.asarray(
        Image.fromarray(frame).resize(PHONE_SIZE, Image.Resampling.BICUBIC), dtype=np.float32
    )
    large += rng.normal(0, 3.0, size=large.shape[:2])[..., None].astype(np.float32)
    return _jpeg(np.clip(large, 0, 255).astype(np.uint8), 90)


def _check_variations(variations: Sequence[str]) -> None:
    unknown = [name for name in variations if name not in VARIATIONS]
    if unknown:
        raise ValueError(f"Unknown variations {unknown}; choose from {list(VARIATIONS)}.")


def _look(variation: str, rng: np.random.Generator) -> _Look:
    """The making of one photo: the variation pushes one thing, the rest stays mild."""
    height = {"small": (0.1, 0.16), "large": (0.7, 0.88)}.get(variation, (0.3, 0.55))
    pen = {"pencil": "pencil", "marker_colour": "marker"}.get(variation, "ballpoint")
    paper = {"ruled": "ruled", "squared": "squared"}.get(variation, "plain")
    light = {"gradient": "gradient", "shadow_jpeg": "shadow"}.get(variation, "even")
    turn = rng.uniform(5, 15) * rng.choice([-1, 1]) if variation == "turned" else 0.0
    tilt = rng.uniform(0.05, 0.1) if variation == "perspective" else rng.uniform(0, 0.015)
    quality = int(rng.integers(25, 51)) if variation == "shadow_jpeg" else int(rng.integers(75, 96))
    return _Look(
        height=float(rng.uniform(*height)),
        pen=pen,
        paper=paper,
        light=light,
        turn=float(turn + rng.uniform(-2, 2)),
        tilt=float(tilt),
        quality=quality,
    )


def _photograph(
    digits: list[int],
    variation: str,
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    exposure: float = 1.0,
    blur: float | None = None,
) -> tuple[bytes, str]:
    look = _look(variation, rng)
    style = WRITING_STYLES[int(rng.integers(len(WRITING_STYLES)))]
    frame = _render(digits, look, rng, size, style=style, exposure=exposure, blur=blur)
    return _jpeg(frame, look.quality), f"{style}:{look.pen}"


def _render(
    digits: list[int],
    look: _Look,
    rng: np.random.Generator,
    size: tuple[int, int],
    *,
    style: str = "broad_strokes",
    exposure: float = 1.0,
    blur: float | None = None,
) -> np.ndarray:
    """The photo as uint8 RGB (height, width, 3)."""
    width, height = size
    corners = _frame_corners_on_page(size, look, rng)
    # The page is drawn only as large as the part the turned, tilted frame shows.
    page_size = tuple(int(np.ceil(2 * np.abs(corners[:, axis]).max())) + 4 for axis in (0, 1))
    digit_height = look.height * height
    page = _paper(page_size, rng)
    if look.paper != "plain":
        page = _lines(page, look.paper, digit_height, rng)
    coverage = _writing(digits, page_size, size, digit_height, look, style, rng)
    page = _ink(page, coverage, look.pen, rng)
    page = _table_past_the_edge(page, page_size, size, coverage, digit_height, rng)
    page = page * _light(page_size, look.light, rng)[..., None] * exposure
    page = page * rng.uniform(0.93, 1.0, size=3)  # the light's colour
    frame = _camera(page, size, corners)
    sigma = blur if blur is not None else rng.uniform(0.3, 0.9) * width / 480
    frame = np.asarray(
        Image.fromarray(frame).filter(ImageFilter.GaussianBlur(sigma)), dtype=np.float32
    )
    frame += rng.standard_normal(size=frame.shape, dtype=np.float32) * rng.uniform(1.5, 4.0)
    return np.clip(frame, 0, 255).astype(np.uint8)


def _paper(page_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Paper colour with a slow texture and a grain: float32 RGB, 0-255."""
    width, height = page_size
    colours = ((246, 245, 240), (242, 234, 212), (228, 228, 224), (236, 241, 246))
    colour = np.array(colours[int(rng.integers(len(colours)))], dtype=np.float32)
    slow = _smooth_noise((height, width), cells=6, rng=rng) * rng.uniform(0.005, 0.02)
    grain = rng.standard_normal(size=(height, width), dtype=np.float32) * rng.uniform(0.005, 0.02)
    return colour * (1 + slow + grain)[..., None]


def _smooth_noise(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    coarse = rng.normal(0, 1, size=(cells, cells)).astype(np.float32)
    picture = Image.fromarray(coarse, mode="F").resize(shape[::-1], Image.Resampling.BICUBIC)
    return np.asarray(picture, dtype=np.float32)


def _lines(
    page: np.ndarray, paper: str, digit_height: float, rng: np.random.Generator
) -> np.ndarray:
    """Ruled lines (and sometimes a red margin) or a squared grid, printed on the paper."""
    height, width = page.shape[:2]
    layer = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(layer)
    if paper == "ruled":
        spacing = digit_height * rng.uniform(0.6, 1.1)
    else:
        spacing = digit_height * rng.uniform(0.3, 0.55)
    line_width = max(1, round(spacing * rng.uniform(0.02, 0.05)))
    strength = int(rng.uniform(150, 255))
    start = rng.uniform(0, spacing)
    for y in np.arange(start, height, spacing):
        draw.line([(0, y), (width, y)], fill=strength, width=line_width)
    if paper == "squared":
        for x in np.arange(rng.uniform(0, spacing), width, spacing):
            draw.line([(x, 0), (x, height)], fill=strength, width=line_width)
    blues = ((120, 160, 225), (150, 185, 230), (140, 150, 170), (120, 190, 170))
    colour = np.array(blues[int(rng.integers(len(blues)))], dtype=np.float32)
    page = _blend(page, np.asarray(layer, dtype=np.float32) / 255, colour)
    if paper == "ruled" and rng.random() < 0.5:
        margin = Image.new("L", (width, height), 0)
        x = rng.uniform(0.1, 0.3) * width
        ImageDraw.Draw(margin).line([(x, 0), (x, height)], fill=255, width=line_width + 1)
        page = _blend(page, np.asarray(margin, dtype=np.float32) / 255, (225, 110, 120))
    return page


def _blend(page: np.ndarray, amount: np.ndarray, colour) -> np.ndarray:
    """Colour laid over the page where ``amount`` (0-1) says, as ink or print covers paper.

    Ink absorbs light: the page is multiplied by the colour's share of white.
    """
    share = np.asarray(colour, dtype=np.float32) / 255
    return page * (1 - amount[..., None] * (1 - share))


def _writing(
    digits: list[int],
    page_size: tuple[int, int],
    frame_size: tuple[int, int],
    digit_height: float,
    look: _Look,
    style: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """How much ink covers each pixel of the page (0-1): the digits left to right."""
    width, height = page_size
    coverage = np.zeros((height, width), dtype=np.float32)
    pens = {"ballpoint": (0.035, 0.07), "pencil": (0.03, 0.055), "marker": (0.08, 0.13)}
    # A number is written small enough to fit the frame (a digit and its gap about 1.2
    # heights wide).
    digit_height = min(digit_height, 0.8 * frame_size[0] / (1.2 * max(len(digits), 1)))
    boxes = [_digit_ink(d, digit_height, pens[look.pen], style, rng) for d in digits]
    if not boxes:
        return coverage
    gaps = [digit_height * rng.uniform(0.25, 0.6) for _ in boxes[1:]]
    total = sum(box.shape[1] for box in boxes) + sum(gaps)
    # Near the middle of the frame, never so far that the digit leaves it.
    frame_room = np.array(frame_size, dtype=np.float64)
    slack = np.maximum(frame_room - np.array([total, digit_height]), 0) * 0.3
    centre = np.array([width, height]) / 2 + rng.uniform(-1, 1, size=2) * slack
    left = centre[0] - total / 2
    for box, gap in zip(boxes, [*gaps, 0.0], strict=True):
        top = int(round(centre[1] - box.shape[0] / 2 + rng.uniform(-0.05, 0.05) * digit_height))
        x = int(round(left))
        _paste_max(coverage, box, top, x)
        left += box.shape[1] + gap
    return coverage


def _digit_ink(
    digit: int,
    digit_height: float,
    pen_range: tuple[float, float],
    style: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """One digit's ink coverage (0-1), cropped to its box, about ``digit_height`` tall."""
    if style == "mnist_ink":
        return _mnist_ink(digit, digit_height, rng)
    templates = (drawn_digits if style == "pad_strokes" else drawn_variations).TEMPLATES[digit]
    names = sorted(templates)
    template = templates[names[int(rng.integers(len(names)))]]()
    matrix = hand_transform(rng.uniform(0.8, 1.15), rng.uniform(-15, 15), rng.uniform(-5, 5))
    strokes = [np.asarray(stroke, dtype=np.float64) @ matrix.T for stroke in template]
    strokes = [stroke + wobble(len(stroke), rng, 0.012) for stroke in strokes]
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    pen = rng.uniform(*pen_range) * digit_height
    fine = 3  # drawn three times finer, then averaged: a real pen's soft edge
    scale = (digit_height - pen) / max(high[1] - low[1], 1e-6) * fine
    placed = [(stroke - low) * scale + pen * fine / 2 for stroke in strokes]
    extent = (high - low) * scale + pen * fine
    shape = (int(np.ceil(extent[1])) + fine, int(np.ceil(extent[0])) + fine)
    shape = tuple(side + (-side) % fine for side in shape)
    raster = rasterize_strokes(placed, shape, max(pen * fine, 1.0))
    return np.asarray(Image.fromarray(raster).reduce(fine), dtype=np.float32) / 255


_MNIST_CACHE: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _mnist_test_digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded sample's test digits (the shipped model never trained on them)."""
    if "test" not in _MNIST_CACHE:
        from pathlib import Path

        path = Path(__file__).resolve().parents[1].joinpath(*_MNIST_PATH_PARTS)
        with np.load(path) as data:
            _MNIST_CACHE["test"] = (data["x_test"], data["y_test"])
    return _MNIST_CACHE["test"]


def _mnist_ink(digit: int, digit_height: float, rng: np.random.Generator) -> np.ndarray:
    """A real MNIST test digit, enlarged and given a pen's crisp edge."""
    images, labels = _mnist_test_digits()
    choices = np.flatnonzero(labels == digit)
    image = images[choices[int(rng.integers(len(choices)))]]
    rows = np.flatnonzero(image.max(axis=1) > 30)
    cols = np.flatnonzero(image.max(axis=0) > 30)
    cropped = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32) / 255
    scale = digit_height / cropped.shape[0]
    shape = (max(1, round(cropped.shape[1] * scale)), max(1, round(digit_height)))
    enlarged = Image.fromarray(cropped, mode="F").resize(shape, Image.Resampling.BICUBIC)
    values = np.asarray(enlarged, dtype=np.float32)
    # MNIST's soft grey edges, enlarged, are a blur; a pen's edge is sharper.
    return np.clip((values - 0.35) / 0.35, 0, 1)


def _paste_max(target: np.ndarray, box: np.ndarray, top: int, left: int) -> None:
    height, width = target.shape
    t, l_ = max(top, 0), max(left, 0)
    b, r = min(top + box.shape[0], height), min(left + box.shape[1], width)
    if b <= t or r <= l_:
        return
    region = box[t - top : b - top, l_ - left : r - left]
    target[t:b, l_:r] = np.maximum(target[t:b, l_:r], region)


def _ink(page: np.ndarray, coverage: np.ndarray, pen: str, rng: np.random.Generator) -> np.ndarray:
    """The writing laid on the paper in the pen's colour, with a pencil's grain."""
    if pen == "pencil":
        grain = np.clip(rng.normal(0.75, 0.25, size=coverage.shape), 0, 1).astype(np.float32)
        amount = coverage * grain * rng.uniform(0.6, 0.9)
        colour = np.full(3, rng.uniform(70, 110))
    elif pen == "marker":
        colours = ((20, 20, 25), (205, 30, 45), (20, 130, 60), (25, 60, 200), (115, 40, 145),
                   (225, 95, 20))  # fmt: skip
        colour = colours[int(rng.integers(len(colours)))]
        amount = coverage * rng.uniform(0.85, 1.0)
    else:
        colours = ((25, 40, 140), (30, 30, 38), (20, 30, 90))
        colour = colours[int(rng.integers(len(colours)))]
        amount = coverage * rng.uniform(0.8, 1.0)
    return _blend(page, amount, colour)


def _table_past_the_edge(
    page: np.ndarray,
    page_size: tuple[int, int],
    frame_size: tuple[int, int],
    coverage: np.ndarray,
    digit_height: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sometimes the paper ends inside the frame and a darker table shows past its edge.

    The edge lies between the writing (with a margin) and the frame's edge, never over it.
    """
    if rng.random() > 0.25 or not coverage.any():
        return page
    width, height = page_size
    frame_low = (np.array(page_size) - np.array(frame_size)) / 2
    frame_high = frame_low + np.array(frame_size)
    rows, cols = np.flatnonzero(coverage.any(axis=1)), np.flatnonzero(coverage.any(axis=0))
    margin = 0.3 * digit_height
    writing_low = np.array([cols[0], rows[0]]) - margin
    writing_high = np.array([cols[-1], rows[-1]]) + margin
    side = int(rng.integers(4))  # right, left, bottom, top
    axis = 0 if side in (0, 1) else 1
    if side in (0, 2):
        low, high = writing_high[axis], frame_high[axis]
    else:
        low, high = frame_low[axis], writing_low[axis]
    if high - low < 10:
        return page
    edge = (
        rng.uniform(low + 0.2 * (high - low), high)
        if side in (0, 2)
        else rng.uniform(low, high - 0.2 * (high - low))
    )
    coordinate = np.arange(page_size[axis], dtype=np.float32)
    beyond = coordinate > edge if side in (0, 2) else coordinate < edge
    mask = beyond[None, :] if axis == 0 else beyond[:, None]
    mask = np.broadcast_to(mask, (height, width))
    tables = ((95, 70, 50), (60, 60, 65), (150, 120, 90), (40, 45, 55))
    table = np.array(tables[int(rng.integers(len(tables)))], dtype=np.float32)
    texture = 1 + _smooth_noise((height, width), cells=16, rng=rng)[..., None] * 0.08
    return np.where(mask[..., None], table * texture, page)


def _light(page_size: tuple[int, int], light: str, rng: np.random.Generator) -> np.ndarray:
    """How much light falls on each pixel of the page (about 0.2-1)."""
    width, height = page_size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xs / width - 0.5, ys / height - 0.5
    vignette = 1 - rng.uniform(0.0, 0.25) * (xs**2 + ys**2) * 2
    if light == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        along = (xs * np.cos(angle) + ys * np.sin(angle)) / 0.5  # -1 .. 1 over the frame
        darkest = rng.uniform(0.25, 0.5)
        return vignette * np.clip(1 - (1 - darkest) * (along + 1) / 2 * 1.3, darkest, 1)
    if light == "shadow":
        return vignette * _shadow((height, width), rng)
    return vignette


def _shadow(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A soft-edged shadow (a phone or a hand) over part of the page, maybe over the digit."""
    height, width = shape
    mask = Image.new("L", (width, height), 0)
    corner = rng.uniform([0, 0], [width, height])
    points = [tuple(corner + rng.normal(0, 1, 2) * [width * 0.5, height * 0.5]) for _ in range(4)]
    # Anchor the shadow at one side of the page so it reaches in from outside.
    side_x = 0 if rng.random() < 0.5 else width
    points += [(side_x, rng.uniform(0, height)), (side_x, rng.uniform(0, height))]
    centre = np.mean(points, axis=0)
    points.sort(key=lambda p: np.arctan2(p[1] - centre[1], p[0] - centre[0]))
    ImageDraw.Draw(mask).polygon(points, fill=255)
    soft = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.01, 0.04) * width))
    darkness = rng.uniform(0.35, 0.6)
    return 1 - (1 - darkness) * np.asarray(soft, dtype=np.float32) / 255


def _frame_corners_on_page(
    size: tuple[int, int], look: _Look, rng: np.random.Generator
) -> np.ndarray:
    """Where the frame's corners fall on the page, from the page's centre: turned and tilted."""
    width, height = size
    angle = np.radians(look.turn)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centred = _corners(size) - [width / 2, height / 2]
    shifted = centred + rng.uniform(-1, 1, size=(4, 2)) * look.tilt * np.array([width, height])
    return shifted @ rotation.T


def _corners(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)


def _camera(page: np.ndarray, size: tuple[int, int], corners: np.ndarray) -> np.ndarray:
    """The frame a phone sees: the page turned and tilted in perspective (uint8 RGB)."""
    page_height, page_width = page.shape[:2]
    on_page = corners + [page_width / 2, page_height / 2]
    coefficients = _perspective_coefficients(_corners(size), on_page)
    picture = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    return np.asarray(
        picture.transform(
            size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
        )
    )


def _perspective_coefficients(frame: np.ndarray, page: np.ndarray) -> tuple[float, ...]:
    """Pillow's 8 coefficients mapping each frame pixel to the page pixel it shows."""
    rows, values = [], []
    for (x, y), (u, v) in zip(frame, page, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    return tuple(np.linalg.solve(np.array(rows), np.array(values)).tolist())


def _jpeg(frame: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
