"""Write the drawn-digit test set to a file, and a contact sheet to look at it.

The set is generated on demand by ``tools.drawn_digits.make_drawn_digits`` (the same
digits for the same seed on every machine), so the package ships no copy. This script
writes one for other tools::

    .venv/bin/python scripts/make_drawn_digits.py --out drawn_digits.npz --sheet sheet.png

The file holds ``pads`` (N, 280, 280) uint8 as the pad rasterizes them, ``mnist`` and
``plain`` (N, 28, 28) float32 model inputs by each preprocessing, ``labels``, ``styles``
and ``pen_widths``. It is for measuring: nothing in the project trains on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from tools.drawn_digits import DEFAULT_PER_CLASS, DEFAULT_SEED, make_drawn_digits


def main() -> None:
    """Generate the set and write the file and, if asked, the sheet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=Path("drawn_digits.npz"))
    parser.add_argument("--sheet", type=Path, help="PNG of the first 10 rows, pad and 28x28")
    args = parser.parse_args()

    digits = make_drawn_digits(per_class=args.per_class, seed=args.seed)
    pads = digits.pad_images()
    mnist = digits.model_inputs("mnist")
    np.savez_compressed(
        args.out,
        pads=pads,
        mnist=mnist,
        plain=digits.model_inputs("plain"),
        labels=digits.labels,
        styles=np.array(digits.styles),
        pen_widths=np.array([drawing.pen_width for drawing in digits.drawings]),
        seed=np.array(args.seed),
    )
    print(f"{len(digits)} drawn digits (seed {args.seed}) written to {args.out}")
    if args.sheet:
        contact_sheet(pads[:100], mnist[:100]).save(args.sheet)
        print(f"Contact sheet written to {args.sheet}")


def contact_sheet(pads: np.ndarray, inputs: np.ndarray, cell: int = 70) -> Image.Image:
    """Each pad drawing beside its 28x28 model input, ten drawings a row, dark ink on white."""
    rows = -(-len(pads) // 10)
    sheet = np.zeros((rows * (cell + 2), 10 * 2 * (cell + 2)), dtype=np.uint8)
    for index, (pad, image) in enumerate(zip(pads, inputs, strict=True)):
        row, col = divmod(index, 10)
        top, left = row * (cell + 2), col * 2 * (cell + 2)
        small = Image.fromarray(pad).resize((cell, cell), Image.Resampling.BILINEAR)
        model_input = Image.fromarray(np.round(image * 255).astype(np.uint8)).resize(
            (cell, cell), Image.Resampling.NEAREST
        )
        sheet[top : top + cell, left : left + cell] = np.asarray(small)
        sheet[top : top + cell, left + cell + 2 : left + 2 * cell + 2] = np.asarray(model_input)
    return Image.fromarray(255 - sheet)


if __name__ == "__main__":
    main()
