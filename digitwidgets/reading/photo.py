"""Find the ink of a digit written on paper in a phone photo.

A photo of paper is not a white-on-black digit: the light is uneven, a shadow may cross the
page, the paper may be ruled or squared, the pen may be a grey pencil and the digit small in
a large frame. The steps, each done with scikit-image:

1. **Downscale** the photo so its longer side is at most ``WORKING_SIDE`` pixels.
2. **Flatten the page**: estimate the light falling on the paper at a large scale (a grey
   closing that fills in every stroke, on a small copy) and divide it out, so the paper is
   1.0 everywhere, in shadow and in light.
3. **Find the ink** with a local (Sauvola) threshold on the flattened page, and a floor on
   contrast so the paper's grain is not ink.
4. **Remove ruled and squared lines**: straight lines found by a Hough transform that run
   across most of the frame and are thin; where a stroke crosses a line, the crossing is
   given back to the stroke.
5. **Label the ink**: connected ink (a pencil's grain joined first), less specks.

``photo_digits`` groups the ink into digits and ``photo_reading`` frames each as MNIST was
made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

WORKING_SIDE = 640
"""Photos are read at most this many pixels on their longer side: a digit needs no more."""

# The closing that estimates the light fills strokes up to this fraction of the shorter side
# (a marker on a digit filling the frame), measured on a copy this many pixels on that side.
_LIGHT_REACH = 0.12
_LIGHT_COPY_SIDE = 120
# A digit blurred to a smudge is filled in at this reach (a share of the shorter side).
_SMUDGE_REACH = 0.35
# Sauvola's window as a fraction of the shorter side, and its k.
_WINDOW = 0.15
_SAUVOLA_K = 0.2
# Darker than the paper by less than this share is paper grain, a crease or JPEG noise.
_MIN_INK_CONTRAST = 0.12
# Faint lines, broken by the threshold, are whole at this contrast: lines are found there.
_FAINT_CONTRAST = 0.07
# Darker than the paper by more than this is ink wherever it lies (the inside of a thick stroke,
# where a local threshold sees no contrast).
_SURE_INK_CONTRAST = 0.45
# Ink groups smaller than this share of the frame's area are specks.
_SPECK_AREA = 0.0002
# A ruled or squared line: proposed with at least this many votes (a share of the shorter
# side), no thicker than this share of it, inked along this share of its length at least.
# A line thicker than the thin share is dark enough to be inked along nearly all of it
# (two parallel strokes of a 4 are thick and inked along two thirds of the frame).
_LINE_VOTES = 0.35
_THICKEST_LINE = 0.04
_THIN_LINE = 0.025
_MOST_LINES = 40
# A line's pixels are those this far beyond its half width (two measured worse: the digit's
# strokes lose more where they cross).
_LINE_MARGIN = 1.0
# Lines are looked for within 20 degrees of horizontal and of vertical.
_LINE_ANGLES = np.radians(
    np.concatenate([np.arange(-90, -69.5, 0.5), np.arange(70, 90, 0.5), np.arange(-20, 20.5, 0.5)])
)
# Lines within this many degrees of each other are one family (perspective bends a little);
# a family member must be inked along this share of its length, a line alone along this one.
_PARALLEL_DEGREES = 3.0
# A proposed line may lie this many pixels off the line's centre at the frame's edge.
_DRIFT = 6
_FAMILY_COVERAGE = 0.65
_LONE_LINE_COVERAGE = 0.92


@dataclass(frozen=True, eq=False)
class PageInk:
    """The ink found on a photographed page, at the working size, with the steps that found it.

    Attributes:
        photo: the grey photo, downscaled, float32 in [0, 1].
        flattened: the page with the light divided out: paper near 1, ink darker.
        ink: bool, the ink found (lines and specks removed).
        lines: bool, the ruled or squared lines removed.
        labels: int32, ``ink``'s connected groups numbered from 1.
        paper_level: the paper's median brightness in the photo, 0-1.
    """

    photo: np.ndarray
    flattened: np.ndarray
    ink: np.ndarray
    lines: np.ndarray
    labels: np.ndarray
    paper_level: float

    @property
    def strength(self) -> np.ndarray:
        """How dark each pixel is against its paper, 0 (paper) to 1 (black), float32."""
        return np.clip(1.0 - self.flattened, 0.0, 1.0)


def working_copy(grey: np.ndarray) -> np.ndarray:
    """The grey photo (float, 0-1) downscaled so its longer side is at most ``WORKING_SIDE``."""
    height, width = grey.shape
    factor = WORKING_SIDE / max(height, width)
    if factor >= 1:
        return grey.astype(np.float32)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    picture = Image.fromarray(grey.astype(np.float32), mode="F")
    return np.asarray(picture.resize(size, Image.Resampling.BOX), dtype=np.float32)


def find_ink(grey: np.ndarray) -> PageInk:
    """Flatten the page, threshold the ink, remove lines and specks (see the module docstring).

    Args:
        grey: a float (H, W) photo in [0, 1], dark ink on light paper, any size.
    """
    from skimage import measure, morphology

    photo = working_copy(grey)
    light = _light_on_page(photo)
    flattened = np.clip(photo / np.maximum(light, 1e-3), 0.0, 1.0).astype(np.float32)
    strength = 1.0 - flattened
    short_side = min(photo.shape)
    local = _sauvola_threshold(flattened, _WINDOW * short_side)
    ink = ((flattened < local) & (strength > _MIN_INK_CONTRAST)) | (strength > _SURE_INK_CONTRAST)
    lines = _straight_lines(ink, strength)
    ink &= ~lines
    # A pencil's grain breaks a stroke into dots a pixel apart: join them before counting.
    joined = morphology.closing(ink, morphology.disk(1, decomposition="sequence")) | ink
    labels = measure.label(joined, connectivity=2)
    labels = _without_specks(labels, _SPECK_AREA * photo.size)
    return PageInk(
        photo=photo,
        flattened=flattened,
        ink=labels > 0,
        lines=lines,
        labels=labels,
        paper_level=float(np.median(light)),
    )


def smudge_strength(photo: np.ndarray) -> np.ndarray:
    """How dark each pixel is against paper lit as far as a whole digit's width around it.

    A digit blurred out of focus is a smudge wider than the light's usual reach fills: the
    page flattened for ink divides it out. Filled this far, it stands out again.
    """
    light = _light_on_page(photo, _SMUDGE_REACH)
    return np.clip(1.0 - photo / np.maximum(light, 1e-3), 0.0, 1.0)


def _sauvola_threshold(flattened: np.ndarray, window: float) -> np.ndarray:
    """Sauvola's local threshold, computed on a half-size copy: it changes slowly anyway."""
    from skimage import filters

    height, width = flattened.shape
    half = _resized(flattened, (max(1, width // 2), max(1, height // 2)))
    size = max(3, int(window / 2) | 1)
    threshold = filters.threshold_sauvola(half, window_size=size, k=_SAUVOLA_K)
    return _resized(threshold.astype(np.float32), (width, height), Image.Resampling.BILINEAR)


def _resized(values: np.ndarray, size: tuple[int, int], resample=Image.Resampling.BOX):
    picture = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), mode="F")
    return np.asarray(picture.resize(size, resample), dtype=np.float32)


def _light_on_page(photo: np.ndarray, reach: float = _LIGHT_REACH) -> np.ndarray:
    """The paper's brightness under the light, at every pixel: the photo with its ink filled.

    A grey closing (the brightest, then the darkest, within a disk wider than any stroke:
    ``reach`` of the shorter side) on a small copy replaces each stroke by the paper around
    it; it keeps a shadow's sharp edge where a blur would smear it.
    """
    from skimage import filters, morphology

    height, width = photo.shape
    factor = min(1.0, _LIGHT_COPY_SIDE / min(height, width))
    small_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = np.asarray(
        Image.fromarray(photo, mode="F").resize(small_size, Image.Resampling.BOX),
        dtype=np.float32,
    )
    radius = max(1, round(reach * min(small.shape)))
    closed = morphology.closing(small, morphology.disk(radius, decomposition="sequence"))
    closed = filters.gaussian(closed, sigma=1.0, preserve_range=True)
    light = Image.fromarray(closed.astype(np.float32), mode="F").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    return np.asarray(light, dtype=np.float32)


def _straight_lines(ink: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """The pixels of ruled or squared lines: straight, thin, across most of the frame.

    A Hough transform proposes near-horizontal and near-vertical lines (a page is turned by
    at most about 20 degrees in a photo) where even faint ink is (printed lines are light
    and break up under the threshold); each is laid onto the line's own centre along its
    length (the transform's angle steps are coarse: a line a degree off drifts by its own
    width across the frame), then kept when it is thin and inked along most of its length
    across the frame, which a digit's stroke, even a long 1's, is not. Where a stroke
    crosses a line, the crossing is the stroke's: a closing of what remains bridges it.
    """
    from skimage import morphology, transform

    faint = strength > _FAINT_CONTRAST
    height, width = ink.shape
    short_side = min(height, width)
    # Proposed on a half-size copy (a pixel set where two of its four are), refined after.
    even_height, even_width = height // 2 * 2, width // 2 * 2
    blocks = faint[:even_height, :even_width].reshape(height // 2, 2, width // 2, 2)
    coarse = blocks.sum(axis=(1, 3)) >= 2
    votes, thetas, distances = transform.hough_line(coarse, theta=_LINE_ANGLES)
    _, found_thetas, found_distances = transform.hough_line_peaks(
        votes,
        thetas,
        distances,
        min_distance=2,
        min_angle=2,
        threshold=_LINE_VOTES * short_side / 2,
        num_peaks=_MOST_LINES,
    )
    # A coarse pixel's centre is at 2i + 0.5 at full size.
    found_distances = 2 * found_distances + 0.5 * (np.cos(found_thetas) + np.sin(found_thetas))
    widest = max(2.0, _THICKEST_LINE * short_side)
    thin = max(2.0, _THIN_LINE * short_side)
    found = []
    for theta, distance in zip(found_thetas, found_distances, strict=True):
        # The narrower of the line as proposed and as laid on its centre: a line beside
        # something darker (a table's edge) may be pulled onto it.
        profiles = [
            profile
            for profile in (
                _line_profile(ink, faint, *_on_centre(strength, theta, distance, widest), widest),
                _line_profile(ink, faint, theta, distance, widest),
            )
            if profile is not None
        ]
        if not profiles:
            continue
        profile = min(profiles, key=lambda profile: profile[4])
        *line, band = profile
        if band <= thin or line[3] >= _LONE_LINE_COVERAGE:
            found.append(tuple(line))
    ruling = _ruling(found)
    lines = np.zeros_like(ink)
    if not ruling:
        return lines
    rows, cols = np.indices(ink.shape, sparse=True)
    for theta, centre, line_width in ruling:
        off_line = np.abs(cols * np.cos(theta) + rows * np.sin(theta) - centre)
        lines |= off_line <= line_width / 2 + _LINE_MARGIN
    lines &= ink
    rest = ink & ~lines
    thickest = max(line_width for _, _, line_width in ruling)
    bridging = morphology.disk(int(np.ceil(thickest / 2)) + 2, decomposition="sequence")
    return lines & ~morphology.closing(rest, bridging)


def _ruling(
    found: list[tuple[float, float, float, float]],
) -> list[tuple[float, float, float]]:
    """The proposed lines that are ruling: (angle, distance, width) of each.

    Ruling comes in families of parallel lines of about one width: a member is kept when
    inked along most of its length. A line alone (a margin, or a long 1 with nothing
    parallel) is kept only when inked along nearly all of it, which no digit's stroke is.
    The same line proposed twice at nearly one place counts once.
    """
    distinct: list[tuple[float, float, float, float]] = []
    for line in sorted(found, key=lambda line: -line[3]):
        if not any(_same_line(line, other) for other in distinct):
            distinct.append(line)
    kept = []
    for theta, centre, line_width, coverage in distinct:
        family = [other for other in distinct if _parallel(other[0], theta)]
        usual_width = float(np.median([other[2] for other in family]))
        if len(family) >= 2 and line_width <= 2 * usual_width + 2:
            needed = _FAMILY_COVERAGE
        else:
            needed = _LONE_LINE_COVERAGE
        if coverage >= needed:
            kept.append((theta, centre, line_width))
    return kept


def _parallel(theta: float, other: float) -> bool:
    return abs(np.sin(theta - other)) < np.sin(np.radians(_PARALLEL_DEGREES))


def _same_line(line: tuple[float, ...], other: tuple[float, ...]) -> bool:
    if not _parallel(line[0], other[0]):
        return False
    # (theta, distance) and (theta - 180 degrees, -distance) are one line.
    sign = 1.0 if np.cos(line[0] - other[0]) > 0 else -1.0
    return abs(line[1] - sign * other[1]) <= line[2] + other[2] + 2


def _on_centre(
    strength: np.ndarray, theta: float, distance: float, widest: float
) -> tuple[float, float]:
    """A proposed line moved onto the darkest track near it: (angle, distance) refitted.

    At each step along the line the darkest offset across it (within a line's width and
    the transform's drift) is its centre there; a straight line fitted to those centres,
    then again to those within two pixels of the last fit, is the line. Steps darker than
    the line mostly is are left out: a stroke along or across it would pull it away.
    Unchanged when too little of it is found.
    """
    span = int(np.ceil(widest)) + _DRIFT
    sampled = _sampled((strength,), theta, distance, span)
    if sampled is None:
        return theta, distance
    (values,), steps, offsets = sampled
    darkest = values.max(axis=0)
    usual = float(np.median(darkest))
    # Where the line is, it stands out of the paper (elsewhere the offset is noise), no
    # darker than a line is (a stroke along or across it is darker).
    clear = (darkest >= 0.5 * usual + _FAINT_CONTRAST / 2) & (darkest <= 1.5 * usual + 0.05)
    centres = offsets[values.argmax(axis=0)].astype(np.float64)
    chosen = clear
    for _ in range(3):
        if chosen.sum() < _LINE_VOTES * len(steps):
            return theta, distance
        slope, shift = np.polyfit(steps[chosen], centres[chosen], 1)
        chosen = clear & (np.abs(centres - (shift + slope * steps)) <= 2.0)
    # The fitted track is (distance + shift) * normal + step * (along + slope * normal).
    turn = float(np.arctan(slope))
    return float(theta - turn), float((distance + shift) * np.cos(turn))


def _sampled(
    maps: tuple[np.ndarray, ...], theta: float, distance: float, span: int
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray] | None:
    """Each map along a line at each offset across it, -span to span: (offsets x steps).

    Returns the samples (0 off the frame), the steps along the line and the offsets, or
    None when the line misses the frame.
    """
    height, width = maps[0].shape
    normal = np.array([np.cos(theta), np.sin(theta)])
    along = np.array([-np.sin(theta), np.cos(theta)])
    reach = int(np.hypot(height, width))
    steps = np.arange(-reach, reach, 1.0)
    base = distance * normal[None, :] + steps[:, None] * along[None, :]
    on_frame = (
        (base[:, 0] > -0.5) & (base[:, 0] < width - 0.5)
        & (base[:, 1] > -0.5) & (base[:, 1] < height - 0.5)
    )  # fmt: skip
    if not on_frame.any():
        return None
    base, steps = base[on_frame], steps[on_frame]
    offsets = np.arange(-span, span + 1)
    xs = np.rint(base[None, :, 0] + offsets[:, None] * normal[0]).astype(np.intp)
    ys = np.rint(base[None, :, 1] + offsets[:, None] * normal[1]).astype(np.intp)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    where = np.where(inside, ys * width + xs, 0)
    return [np.where(inside, values.ravel()[where], 0) for values in maps], steps, offsets


def _line_profile(
    ink: np.ndarray, faint: np.ndarray, theta: float, distance: float, widest: float
) -> tuple[float, float, float, float, float] | None:
    """A proposed line as (angle, centre, width, share of its length inked, band), or None.

    Both maps are sampled along the line at each offset across it: the offsets where the
    faint ink runs along at least half as much of the line as at the best one make its
    band (None when wider than ``widest``: a stroke, an edge, a shadow's rim); the ink's
    own offsets there give the width to remove.
    """
    span = int(np.ceil(widest)) + 3
    sampled = _sampled((faint, ink), theta, distance, span)
    if sampled is None:
        return None
    (faint_along, ink_along), steps, offsets = sampled
    per_offset = faint_along.sum(axis=1) / len(steps)
    thick = _run_around_peak(per_offset >= per_offset.max() / 2, int(np.argmax(per_offset)))
    if thick.sum() > widest:
        return None
    inked = ink_along[thick].sum(axis=1)
    line_width = float(max(1, (inked >= inked.max() / 2).sum())) if inked.max() > 0 else 1.0
    centre = float(np.average(offsets[thick], weights=per_offset[thick]))
    # The whole length of a line is inked at some offset, where a stroke or a gap is not.
    coverage = float(faint_along[thick].any(axis=0).mean())
    return float(theta), distance + centre, line_width, coverage, float(thick.sum())


def _run_around_peak(above: np.ndarray, peak: int) -> np.ndarray:
    """The unbroken run of ``above`` that holds ``peak``: a line's own band, not ink beside it."""
    run = np.zeros_like(above)
    first = last = peak
    while first > 0 and above[first - 1]:
        first -= 1
    while last < len(above) - 1 and above[last + 1]:
        last += 1
    run[first : last + 1] = True
    return run


def _without_specks(labels: np.ndarray, smallest: float) -> np.ndarray:
    areas = np.bincount(labels.ravel())
    small = areas < smallest
    small[0] = False
    if small.any():
        labels = labels.copy()
        labels[small[labels]] = 0
    return labels
