"""What the runs table costs a page as saved runs pile up: 20, 300 and 1,000 of them.

A class's runs folder is shared by every page of the server, so each page that opens the
dashboard builds the table of all of them. For each count, in one process: reading the folder
(``RunStore.list``), building the table (``RunComparison``, what a page load does), the widget
models that sends to the page, and a run's end (one more run saved, the table refreshed): its
time and its new widget models. The runs are copies of one real saved run (its record
rewritten with a new id and time; its model file linked, which listing does not read).

Target: at 1,000 saved runs the table builds in under 0.5 s and sends no more widget models
than at 20 (it shows a page of them).

    .venv/bin/python bench/bench_runs_table.py --json runs-table.json [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ipywidgets.widgets.widget import _instances  # noqa: E402

from digitwidgets.learning.hyperparameters import Hyperparameters  # noqa: E402
from digitwidgets.learning.model import build_lenet5  # noqa: E402
from digitwidgets.learning.runs import MODEL_FILE, RUN_FILE, RunStore  # noqa: E402
from digitwidgets.widgets.run_comparison import RunComparison  # noqa: E402

COUNTS = (20, 300, 1000)
TARGET_BUILD_S = 0.5


def _started(index: int) -> str:
    return f"2026-01-{1 + index // 1440:02d}T{index // 60 % 24:02d}:{index % 60:02d}:00+00:00"


def save_first(store: RunStore) -> Path:
    """One real saved run: two epochs' history of a LeNet-5 (untrained: nothing reads it)."""
    hp = Hyperparameters(epochs=2)
    store.save(
        run_id="run-00000",
        model=build_lenet5(hp),
        hyperparameters=hp,
        history={
            "loss": [0.9, 0.4],
            "accuracy": [0.75, 0.9],
            "val_loss": [0.6, 0.35],
            "val_accuracy": [0.85, 0.92],
        },
        data={"source": "embedded-sample", "n_train": 8500},
        started_at=_started(0),
        duration=12.0,
        status="finished",
    )
    return store.root / "run-00000"


def copy_run(first: Path, index: int) -> None:
    """A copy of ``first`` with its own id and start time."""
    folder = first.parent / f"run-{index:05d}"
    folder.mkdir()
    (folder / MODEL_FILE).symlink_to(first / MODEL_FILE)
    record = json.loads((first / RUN_FILE).read_text(encoding="utf-8"))
    record.update(run_id=folder.name, started_at=_started(index))
    (folder / RUN_FILE).write_text(json.dumps(record), encoding="utf-8")


def models_made(action) -> tuple[float, int, object]:
    """Seconds ``action()`` took, the widget models it made, and what it returned."""
    before = set(_instances)
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, len(set(_instances) - before), result


def measure(count: int, folder: Path) -> dict:
    store = RunStore(folder / f"runs-{count}")
    first = save_first(store)
    for index in range(1, count):
        copy_run(first, index)
    began = time.perf_counter()
    listed = len(store.list())
    list_s = time.perf_counter() - began
    build_s, build_models, table = models_made(lambda: RunComparison(store))
    copy_run(first, count)
    end_s, end_models, _ = models_made(table.refresh)
    table.close()
    return {
        "runs": listed,
        "list_ms": round(list_s * 1000, 1),
        "build_ms": round(build_s * 1000, 1),
        "build_widget_models": build_models,
        "run_end_ms": round(end_s * 1000, 1),
        "run_end_widget_models": end_models,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if it misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="20 and 60 saved runs")
    args = parser.parse_args(argv)
    counts = (20, 60) if args.quick else COUNTS
    # A first table, so that the counts below leave out what any first build imports or makes.
    with tempfile.TemporaryDirectory() as scratch:
        measure(2, Path(scratch))
        by_count = {str(count): measure(count, Path(scratch)) for count in counts}
    fewest, most = by_count[str(counts[0])], by_count[str(counts[-1])]
    passed = (
        most["build_ms"] <= TARGET_BUILD_S * 1000
        and most["build_widget_models"] <= fewest["build_widget_models"]
    )
    for count, row in by_count.items():
        print(
            f"{count:>5} saved runs: listed in {row['list_ms']:.0f} ms; the table built in "
            f"{row['build_ms']:.0f} ms, {row['build_widget_models']} widget models; a run's end "
            f"{row['run_end_ms']:.0f} ms, {row['run_end_widget_models']} new models"
        )
    figures = {
        "benchmark": "runs_table",
        "quick": args.quick,
        "target_build_s": TARGET_BUILD_S,
        "passed": passed,
        "by_count": by_count,
        "most": counts[-1],
    }
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
