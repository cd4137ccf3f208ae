"""What the benchmarks do on top of driving the page: data, runs, processes, the machine.

Serving and opening the page, and what a person does on it, come from
``tools.pagedriver``, the home the browser tests use too, so the benchmarks load the page
exactly as the tests do: the system Chromium, never a downloaded one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from tools import pagedriver
from tools.pagedriver import (  # noqa: F401  (the benchmarks use these through dp.)
    CHROMIUM,
    NOTEBOOK,
    ROOT,
    JupyterServer,
    VoilaServer,
    draw_stroke,
    free_port,
    set_setting,
    show_tab,
    type_setting,
)

SAMPLE = ROOT / "digitwidgets" / "assets" / "mnist_sample.npz"
PAGE_TIMEOUT_MS = 180_000
TRAIN_ENABLED = "button.dw-train:not([disabled])"
TRAINING = "() => document.querySelector('button.dw-train').disabled"
KERNEL_ID = "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"


def launch_chromium(playwright):
    """The system Chromium, headless, with background pages kept at full speed."""
    return pagedriver.launch_chromium(playwright, side_by_side=True)


def write_digits(path: Path, n_train: int, n_test: int = 1500) -> Path:
    """An npz of the embedded sample's real digits repeated (or cut) to ``n_train`` images."""
    with np.load(SAMPLE) as sample:
        x_train, y_train = sample["x_train"], sample["y_train"]
        x_test, y_test = sample["x_test"], sample["y_test"]
    train = np.resize(np.arange(len(x_train)), n_train)
    test = np.resize(np.arange(len(x_test)), n_test)
    np.savez(
        path,
        x_train=x_train[train],
        y_train=y_train[train],
        x_test=x_test[test],
        y_test=y_test[test],
    )
    return path


def train_on_page(page, *, epochs: int, batch_size: int, timeout_ms: int = 600_000) -> dict:
    """Set epochs and batch size, click Train, wait for the run to end; return what it shows."""
    set_setting(page, "dw-epochs", epochs)
    set_setting(page, "dw-batch-size", batch_size)
    began = time.perf_counter()
    page.click("button.dw-train")
    page.wait_for_function(TRAINING)
    page.wait_for_selector(TRAIN_ENABLED, timeout=timeout_ms)
    page.wait_for_function(
        "() => /finished|stopped|failed|diverged/i.test("
        "document.querySelector('.dw-status').textContent)"
    )
    return {
        "click_to_end_s": time.perf_counter() - began,
        "status": page.inner_text(".dw-status").strip(),
    }


def new_run(runs_root: Path, known: set[str]) -> dict:
    """The run.json of the one run saved under ``runs_root`` whose folder is not in ``known``."""
    # Hidden folders hold runs still being written (renamed into place once whole).
    fresh = [path for path in runs_root.glob("[!.]*/run.json") if path.parent.name not in known]
    if len(fresh) != 1:
        raise RuntimeError(f"expected one new run under {runs_root}, found {len(fresh)}")
    known.add(fresh[0].parent.name)
    return json.loads(fresh[0].read_text())


def kernel_process(server: VoilaServer, kernel_id: str):
    """The server's child process running the kernel with this id (its connection file names it)."""
    import psutil

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in psutil.Process(server.process.pid).children(recursive=True):
            try:
                if any(kernel_id in part for part in child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise RuntimeError(f"no process for kernel {kernel_id}")


def cpu_seconds(processes) -> float:
    """User plus system CPU seconds of these processes and their children (ended ones: none)."""
    import psutil

    total, seen = 0.0, set()
    for process in processes:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for each in family:
            if each.pid in seen:
                continue
            seen.add(each.pid)
            try:
                times = each.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def wait_until_idle(processes, *, below=10.0, for_s=1.0, timeout=120.0) -> None:
    """Wait until these processes and their children use under ``below`` % of one core."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(processes)
        time.sleep(for_s)
        if (cpu_seconds(processes) - before) / for_s * 100 < below:
            return
    raise RuntimeError("the processes did not go idle")


def machine() -> dict:
    """What the figures were measured on."""
    import os
    import platform

    import psutil

    return {
        "cpu_count": os.cpu_count(),
        "memory_total_mb": round(psutil.virtual_memory().total / 2**20),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
