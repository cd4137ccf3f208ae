"""A drawn-digit test set made here, not taken from MNIST: digits as a person draws them on a pad.

Each digit starts from a stroke template (several writing styles per class: a 1 with or
without a flag and a base, an open or closed 4, a 7 with or without a bar, a 9 with a
straight or curved tail...), given as point lists in a unit box. Every sample then gets its
own seeded variation, as people draw: size (the digit's height fills 30%-90% of a 280x280
pad), position (anywhere it fits, seldom centred), slant (shear up to +-20 degrees),
rotation (up to +-10 degrees), a wobble of the points and a pen 8-30 pixels wide. The strokes
are rasterized by the pad's own code path, ``Drawing.rasterize``.

The set is for measuring only: nothing in the project trains on it. NumPy and Pillow only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitwidgets.reading.preprocessing import Drawing, plain_resize, preprocess_digit

from .strokes import PAD_SIZE, Stroke, Template, arc, curve, hand_transform, line, wobble

DEFAULT_PER_CLASS = 60
DEFAULT_SEED = 20240607


@dataclass(frozen=True, eq=False)
class DrawnDigits:
    """Drawn digits with their labels and the name of the writing style of each."""

    drawings: tuple[Drawing, ...]
    labels: np.ndarray  # uint8 (N,)
    styles: tuple[str, ...]
    seed: int

    def __len__(self) -> int:
        return len(self.drawings)

    def pad_images(self) -> np.ndarray:
        """The drawings as the pad rasterizes them: uint8 (N, 280, 280), ink 255 on 0."""
        return np.stack([drawing.rasterize() for drawing in self.drawings])

    def model_inputs(self, preprocessing: str = "mnist") -> np.ndarray:
        """(N, 28, 28) float32 model inputs in [0, 1], ink high.

        Args:
            preprocessing: ``"mnist"`` (crop, 20 px, centred by mass: ``preprocess_digit``)
                or ``"plain"`` (the whole pad squeezed to 28x28: ``plain_resize``).

        Raises:
            ValueError: for another ``preprocessing``.
        """
        if preprocessing not in ("mnist", "plain"):
            raise ValueError(f"preprocessing must be 'mnist' or 'plain', not {preprocessing!r}.")
        images = []
        for drawing in self.drawings:
            pad = drawing.rasterize()
            if preprocessing == "plain":
                images.append(plain_resize(pad))
            else:
                images.append(preprocess_digit(pad).image)
        return np.stack(images).astype(np.float32)

    def accuracy(self, model, preprocessing: str = "mnist") -> float:
        """The fraction of these digits that ``model`` reads right after ``preprocessing``."""
        return predicted_accuracy(model, self.model_inputs(preprocessing), self.labels)


def predicted_accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of ``images`` (N, 28, 28) that ``model`` classifies as ``labels``."""
    probabilities = model.predict(np.asarray(images, dtype=np.float32), batch_size=256, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))


def make_drawn_digits(per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED) -> DrawnDigits:
    """Generate ``per_class`` drawn digits of each class, the same ones for the same seed.

    Samples are ordered 0, 1, ..., 9, 0, 1, ... so any prefix covers the classes evenly.
    Sample ``i`` depends only on ``seed`` and ``i``.
    """
    drawings, labels, styles = [], [], []
    for index in range(per_class * 10):
        digit = index % 10
        rng = np.random.default_rng([seed, index])
        style_names = sorted(TEMPLATES[digit])
        style = style_names[rng.integers(len(style_names))]
        drawings.append(_vary(TEMPLATES[digit][style](), rng))
        labels.append(digit)
        styles.append(f"{digit}:{style}")
    return DrawnDigits(tuple(drawings), np.array(labels, dtype=np.uint8), tuple(styles), seed)


def _vary(template: Template, rng: np.random.Generator) -> Drawing:
    """Place one template on the pad as a person might draw it."""
    strokes = [np.asarray(stroke, dtype=np.float64) for stroke in template]
    points = np.concatenate(strokes)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    # Drawn in this order, so that a seed gives the digits it always gave.
    linear = hand_transform(
        width=rng.uniform(0.8, 1.25),
        slant_degrees=rng.uniform(-20, 20),
        turn_degrees=rng.uniform(-10, 10),
    )
    moved = [(stroke - centre) @ linear.T for stroke in strokes]
    moved = [stroke + wobble(len(stroke), rng, 0.015) for stroke in moved]
    all_points = np.concatenate(moved)
    extent = all_points.max(axis=0) - all_points.min(axis=0)
    digit_height = rng.uniform(0.3, 0.9) * PAD_SIZE
    # A thick pen on a small digit fills its loops; people shrink their writing only so far.
    pen_width = float(min(rng.uniform(8, 30), max(8.0, 0.22 * digit_height)))
    margin = pen_width / 2 + 2
    # The whole digit, pen included, stays on the pad.
    scale = min(digit_height / extent[1], (PAD_SIZE - 2 * margin) / extent.max())
    moved = [stroke * scale for stroke in moved]
    all_points = np.concatenate(moved)
    low, high = all_points.min(axis=0), all_points.max(axis=0)
    offset = np.array(
        [
            rng.uniform(margin - low[0], max(margin - low[0], PAD_SIZE - margin - high[0])),
            rng.uniform(margin - low[1], max(margin - low[1], PAD_SIZE - margin - high[1])),
        ]
    )
    placed = tuple(tuple(map(tuple, np.round(stroke + offset, 1).tolist())) for stroke in moved)
    return Drawing(strokes=placed, width=PAD_SIZE, height=PAD_SIZE, pen_width=pen_width)


# ---------------------------------------------------------------------------------------------
# Templates: point lists in a box about 0.7 wide and 1 high, y growing downwards as on a canvas.


def _figure_eight(top_width: float, bottom_width: float) -> Stroke:
    turn = np.linspace(0, 2 * np.pi, 90)
    y = 0.5 - 0.5 * np.cos(turn)
    width = top_width + (bottom_width - top_width) * y
    x = 0.35 - width * np.sin(2 * turn) / 2
    return list(zip(x.tolist(), y.tolist(), strict=True))


TEMPLATES: dict[int, dict[str, Callable[[], Template]]] = {
    0: {
        "oval": lambda: [arc(0.35, 0.5, 0.3, 0.5, -100, -100 - 370)],
        "narrow": lambda: [arc(0.3, 0.5, 0.2, 0.5, -80, -80 - 365)],
        "round": lambda: [arc(0.4, 0.5, 0.4, 0.5, -90, -90 - 360)],
    },
    1: {
        "stick": lambda: [line((0.35, 0.0), (0.33, 1.0))],
        "flag": lambda: [line((0.12, 0.22), (0.35, 0.0), (0.35, 1.0))],
        "flag_base": lambda: [
            line((0.12, 0.2), (0.35, 0.0), (0.35, 1.0)),
            line((0.1, 1.0), (0.6, 1.0)),
        ],
    },
    2: {
        "swan": lambda: [
            arc(0.35, 0.28, 0.3, 0.27, 200, 385) + line((0.02, 1.0), (0.7, 1.0)),
        ],
        "curly": lambda: [
            arc(0.35, 0.27, 0.3, 0.26, 195, 380)
            + curve((0.55, 0.55), (0.2, 0.85), (0.03, 1.0))[1:]
            + curve((0.03, 1.0), (0.4, 0.95), (0.72, 0.98))[1:],
        ],
        "z_like": lambda: [
            line((0.05, 0.08), (0.6, 0.0), (0.62, 0.15), (0.05, 1.0), (0.7, 1.0)),
        ],
    },
    3: {
        "round": lambda: [
            arc(0.33, 0.26, 0.28, 0.25, 200, 450) + arc(0.33, 0.75, 0.33, 0.25, 270, 515),
        ],
        "flat_top": lambda: [
            line((0.05, 0.0), (0.62, 0.0), (0.28, 0.4)) + arc(0.33, 0.7, 0.33, 0.3, 250, 515),
        ],
        "pointed": lambda: [
            arc(0.3, 0.25, 0.3, 0.25, 200, 440) + arc(0.3, 0.74, 0.35, 0.26, 280, 515),
        ],
    },
    4: {
        "open": lambda: [
            line((0.12, 0.0), (0.05, 0.62), (0.72, 0.62)),
            line((0.56, 0.05), (0.56, 1.0)),
        ],
        "closed": lambda: [
            line((0.55, 0.0), (0.0, 0.66), (0.72, 0.66)),
            line((0.55, 0.0), (0.55, 1.0)),
        ],
        "one_stroke": lambda: [
            line((0.45, 0.0), (0.02, 0.65), (0.72, 0.65)),
            line((0.58, 0.25), (0.57, 1.0)),
        ],
    },
    5: {
        "two_strokes": lambda: [
            line((0.14, 0.0), (0.1, 0.45)) + arc(0.33, 0.7, 0.3, 0.28, 225, 510),
            line((0.14, 0.0), (0.65, 0.0)),
        ],
        "one_stroke": lambda: [
            line((0.65, 0.0), (0.14, 0.0), (0.1, 0.45)) + arc(0.33, 0.7, 0.3, 0.28, 225, 505),
        ],
        "round_belly": lambda: [
            line((0.15, 0.0), (0.08, 0.42)) + arc(0.35, 0.68, 0.33, 0.31, 215, 505),
            line((0.15, 0.0), (0.6, 0.02)),
        ],
    },
    6: {
        "loop": lambda: [
            curve((0.58, 0.0), (0.3, 0.15), (0.1, 0.45), (0.05, 0.72))
            + arc(0.33, 0.73, 0.28, 0.26, 180, 180 - 340),
        ],
        "straight": lambda: [
            line((0.5, 0.0), (0.06, 0.7)) + arc(0.32, 0.74, 0.27, 0.25, 200, 200 - 345),
        ],
        "big_loop": lambda: [
            curve((0.6, 0.02), (0.25, 0.2), (0.05, 0.6))
            + arc(0.36, 0.7, 0.32, 0.3, 185, 185 - 330),
        ],
    },
    7: {
        "plain": lambda: [line((0.02, 0.02), (0.68, 0.0), (0.25, 1.0))],
        "bar": lambda: [
            line((0.02, 0.02), (0.68, 0.0), (0.25, 1.0)),
            line((0.2, 0.5), (0.62, 0.5)),
        ],
        "curved": lambda: [
            line((0.02, 0.05), (0.68, 0.0)) + curve((0.68, 0.0), (0.45, 0.4), (0.3, 1.0))[1:],
        ],
        "hooked": lambda: [
            line((0.02, 0.15), (0.05, 0.0), (0.68, 0.0), (0.28, 1.0)),
        ],
    },
    8: {
        "one_stroke": lambda: [_figure_eight(0.42, 0.55)],
        "balanced": lambda: [_figure_eight(0.5, 0.5)],
        "two_loops": lambda: [
            arc(0.35, 0.24, 0.22, 0.24, -90, 270),
            arc(0.35, 0.73, 0.3, 0.27, -90, 270),
        ],
    },
    9: {
        "straight": lambda: [
            arc(0.35, 0.26, 0.27, 0.25, 0, -362) + line((0.61, 0.3), (0.6, 1.0)),
        ],
        "curved": lambda: [
            arc(0.35, 0.26, 0.27, 0.25, 0, -362) + curve((0.62, 0.3), (0.58, 0.75), (0.3, 1.0)),
        ],
        "slanted": lambda: [
            arc(0.4, 0.25, 0.28, 0.24, 10, -355) + line((0.66, 0.3), (0.35, 1.0)),
        ],
    },
}
