"""Peak resident memory of one dashboard kernel through a training run, as a visitor starts it.

Starts a Voila server, opens the dashboard in the system Chromium, sets the epochs, clicks
Train and samples the resident memory (RSS) of that page's kernel process and its children
every 0.2 s until the run ends. Two data sets: the embedded sample (8,500/1,500 digits, what
the app uses offline) and a full-size set (60,000/10,000: the sample's real digits repeated,
as large in memory as full MNIST, which a Binder build downloads), trained ``--trainings``
times in a row on one page (2).
Prints the figures;
``--json PATH`` also writes them; ``--quick`` runs the sample only, one epoch.

    .venv/bin/python bench/bench_kernel_memory.py --json bench-kernel-memory.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
import dashboard_page as dp  # noqa: E402

from tools.pagedriver import CHROMIUM, CHROMIUM_FLAGS, VoilaServer, set_epochs  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "dashboard.ipynb"
SAMPLE_EVERY = 0.2
MB = 2**20


def resident_bytes(process: psutil.Process) -> int:
    """RSS of a process and all its children, in bytes."""
    total = 0
    for each in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a child may end meanwhile
            total += each.memory_info().rss
    return total


def measure(browser, home: Path, *, epochs: int, mnist: Path | None, trainings: int = 1) -> dict:
    """Serve the dashboard, train ``trainings`` times from one page, return the memory figures."""
    env = {"DIGITWIDGETS_MNIST": str(mnist)} if mnist else {}
    server = VoilaServer(NOTEBOOK, home, env=env).start()
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    try:
        page = context.new_page()
        page.set_default_timeout(180_000)
        page.goto(server.url)
        page.wait_for_selector("button.dw-train", state="visible")
        data_line = page.inner_text(".dw-data-info").strip()
        kernel_id = page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        kernel = dp.kernel_process(server, kernel_id)
        idle = resident_bytes(kernel)
        set_epochs(page, epochs)

        peaks, seconds = [], []
        for _ in range(trainings):
            began = time.monotonic()
            page.click("button.dw-train")
            page.wait_for_function("() => document.querySelector('button.dw-train').disabled")
            peak = idle
            while page.evaluate("() => document.querySelector('button.dw-train').disabled"):
                peak = max(peak, resident_bytes(kernel))
                if time.monotonic() - began > 1800:
                    raise RuntimeError("training did not end within 30 minutes")
                time.sleep(SAMPLE_EVERY)
            peaks.append(peak)
            seconds.append(time.monotonic() - began)
        after = resident_bytes(kernel)
        status = page.inner_text(".dw-status").strip()
        server_bytes = psutil.Process(server.process.pid).memory_info().rss
    finally:
        context.close()
        server.stop()
    return {
        "data": data_line,
        "epochs": epochs,
        "status": status,
        "idle_kernel_mb": round(idle / MB),
        "peak_kernel_mb": round(max(peaks) / MB),
        "peak_per_training_mb": [round(peak / MB) for peak in peaks],
        "after_training_kernel_mb": round(after / MB),
        "voila_server_mb": round(server_bytes / MB),
        "training_seconds": [round(each, 1) for each in seconds],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them; exit status 1 if a run did not finish."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="embedded sample, one epoch")
    parser.add_argument(
        "--trainings", type=int, default=2, help="full-size trainings in a row on one page"
    )
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    runs = {}
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            runs["embedded_sample"] = measure(
                browser, Path(scratch) / "sample", epochs=1 if args.quick else 2, mnist=None
            )
            if not args.quick:
                mnist = dp.write_digits(Path(scratch) / "mnist-full-size.npz", 60_000, 10_000)
                # Twice in a row on one page: does a second run keep the first one's memory?
                runs["full_size"] = measure(
                    browser, Path(scratch) / "full", epochs=1, mnist=mnist, trainings=args.trainings
                )
        finally:
            browser.close()

    figures = {
        "benchmark": "kernel_memory",
        "quick": args.quick,
        "sample_interval_s": SAMPLE_EVERY,
        "runs": runs,
        "peak_kernel_mb": max(run["peak_kernel_mb"] for run in runs.values()),
        "cpu_count": os.cpu_count(),
        "memory_total_mb": round(psutil.virtual_memory().total / MB),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    for name, run in runs.items():
        print(
            f"{name}: {run['data']}\n"
            f"  kernel RSS idle {run['idle_kernel_mb']} MB, peak while training "
            f"{run['peak_per_training_mb']} MB, after {run['after_training_kernel_mb']} MB "
            f"({run['epochs']} epoch(s) per training, {run['training_seconds']} s); "
            f"Voila server {run['voila_server_mb']} MB; status: {run['status']}"
        )
    print(f"Peak resident memory of one dashboard kernel: {figures['peak_kernel_mb']} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(run["status"].startswith("Finished") for run in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
