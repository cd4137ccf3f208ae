"""How training time grows: against the number of digits and against the number of epochs.

Trains through the ``Trainer`` (as the dashboard does, without a page) on the embedded
sample's real digits repeated to 10,000, 30,000 and 60,000 images (one epoch each), and on
10,000 images for 1, 2 and 4 epochs, in turn, several rounds. A straight line through the
medians (least squares) gives the fixed cost and the cost per digit or per epoch; the
largest departure of a median from that line says how far from linear it is.

    .venv/bin/python bench/bench_training_scaling.py --json scaling.json [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dashboard_page as dp  # noqa: E402
import numpy as np  # noqa: E402

from digitwidgets.learning.hyperparameters import Hyperparameters  # noqa: E402
from digitwidgets.learning.mnist import DataInfo, MnistData, load_embedded_sample  # noqa: E402
from digitwidgets.learning.runs import RunStore  # noqa: E402
from digitwidgets.learning.training import Trainer  # noqa: E402


def repeated_sample(n_train: int) -> MnistData:
    """The sample's training digits repeated (or cut) to ``n_train`` images."""
    sample = load_embedded_sample()
    index = np.resize(np.arange(len(sample.x_train)), n_train)
    info = DataInfo("path", "repeated embedded sample", n_train, len(sample.x_test))
    return MnistData(
        sample.x_train[index], sample.y_train[index], sample.x_test, sample.y_test, info
    )


def train_seconds(trainer: Trainer, hp: Hyperparameters, data: MnistData) -> float:
    """The Trainer's own duration of one run."""
    run_id = trainer.start(hp, data)
    trainer.wait()
    record = trainer.store.get(run_id)
    if record.status != "finished":
        raise RuntimeError(f"training ended as {record.status}: {record.message}")
    return record.duration


def line_fit(xs, ys) -> dict:
    """Least-squares line through (xs, ys) and how far the points stray from it."""
    slope, intercept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    predicted = slope * np.asarray(xs, float) + intercept
    departure = np.abs(np.asarray(ys) - predicted) / np.asarray(ys)
    return {
        "slope": float(slope),
        "intercept_s": round(float(intercept), 3),
        "max_departure": round(float(departure.max()), 3),
        "linear": bool(departure.max() < 0.1),
    }


def main(argv: list[str] | None = None) -> int:
    """Train at every size and epoch count, print and write JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = (500, 1000, 2000) if args.quick else (10_000, 30_000, 60_000)
    epoch_counts = (1, 2) if args.quick else (1, 2, 4)
    rounds = 1 if args.quick else args.rounds
    hp = Hyperparameters(epochs=1)
    datasets = {size: repeated_sample(size) for size in sizes}

    by_size = {size: [] for size in sizes}
    by_epochs = {epochs: [] for epochs in epoch_counts}
    with tempfile.TemporaryDirectory() as runs:
        trainer = Trainer(RunStore(runs))
        for round_number in range(rounds):
            for size in sizes:
                by_size[size].append(train_seconds(trainer, hp, datasets[size]))
            for epochs in epoch_counts:
                seconds = train_seconds(trainer, hp.replace(epochs=epochs), datasets[sizes[0]])
                by_epochs[epochs].append(seconds)
            print(f"round {round_number + 1}: {by_size} {by_epochs}", file=sys.stderr)

    size_medians = {size: statistics.median(values) for size, values in by_size.items()}
    epoch_medians = {epochs: statistics.median(values) for epochs, values in by_epochs.items()}
    size_fit = line_fit(list(size_medians), list(size_medians.values()))
    epoch_fit = line_fit(list(epoch_medians), list(epoch_medians.values()))
    figures = {
        "benchmark": "training_scaling",
        "quick": args.quick,
        "rounds": rounds,
        "batch_size": hp.batch_size,
        "by_size": {
            str(size): {
                "median_s": round(median, 3),
                "digits_per_s": round(size * (1 - hp.validation_split) / median, 1),
                "samples_s": [round(s, 3) for s in by_size[size]],
            }
            for size, median in size_medians.items()
        },
        "by_epochs": {
            str(epochs): {
                "median_s": round(median, 3),
                "samples_s": [round(s, 3) for s in by_epochs[epochs]],
            }
            for epochs, median in epoch_medians.items()
        },
        "epochs_data_size": sizes[0],
        "size_fit": {**size_fit, "ms_per_1000_digits": round(size_fit["slope"] * 1e6, 1)},
        "epoch_fit": {**epoch_fit, "s_per_epoch": round(epoch_fit["slope"], 3)},
        "machine": dp.machine(),
    }
    print(f"{'digits':>8} {'1 epoch s':>10}")
    for size, row in figures["by_size"].items():
        print(f"{size:>8} {row['median_s']:10.2f}")
    print(f"{'epochs':>8} {'seconds':>10}")
    for epochs, row in figures["by_epochs"].items():
        print(f"{epochs:>8} {row['median_s']:10.2f}")
    print(f"size: {figures['size_fit']}\nepochs: {figures['epoch_fit']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
