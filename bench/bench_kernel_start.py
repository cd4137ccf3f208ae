"""What a dashboard kernel costs to start: forked from the template against launched anew.

For each way (``forked``: the shipped ``ForkingProvisioner``; ``launched``: the same server
with ``DIGITWIDGETS_FORK_KERNELS=0``) a standalone Voila server as ``voila.json`` configures
it (preheated pool) serves ``--pages`` visits, one after another, each from a fresh browser
context once the server's processes are idle. For each visit: the time from the request to
Train being clickable, and once the page's kernel holds its pretrained model, the processor
seconds that kernel has used since it started (its imports, the notebook, the model) and its
unique memory (USS: the pages only it holds, which a resident size overstates for a fork).
The template's own processor seconds and memory are reported once. The server's first visit
comes as soon as it listens (a class's first student, or the first click on a Binder badge
after the server started) and is reported on its own, timed from the server's start: with
forking its kernel is forked from the light template (TensorFlow not in yet), without it
imports on its own.

    .venv/bin/python bench/bench_kernel_start.py --json kernel-start.json [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
import dashboard_page as dp  # noqa: E402

from tools.pagedriver import VoilaServer, new_context  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "dashboard.ipynb"
MB = 2**20
TRAIN_READY = "button.dw-train:not([disabled])"


def idle(server: VoilaServer) -> None:
    """Wait until the server and its processes use under 5 % of a processor for 1.5 s."""
    dp.wait_until_idle([psutil.Process(server.process.pid)], below=5.0, for_s=1.5)


def _cpu(process: psutil.Process) -> float:
    """User plus system seconds of this one process (``dp.cpu_seconds`` adds its children)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        times = process.cpu_times()
        return times.user + times.system
    return 0.0


def template_processes(server: VoilaServer) -> list[psutil.Process]:
    """The server's kernel templates, light then full, if it has them (the full one is the
    light one's child; kernels carry their own command lines)."""
    found = []
    for child in psutil.Process(server.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "digitwidgets.server.forking" in " ".join(child.cmdline()):
                found.append(child)
    return found


def visit(browser, server: VoilaServer, began: float | None = None) -> dict:
    """One first-time visit, timed from ``began`` (default: the request); the page's kernel's
    cost once it holds its model."""
    context = new_context(browser, viewport={"width": 1280, "height": 1100})
    try:
        page = context.new_page()
        began = time.perf_counter() if began is None else began
        page.goto(server.url)
        page.wait_for_selector(TRAIN_READY)
        seconds = time.perf_counter() - began
        page.wait_for_function(
            "() => document.querySelector('.dw-model-label')"
            " && document.querySelector('.dw-model-label').innerText.includes('Pretrained')"
        )
        kernel_id = page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        kernel = dp.kernel_process(server, kernel_id)
        cpu = _cpu(kernel)
        unique = kernel.memory_full_info().uss
        resident = kernel.memory_info().rss
    finally:
        context.close()
    return {
        "seconds": round(seconds, 2),
        "kernel_cpu_s": round(cpu, 2),
        "kernel_uss_mb": round(unique / MB),
        "kernel_rss_mb": round(resident / MB),
    }


def measure(browser, home: Path, *, forked: bool, pages: int) -> dict:
    """Serve the dashboard one way and visit it ``pages`` times."""
    env = {"DIGITWIDGETS_FORK_KERNELS": "1" if forked else "0"}
    started = time.perf_counter()
    server = VoilaServer(NOTEBOOK, home, env=env).start()
    try:
        visits = []
        first = visit(browser, server, began=started)  # the visitor who was waiting for it
        print(f"{'forked' if forked else 'launched'}, first visit: {first}", flush=True)
        for _ in range(pages):
            idle(server)
            visits.append(visit(browser, server))
            print(f"{'forked' if forked else 'launched'}: {visits[-1]}", flush=True)
        templates = template_processes(server) if forked else []
        template_figures = (
            {
                "template_cpu_s": round(sum(_cpu(each) for each in templates), 2),
                # The full one holds the most; the light one's pages are mostly shared with it.
                "template_rss_mb": round(max(t.memory_info().rss for t in templates) / MB),
                "template_uss_mb": round(sum(t.memory_full_info().uss for t in templates) / MB),
            }
            if templates
            else {}
        )
    finally:
        server.stop()
    return {
        "first_visit": first,
        "visits": visits,
        "tti_median_s": round(statistics.median(v["seconds"] for v in visits), 2),
        "kernel_cpu_median_s": round(statistics.median(v["kernel_cpu_s"] for v in visits), 2),
        "kernel_uss_median_mb": statistics.median(v["kernel_uss_mb"] for v in visits),
        "kernel_rss_median_mb": statistics.median(v["kernel_rss_mb"] for v in visits),
        **template_figures,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure both ways and print the figures; exit status 1 if forking saved nothing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--pages", type=int, default=4, help="measured visits per way")
    parser.add_argument("--quick", action="store_true", help="forked only, one visit")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    ways = {"forked": True} if args.quick else {"forked": True, "launched": False}
    pages = 1 if args.quick else args.pages
    modes = {}
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = dp.launch_chromium(playwright)
        try:
            for name, forked in ways.items():
                modes[name] = measure(browser, Path(scratch) / name, forked=forked, pages=pages)
        finally:
            browser.close()

    saved = None
    if "launched" in modes:
        saved = round(
            1 - modes["forked"]["kernel_cpu_median_s"] / modes["launched"]["kernel_cpu_median_s"], 3
        )
    figures = {
        "benchmark": "kernel_start",
        "quick": args.quick,
        "pages": pages,
        "modes": modes,
        "kernel_cpu_saved_share": saved,
        "passed": saved is None or saved > 0,
        "machine": dp.machine(),
    }
    for name, mode in modes.items():
        print(
            f"{name}: Train clickable {mode['tti_median_s']} s (median), kernel "
            f"{mode['kernel_cpu_median_s']} processor-s, {mode['kernel_uss_median_mb']} MB own "
            f"({mode['kernel_rss_median_mb']} MB resident); the server's first visit: Train "
            f"clickable {mode['first_visit']['seconds']} s after the server started"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
