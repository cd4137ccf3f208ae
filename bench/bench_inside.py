"""Time the views inside LeNet-5: every layer's output for a drawing, an epoch end's redraw,
and the map of 10,000 digits (PCA and openTSNE), with the process's peak memory.

Run from the repository root::

    .venv/bin/python bench/bench_inside.py --json inside.json [--quick] [--compare]

Uses the shipped pretrained LeNet-5 and real digits only. The map's 10,000 digits are the
embedded sample's 8,500 training and 1,500 test digits (all distinct, real MNIST): the
sample has only 1,500 test digits. Targets (issue 12): all layer outputs for one drawing
under 3 ms (median); the epoch end's redraw (new model's weights, filters, maps of the shown
drawing) under 1 % of an epoch; the linear map under 1 s; the t-SNE map under 30 s; the
process's peak memory under 1 GB. ``--compare`` also times scikit-learn's t-SNE, openTSNE
with its default iterations and umap-learn (whichever are installed) on the same features,
each in a subprocess of its own so that their memory is measured apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import psutil  # noqa: E402

TARGET_OUTPUTS_MS = 3.0
TARGET_EPOCH_SHARE = 0.01
TARGET_LINEAR_S = 1.0
TARGET_TSNE_S = 30.0
TARGET_MEMORY_MB = 1024
LIBRARIES = ("sklearn", "opentsne-defaults", "umap")


class PeakMemory:
    """The process's peak resident memory, sampled every 50 ms on a thread."""

    def __init__(self):
        self._process = psutil.Process()
        self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._done.wait(0.05):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._done.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


def timed(call, repeats: int, warmup: int = 5) -> dict:
    """Median and 95th percentile of ``call(i)`` in milliseconds."""
    for i in range(warmup):
        call(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 3),
    }


def main() -> None:
    """Parse the options, measure, print a table and write JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per measurement")
    parser.add_argument("--quick", action="store_true", help="few repeats, 1,000 digits mapped")
    parser.add_argument("--compare", action="store_true", help="also time the other libraries")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    options = parser.parse_args()
    repeats = 20 if options.quick else options.repeats

    import keras

    from digitwidgets.learning.mnist import load_embedded_sample
    from digitwidgets.learning.pretrained import load_pretrained
    from digitwidgets.reading.inside import embed_neighbours, layer_probe, linear_projection
    from digitwidgets.reading.recognition import Recognition
    from digitwidgets.widgets.layer_view import LayerView

    data = load_embedded_sample()
    model, _ = load_pretrained()
    digits = data.x_test[:50].astype(np.float32) / 255.0
    figures: dict = {"benchmark": "inside", "quick": options.quick, "repeats": repeats}

    with PeakMemory() as memory:
        probe = layer_probe(model)
        figures["layer_outputs"] = timed(lambda i: probe.outputs(digits[i % 50]), repeats)
        names = [info.name for info in probe.layers[1:]]
        sub_models = [keras.Model(model.input, model.get_layer(n).output) for n in names]
        figures["layer_outputs_one_submodel_per_layer"] = timed(
            lambda i: [np.asarray(m(digits[i % 50][None])) for m in sub_models], repeats // 4 or 1
        )
        recognitions = [
            Recognition(0, np.full(10, 0.1, np.float32), _prepared(image)) for image in digits
        ]
        view = LayerView(model, recognitions[0])
        for layer in ("c1", "c3"):
            view.select(layer)
            figures[f"layer_view_new_digit_{layer}"] = timed(
                lambda i: setattr(view, "value", recognitions[(i + 1) % 50]), repeats // 2 or 1
            )
        view.select("c1")

        # An epoch end: the trainer hands over a copy with new weights; the view redraws.
        copies = []
        for scale in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4):
            copy = keras.models.clone_model(model)
            copy.set_weights([w * scale for w in model.get_weights()])
            copies.append(copy)
        epoch_end = timed(lambda i: setattr(view, "model", copies[i % 6]), 12, warmup=2)
        figures["epoch_end_redraw"] = epoch_end
        figures["epoch_seconds"] = _epoch_seconds(data, quick=options.quick)
        figures["epoch_end_share"] = round(
            epoch_end["median_ms"] / 1000 / figures["epoch_seconds"], 4
        )

        count = 1000 if options.quick else 10_000
        images = np.concatenate([data.x_train, data.x_test])[-count:]
        start = time.perf_counter()
        features, _ = probe.penultimate(images)
        figures["features_seconds"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        linear_projection(features)
        figures["linear_seconds"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        embed_neighbours(features)
        figures["tsne_seconds"] = round(time.perf_counter() - start, 2)
        figures["digits_mapped"] = count
    figures["peak_memory_mb"] = memory.peak_mb
    if options.compare:
        figures["compare"] = _compare(features)

    figures["passed"] = bool(
        figures["layer_outputs"]["median_ms"] < TARGET_OUTPUTS_MS
        and figures["epoch_end_share"] < TARGET_EPOCH_SHARE
        and figures["linear_seconds"] < TARGET_LINEAR_S
        and figures["tsne_seconds"] < TARGET_TSNE_S
        and figures["peak_memory_mb"] < TARGET_MEMORY_MB
    )
    print(json.dumps(figures, indent=2))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
    sys.exit(0 if figures["passed"] else 1)


def _prepared(image):
    from digitwidgets.reading.preprocessing import Preprocessed

    return Preprocessed(image=image, cropped=image, scaled=image)


def _epoch_seconds(data, *, quick: bool) -> float:
    """One epoch of the default LeNet-5 on the sample's 8,500 training digits (the second)."""
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5

    count = 2000 if quick else len(data.x_train)
    x = data.x_train[:count].astype(np.float32) / 255.0
    model = build_lenet5(Hyperparameters(epochs=2))
    model.fit(x, data.y_train[:count], epochs=1, batch_size=64, verbose=0)  # traced here
    start = time.perf_counter()
    model.fit(x, data.y_train[:count], epochs=1, batch_size=64, verbose=0)
    return round(time.perf_counter() - start, 3)


_CHILD = """
import json, sys, time, threading
import numpy as np, psutil
library, path = sys.argv[1], sys.argv[2]
features = np.load(path)
process = psutil.Process(); peak = [process.memory_info().rss]; done = threading.Event()
def watch():
    while not done.wait(0.05):
        peak[0] = max(peak[0], process.memory_info().rss)
threading.Thread(target=watch, daemon=True).start()
start = time.perf_counter()
if library == "sklearn":
    from sklearn.manifold import TSNE
    TSNE(2, init="pca", random_state=0, n_jobs=2).fit_transform(features)
elif library == "opentsne-defaults":
    from openTSNE import TSNE
    TSNE(n_jobs=2, random_state=0).fit(features)
else:
    import umap
    umap.UMAP(n_jobs=2).fit_transform(features)
done.set()
print(json.dumps({"seconds": round(time.perf_counter() - start, 1),
                  "peak_memory_mb": round(peak[0] / 2**20, 1)}))
"""


def _compare(features) -> dict:
    """Each library's time and peak memory on ``features``, in a subprocess each."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "features.npy"
        np.save(path, features)
        for library in LIBRARIES:
            finished = subprocess.run(
                [sys.executable, "-c", _CHILD, library, str(path)],
                capture_output=True,
                text=True,
                timeout=600,
            )
            lines = finished.stdout.strip().splitlines()
            if finished.returncode == 0 and lines:
                results[library] = json.loads(lines[-1])
            else:
                results[library] = {"error": (finished.stderr.strip().splitlines() or ["?"])[-1]}
    return results


if __name__ == "__main__":
    main()
