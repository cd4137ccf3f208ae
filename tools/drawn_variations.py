"""A broader drawn-digit test set: other writing styles, drawn in every way people draw.

``drawn_digits.py`` draws its own templates mid-size, near the centre, with a mid-size pen.
People draw differently, so this set has **other** stroke templates (serif and curved-flag
1s, looped and angular 2s, two-stroke and cusped 3s, slanted-open and one-stroke-closed 4s,
hooked 6s and 9s, crossed 7s, an 8 drawn as an S and back...) and draws each class in
seven **variations**, the same number of digits in each:

- ``normal``: 40%-80% of the 280 px pad's height, a 12-24 px pen, anywhere it fits;
- ``small``: a fifth to a third of the pad's height, an 8-20 px pen (the pad's own 18 px
  pen fills the loops of such a digit);
- ``large``: 85%-100% of the pad's height;
- ``corner``: a quarter to a half of the pad, pushed into one of its corners;
- ``thin``: a 1-4 px pen;
- ``thick``: a 28-40 px pen;
- ``shaky``: a trembling hand, a jitter of a few pixels every few pixels along each stroke.

Every digit also gets its own slant (up to +-15 degrees), turn (up to +-8 degrees), width
(0.8-1.2) and slow wobble, from a seed: sample ``i`` depends only on the seed and ``i``. All
points stay on the pad, as a pad records them. The set is for measuring only: nothing in
the project trains on it, and its templates are not the other set's. NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from digitwidgets.reading.preprocessing import Drawing

from .drawn_digits import DrawnDigits
from .strokes import PAD_SIZE, Template, arc, curve, hand_transform, line, resampled, wobble

VARIATIONS = ("normal", "small", "large", "corner", "thin", "thick", "shaky")
DEFAULT_PER_CLASS = 40
DEFAULT_SEED = 20261128

# (lowest, highest) digit height as a fraction of the pad, and pen width in pad pixels.
_HEIGHTS = {
    "normal": (0.4, 0.8),
    "small": (0.2, 0.34),
    "large": (0.85, 1.0),
    "corner": (0.25, 0.5),
    "thin": (0.3, 0.9),
    "thick": (0.5, 0.9),
    "shaky": (0.35, 0.85),
}
_PENS = {
    "normal": (12, 24),
    "small": (8, 20),
    "large": (12, 30),
    "corner": (10, 24),
    "thin": (1, 4),
    "thick": (28, 40),
    "shaky": (8, 24),
}


def make_varied_drawn_digits(
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = DEFAULT_SEED,
    variations: tuple[str, ...] = VARIATIONS,
) -> DrawnDigits:
    """``per_class`` digits of each class in each variation, the same for the same seed.

    Samples run through the variations, and within each through the classes 0..9 in turn,
    so every variation and every digit has ``per_class`` samples. ``styles`` are
    ``"<variation>:<digit>:<template>"``.

    Raises:
        ValueError: for a variation not in ``VARIATIONS``.
    """
    unknown = [name for name in variations if name not in VARIATIONS]
    if unknown:
        raise ValueError(f"Unknown variations {unknown}; choose from {list(VARIATIONS)}.")
    drawings, labels, styles = [], [], []
    for variation in variations:
        number = VARIATIONS.index(variation)
        for index in range(per_class * 10):
            digit = index % 10
            rng = np.random.default_rng([seed, number, index])
            names = sorted(TEMPLATES[digit])
            name = names[rng.integers(len(names))]
            drawings.append(_draw(TEMPLATES[digit][name](), variation, rng))
            labels.append(digit)
            styles.append(f"{variation}:{digit}:{name}")
    return DrawnDigits(tuple(drawings), np.array(labels, dtype=np.uint8), tuple(styles), seed)


def variation_of(style: str) -> str:
    """The variation named in a ``styles`` entry of ``make_varied_drawn_digits``."""
    return style.split(":", 1)[0]


def _draw(template: Template, variation: str, rng: np.random.Generator) -> Drawing:
    """Place one template on the pad in the given variation."""
    strokes = [np.asarray(stroke, dtype=np.float64) for stroke in template]
    points = np.concatenate(strokes)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    # Drawn in this order, so that a seed gives the digits it always gave.
    linear = hand_transform(
        slant_degrees=rng.uniform(-15, 15),
        turn_degrees=rng.uniform(-8, 8),
        width=rng.uniform(0.8, 1.2),
    )
    moved = [(stroke - centre) @ linear.T for stroke in strokes]
    moved = [stroke + wobble(len(stroke), rng, 0.012) for stroke in moved]
    extent = np.ptp(np.concatenate(moved), axis=0)
    pen_width = float(rng.uniform(*_PENS[variation]))
    margin = min(pen_width / 2, 6.0)
    # Every point stays on the pad: a pad records no point outside itself.
    height = rng.uniform(*_HEIGHTS[variation]) * (PAD_SIZE - 2 * margin)
    scale = min(height / extent[1], (PAD_SIZE - 2 * margin) / extent[0])
    moved = [stroke * scale for stroke in moved]
    if variation == "shaky":
        moved = [_tremble(stroke, rng) for stroke in moved]
    all_points = np.concatenate(moved)
    low, high = all_points.min(axis=0), all_points.max(axis=0)
    room_low, room_high = margin - low, PAD_SIZE - margin - high
    if variation == "corner":
        # Within a few pixels of the pad's edges, in one of the four corners.
        near = rng.uniform(0, 6, size=2)
        corner = rng.integers(2, size=2)
        offset = np.where(corner == 0, room_low + near, room_high - near)
    else:
        offset = rng.uniform(room_low, np.maximum(room_low, room_high))
    placed = [np.clip(stroke + offset, 0, PAD_SIZE - 1) for stroke in moved]
    return Drawing(
        strokes=tuple(tuple(map(tuple, np.round(stroke, 1).tolist())) for stroke in placed),
        width=PAD_SIZE,
        height=PAD_SIZE,
        pen_width=pen_width,
    )


def _tremble(stroke: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The stroke resampled every 3 pixels, each point jittered 1-3.5 px, slightly smoothed.

    The jitter is smoothed over three neighbours, as a hand's tremor is not white noise.
    """
    if len(stroke) < 2:
        return stroke
    points = resampled(stroke, spacing=3.0)
    jitter = rng.normal(0, rng.uniform(1.0, 3.5), size=(len(points) + 2, 2))
    jitter = (jitter[:-2] + jitter[1:-1] + jitter[2:]) / np.sqrt(3)
    return points + jitter


# ---------------------------------------------------------------------------------------------
# Templates, other than drawn_digits.TEMPLATES: a box about 0.7 wide and 1 high, y downwards.

TEMPLATES: dict[int, dict[str, Callable[[], Template]]] = {
    0: {
        "egg": lambda: [
            curve(
                (0.4, 0.0),
                (0.1, 0.2),
                (0.02, 0.6),
                (0.3, 1.0),
                (0.62, 0.75),
                (0.6, 0.25),
                (0.35, 0.02),
            )
        ],
        "clockwise": lambda: [arc(0.33, 0.5, 0.3, 0.5, -90, 280)],
        "slanted": lambda: [
            curve(
                (0.55, 0.05),
                (0.2, 0.15),
                (0.02, 0.7),
                (0.2, 1.0),
                (0.55, 0.8),
                (0.68, 0.2),
                (0.5, 0.0),
            )
        ],
    },
    1: {
        "serif": lambda: [
            line((0.18, 0.15), (0.38, 0.0), (0.38, 1.0)),
            line((0.18, 1.0), (0.58, 1.0)),
        ],
        "curved_flag": lambda: [
            curve((0.05, 0.3), (0.25, 0.15), (0.4, 0.0))[:-1] + line((0.4, 0.0), (0.38, 1.0)),
        ],
        "long_flag": lambda: [line((0.0, 0.38), (0.42, 0.0), (0.42, 1.0))],
    },
    2: {
        "looped": lambda: [
            curve(
                (0.05, 0.2),
                (0.3, 0.0),
                (0.6, 0.15),
                (0.45, 0.55),
                (0.1, 0.92),
                (0.2, 0.78),
                (0.3, 0.95),
                (0.7, 0.95),
            )
        ],
        "angular": lambda: [
            curve((0.05, 0.2), (0.35, 0.0), (0.62, 0.2))[:-1]
            + line((0.62, 0.2), (0.05, 1.0), (0.7, 0.98)),
        ],
        "wide_base": lambda: [
            arc(0.33, 0.3, 0.3, 0.3, 190, 360)
            + curve((0.63, 0.3), (0.4, 0.65), (0.0, 1.0))[1:]
            + line((0.0, 1.0), (0.75, 1.0))[1:],
        ],
    },
    3: {
        "two_strokes": lambda: [
            arc(0.32, 0.25, 0.28, 0.25, 200, 450),
            arc(0.32, 0.74, 0.33, 0.26, 270, 520),
        ],
        "cusp": lambda: [
            curve((0.05, 0.12), (0.4, 0.0), (0.6, 0.2), (0.25, 0.45))
            + curve((0.25, 0.45), (0.65, 0.62), (0.55, 0.95), (0.02, 0.88))[1:],
        ],
        "flat_serif": lambda: [
            line((0.02, 0.0), (0.6, 0.0))
            + curve((0.6, 0.0), (0.3, 0.38))[1:]
            + curve((0.3, 0.38), (0.62, 0.55), (0.55, 0.92), (0.2, 1.0), (0.0, 0.85))[1:],
        ],
    },
    4: {
        "open_slanted": lambda: [
            line((0.28, 0.0), (0.0, 0.58), (0.72, 0.58)),
            line((0.6, 0.02), (0.5, 1.0)),
        ],
        "closed_one_stroke": lambda: [
            line((0.72, 0.65), (0.0, 0.65), (0.52, 0.0), (0.52, 1.0)),
        ],
        "crossed": lambda: [
            line((0.3, 0.0), (0.05, 0.55), (0.75, 0.55)),
            line((0.55, 0.2), (0.55, 1.0)),
        ],
    },
    5: {
        "hooked_top": lambda: [
            line((0.65, 0.02), (0.15, 0.0), (0.12, 0.42))
            + curve((0.12, 0.42), (0.4, 0.36), (0.64, 0.62), (0.5, 0.94), (0.03, 0.86))[1:],
        ],
        "angular": lambda: [
            line((0.14, 0.0), (0.1, 0.42), (0.5, 0.42), (0.65, 0.68))
            + curve((0.65, 0.68), (0.45, 0.97), (0.02, 0.9))[1:],
            line((0.14, 0.0), (0.66, 0.0)),
        ],
        "small_belly": lambda: [
            line((0.2, 0.0), (0.14, 0.5)) + arc(0.36, 0.73, 0.27, 0.25, 220, 500),
            line((0.2, 0.0), (0.62, 0.0)),
        ],
    },
    6: {
        "hooked": lambda: [
            curve((0.65, 0.12), (0.5, 0.0), (0.25, 0.1), (0.05, 0.6))
            + arc(0.33, 0.72, 0.28, 0.27, 180, 180 - 350),
        ],
        "round": lambda: [
            curve((0.55, 0.0), (0.2, 0.25), (0.05, 0.68)),
            arc(0.35, 0.7, 0.3, 0.3, 0, 360),
        ],
        "tall_loop": lambda: [
            curve((0.6, 0.0), (0.3, 0.1), (0.05, 0.5)) + arc(0.33, 0.66, 0.28, 0.34, 180, -170),
        ],
    },
    7: {
        "crossed": lambda: [
            line((0.0, 0.0), (0.68, 0.0), (0.3, 1.0)),
            line((0.2, 0.52), (0.66, 0.5)),
        ],
        "long_top": lambda: [line((0.0, 0.02), (0.72, 0.0), (0.45, 1.0))],
        "curved_crossed": lambda: [
            line((0.02, 0.04), (0.68, 0.0)) + curve((0.68, 0.0), (0.42, 0.45), (0.35, 1.0))[1:],
            line((0.25, 0.48), (0.65, 0.46)),
        ],
    },
    8: {
        "s_and_back": lambda: [
            curve(
                (0.62, 0.12),
                (0.35, 0.0),
                (0.1, 0.15),
                (0.2, 0.4),
                (0.55, 0.6),
                (0.62, 0.85),
                (0.35, 1.0),
                (0.08, 0.85),
                (0.15, 0.6),
                (0.5, 0.4),
                (0.6, 0.2),
                (0.55, 0.08),
            )
        ],
        "snowman": lambda: [
            arc(0.4, 0.22, 0.2, 0.22, -90, 270),
            arc(0.35, 0.72, 0.32, 0.28, -90, 270),
        ],
        "big_bottom": lambda: [
            arc(0.35, 0.2, 0.18, 0.2, 90, 90 + 360),
            arc(0.35, 0.7, 0.35, 0.3, -90, 270),
        ],
    },
    9: {
        "hooked": lambda: [
            arc(0.33, 0.27, 0.28, 0.26, 0, -362)
            + curve((0.61, 0.3), (0.62, 0.8), (0.45, 1.0), (0.15, 0.92))[1:],
        ],
        "round": lambda: [
            arc(0.33, 0.3, 0.3, 0.3, 0, -360),
            line((0.63, 0.1), (0.58, 1.0)),
        ],
        "small_loop": lambda: [
            arc(0.38, 0.2, 0.22, 0.2, 10, -355) + curve((0.6, 0.22), (0.5, 0.65), (0.35, 1.0)),
        ],
    },
}
