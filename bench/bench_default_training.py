"""Train the default hyperparameters on the embedded sample through the Trainer; time it.

Prints the test accuracy and wall time; ``--json PATH`` also writes them as JSON.
Target: at least 97% test accuracy within 120 seconds on a laptop CPU.

    .venv/bin/python bench/bench_default_training.py --json bench-default.json [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from digitwidgets.learning.hyperparameters import Hyperparameters  # noqa: E402
from digitwidgets.learning.mnist import load_embedded_sample  # noqa: E402
from digitwidgets.learning.runs import RunStore  # noqa: E402
from digitwidgets.learning.training import Trainer  # noqa: E402

TARGET_ACCURACY = 0.97
TARGET_SECONDS = 120.0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if it misses either target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--seed", type=int, default=Hyperparameters().seed)
    parser.add_argument("--quick", action="store_true", help="1,000 digits, one epoch")
    args = parser.parse_args(argv)

    hp = Hyperparameters(seed=args.seed)
    data = load_embedded_sample()
    if args.quick:
        hp = hp.replace(epochs=1)
        data = data.first(1000)
    epochs = []
    with tempfile.TemporaryDirectory() as runs:
        trainer = Trainer(RunStore(runs))
        trainer.add_listener(lambda event: event.kind == "epoch" and epochs.append(event.elapsed))
        began = time.perf_counter()
        trainer.start(hp, data)
        trainer.wait()
        seconds = time.perf_counter() - began
        model = trainer.model
    if model is None:
        print("Training produced no model.", file=sys.stderr)
        return 1
    images = data.x_test.astype("float32") / 255.0
    probabilities = np.concatenate(
        [np.asarray(model(images[i : i + 500])) for i in range(0, len(images), 500)]
    )
    accuracy = float((probabilities.argmax(axis=1) == data.y_test).mean())

    figures = {
        "benchmark": "default_training",
        "quick": args.quick,
        "target_accuracy": TARGET_ACCURACY,
        "target_seconds": TARGET_SECONDS,
        "passed": accuracy >= TARGET_ACCURACY and seconds <= TARGET_SECONDS,
        "hyperparameters": hp.to_dict(),
        "data": data.info.to_dict(),
        "test_accuracy": accuracy,
        "wall_seconds": round(seconds, 2),
        "seconds_per_epoch": round(seconds / hp.epochs, 2),
        "first_epoch_seconds": round(epochs[0], 2) if epochs else None,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    print(f"Test accuracy {accuracy:.2%} on {len(images)} digits in {seconds:.1f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(figures, file, indent=2)
    return 0 if accuracy >= TARGET_ACCURACY and seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
