"""Time recognizing one digit: preprocessing plus a direct model call, against ``model.predict``.

Run from the repository root::

    .venv/bin/python bench/bench_recognition.py --repeats 200 --json recognition.json

It trains a small LeNet-5 on the embedded sample, then times, for a digit drawn as strokes
and real MNIST digits uploaded as 280x280 pictures (dark on white): preprocessing alone, the
ways of calling the model (cached ``tf.function``, eager call, ``predict_on_batch``,
``predict``), the whole ``Recognizer.recognize``, and recognition against the canvas size.
Target: the median ``recognize`` of a drawing on a 280 px pad under 5 ms, so that the reading
follows the pen. An upload goes through the photo path (dark writing on a light page is read
as paper: flattened, its lines removed, its digits found), timed but with no target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from digitwidgets.reading.preprocessing import (  # noqa: E402
    Drawing,
    preprocess_digit,
    preprocess_drawing,
)
from digitwidgets.reading.recognition import Recognizer  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "digitwidgets" / "assets" / "mnist_sample.npz"
TARGET_MEDIAN_MS = 5.0
# Recognition rasterizes the strokes at the canvas size, so its cost may grow with the area.
CANVAS_SIZES = (140, 280, 560, 840, 1120)


def main() -> None:
    """Parse the options, run the timings, print a table and write JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per measurement")
    parser.add_argument("--quick", action="store_true", help="few repeats, tiny training")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    options = parser.parse_args()
    repeats = 20 if options.quick else options.repeats

    with np.load(SAMPLE) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"], data["y_test"]
    count = 1000 if options.quick else 4000
    model = train_model(x_train[:count], y_train[:count], epochs=1 if options.quick else 2)
    uploads = [upscale(image, 280) for image in x_test[:20]]
    drawings = [drawn_digit(size) for size in (280,)]
    inputs = uploads + [d.rasterize() for d in drawings]
    prepared = np.stack([preprocess_digit(image).image for image in inputs])

    recognizer = Recognizer(model)
    figures = {
        "preprocess 280px": timed(lambda i: preprocess_digit(inputs[i % len(inputs)]), repeats),
        "rasterize+preprocess drawing 280px": timed(
            lambda i: preprocess_digit(drawings[0].rasterize()), repeats
        ),
    }
    figures.update(model_calls(model, prepared, repeats))
    figures["recognize 280px (preprocess + model)"] = timed(  # uploads
        lambda i: recognizer.recognize(inputs[i % len(inputs)]), repeats
    )
    figures["preprocess + model.predict drawing 280px"] = timed(
        lambda i: model.predict(preprocess_drawing(drawings[0]).image[None], verbose=0),
        repeats,
    )
    canvas_sizes = {}
    for size in CANVAS_SIZES:
        drawing = drawn_digit(size)
        canvas_sizes[str(size)] = figures[f"recognize drawing {size}px"] = timed(
            lambda i, drawing=drawing: recognizer.recognize(drawing), repeats
        )

    right = sum(
        recognizer.recognize(image).digit == label
        for image, label in zip(uploads, y_test[:20], strict=True)
    )
    print(f"accuracy on the 20 upscaled test digits: {right}/20")
    print(f"the drawn 2 is recognized as {recognizer.recognize(drawings[0]).digit}")
    print(f"{'measurement':45} {'median ms':>10} {'p95 ms':>10}")
    for name, numbers in figures.items():
        print(f"{name:45} {numbers['median_ms']:10.2f} {numbers['p95_ms']:10.2f}")
    recognize = figures["recognize drawing 280px"]
    upload = figures["recognize 280px (preprocess + model)"]
    predict = figures["preprocess + model.predict drawing 280px"]
    summary = {
        "benchmark": "recognition",
        "quick": options.quick,
        "repeats": repeats,
        "target_median_ms": TARGET_MEDIAN_MS,
        "recognize_median_ms": recognize["median_ms"],
        "recognize_p95_ms": recognize["p95_ms"],
        "upload_median_ms": upload["median_ms"],
        "upload_p95_ms": upload["p95_ms"],
        "predict_median_ms": predict["median_ms"],
        "predict_p95_ms": predict["p95_ms"],
        "passed": recognize["median_ms"] < TARGET_MEDIAN_MS,
        "canvas_sizes": canvas_sizes,
        "figures": figures,
    }
    if options.json:
        options.json.write_text(json.dumps(summary, indent=2) + "\n")


def train_model(x, y, epochs: int):
    """A LeNet-5 from ``digitwidgets.learning.model`` trained briefly on real digits."""
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5

    model = build_lenet5(Hyperparameters(epochs=epochs))
    model.fit(x.astype("float32") / 255.0, y, epochs=epochs, verbose=0)
    return model


def model_calls(model, prepared: np.ndarray, repeats: int) -> dict:
    """Time the ways of calling the model on one prepared (1, 28, 28) image."""
    import tensorflow as tf

    function = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec((1, 28, 28), tf.float32)],
    )

    def pick(i):
        return prepared[i % len(prepared)][None]

    return {
        "model: cached tf.function": timed(lambda i: np.asarray(function(pick(i))), repeats),
        "model: eager model(x)": timed(
            lambda i: np.asarray(model(pick(i), training=False)), repeats
        ),
        "model: predict_on_batch": timed(lambda i: model.predict_on_batch(pick(i)), repeats),
        "model: predict": timed(lambda i: model.predict(pick(i), verbose=0), repeats),
    }


def timed(call, repeats: int, warmup: int = 10) -> dict:
    """Median and 95th percentile of ``call(i)`` in milliseconds, after a warm-up."""
    for i in range(warmup):
        call(i)
    seconds = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - start)
    milliseconds = np.array(seconds) * 1000
    return {
        "median_ms": float(statistics.median(milliseconds)),
        "p95_ms": float(np.percentile(milliseconds, 95)),
        "calls": repeats,
    }


def upscale(image: np.ndarray, size: int) -> np.ndarray:
    """A real MNIST digit as a visitor might upload it: bigger, dark ink on white."""
    return 255 - np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))


def drawn_digit(size: int) -> Drawing:
    """A hand-drawn-looking 2 on a square canvas of ``size`` pixels, about 150 points."""
    t = np.linspace(0, 1, 100)
    arc = np.stack([0.5 + 0.22 * np.cos(np.pi * (1 + t)), 0.32 + 0.18 * np.sin(np.pi * (1 + t))])
    down = np.stack([np.linspace(0.72, 0.3, 40), np.linspace(0.34, 0.78, 40)])
    base = np.stack([np.linspace(0.3, 0.75, 20), np.full(20, 0.78)])
    points = np.concatenate([arc, down, base], axis=1).T * size
    stroke = tuple((float(x), float(y)) for x, y in points)
    return Drawing((stroke,), size, size, pen_width=size / 14)


if __name__ == "__main__":
    main()
