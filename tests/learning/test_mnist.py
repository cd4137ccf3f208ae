"""Loading MNIST from each source, with real digits from the embedded sample."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import pickle
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from digitwidgets.learning import mnist
from digitwidgets.learning.mnist import (
    DataInfo,
    MnistData,
    MnistLoadError,
    load_embedded_sample,
    load_mnist,
)

SMALL = {"train": 600, "test": 200}


@pytest.fixture
def small_arrays(sample_arrays):
    """A few hundred real digits: enough to tell sources apart by their sizes."""
    return {
        name: array[: SMALL[name.split("_")[1]]].copy() for name, array in sample_arrays.items()
    }


@pytest.fixture
def small_npz(tmp_path, small_arrays):
    """A valid ``mnist.npz``-style file holding real digits, outside the Keras cache."""
    path = tmp_path / "given" / "mnist.npz"
    path.parent.mkdir()
    np.savez(path, **small_arrays)
    return path


@pytest.fixture
def keras_cache():
    """Where load_mnist looks for Keras's copy: ``$KERAS_HOME/datasets/mnist.npz``."""
    path = Path(os.environ["KERAS_HOME"]) / "datasets" / "mnist.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def fetches(monkeypatch):
    """Replace the download by a recorder that fails as an offline machine does."""
    calls = []

    def offline_fetch(cache, timeout):
        calls.append(cache)
        raise OSError("URL fetch failure: network is unreachable")

    monkeypatch.setattr(mnist, "_fetch_mnist", offline_fetch)
    return calls


def corrupt(path: Path) -> Path:
    """Write bytes that are no archive at all."""
    path.write_bytes(b"this is not an npz archive, just some text\n" * 50)
    return path


def truncate(source: Path, path: Path) -> Path:
    """Write the first half of a valid archive, as an interrupted download leaves it."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def assert_same_digits(data: MnistData, arrays: dict) -> None:
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(data, name), arrays[name])
        assert getattr(data, name).dtype == np.uint8


def assert_is_embedded_sample(data: MnistData) -> None:
    assert data.info.source == "embedded-sample"
    assert (data.info.n_train, data.info.n_test) == (8500, 1500)


# The embedded sample


def test_embedded_sample_is_stratified_real_mnist(sample_arrays):
    data = load_embedded_sample()
    assert data.x_train.shape == (8500, 28, 28) and data.y_train.shape == (8500,)
    assert data.x_test.shape == (1500, 28, 28) and data.y_test.shape == (1500,)
    assert {array.dtype for array in (data.x_train, data.y_train, data.x_test, data.y_test)} == {
        np.dtype(np.uint8)
    }
    train_counts = np.bincount(data.y_train, minlength=10)
    test_counts = np.bincount(data.y_test, minlength=10)
    # Every class split 85/15 (rounded per class), as the generator script promises.
    np.testing.assert_array_equal(test_counts, np.rint((train_counts + test_counts) * 0.15))
    assert (train_counts + test_counts).min() >= 863
    # MNIST's look: white ink on a black background.
    assert data.x_test.max() == 255 and np.median(data.x_test) == 0
    assert_same_digits(data, sample_arrays)


def test_embedded_sample_info():
    info = load_embedded_sample().info
    assert info == DataInfo("embedded-sample", str(mnist.SAMPLE_PATH), 8500, 1500)
    assert not info.is_full
    assert info.describe() == (
        "Offline sample of real MNIST: 8,500 training / 1,500 test digits "
        "(embedded in digitwidgets)"
    )
    assert info.to_dict() == {
        "source": "embedded-sample",
        "location": str(mnist.SAMPLE_PATH),
        "n_train": 8500,
        "n_test": 1500,
    }


# MnistData and DataInfo


def test_unpacks_like_keras_load_data(small_npz, small_arrays):
    data = load_mnist(small_npz)
    (x_train, y_train), (x_test, y_test) = data
    assert isinstance(data, tuple) and len(data) == 2
    assert x_train is data.x_train and y_train is data.y_train
    assert x_test is data.x_test and y_test is data.y_test
    np.testing.assert_array_equal(y_test, small_arrays["y_test"])


def test_survives_pickle_with_its_info(small_npz):
    data = load_mnist(small_npz)
    copy = pickle.loads(pickle.dumps(data))
    assert isinstance(copy, MnistData)
    assert copy.info == data.info
    np.testing.assert_array_equal(copy.x_train, data.x_train)


def test_first_keeps_the_leading_digits_and_counts_them():
    data = load_embedded_sample()
    few = data.first(1000)
    assert few.info == DataInfo("embedded-sample", str(mnist.SAMPLE_PATH), 1000, 1500)
    np.testing.assert_array_equal(few.x_train, data.x_train[:1000])
    np.testing.assert_array_equal(few.y_test, data.y_test)
    fewer = data.first(300, 50)
    assert (len(fewer.x_train), len(fewer.y_train), len(fewer.x_test)) == (300, 300, 50)
    assert fewer.info.n_test == 50 and data.info.n_train == 8500


def test_full_mnist_description_shortens_the_home_folder():
    location = str(Path.home() / ".keras" / "datasets" / "mnist.npz")
    info = DataInfo("keras-cache", location, 60_000, 10_000)
    assert info.is_full
    assert info.describe() == (
        "Full MNIST: 60,000 training / 10,000 test digits "
        "(Keras cache: ~/.keras/datasets/mnist.npz)"
    )
    with pytest.raises(AttributeError):
        info.n_train = 5  # frozen


def test_partial_file_description():
    info = DataInfo("path", "/data/digits.npz", 1_200, 300)
    assert not info.is_full
    assert (
        info.describe()
        == "Partial MNIST: 1,200 training / 300 test digits (file: /data/digits.npz)"
    )


# Sources and their order


def test_loads_the_keras_cache(keras_cache, small_arrays, fetches):
    np.savez_compressed(keras_cache, **small_arrays)
    data = load_mnist()
    assert data.info.source == "keras-cache"
    assert data.info.location == str(keras_cache.resolve())
    assert (data.info.n_train, data.info.n_test) == (600, 200)
    assert_same_digits(data, small_arrays)
    assert fetches == []  # a usable cache needs no download


def test_path_argument_comes_first(
    small_npz, small_arrays, sample_arrays, keras_cache, monkeypatch
):
    np.savez(keras_cache, **sample_arrays)
    monkeypatch.setenv("DIGITWIDGETS_MNIST", str(corrupt(small_npz.with_name("bad.npz"))))
    for given in (small_npz, str(small_npz)):
        data = load_mnist(given)
        assert data.info.source == "path"
        assert data.info.location == str(small_npz.resolve())
        assert_same_digits(data, small_arrays)


def test_environment_variable_comes_before_the_cache(
    small_npz, small_arrays, keras_cache, monkeypatch
):
    np.savez(keras_cache, **{k: v[:100] for k, v in small_arrays.items()})
    monkeypatch.setenv("DIGITWIDGETS_MNIST", str(small_npz))
    data = load_mnist()
    assert data.info.source == "path"
    assert (data.info.n_train, data.info.n_test) == (600, 200)
    assert_same_digits(data, small_arrays)


def test_converts_other_integer_types(tmp_path, small_arrays):
    path = tmp_path / "int64.npz"
    np.savez(path, **{name: array.astype(np.int64) for name, array in small_arrays.items()})
    data = load_mnist(path)
    assert_same_digits(data, small_arrays)


def test_falls_back_to_the_embedded_sample_offline(fetches):
    data = load_mnist()
    assert_is_embedded_sample(data)
    assert fetches == [Path(os.environ["KERAS_HOME"], "datasets", "mnist.npz")]


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_download_is_skipped_when_asked(fetches, monkeypatch, how):
    if how == "argument":
        data = load_mnist(download=False)
    else:
        monkeypatch.setenv("DIGITWIDGETS_OFFLINE", "1")
        data = load_mnist()
    assert_is_embedded_sample(data)
    assert fetches == []


@pytest.mark.timeout(30)
def test_a_hanging_download_gives_up_after_the_timeout(monkeypatch):
    release = threading.Event()
    started = threading.Event()

    def stalled_fetch(cache, timeout):
        started.set()
        release.wait(60)
        raise OSError("never answered")

    monkeypatch.setattr(mnist, "_fetch_mnist", stalled_fetch)
    try:
        data = load_mnist(timeout=1.0)
    finally:
        release.set()
    assert started.is_set()
    assert_is_embedded_sample(data)


def test_a_download_lands_in_the_keras_cache(monkeypatch, small_arrays):
    def fetch(cache, timeout):
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **small_arrays)
        return cache

    monkeypatch.setattr(mnist, "_fetch_mnist", fetch)
    data = load_mnist()
    assert data.info.source == "download"
    assert_same_digits(data, small_arrays)
    # The next load finds Keras's cached copy without downloading again.
    monkeypatch.setattr(mnist, "_fetch_mnist", None)
    assert load_mnist().info.source == "keras-cache"


@pytest.mark.timeout(120)
def test_real_download_from_a_local_server_prints_nothing(
    tmp_path, small_arrays, monkeypatch, capfd
):
    """Runs the real download against a local HTTP server instead of the internet."""
    served = tmp_path / "served"
    served.mkdir()
    np.savez_compressed(served / "mnist.npz", **small_arrays)
    digest = hashlib.sha256((served / "mnist.npz").read_bytes()).hexdigest()
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}/mnist.npz"
    monkeypatch.setenv("DIGITWIDGETS_MNIST_URL", origin)
    monkeypatch.setattr(mnist, "MNIST_SHA256", digest)
    try:
        data = load_mnist(timeout=90)
    finally:
        server.shutdown()
        server.server_close()
    assert data.info.source == "download"
    cache = Path(os.environ["KERAS_HOME"], "datasets", "mnist.npz")
    assert data.info.location == str(cache)
    assert_same_digits(data, small_arrays)
    # Voila shows whatever a kernel prints to every visitor: the download must print nothing,
    # and leave nothing but the cached file behind.
    assert capfd.readouterr() == ("", "")
    assert sorted(path.name for path in cache.parent.iterdir()) == ["mnist.npz"]


def test_a_failed_download_is_not_tried_again_for_a_while(fetches, monkeypatch):
    assert_is_embedded_sample(load_mnist())
    assert_is_embedded_sample(load_mnist())
    assert len(fetches) == 1  # the second visitor does not wait for the network again
    marker = fetches[0].with_name("mnist.npz.download-failed")
    assert "network is unreachable" in marker.read_text()
    # Once the retry interval has passed, the next load tries again.
    monkeypatch.setattr(mnist, "DOWNLOAD_RETRY_SECONDS", 0)
    assert_is_embedded_sample(load_mnist())
    assert len(fetches) == 2


def test_a_download_in_progress_elsewhere_is_not_started_again(keras_cache, fetches):
    keras_cache.with_name("mnist.npz.downloading").touch()  # another kernel is downloading
    assert_is_embedded_sample(load_mnist())
    assert fetches == []


@pytest.mark.timeout(60)
def test_not_waiting_returns_at_once_and_the_next_load_finds_the_download(
    monkeypatch, small_arrays
):
    release = threading.Event()

    def slow_fetch(cache, timeout):
        release.wait(30)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, **small_arrays)
        return cache

    monkeypatch.setattr(mnist, "_fetch_mnist", slow_fetch)
    before = set(threading.enumerate())
    assert_is_embedded_sample(load_mnist(wait=False))  # returned while the fetch still waits
    (download,) = set(threading.enumerate()) - before
    assert download.name == "digitwidgets-mnist-download"
    assert download.is_alive()
    release.set()
    download.join(30)
    assert not download.is_alive()
    cache = Path(os.environ["KERAS_HOME"], "datasets", "mnist.npz")
    assert not cache.with_name("mnist.npz.downloading").exists()
    assert load_mnist().info.source == "keras-cache"


def test_a_download_with_the_wrong_hash_is_refused(tmp_path, small_arrays, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    np.savez_compressed(served / "mnist.npz", **small_arrays)
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DIGITWIDGETS_MNIST_URL", f"http://127.0.0.1:{server.server_port}/mnist.npz")
    try:
        data = load_mnist(timeout=90)  # MNIST_SHA256 is the real MNIST's, not this file's
    finally:
        server.shutdown()
        server.server_close()
    assert_is_embedded_sample(data)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, format, *args):
        pass


def test_loading_files_does_not_import_tensorflow(small_npz):
    code = (
        "import sys; from digitwidgets.learning.mnist import load_mnist; "
        f"load_mnist({str(small_npz)!r}); load_mnist(download=False); "
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# Damaged files


@pytest.mark.parametrize("how", ["argument", "environment"])
@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated", "folder"])
def test_a_named_file_that_is_unusable_raises_a_clear_error(
    tmp_path, small_npz, monkeypatch, fetches, how, damage
):
    path = tmp_path / "bad.npz"
    if damage == "corrupt":
        corrupt(path)
    elif damage == "truncated":
        truncate(small_npz, path)
    elif damage == "folder":
        path.mkdir()
    with pytest.raises(MnistLoadError) as caught:
        if how == "argument":
            load_mnist(path)
        else:
            monkeypatch.setenv("DIGITWIDGETS_MNIST", str(path))
            load_mnist()
    message = str(caught.value)
    assert str(path) in message
    expected = {
        "missing": "does not exist",
        "corrupt": "damaged or not an .npz archive",
        "truncated": "damaged or not an .npz archive",
        "folder": "is not a file",
    }[damage]
    assert expected in message
    if how == "environment":
        assert "DIGITWIDGETS_MNIST" in message
    assert fetches == []  # a named file never silently turns into another source


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: a.pop("y_test"), "has no y_test"),
        (lambda a: a.update(x_train=a["x_train"].reshape(-1, 784)), "x_train has shape (600, 784)"),
        (lambda a: a.update(x_test=a["x_test"][:, :27, :27]), "x_test has shape (200, 27, 27)"),
        (lambda a: a.update(y_train=a["y_train"][:10]), "y_train has shape (10,)"),
        (lambda a: a.update(y_test=a["y_test"] + 1), "labels 0..9; its values run from 1 to 10"),
        (lambda a: a.update(x_train=a["x_train"] * 2.0), "grey levels 0..255; its values run"),
        (lambda a: a.update(x_train=a["x_train"] / 255.0), "it has fractional values"),
        (lambda a: a.update(x_train=a["x_train"][:0], y_train=a["y_train"][:0]), "holds no digits"),
    ],
)
def test_a_named_file_with_wrong_contents_says_what_is_wrong(
    tmp_path, small_arrays, change, expected
):
    arrays = dict(small_arrays)
    change(arrays)
    path = tmp_path / "odd.npz"
    np.savez(path, **arrays)
    with pytest.raises(MnistLoadError) as caught:
        load_mnist(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_a_single_array_file_is_not_an_archive(tmp_path, small_arrays):
    path = tmp_path / "images.npy"
    np.save(path, small_arrays["x_train"])
    with pytest.raises(MnistLoadError, match="holds one array, not an .npz archive"):
        load_mnist(path)


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_damaged_keras_cache_warns_and_falls_through(keras_cache, small_npz, fetches, damage):
    if damage == "corrupt":
        corrupt(keras_cache)
    else:
        truncate(small_npz, keras_cache)
    with pytest.warns(UserWarning, match="damaged or not an .npz archive") as caught:
        data = load_mnist()
    assert str(keras_cache) in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the caller, not inside digitwidgets
    assert_is_embedded_sample(data)
    assert len(fetches) == 1  # the download was tried before falling back to the sample


def test_a_valid_cache_raises_no_warning(keras_cache, small_arrays):
    np.savez(keras_cache, **small_arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_mnist().info.source == "keras-cache"
