"""Small builders the tests share: subsets of the real sample, hand-made image files."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from PIL import Image, ImageFilter

from digitwidgets.learning.mnist import DataInfo, MnistData

SPLITS = ("x_train", "y_train", "x_test", "y_test")


def sample_subset(sample_arrays, n_train: int, n_test: int = 200) -> MnistData:
    """The first ``n_train`` training and ``n_test`` test digits of the embedded sample."""
    info = DataInfo("embedded-sample", "first digits of the sample", 0, 0)
    whole = MnistData(*(sample_arrays[name] for name in SPLITS), info)
    return whole.first(n_train, n_test)


def hold_after_first_batch(trainer, start) -> list:
    """Hold ``trainer``, call ``start()`` (which starts a run), wait until the run is held
    after its first batch; return the list its events are appended to as they come."""
    events = []
    trainer.add_listener(events.append)
    trainer.hold()
    start()
    assert trainer.wait_held(60)
    return events


def fat_marker_picture(digit: np.ndarray) -> np.ndarray:
    """A real 28x28 digit as a 280 px picture drawn with a fat marker (uint8).

    Each 3x3 maximum widens the strokes by 2 px; twelve of them, by about 24 px on a 200 px
    digit.
    """
    picture = Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR)
    for _ in range(12):
        picture = picture.filter(ImageFilter.MaxFilter(3))
    return np.asarray(picture)


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header that declares ``width`` x ``height`` pixels and holds none (a bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


# The stable CSS hooks of issue 3: automation (and the browser tests) find the page by these.
CSS_HOOKS = (
    "dw-architecture",
    "dw-activation",
    "dw-optimizer",
    "dw-learning-rate",
    "dw-epochs",
    "dw-batch-size",
    "dw-dropout",
    "dw-validation-split",
    "dw-augmentation",
    "dw-seed",
    "dw-train",
    "dw-stop",
    "dw-progress",
    "dw-status",
    "dw-chart",
    "dw-pad",
    "dw-clear",
    "dw-undo",
    "dw-prediction",
    "dw-probabilities",
    "dw-upload",
    "dw-upload-message",
)


def descendants(widget):
    """``widget`` and every widget below it, parents before their children."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from descendants(child)


def widgets_with(widget, css_class: str) -> list:
    """Every widget at or below ``widget`` carrying ``css_class``, in page order."""
    return [w for w in descendants(widget) if css_class in getattr(w, "_dom_classes", ())]


def find_widget(widget, css_class: str):
    """The first widget at or below ``widget`` carrying ``css_class``, or None."""
    return next(iter(widgets_with(widget, css_class)), None)


def css_classes(widget) -> set[str]:
    """Every CSS class used at or below ``widget``."""
    return {name for w in descendants(widget) for name in getattr(w, "_dom_classes", ())}
