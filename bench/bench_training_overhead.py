"""What the live dashboard costs over plain Keras: a training started from the page vs ``fit``.

Serves the dashboard with Voila, opens it in the system Chromium and, for each batch size,
sets the epochs and batch size on the page and clicks Train; the kernel's Trainer saves the
run, and its ``duration`` (start to saved model, as the Trainer measures it) is the dashboard's
time. In turn with each of those, a plain Python process of the same virtual environment
trains the same model on the same digits, split, hyperparameters and seed with
``model.fit(verbose=0)`` and no callbacks. Both run while the page stays open, alternating,
so that the shared machine's load falls on both alike. The page is as a visitor leaves it:
the live chart, a digit held on the pad (read again at every epoch's model) and step 4 open.
The digits: 60,000 (the embedded sample's repeated where full MNIST is not cached).
Target: a median ratio of at most 1.03 over at least 5 alternating pairs.

    .venv/bin/python bench/bench_training_overhead.py --json overhead.json [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dashboard_page as dp  # noqa: E402

TARGET_RATIO = 1.03
SEVEN = [(0.25, 0.22), (0.75, 0.22), (0.6, 0.45), (0.45, 0.8)]
CPU_KEYS = ("plain_cpu_s", "kernel_cpu_s", "browser_cpu_s")


def browser_cpu_seconds() -> float:
    """CPU seconds used so far by this process's Chromium (the page's renderer included)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    return dp.cpu_seconds([child for child in children if "chrom" in child.name().lower()])


def plain_worker(data_path: str) -> None:
    """Read ``{"epochs", "batch_size"}`` lines on stdin; train plainly; print the seconds."""
    import numpy as np

    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.mnist import load_mnist
    from digitwidgets.learning.model import build_lenet5

    data = load_mnist(data_path)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        hp = Hyperparameters(**json.loads(line))
        began, cpu_began = time.monotonic(), time.process_time()
        # The Trainer's own preparation, so that both clocks cover the same work.
        n_validation = round(len(data.x_train) * hp.validation_split)
        n_train = len(data.x_train) - n_validation
        order = np.random.default_rng(hp.seed).permutation(len(data.x_train))
        x = data.x_train[order].astype("float32") / 255.0
        y = data.y_train[order].astype("int32")
        model = build_lenet5(hp)
        model.fit(
            x[:n_train],
            y[:n_train],
            batch_size=hp.batch_size,
            epochs=hp.epochs,
            validation_data=(x[n_train:], y[n_train:]),
            verbose=0,
        )
        seconds = time.monotonic() - began
        cpu = time.process_time() - cpu_began
        print(json.dumps({"seconds": seconds, "cpu_s": cpu, "n_train": n_train}), flush=True)


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
    data = dp.write_digits(scratch / "digits.npz", n_train) if n_train else dp.SAMPLE
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
        # As a visitor leaves the page: a digit on the pad, step 4 open.
        page.wait_for_function(
            "() => !/Loading the pretrained/.test("
            "document.querySelector('.dw-model-label').textContent)"
        )
        dp.draw_stroke(page, SEVEN)
        page.wait_for_function(
            "() => document.querySelector('.dw-prediction').textContent.trim() !== ''"
        )
        dp.show_tab(page, "Evaluate")
        kernel = dp.kernel_process(server, page.evaluate(dp.KERNEL_ID))
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
                        figures["kernel_cpu_s"].append(dp.cpu_seconds([kernel]) - kernel_cpu)
                        figures["browser_cpu_s"].append(browser_cpu_seconds() - browser_cpu)
                        # What the page does after a run (evaluation, run table) must not
                        # slow the next measurement down.
                        dp.wait_until_idle([kernel])
                        run = dp.new_run(home / "runs", known)
                        if run["status"] != "finished":
                            raise RuntimeError(f"dashboard run ended as {shown['status']!r}")
                        figures["dashboard_s"].append(run["duration"])
                        figures["click_to_end_s"].append(shown["click_to_end_s"])
                print(f"batch {size}, round {repeat + 1}: {figures}", file=sys.stderr)
    finally:
        context.close()
        plain.close()
        server.stop()
    return samples


def summarise(samples: dict, epochs: int) -> dict:
    """Ratios, medians and samples per second for each batch size.

    The ratio is the median of each round's dashboard/plain pair (taken one after the other),
    so that a slow spell of the shared machine falls on both sides of a pair. CPU seconds
    are reported too: the kernel's (training, widgets, messages) and the page's (drawing the
    chart) against the plain process's, which other work on the machine disturbs less.
    """
    rows = {}
    for size, figures in samples.items():
        dashboard = statistics.median(figures["dashboard_s"])
        plain = statistics.median(figures["plain_s"])
        ratios = [d / p for d, p in zip(figures["dashboard_s"], figures["plain_s"], strict=True)]
        ratio = statistics.median(ratios)
        cpu = {key: statistics.median(figures[key]) for key in CPU_KEYS}
        seen = figures["n_train"] * epochs
        rows[str(size)] = {
            "ratio": round(ratio, 3),
            "ratio_per_round": [round(r, 3) for r in ratios],
            "ratio_of_medians": round(dashboard / plain, 3),
            "kernel_cpu_ratio": round(cpu["kernel_cpu_s"] / cpu["plain_cpu_s"], 3),
            "kernel_and_page_cpu_ratio": round(
                (cpu["kernel_cpu_s"] + cpu["browser_cpu_s"]) / cpu["plain_cpu_s"], 3
            ),
            "dashboard_median_s": round(dashboard, 3),
            "plain_median_s": round(plain, 3),
            "dashboard_samples_per_s": round(seen / dashboard, 1),
            "plain_samples_per_s": round(seen / plain, 1),
            "click_to_end_median_s": round(statistics.median(figures["click_to_end_s"]), 3),
            **{key.replace("_s", "_median_s"): round(value, 3) for key, value in cpu.items()},
            "dashboard_s": [round(s, 3) for s in figures["dashboard_s"]],
            "plain_s": [round(s, 3) for s in figures["plain_s"]],
            "n_train": figures["n_train"],
            "passed": ratio <= TARGET_RATIO,
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print it and write JSON if asked; exit 1 if a ratio misses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="600 digits, one epoch, one round")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--digits", type=int, default=60_000, help="training digits")
    parser.add_argument("--repeats", type=int, default=5, help="rounds per batch size")
    parser.add_argument("--plain-worker", metavar="NPZ", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain_worker:
        plain_worker(args.plain_worker)
        return 0

    from playwright.sync_api import sync_playwright

    epochs = 1 if args.quick else args.epochs
    repeats = 1 if args.quick else args.repeats
    batch_sizes = (32, 128)
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = dp.launch_chromium(playwright)
        try:
            samples = measure(
                browser,
                Path(scratch),
                epochs=epochs,
                batch_sizes=batch_sizes,
                repeats=repeats,
                n_train=600 if args.quick else args.digits,
            )
        finally:
            browser.close()
    rows = summarise(samples, epochs)
    figures = {
        "benchmark": "training_overhead",
        "quick": args.quick,
        "epochs": epochs,
        "repeats": repeats,
        "target_ratio": TARGET_RATIO,
        "batch_sizes": rows,
        "worst_ratio": max(row["ratio"] for row in rows.values()),
        "machine": dp.machine(),
    }
    for size, row in rows.items():
        print(
            f"batch {size}: dashboard {row['dashboard_median_s']:.2f} s "
            f"({row['dashboard_samples_per_s']:.0f} digits/s), plain fit "
            f"{row['plain_median_s']:.2f} s ({row['plain_samples_per_s']:.0f} digits/s), "
            f"ratio {row['ratio']:.3f} (rounds {row['ratio_per_round']})"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(row["passed"] for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
