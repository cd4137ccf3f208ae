"""Time a sweep: 6 runs of the default settings for 3 epochs on the embedded sample.

The runs go one after the other through ``digitwidgets.learning.sweeps.run_sweep`` (the script API,
no widgets), each saved as an ordinary run. Prints the wall time and the best run;
``--json PATH`` also writes the figures. Target: under 120 seconds on this machine.

    .venv/bin/python bench/bench_sweep.py --json bench-sweep.json [--quick]
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

from digitwidgets.learning.hyperparameters import Hyperparameters  # noqa: E402
from digitwidgets.learning.mnist import load_embedded_sample  # noqa: E402
from digitwidgets.learning.runs import RunStore  # noqa: E402
from digitwidgets.learning.sweeps import run_sweep  # noqa: E402

TARGET_SECONDS = 120.0
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if it misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="2 runs of 1 epoch, 1,000 digits")
    args = parser.parse_args(argv)

    base = Hyperparameters(epochs=3)
    values = LEARNING_RATES
    data = load_embedded_sample()
    if args.quick:
        base, values = base.replace(epochs=1), LEARNING_RATES[:2]
        data = data.first(1000)
    run_seconds = []
    with tempfile.TemporaryDirectory() as runs:
        began = time.perf_counter()
        records = run_sweep(
            base,
            {"learning_rate": values},
            data=data,
            store=RunStore(runs),
            on_event=lambda event: (
                event.kind == "run-ended" and run_seconds.append(event.run.duration)
            ),
        )
        seconds = time.perf_counter() - began
    accuracies = {
        f"{record.hyperparameters.learning_rate:g}": record.final("val_accuracy")
        for record in records
    }
    best = max(accuracies, key=lambda key: accuracies[key] or 0.0)
    passed = len(records) == len(values) and seconds <= TARGET_SECONDS
    figures = {
        "benchmark": "sweep",
        "quick": args.quick,
        "target_seconds": TARGET_SECONDS,
        "passed": passed,
        "runs": len(records),
        "epochs": base.epochs,
        "data": data.info.to_dict(),
        "wall_seconds": round(seconds, 2),
        "run_seconds": [round(value, 2) for value in run_seconds],
        "overhead_seconds": round(seconds - sum(run_seconds), 2),
        "val_accuracy_by_learning_rate": accuracies,
        "best_learning_rate": best,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    print(
        f"Sweep of {len(records)} runs x {base.epochs} epochs on {data.info.n_train:,} digits: "
        f"{seconds:.1f} s (target {TARGET_SECONDS:.0f} s); best learning rate {best} "
        f"({accuracies[best]:.1%} validation accuracy)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(figures, file, indent=2)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
