"""What the live dashboard costs over plain Keras: a training with every view open vs ``fit``.

Two ways, each against plain ``model.fit`` on the Trainer's own data pipeline (same digits,
split, hyperparameters and seed, no callbacks), alternating in pairs so that the shared
machine's load falls on both alike:

- **In one process** (``--way in-process``): a ``Dashboard`` with a 7 on the pad, the layers
  view open with a pixel explained, step 4 built and the map of digits computed and on show;
  4 epochs of the embedded sample (short epochs, where each epoch's reactions weigh most).
  Processor time is this process's; each reaction's own processor time is clocked where it
  runs (``REACTIONS``) and reported per epoch.
- **Through the browser** (``--way browser``): Voila serves the dashboard to the system
  Chromium; a 7 is drawn, the layers view opened and the map of digits shown; the page sets
  epochs and batch size and clicks Train. The dashboard's time is the Trainer's ``duration``
  (start to saved model); processor time is the kernel's (the page's Chromium beside it).
  2 epochs of 60,000 digits (the embedded sample's repeated where full MNIST is not cached).

Batch 32 and 128, 21 pairs each in process and 9 by page (the median of 5 moved 5 points
between runs of the same code). Processor time counts everything a run makes the page do,
its evaluation on the test digits included. Targets: median wall-time ratio at most 1.03 and
processor-time ratio at most 1.05, at both batch sizes, both ways.

    .venv/bin/python bench/bench_training_overhead.py --json overhead.json [--quick] [--way ...]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
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

import dashboard_page as dp  # noqa: E402

# Rounds per batch size. In process a round is two runs of a few seconds, whose ratio moved
# 0.71-1.44 on this machine: 21 of them cost about 4 minutes more than 9 and narrow the
# median's range by a third. By page a round is two runs of 10-25 s.
IN_PROCESS_REPEATS = 21
BROWSER_REPEATS = 9
TARGET_RATIO = 1.03
TARGET_CPU_RATIO = 1.05
SEVEN = [(0.25, 0.22), (0.75, 0.22), (0.6, 0.45), (0.45, 0.8)]
CPU_KEYS = ("plain_cpu_s", "kernel_cpu_s", "browser_cpu_s")


def browser_cpu_seconds() -> float:
    """CPU seconds used so far by this process's Chromium (the page's renderer included)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    return dp.cpu_seconds([child for child in children if "chrom" in child.name().lower()])


def n_test_digits(n_train: int) -> int:
    """How many test digits to write beside ``n_train`` training digits: a quick run (under
    1,000) maps 300, since the map's t-SNE is most of its set-up; otherwise the sample's 1,500."""
    return 300 if n_train < 1000 else 1500


def plain_fit(data, epochs: int, batch_size: int) -> dict:
    """Train LeNet-5 as the Trainer would, with plain ``model.fit`` and nothing else:
    ``{"seconds", "cpu_s", "n_train"}`` (this process's processor time)."""
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5
    from digitwidgets.learning.training.data import datasets, training_size

    hp = Hyperparameters(epochs=epochs, batch_size=batch_size)
    began, cpu_began = time.monotonic(), time.process_time()
    # The Trainer's own data pipeline, so that both sides do the same work but for what the
    # dashboard adds (its callback, the reactions to its events, saving the run).
    n_validation = round(len(data.x_train) * hp.validation_split)
    train, validation = datasets(hp, data.x_train, data.y_train, n_validation)
    model = build_lenet5(hp)
    model.fit(train, epochs=hp.epochs, shuffle=False, validation_data=validation, verbose=0)
    n_train = training_size(hp, len(data.x_train), n_validation)
    seconds = time.monotonic() - began
    return {"seconds": seconds, "cpu_s": time.process_time() - cpu_began, "n_train": n_train}


def freeze_imports() -> None:
    """Leave what is imported so far out of Python's garbage collections, as a dashboard
    kernel forked from the server's full template has it (``digitwidgets/server/forking.py``
    freezes TensorFlow and Keras there): 350,000 objects. A full collection of a process
    that also holds a built dashboard and walks them all cost 0.24-0.32 s, 7% of a 4-epoch
    run, and fell on whichever side of a pair was under way when the two sides' allocations
    added up to one. In one process only,
    where both sides share it: by page the plain side is a plain process, and the page's
    kernel may be one forked from the light template, which imports TensorFlow itself."""
    import importlib

    from digitwidgets.server import forking

    # What the light and the full template import, as they import it (Keras through
    # digitwidgets.keras_import, without scikit-learn's and matplotlib's corners).
    for name in (*forking.PRELOAD_LIGHT, *forking.PRELOAD_EARLY, *forking.PRELOAD_FULL):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()


def plain_worker(data_path: str) -> None:
    """Read ``{"epochs", "batch_size"}`` lines on stdin; train plainly; print the seconds."""
    from digitwidgets.learning.mnist import load_mnist

    data = load_mnist(data_path)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(plain_fit(data, **json.loads(line))), flush=True)


class PlainTrainer:
    """A plain Python process of this environment that trains on request."""

    def __init__(self, data_path: Path):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--plain-worker", str(data_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=dp.ROOT,
        )
        self._read()

    def _read(self) -> dict:
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError("the plain training process ended early")

    def train(self, epochs: int, batch_size: int) -> dict:
        """Train once and return ``{"seconds", "n_train"}``."""
        self.process.stdin.write(json.dumps({"epochs": epochs, "batch_size": batch_size}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        """End the process."""
        self.process.stdin.close()
        self.process.wait(timeout=30)


def measure(browser, scratch: Path, *, epochs: int, batch_sizes, repeats: int, n_train):
    """Alternate dashboard and plain trainings; return every duration per batch size."""
    import psutil

    data = (
        dp.write_digits(scratch / "digits.npz", n_train, n_test_digits(n_train))
        if n_train
        else dp.SAMPLE
    )
    home = scratch / "voila"
    server = dp.VoilaServer(dp.NOTEBOOK, home, env={"DIGITWIDGETS_MNIST": str(data)}).start()
    plain = PlainTrainer(data)
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    samples = {
        size: {key: [] for key in ("dashboard_s", "plain_s", "click_to_end_s", *CPU_KEYS)}
        for size in batch_sizes
    }
    known: set[str] = set()
    try:
        page = context.new_page()
        page.set_default_timeout(dp.PAGE_TIMEOUT_MS)
        page.goto(server.url)
        page.wait_for_selector(dp.TRAIN_ENABLED)
        # As a curious visitor leaves the page: a digit on the pad, and below.
        page.wait_for_function(
            "() => !/Loading the pretrained/.test("
            "document.querySelector('.dw-model-label').textContent)"
        )
        dp.draw_stroke(page, SEVEN)
        page.wait_for_function(
            "() => document.querySelector('.dw-prediction').textContent.trim() !== ''"
        )
        # The layers view open, and the map of digits computed and on show.
        page.click("button.dw-open-layers")
        page.wait_for_selector(".dw-layers .dw-layer", state="visible")
        dp.show_tab(page, "Map of digits")
        page.wait_for_function(
            "() => /Your digit/.test(document.querySelector('.dw-map-point-you').textContent)"
        )
        kernel = dp.kernel_process(server, page.evaluate(dp.KERNEL_ID))
        # The server starts a spare kernel once this page has taken one (2-4 s of processor
        # time): it must not fall on the first measurement.
        dp.wait_until_idle([psutil.Process(server.process.pid)])
        for repeat in range(repeats):
            for size in batch_sizes:
                figures = samples[size]
                # Alternate which goes first, so that a slow spell does not favour one side.
                for side in ("dashboard", "plain") if repeat % 2 == 0 else ("plain", "dashboard"):
                    if side == "plain":
                        result = plain.train(epochs, size)
                        figures["plain_s"].append(result["seconds"])
                        figures["plain_cpu_s"].append(result["cpu_s"])
                        figures["n_train"] = result["n_train"]
                    else:
                        kernel_cpu, browser_cpu = dp.cpu_seconds([kernel]), browser_cpu_seconds()
                        shown = dp.train_on_page(page, epochs=epochs, batch_size=size)
                        run = dp.new_run(home / "runs", known)
                        if run["status"] != "finished":
                            raise RuntimeError(f"dashboard run ended as {shown['status']!r}")
                        # Everything the run makes the page do counts, its evaluation on the
                        # test digits included (read at a moment that does not depend on how
                        # far that evaluation got).
                        page.wait_for_function(
                            "id => document.querySelector('.dw-evaluation-status')"
                            ".textContent.includes(id)",
                            arg=run["run_id"],
                        )
                        figures["kernel_cpu_s"].append(dp.cpu_seconds([kernel]) - kernel_cpu)
                        figures["browser_cpu_s"].append(browser_cpu_seconds() - browser_cpu)
                        # Nothing left over from this run may slow the next measurement down.
                        dp.wait_until_idle([kernel])
                        figures["dashboard_s"].append(run["duration"])
                        figures["click_to_end_s"].append(shown["click_to_end_s"])
                print(f"batch {size}, round {repeat + 1}: {figures}", file=sys.stderr)
    finally:
        context.close()
        plain.close()
        server.stop()
    return samples


def open_everything(data, runs: Path):
    """A ``Dashboard`` as a curious visitor leaves it: a 7 on the pad, the layers view open
    with a pixel explained, step 4 built with the map of digits computed and on show."""
    from digitwidgets.learning.runs import RunStore
    from digitwidgets.learning.training import Trainer
    from digitwidgets.widgets.dashboard import Dashboard

    trainer = Trainer(RunStore(runs))
    dashboard = Dashboard(data, trainer=trainer)
    if not dashboard.wait_until_ready(120):
        raise RuntimeError("the pretrained model did not load")
    pad = dashboard.pad
    points = [(x * pad.size, y * pad.size) for x, y in SEVEN]
    pad._on_mouse_down(*points[0])
    for point in points[1:]:
        pad._on_mouse_move(*point)
    pad._on_mouse_up(*points[-1])
    dashboard.open_layers()
    dashboard.layers.pick(2, 10, 12)
    dashboard.open_details()
    tabs = dashboard._details.children[0]
    tabs.selected_index = tabs.children.index(dashboard.digit_map)
    if not dashboard.digit_map.wait(300):
        raise RuntimeError("the map of digits was not computed")
    dashboard.evaluation.wait(120)
    return dashboard


def settle(dashboard) -> None:
    """Wait until every reaction to the last run has run (events, evaluation, the map)."""
    dashboard.trainer._events.drain(300)
    dashboard.evaluation.wait(300)
    dashboard.digit_map.wait(300)


# What reacts to a training, by what a visitor sees: (label, module, owner, method); owner
# None for a module's function. Timed on whichever thread runs them, exclusive of each other.
REACTIONS = (
    (
        "Each epoch's model copy for the page",
        "digitwidgets.learning.training.progress",
        None,
        "inference_copy",
    ),
    (
        "Pad: its drawing read by the new model",
        "digitwidgets.widgets.drawing_pad",
        "DrawingPad",
        "_on_model_change",
    ),
    (
        "Prediction view: reading, bars, saliency",
        "digitwidgets.widgets.prediction_view",
        "PredictionView",
        "_on_model_change",
    ),
    (
        "Layers view: every layer's maps and filters",
        "digitwidgets.widgets.layer_view",
        "LayerView",
        "_update",
    ),
    (
        "Explanation of the picked number",
        "digitwidgets.widgets.number_explanation",
        "NumberExplanation",
        "_update",
    ),
    (
        "Map of digits: your digit placed",
        "digitwidgets.widgets.digit_map",
        "DigitMap",
        "_on_value_change",
    ),
    ("Training chart", "digitwidgets.widgets.training_chart", "TrainingChart", "handle_event"),
    (
        "Training panel: status and progress",
        "digitwidgets.widgets.training_panel",
        "TrainingPanel",
        "_on_event",
    ),
    (
        "Weights tab: distributions",
        "digitwidgets.widgets.weight_distributions",
        "WeightDistributions",
        "handle_event",
    ),
    ("Runs table", "digitwidgets.widgets.run_comparison", "RunComparison", "_on_training_event"),
    ("Export links", "digitwidgets.widgets.export_panel", "ExportPanel", "_on_run_change"),
    (
        "Evaluation on the test digits (run's end)",
        "digitwidgets.widgets.evaluation_panel",
        None,
        "evaluate",
    ),
    (
        "Weights' distributions recorded (training thread)",
        "digitwidgets.learning.distributions",
        "DistributionRecorder",
        "epoch_ended",
    ),
    ("Saving the run (training thread)", "digitwidgets.learning.runs", "RunStore", "save"),
)


class ReactionClock:
    """Processor time of each reaction on the thread that runs it (``time.thread_time``),
    a reaction's own time only (what it calls that is timed too counts there)."""

    def __init__(self):
        self.seconds = {label: 0.0 for label, *_ in REACTIONS}
        self.on = False
        self._stack = threading.local()
        self._undo = []

    def install(self) -> None:
        """Wrap every reaction of ``REACTIONS``."""
        import importlib

        for label, module_name, owner_name, name in REACTIONS:
            module = importlib.import_module(module_name)
            owner = getattr(module, owner_name) if owner_name else module
            original = getattr(owner, name)
            setattr(owner, name, self._timed(label, original))
            self._undo.append((owner, name, original))

    def remove(self) -> None:
        """Put every reaction back as it was."""
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo = []

    def _timed(self, label, original):
        clock = self

        def timed(*args, **kwargs):
            if not clock.on:
                return original(*args, **kwargs)
            stack = clock._stack.__dict__.setdefault("frames", [])
            stack.append(0.0)
            began = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.thread_time() - began
                nested = stack.pop()
                clock.seconds[label] += spent - nested
                if stack:
                    stack[-1] += spent

        return timed


def measure_in_process(*, epochs: int, batch_sizes, repeats: int, n_train) -> dict:
    """Alternate a training behind a fully open ``Dashboard`` and plain ``fit``, in this
    process; each side's wall time and this process's processor time."""
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.mnist import load_mnist

    freeze_imports()
    scratch = Path(tempfile.mkdtemp())
    data = load_mnist(
        dp.write_digits(scratch / "digits.npz", n_train, n_test_digits(n_train))
        if n_train
        else dp.SAMPLE
    )
    samples = {
        size: {key: [] for key in ("dashboard_s", "plain_s", "kernel_cpu_s", "plain_cpu_s")}
        for size in batch_sizes
    }
    clock = ReactionClock()
    clock.install()
    with tempfile.TemporaryDirectory() as runs:
        dashboard = open_everything(data, Path(runs))
        trainer = dashboard.trainer
        ended = []
        trainer.add_listener(lambda event: event.run is not None and ended.append(event.run))
        # One untimed run of each side: TensorFlow's first traces and allocations.
        plain_fit(data, 1, batch_sizes[0])
        trainer.start(Hyperparameters(epochs=1, batch_size=batch_sizes[0]), data)
        trainer.wait(600)
        settle(dashboard)
        for repeat in range(repeats):
            for size in batch_sizes:
                figures = samples[size]
                for side in ("dashboard", "plain") if repeat % 2 == 0 else ("plain", "dashboard"):
                    if side == "plain":
                        result = plain_fit(data, epochs, size)
                        figures["plain_s"].append(result["seconds"])
                        figures["plain_cpu_s"].append(result["cpu_s"])
                        figures["n_train"] = result["n_train"]
                        continue
                    cpu = time.process_time()
                    clock.on = size == batch_sizes[-1]  # one batch size's runs, for the table
                    trainer.start(Hyperparameters(epochs=epochs, batch_size=size), data)
                    if not trainer.wait(1800):
                        raise RuntimeError("the dashboard's training did not end")
                    # Everything the run makes the page do counts: every epoch's reactions,
                    # those still queued at the end, and the evaluation on the test digits.
                    settle(dashboard)
                    figures["kernel_cpu_s"].append(time.process_time() - cpu)
                    run = ended[-1]
                    if run.status != "finished":
                        raise RuntimeError(f"dashboard run ended as {run.status!r}")
                    figures["dashboard_s"].append(run.duration)
                    clock.on = False
                print(f"in process, batch {size}, round {repeat + 1}: {figures}", file=sys.stderr)
        alone = reactions_alone(dashboard, data)
        trainer.shutdown()
    clock.remove()
    runs_timed = repeats * epochs
    breakdown = {
        label: round(seconds / runs_timed * 1000, 1) for label, seconds in clock.seconds.items()
    }
    return samples, {
        "batch_size": batch_sizes[-1],
        "ms_per_epoch": breakdown,
        "alone_ms_per_epoch": alone,
    }


def reactions_alone(dashboard, data, epochs: int = 40) -> float:
    """The process's processor time per epoch for the page's reactions with no training
    beside them: ``epochs`` epoch ends of one run handed to the Trainer's event worker as
    the training thread hands them (a weights snapshot each), one at a time. Steadier than
    the ratios, which move with the training's own noise."""
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5
    from digitwidgets.learning.training.events import EventKind, TrainingEvent
    from digitwidgets.learning.training.progress import ModelSnapshot

    trainer = dashboard.trainer
    model = build_lenet5(Hyperparameters())
    logs = {"loss": 0.3, "accuracy": 0.9, "val_loss": 0.3, "val_accuracy": 0.9}
    batches = 60

    warm_up = 3  # first traces and slots
    run_epochs = warm_up + epochs

    def epoch_end(epoch: int) -> None:
        event = TrainingEvent(
            EventKind.EPOCH,
            "alone",
            epoch=epoch,
            epochs=run_epochs,
            batch=batches,
            batches=batches,
            step=batches * (epoch + 1),
            logs=logs,
        )
        trainer._send(event, ModelSnapshot(model))
        trainer._events.drain(60)

    trainer._send(TrainingEvent(EventKind.START, "alone", epochs=run_epochs, batches=batches))
    for epoch in range(warm_up):
        epoch_end(epoch)
    began = time.process_time()
    for epoch in range(warm_up, run_epochs):
        epoch_end(epoch)
    return round((time.process_time() - began) / epochs * 1000, 1)


def summarise(samples: dict, epochs: int) -> dict:
    """Ratios, medians and samples per second for each batch size.

    The ratios are medians of each round's dashboard/plain pair (taken one after the other),
    so that a slow spell of the shared machine falls on both sides of a pair: wall time (the
    Trainer's own duration against plain ``fit``'s) and processor time (the kernel's, or this
    process's in process, against the plain side's). The reactions' processor time per epoch
    is the median pair's difference divided by the epochs. Through the browser, the page's
    own processor time (drawing the chart) is reported beside.
    """
    rows = {}
    for size, figures in samples.items():
        dashboard = statistics.median(figures["dashboard_s"])
        plain = statistics.median(figures["plain_s"])
        ratios = _ratios(figures["dashboard_s"], figures["plain_s"])
        cpu_ratios = _ratios(figures["kernel_cpu_s"], figures["plain_cpu_s"])
        extra = [
            (kernel - plain_cpu) / epochs
            for kernel, plain_cpu in zip(
                figures["kernel_cpu_s"], figures["plain_cpu_s"], strict=True
            )
        ]
        ratio, cpu_ratio = statistics.median(ratios), statistics.median(cpu_ratios)
        seen = figures["n_train"] * epochs
        row = {
            "ratio": round(ratio, 3),
            "ratio_per_round": [round(r, 3) for r in ratios],
            "cpu_ratio": round(cpu_ratio, 3),
            "cpu_ratio_per_round": [round(r, 3) for r in cpu_ratios],
            "reactions_cpu_ms_per_epoch": round(statistics.median(extra) * 1000),
            "dashboard_median_s": round(dashboard, 3),
            "plain_median_s": round(plain, 3),
            "kernel_cpu_median_s": round(statistics.median(figures["kernel_cpu_s"]), 3),
            "plain_cpu_median_s": round(statistics.median(figures["plain_cpu_s"]), 3),
            "dashboard_samples_per_s": round(seen / dashboard, 1),
            "plain_samples_per_s": round(seen / plain, 1),
            "dashboard_s": [round(s, 3) for s in figures["dashboard_s"]],
            "plain_s": [round(s, 3) for s in figures["plain_s"]],
            "n_train": figures["n_train"],
            "passed": ratio <= TARGET_RATIO and cpu_ratio <= TARGET_CPU_RATIO,
        }
        if figures.get("browser_cpu_s"):
            row["browser_cpu_median_s"] = round(statistics.median(figures["browser_cpu_s"]), 3)
            row["click_to_end_median_s"] = round(statistics.median(figures["click_to_end_s"]), 3)
        rows[str(size)] = row
    return rows


def _ratios(ours, plain) -> list[float]:
    return [mine / theirs for mine, theirs in zip(ours, plain, strict=True)]


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print it and write JSON if asked; exit 1 if a ratio misses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="600 digits, one epoch, one round")
    parser.add_argument(
        "--way",
        choices=("both", "in-process", "browser"),
        default="both",
        help="in this process with every view built, through the browser, or both",
    )
    parser.add_argument("--epochs", type=int, default=None, help="default: 4 in process, 2 by page")
    parser.add_argument(
        "--digits",
        type=int,
        default=None,
        help="default: the embedded sample in process, 54,000 by page",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"rounds per batch size (default {IN_PROCESS_REPEATS} in process, "
        f"{BROWSER_REPEATS} by page)",
    )
    parser.add_argument("--plain-worker", metavar="NPZ", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain_worker:
        plain_worker(args.plain_worker)
        return 0

    batch_sizes = (32, 128)
    ways = {}
    if args.way in ("both", "in-process"):
        epochs = 1 if args.quick else args.epochs or 4
        repeats = 1 if args.quick else args.repeats or IN_PROCESS_REPEATS
        samples, reactions = measure_in_process(
            epochs=epochs,
            batch_sizes=batch_sizes,
            repeats=repeats,
            n_train=600 if args.quick else args.digits,
        )
        ways["in_process"] = {
            "epochs": epochs,
            "repeats": repeats,
            "batch_sizes": summarise(samples, epochs),
            "reactions": reactions,
        }
    if args.way in ("both", "browser"):
        from playwright.sync_api import sync_playwright

        epochs = 1 if args.quick else args.epochs or 2
        repeats = 1 if args.quick else args.repeats or BROWSER_REPEATS
        with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
            browser = dp.launch_chromium(playwright)
            try:
                samples = measure(
                    browser,
                    Path(scratch),
                    epochs=epochs,
                    batch_sizes=batch_sizes,
                    repeats=repeats,
                    n_train=600 if args.quick else args.digits or 60_000,
                )
            finally:
                browser.close()
        ways["browser"] = {
            "epochs": epochs,
            "repeats": repeats,
            "batch_sizes": summarise(samples, epochs),
        }
    figures = {
        "benchmark": "training_overhead",
        "quick": args.quick,
        "target_ratio": TARGET_RATIO,
        "target_cpu_ratio": TARGET_CPU_RATIO,
        "ways": ways,
        "worst_ratio": max(
            row["ratio"] for way in ways.values() for row in way["batch_sizes"].values()
        ),
        "worst_cpu_ratio": max(
            row["cpu_ratio"] for way in ways.values() for row in way["batch_sizes"].values()
        ),
        "machine": dp.machine(),
    }
    for name, way in ways.items():
        for size, row in way["batch_sizes"].items():
            print(
                f"{name}, batch {size}: dashboard {row['dashboard_median_s']:.2f} s, plain fit "
                f"{row['plain_median_s']:.2f} s: wall {row['ratio']:.3f} (rounds "
                f"{row['ratio_per_round']}), processor {row['cpu_ratio']:.3f} (rounds "
                f"{row['cpu_ratio_per_round']}), reactions "
                f"{row['reactions_cpu_ms_per_epoch']} ms an epoch"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    passed = all(row["passed"] for way in ways.values() for row in way["batch_sizes"].values())
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
