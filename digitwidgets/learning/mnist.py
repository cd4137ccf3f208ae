"""Load MNIST from the best source at hand, falling back to an embedded sample of real digits.

Sources, in order: a file named by the caller, a file named by ``$DIGITWIDGETS_MNIST``, the
Keras cache (``$KERAS_HOME/datasets/mnist.npz``), a download into that cache, and last the
sample embedded in the package, so the app always has real digits to train on, even offline.

The download prints nothing (Keras's ``get_file`` prints "Downloading data from ..." to
stdout, which Voila shows on every visitor's page), lands in the cache only whole and with the
right checksum, and is tried at most once per ``DOWNLOAD_RETRY_SECONDS`` on a machine: a
failure leaves a marker file beside the cache, so a server whose network refuses does not
try again for every visitor. ``load_mnist(wait=False)`` never waits for it: the download goes
on in the background for the next caller and this one gets the next source at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import urllib.request
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

__all__ = [
    "DataInfo",
    "MnistData",
    "MnistLoadError",
    "keras_cache",
    "load_embedded_sample",
    "load_mnist",
]

MNIST_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# After a failed download, the next try on this machine waits this long (a marker file
# beside the cache remembers when); a download in progress holds a lock file this long at most.
DOWNLOAD_RETRY_SECONDS = 24 * 3600
DOWNLOAD_LOCK_SECONDS = 600
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
SAMPLE_PATH = Path(__file__).resolve().parents[1] / "assets" / "mnist_sample.npz"
FULL_TRAIN_SIZE = 60_000

_KEYS = ("x_train", "y_train", "x_test", "y_test")
_SIDE = 28
_TRUE_WORDS = {"1", "true", "yes", "on"}

_log = logging.getLogger(__name__)


class MnistLoadError(RuntimeError):
    """A named MNIST source is unusable; the message names the file and what is wrong."""


@dataclass(frozen=True)
class DataInfo:
    """Where a data set came from and how many digits it holds.

    Attributes:
        source: ``"path"``, ``"keras-cache"``, ``"download"`` or ``"embedded-sample"``.
        location: The file the digits were read from.
        n_train: Number of training digits.
        n_test: Number of test digits.
    """

    source: str
    location: str
    n_train: int
    n_test: int

    @property
    def is_full(self) -> bool:
        """Whether this is the whole MNIST training set (60,000 digits or more)."""
        return self.n_train >= FULL_TRAIN_SIZE

    def describe(self) -> str:
        """One sentence for a person, such as "Full MNIST: 60,000 training / 10,000 test ..."."""
        sizes = f"{self.n_train:,} training / {self.n_test:,} test digits"
        if self.source == "embedded-sample":
            return f"Offline sample of real MNIST: {sizes} (embedded in digitwidgets)"
        kind = "Full MNIST" if self.is_full else "Partial MNIST"
        where = {
            "keras-cache": "Keras cache",
            "download": "downloaded to",
            "path": "file",
        }.get(self.source, self.source)
        return f"{kind}: {sizes} ({where}: {_shorten_home(self.location)})"

    def to_dict(self) -> dict:
        """Plain fields for JSON, such as a saved run's metadata."""
        return asdict(self)


class MnistData(tuple):
    """MNIST arrays that unpack as ``(x_train, y_train), (x_test, y_test)``, with ``.info``.

    Images are uint8 ``(N, 28, 28)``, ink 255 on 0; labels are uint8 ``(N,)`` in 0..9.
    """

    def __new__(cls, x_train, y_train, x_test, y_test, info: DataInfo):
        """Pair the four arrays as Keras does and attach where they came from."""
        data = super().__new__(cls, ((x_train, y_train), (x_test, y_test)))
        data._info = info
        return data

    def __getnewargs__(self):
        # Lets pickle and copy rebuild the object through __new__'s five arguments.
        return (self.x_train, self.y_train, self.x_test, self.y_test, self._info)

    def __repr__(self) -> str:
        return f"MnistData({self._info.describe()!r})"

    @property
    def info(self) -> DataInfo:
        """Where the digits came from and how many there are."""
        return self._info

    @property
    def x_train(self) -> np.ndarray:
        """Training images, uint8 (N, 28, 28)."""
        return self[0][0]

    @property
    def y_train(self) -> np.ndarray:
        """Training labels, uint8 (N,)."""
        return self[0][1]

    @property
    def x_test(self) -> np.ndarray:
        """Test images, uint8 (N, 28, 28)."""
        return self[1][0]

    @property
    def y_test(self) -> np.ndarray:
        """Test labels, uint8 (N,)."""
        return self[1][1]

    def first(self, n_train: int, n_test: int | None = None) -> MnistData:
        """The first ``n_train`` training digits (and ``n_test`` test digits, else all).

        For quick trainings in benchmarks and tests; ``info`` counts what is kept.
        """
        x_test, y_test = self.x_test[:n_test], self.y_test[:n_test]
        x_train, y_train = self.x_train[:n_train], self.y_train[:n_train]
        info = replace(self._info, n_train=len(x_train), n_test=len(x_test))
        return MnistData(x_train, y_train, x_test, y_test, info)


def load_mnist(
    path=None, *, download: bool = True, timeout: float = 20.0, wait: bool = True
) -> MnistData:
    """Load MNIST from the first usable source, ending with the embedded sample.

    Args:
        path: An ``.npz`` file with ``x_train``, ``y_train``, ``x_test``, ``y_test``, as
            Keras's ``mnist.npz``. When given, ``$DIGITWIDGETS_MNIST`` is not consulted.
        download: Whether to try downloading MNIST into the Keras cache when the cache has no
            usable copy. ``$DIGITWIDGETS_OFFLINE=1`` also turns this off, and so does a failed
            try on this machine less than ``DOWNLOAD_RETRY_SECONDS`` ago.
        timeout: Seconds to wait for the download before giving up.
        wait: Whether to wait for the download. With ``False`` it runs in the background
            (for the next caller, who finds the cache) and this call returns the next source.

    Returns:
        The digits, with ``.info`` saying where they came from.

    Raises:
        MnistLoadError: When the file named by ``path`` or ``$DIGITWIDGETS_MNIST`` is
            missing or unusable. A damaged Keras cache only warns and falls through.
    """
    if path is not None:
        return _load_file(Path(path).expanduser(), "path")
    named = os.environ.get("DIGITWIDGETS_MNIST", "").strip()
    if named:
        return _load_file(Path(named).expanduser(), "path", origin="$DIGITWIDGETS_MNIST")

    cache = keras_cache()
    if cache.exists():
        try:
            return _load_file(cache, "keras-cache")
        except MnistLoadError as error:
            warnings.warn(f"{error}; ignoring the Keras cache.", stacklevel=2)

    if download and not _offline():
        downloaded = _download(timeout, wait=wait)
        if downloaded is not None:
            try:
                return _load_file(downloaded, "download")
            except MnistLoadError as error:
                warnings.warn(f"{error}; ignoring the download.", stacklevel=2)

    return load_embedded_sample()


def load_embedded_sample() -> MnistData:
    """Load the 10,000 real MNIST digits shipped with the package (8,500 train / 1,500 test)."""
    return _load_file(SAMPLE_PATH, "embedded-sample")


def _load_file(path: Path, source: str, *, origin: str = "") -> MnistData:
    named = f"{path} (from {origin})" if origin else str(path)
    if not path.exists():
        raise MnistLoadError(f"MNIST file {named} does not exist")
    if not path.is_file():
        raise MnistLoadError(f"MNIST file {named} is not a file")
    arrays = _read_npz(path, named)
    x_train, y_train = _check_split(arrays, "train", named)
    x_test, y_test = _check_split(arrays, "test", named)
    info = DataInfo(source, str(path.resolve()), len(y_train), len(y_test))
    return MnistData(x_train, y_train, x_test, y_test, info)


def _read_npz(path: Path, named: str) -> dict[str, np.ndarray]:
    # np.load and zipfile fail in many ways on damaged files (BadZipFile, EOFError,
    # zlib.error, ValueError, OSError ...); all of them mean the same thing to a user.
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise MnistLoadError(f"MNIST file {named} holds one array, not an .npz archive")
        with archive:
            missing = [key for key in _KEYS if key not in archive.files]
            if missing:
                found = ", ".join(archive.files) or "nothing"
                raise MnistLoadError(
                    f"MNIST file {named} has no {', '.join(missing)} (found: {found})"
                )
            return {key: archive[key] for key in _KEYS}
    except MnistLoadError:
        raise
    except Exception as error:
        raise MnistLoadError(
            f"MNIST file {named} is damaged or not an .npz archive "
            f"({type(error).__name__}: {error})"
        ) from error


def _check_split(arrays: dict, split: str, named: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if images.ndim != 3 or images.shape[1:] != (_SIDE, _SIDE):
        raise MnistLoadError(
            f"MNIST file {named}: x_{split} has shape {images.shape}, expected (N, 28, 28)"
        )
    if labels.shape != (len(images),):
        raise MnistLoadError(
            f"MNIST file {named}: y_{split} has shape {labels.shape}, "
            f"expected ({len(images)},) to match x_{split}"
        )
    if len(images) == 0:
        raise MnistLoadError(f"MNIST file {named}: x_{split} holds no digits")
    images = _as_uint8(images, 255, f"x_{split}", "grey levels 0..255", named)
    labels = _as_uint8(labels, 9, f"y_{split}", "labels 0..9", named)
    return images, labels


def _as_uint8(array: np.ndarray, highest: int, name: str, expected: str, named: str):
    if array.dtype == np.uint8 and highest == 255:
        return array
    problem = f"MNIST file {named}: {name} must hold whole-number {expected}"
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise MnistLoadError(f"{problem}, not {array.dtype} values")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise MnistLoadError(f"{problem}; it has NaN or infinite values")
    low, high = array.min(), array.max()
    if low < 0 or high > highest:
        raise MnistLoadError(f"{problem}; its values run from {low} to {high}")
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.rint(array)):
        raise MnistLoadError(f"{problem}; it has fractional values")
    return array.astype(np.uint8)


def keras_cache() -> Path:
    """Where Keras keeps ``mnist.npz`` (``$KERAS_HOME/datasets``), read before any download."""
    return _keras_home() / "datasets" / "mnist.npz"


def _keras_home() -> Path:
    # Mirrors keras.src.backend.config without importing Keras, so reading the cache stays fast.
    configured = os.environ.get("KERAS_HOME")
    if configured:
        return Path(configured).expanduser()
    base = Path.home() if os.access(Path.home(), os.W_OK) else Path("/tmp")
    return base / ".keras"


def _offline() -> bool:
    return os.environ.get("DIGITWIDGETS_OFFLINE", "").strip().lower() in _TRUE_WORDS


def _download(timeout: float, *, wait: bool = True) -> Path | None:
    """Fetch ``mnist.npz`` into the Keras cache, waiting at most ``timeout`` seconds.

    Returns the cached file, or None when the download is not tried (an earlier failure, or
    another process downloading), failed, took too long, or was not waited for.
    """
    cache = keras_cache()
    if _failed_recently(cache):
        _log.info("MNIST download failed recently on this machine; not trying again yet")
        return None
    lock = _take_download_lock(cache)
    if lock is None:
        _log.info("MNIST is being downloaded by another process; using another source")
        return None
    outcome: dict[str, object] = {}

    def fetch() -> None:
        try:
            outcome["path"] = _fetch_mnist(cache, timeout)
            _failure_marker(cache).unlink(missing_ok=True)
        except Exception as error:  # offline, refused, bad hash: all mean "use another source"
            outcome["error"] = error
            _remember_failure(cache, error)
        finally:
            lock.unlink(missing_ok=True)

    # A daemon thread can be abandoned and never keeps the interpreter from exiting; the file
    # only appears in the cache once whole (os.replace), so an abandoned one leaves nothing.
    thread = threading.Thread(target=fetch, name="digitwidgets-mnist-download", daemon=True)
    thread.start()
    if not wait:
        return None
    thread.join(timeout)
    if thread.is_alive():
        _log.info("MNIST download took longer than %s s; using another source", timeout)
        return None
    if "error" in outcome:
        _log.info("MNIST download failed: %s", outcome["error"])
        return None
    return Path(outcome["path"])


def _fetch_mnist(cache: Path, timeout: float) -> Path:
    """Download ``MNIST_ORIGIN`` to ``cache``, checking ``MNIST_SHA256``; prints nothing."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f"{cache.name}.part-{os.getpid()}-{threading.get_ident()}")
    digest = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(_origin(), timeout=timeout) as response,
            partial.open("wb") as out,
        ):
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != MNIST_SHA256:
            raise OSError(f"the file from {_origin()} has the wrong SHA-256 checksum")
        os.replace(partial, cache)
    finally:
        partial.unlink(missing_ok=True)
    return cache


def _origin() -> str:
    # A mirror (or, in the tests, a local server) can stand in for Google's bucket.
    return os.environ.get("DIGITWIDGETS_MNIST_URL", "").strip() or MNIST_ORIGIN


def _failure_marker(cache: Path) -> Path:
    return cache.with_name(cache.name + ".download-failed")


def _failed_recently(cache: Path) -> bool:
    try:
        failed_at = json.loads(_failure_marker(cache).read_text())["time"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return time.time() - float(failed_at) < DOWNLOAD_RETRY_SECONDS


def _remember_failure(cache: Path, error: Exception) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        record = {"time": time.time(), "error": f"{type(error).__name__}: {error}"}
        _failure_marker(cache).write_text(json.dumps(record))
    except OSError:  # an unwritable cache folder: the next caller simply tries again
        pass


def _take_download_lock(cache: Path) -> Path | None:
    """Create the lock file that says this process downloads now; None if another does."""
    lock = cache.with_name(cache.name + ".downloading")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        if lock.exists() and time.time() - lock.stat().st_mtime > DOWNLOAD_LOCK_SECONDS:
            lock.unlink(missing_ok=True)  # left by a process that died mid-download
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None
    except OSError:
        return None
    os.close(descriptor)
    return lock


def _shorten_home(location: str) -> str:
    home = str(Path.home())
    if location == home or location.startswith(home + os.sep):
        return "~" + location[len(home) :]
    return location
