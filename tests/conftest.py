"""Shared fixtures: real MNIST digits from the embedded sample, and an isolated environment."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "digitwidgets" / "assets" / "mnist_sample.npz"


# Tests that start servers, kernels or Chromium: with two pytest workers (``-n 2 --dist
# loadgroup``, what ``python3 tasks.py test`` runs) they stay on one worker, one after the
# other, as in a serial run, while the other worker takes the rest.
# The browser benchmarks' smoke tests join the group in test_bench_smoke.py.
SERVER_TESTS = ("tests/browser/", "tests/server/test_kernel_cap.py")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """Put the server-starting tests in one ``xdist_group`` (no effect without pytest-xdist).

    pytest-xdist 3.8 cannot group with pytest 9.2 (a plain ``xdist_group`` mark split across
    workers), hence the test extra's ``pytest<9.2``.
    """
    for item in items:
        path = item.nodeid.replace(os.sep, "/")
        if path.startswith(SERVER_TESTS):
            item.add_marker(pytest.mark.xdist_group("servers"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's Keras cache and saved runs."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    monkeypatch.setenv("DIGITWIDGETS_RUNS", str(home / "runs"))
    monkeypatch.delenv("DIGITWIDGETS_MNIST", raising=False)
    return home


@pytest.fixture(scope="session")
def sample_arrays():
    """The embedded sample's arrays, read straight from the file: real MNIST digits."""
    with np.load(SAMPLE_PATH) as data:
        return {name: data[name] for name in data.files}


@pytest.fixture(scope="session")
def digit_images(sample_arrays):
    """One real test digit per class, uint8 (28, 28), ink white on black: {digit: image}."""
    x, y = sample_arrays["x_test"], sample_arrays["y_test"]
    return {digit: x[np.flatnonzero(y == digit)[0]] for digit in range(10)}
