"""Small builders the tests share: subsets of the real sample, hand-made image files."""

from __future__ import annotations

import struct
import zlib

from digitwidgets.mnist import DataInfo, MnistData


def sample_subset(sample_arrays, n_train: int, n_test: int = 200) -> MnistData:
    """The first ``n_train`` training and ``n_test`` test digits of the embedded sample."""
    info = DataInfo("embedded-sample", "first digits of the sample", n_train, n_test)
    return MnistData(
        sample_arrays["x_train"][:n_train],
        sample_arrays["y_train"][:n_train],
        sample_arrays["x_test"][:n_test],
        sample_arrays["y_test"][:n_test],
        info,
    )


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG header that declares ``width`` x ``height`` pixels and holds none (a bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def find_widget(widget, css_class: str):
    """The first widget at or below ``widget`` carrying ``css_class``, or None."""
    if css_class in getattr(widget, "_dom_classes", ()):
        return widget
    for child in getattr(widget, "children", ()):
        found = find_widget(child, css_class)
        if found is not None:
            return found
    return None
