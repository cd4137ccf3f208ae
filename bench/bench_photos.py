"""Photos of digits written on paper: the share read right per variation and per digit, the
answers given instead of a digit, and the time to read a 12-megapixel JPEG.

Run from the repository root::

    .venv/bin/python bench/bench_photos.py --json photos.json [--per-class 20] [--quick]

The photos are made by ``tools/photos.py`` (eleven variations: pens, papers, light, camera;
never trained on), each a JPEG, read as an upload is: ``decode_image``, ``preprocess_digit``
(which sends a picture of paper down the photo path), the shipped model. The set's seed is
not the tests' (``--seed``). The same photos through the old upload path (the whole
picture cropped to its ink, no photo path) are measured for comparison. Then a 12-megapixel
phone photo (4000x3000, ``phone_photo``) is read ``--repeats`` times, decode included, the
median against the issue's goal of 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from digitwidgets.learning.pretrained import load_pretrained  # noqa: E402
from digitwidgets.reading.images import decode_image  # noqa: E402
from digitwidgets.reading.preprocessing import (  # noqa: E402
    _ink_map,
    frame_ink,
    preprocess_digit,
)
from digitwidgets.reading.recognition import Recognizer  # noqa: E402
from tools.photos import ISSUE_VARIATIONS, VARIATIONS, make_photos, phone_photo  # noqa: E402

TARGET_MEDIAN_MS = 300.0
ISSUE_GOAL = 0.95  # the variations issue 31 measured
EVERY_GOAL = 0.97  # every variation
SEED = 31


def main() -> None:
    """Parse the options, read the photos, time the large one, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20, help="photos per digit and variation")
    parser.add_argument("--seed", type=int, default=SEED, help="the photo set's seed")
    parser.add_argument("--repeats", type=int, default=15, help="timed reads of the 12 MP photo")
    parser.add_argument("--quick", action="store_true", help="one photo per digit, 3 repeats")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--steps-figure", type=Path, help="draw the steps of a few photos (PNG)")
    options = parser.parse_args()
    if options.steps_figure:
        steps_figure(options.steps_figure)
        return
    per_class = 1 if options.quick else options.per_class
    repeats = 3 if options.quick else options.repeats

    model, _ = load_pretrained()
    started = time.perf_counter()
    photos = make_photos(per_class=per_class, seed=options.seed)
    made_s = time.perf_counter() - started
    accuracy = measure(model, photos)
    timing = time_phone_photo(model, repeats)
    summary = {
        "benchmark": "photos",
        "quick": options.quick,
        "photos": len(photos),
        "per_class": per_class,
        "seed": options.seed,
        "made_s": round(made_s, 1),
        **accuracy,
        "phone_photo": timing,
        "target_median_ms": TARGET_MEDIAN_MS,
        "passed": bool(
            timing["median_ms"] < TARGET_MEDIAN_MS
            and all(accuracy["variations"][name] >= EVERY_GOAL for name in VARIATIONS)
            and all(accuracy["variations"][name] >= ISSUE_GOAL for name in ISSUE_VARIATIONS)
        ),
    }
    report(summary)
    if options.json:
        options.json.write_text(json.dumps(summary, indent=2) + "\n")


def measure(model, photos) -> dict:
    """The share read right per variation and digit, by the photo path and the old path."""
    decoded = [decode_image(data) for data in photos.files]
    started = time.process_time()
    prepared = [preprocess_digit(grey) for grey in decoded]
    cpu_ms = (time.process_time() - started) * 1000 / len(decoded)
    read = _read(model, [p.image for p in prepared])
    old = _read(model, [_old_upload_path(grey) for grey in decoded])
    labels, variations = photos.labels, np.array(photos.variations)
    right, old_right = read == labels, old == labels
    outcomes = Counter(p.outcome.value for p, ok in zip(prepared, right, strict=True) if not ok)
    return {
        "accuracy": float(right.mean()),
        "old_path_accuracy": float(old_right.mean()),
        "variations": {v: float(right[variations == v].mean()) for v in VARIATIONS},
        "old_path_variations": {v: float(old_right[variations == v].mean()) for v in VARIATIONS},
        "digits": {str(d): float(right[labels == d].mean()) for d in range(10)},
        "misses_by_outcome": dict(outcomes),
        "preprocess_cpu_ms_480x360": round(cpu_ms, 1),
    }


def _read(model, images) -> np.ndarray:
    """The digit the model reads in each image; -1 where no image was given to it."""
    batch = np.stack([np.zeros((28, 28)) if image is None else image for image in images])
    read = np.asarray(model(batch.astype(np.float32), training=False)).argmax(axis=1)
    read[[image is None for image in images]] = -1
    return read


def _old_upload_path(grey: np.ndarray):
    """The upload path before the photo path: the picture cropped to its ink and framed."""
    ink, inverted = _ink_map(grey)
    return None if ink is None else frame_ink(ink, inverted=inverted).image


def time_phone_photo(model, repeats: int) -> dict:
    """Read a 12-megapixel JPEG ``repeats`` times, decode included: median, best, worst ms."""
    data = phone_photo(digit=4)
    recognizer = Recognizer(model)
    first = recognizer.recognize(decode_image(data))  # imports and traces once
    seconds = []
    for _ in range(repeats):
        begun = time.perf_counter()
        recognizer.recognize(decode_image(data))
        seconds.append(time.perf_counter() - begun)
    decode = []
    for _ in range(repeats):
        begun = time.perf_counter()
        decode_image(data)
        decode.append(time.perf_counter() - begun)
    return {
        "megapixels": 12.0,
        "bytes": len(data),
        "read_as": first.digit,
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "best_ms": round(min(seconds) * 1000, 1),
        "worst_ms": round(max(seconds) * 1000, 1),
        "decode_median_ms": round(statistics.median(decode) * 1000, 1),
        "repeats": repeats,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def steps_figure(path: Path) -> None:
    """A PNG of the photo path's steps for photos of four kinds, one row each.

    Columns: the photo, the flattened page, the ink found (lines removed shown grey), the
    digit kept, the 28x28 the model reads, as ``docs/photos.md`` shows them.
    """
    from PIL import Image

    from tools.photos import photo_of

    rows = []
    for digits, variation, seed in (([7], "ruled", 3), ([5], "shadow_jpeg", 2),
                                    ([3], "squared", 1), ([4, 2], "pencil", 0)):  # fmt: skip
        result = preprocess_digit(decode_image(photo_of(digits, variation, seed=seed)))
        steps = result.photo
        ink = steps.ink.astype(np.float32) + 0.4 * steps.lines
        model_sees = result.image if result.image is not None else np.zeros((28, 28))
        tiles = [steps.photo, steps.flattened, ink, steps.kept.astype(np.float32), model_sees]
        row = [_tile(tile, Image) for tile in tiles]
        rows.append(np.concatenate(row, axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    print(f"wrote {path}")


def _tile(values: np.ndarray, image_module, height: int = 150) -> np.ndarray:
    picture = image_module.fromarray((np.clip(values, 0, 1) * 255).astype(np.uint8))
    width = max(height, round(values.shape[1] * height / values.shape[0]))
    resample = image_module.Resampling.NEAREST if values.shape[0] == 28 else None
    picture = (
        picture.resize((width, height), resample) if resample else picture.resize((width, height))
    )
    return np.pad(np.asarray(picture), ((2, 2), (2, 2)), constant_values=128)


def report(summary: dict) -> None:
    """Print the tables: per variation (photo path and old path), per digit, the timing."""
    print(f"{summary['photos']} photos (seed {summary['seed']}), made in {summary['made_s']} s")
    print(f"{'variation':15} {'photo path':>11} {'old path':>9}")
    for name in VARIATIONS:
        photo, old = summary["variations"][name], summary["old_path_variations"][name]
        print(f"{name:15} {photo:11.1%} {old:9.1%}")
    print(f"{'all':15} {summary['accuracy']:11.1%} {summary['old_path_accuracy']:9.1%}")
    print("per digit: " + ", ".join(f"{d} {a:.1%}" for d, a in summary["digits"].items()))
    print(f"misses by answer: {summary['misses_by_outcome']}")
    timing = summary["phone_photo"]
    print(
        f"12 MP JPEG ({timing['bytes'] / 1e6:.1f} MB) read as {timing['read_as']}: median "
        f"{timing['median_ms']} ms (best {timing['best_ms']}, worst {timing['worst_ms']}; "
        f"decode {timing['decode_median_ms']} ms), load average {timing['load_average']}"
    )


if __name__ == "__main__":
    main()
