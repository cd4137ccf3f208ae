"""Time to interactive: from requesting the dashboard page to its Train button being clickable.

Three servers in turn. The path Binder and JupyterHub visitors take: a Jupyter server with the
Voila server extension, configured by ``binder/jupyter-config`` and launched through
``binder/start``, serving ``/voila/render/notebooks/dashboard.ipynb`` (no preheated kernel:
each visit starts one); its first visit comes as soon as the server listens, as Binder's
redirect does. Then standalone Voila as ``voila.json`` configures it, with the preheated kernel
pool (the shipped setting) and with ``--VoilaConfiguration.preheat_kernel=False``. Last,
Voila's own floor on this machine: the same preheated server and page load for a notebook of
one Train button in Voila's ``lab`` template, which is what any Voila page costs before a
dashboard adds anything: once plain Voila, once configured as ``voila.json`` configures the
dashboard's server.

Each sample opens a fresh browser context (a first-time visitor, nothing cached), calls
``page.goto`` and waits for ``button.dw-train`` to be visible and enabled; with preheating, a
returning visitor (cache warm) is timed too. Before a sample the server's processes are idle
(and a preheated pool has refilled), as for a visitor who arrives when nobody else just did.
Where the time goes is recorded per sample from the browser's navigation timing (first byte,
whole HTML: the notebook has run in the kernel, scripts loaded) and the server's log (kernel
started), and, once, inside a plain Python process what building the dashboard costs.
Targets: the server-extension path under 3 s at its median and its worst visit, standalone
preheated under 1 s.

    .venv/bin/python bench/bench_time_to_interactive.py --json tti.json [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dashboard_page as dp  # noqa: E402

TARGET_PREHEATED_S = 1.0
TARGET_SERVER_EXTENSION_S = 3.0
POOL_FILLED = r"Kernel pool of .* is filled"
KERNEL_STARTED = re.compile(r"\[I (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) ServerApp\] Kernel started")
# What building the dashboard costs inside a kernel: run in a plain Python process.
IN_KERNEL = """
import json, sys, time
def cpu():
    return time.process_time()
began, cpu_began = time.perf_counter(), cpu()
import ipywidgets
widgets_imported = time.perf_counter()
from digitwidgets import Dashboard
dashboard_imported, cpu_imported = time.perf_counter(), cpu()
tensorflow_at_import = "tensorflow" in sys.modules
dashboard = Dashboard()
built, cpu_built = time.perf_counter(), cpu()
tensorflow_at_build = "tensorflow" in sys.modules
# What a page showing the dashboard then starts (a page load nobody displays never does).
dashboard.wait_until_ready(300)
loaded, cpu_loaded = time.perf_counter(), cpu()
print(json.dumps({
    "import_ipywidgets_s": round(widgets_imported - began, 3),
    "import_dashboard_s": round(dashboard_imported - widgets_imported, 3),
    "build_dashboard_s": round(built - dashboard_imported, 3),
    "load_pretrained_s": round(loaded - built, 3),
    "cpu_import_and_build_s": round(cpu_built - cpu_began, 3),
    "cpu_load_pretrained_s": round(cpu_loaded - cpu_built, 3),
    "tensorflow_imported_by_import": tensorflow_at_import,
    "tensorflow_imported_by_build": tensorflow_at_build,
}))
"""


ONE_BUTTON = """import ipywidgets
train = ipywidgets.Button(description="Train")
train.add_class("dw-train")
train"""


def pool_fills(server) -> int:
    """How many times the server has said its kernel pool is full."""
    return len(re.findall(POOL_FILLED, server.log()))


NAVIGATION = """() => {
    const n = performance.getEntriesByType('navigation')[0];
    return {first_byte_ms: n.responseStart, html_ms: n.responseEnd, load_event_ms: n.loadEventEnd,
            widgets: document.querySelectorAll('.jupyter-widgets').length};
}"""


def settle(server) -> None:
    """Wait until the server, its kernels and this process's browser are all idle.

    The browser shares this machine's processors with the server; a context closed a moment
    ago is still being torn down, which a visitor on their own machine never pays for.
    """
    dp.wait_until_idle([psutil.Process(server.process.pid), psutil.Process()])


def time_page(context, url: str) -> dict:
    """Seconds from ``page.goto`` to an enabled, visible Train button, and where they went."""
    page = context.new_page()
    try:
        page.set_default_timeout(dp.PAGE_TIMEOUT_MS)
        began = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(dp.TRAIN_ENABLED, state="visible")
        seconds = time.perf_counter() - began
        return {"seconds": seconds, **page.evaluate(NAVIGATION)}
    finally:
        leave(page)


def leave(page) -> None:
    """Close the page as a visitor does, so that Voila shuts its kernel down.

    Voila's page shuts its kernel down from its ``beforeunload`` handler, which a plain
    ``close()`` skips: the kernel would then hold a place under the server's kernel cap until
    the idle cull, and after a few visits the preheated pool could not refill.
    """
    from playwright.sync_api import Error as PlaywrightError

    # A page that does not close in time is closed with its browser context afterwards.
    with contextlib.suppress(PlaywrightError), page.expect_event("close", timeout=15_000):
        page.close(run_before_unload=True)


def new_context(browser):
    """A browser context of a first-time visitor: nothing cached."""
    return browser.new_context(viewport={"width": 1280, "height": 1100})


def measure(
    browser,
    home: Path,
    *,
    preheat: bool,
    samples: int,
    notebook: Path = dp.NOTEBOOK,
    extra_args: tuple[str, ...] = (),
    cwd: Path = dp.ROOT,
) -> dict[str, list[dict]]:
    """Serve ``notebook`` (the dashboard) and time ``samples`` loads of first-time visitors.

    With preheating, also ``samples`` loads of a returning visitor (one context whose cache
    holds Voila's and the widgets' JavaScript from a first load, not counted). The server
    runs in ``cwd``: in the repository, ``voila.json`` configures it.
    """
    extra = [*extra_args] + ([] if preheat else ["--VoilaConfiguration.preheat_kernel=False"])
    server = dp.VoilaServer(notebook, home, extra_args=extra, cwd=cwd).start()
    returning = new_context(browser)
    loads = [("first_visit", None)] * samples
    if preheat:
        loads = [("warm_up", returning)]
        for _ in range(samples):
            loads += [("first_visit", None), ("returning", returning)]
    results = {"first_visit": [], "returning": []}
    try:
        for number, (kind, context) in enumerate(loads):
            if preheat:
                # The pool is full again once the notebook has run in a waiting kernel.
                deadline = time.monotonic() + 180
                while pool_fills(server) < number + 1:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the kernel pool did not fill:\n{server.log()}")
                    time.sleep(0.2)
            settle(server)
            fresh = context is None
            context = new_context(browser) if fresh else context
            try:
                timing = time_page(context, server.url)
            finally:
                if fresh:
                    context.close()
            if kind != "warm_up":
                results[kind].append(timing)
            print(f"preheat={preheat} {kind}: {timing}", file=sys.stderr)
    finally:
        returning.close()
        server.stop()
    return results


def measure_voila_floor(
    browser, home: Path, *, samples: int, configured: bool
) -> dict[str, list[dict]]:
    """``measure`` preheated for a notebook of one Train button in Voila's ``lab`` template.

    Nothing of the dashboard's: what Voila's page, its scripts and one widget cost here.
    ``configured``: served as ``voila.json`` configures the dashboard's server (its kernel
    manager, forked kernels, visitor gate); otherwise plain Voila, run outside the repository,
    with only a preheated kernel.
    """
    import nbformat

    home.mkdir(parents=True, exist_ok=True)
    notebook = home / "one_button.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ONE_BUTTON)]), notebook
    )
    plain = ("--VoilaConfiguration.preheat_kernel=True", "--VoilaConfiguration.default_pool_size=1")
    return measure(
        browser,
        home,
        preheat=True,
        samples=samples,
        notebook=notebook,
        extra_args=("--VoilaConfiguration.template=lab", *(() if configured else plain)),
        cwd=dp.ROOT if configured else home,
    )


def summary(timings: list[dict]) -> dict:
    """Median, best and worst of the samples, and the median page milestones."""
    seconds = [timing["seconds"] for timing in timings]
    row = {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "samples_s": [round(s, 3) for s in seconds],
        "first_byte_median_ms": round(statistics.median(t["first_byte_ms"] for t in timings)),
        "html_median_ms": round(statistics.median(t["html_ms"] for t in timings)),
        "load_event_median_ms": round(statistics.median(t["load_event_ms"] for t in timings)),
        "widgets_on_page": timings[-1]["widgets"],
    }
    kernel_starts = [t["kernel_start_ms"] for t in timings if t.get("kernel_start_ms") is not None]
    if kernel_starts:
        row["kernel_started_median_ms"] = round(statistics.median(kernel_starts))
    return row


def kernel_start_ms(log_text: str, requested_at: float) -> int | None:
    """Milliseconds from the request to the server's first "Kernel started" after it."""
    for match in KERNEL_STARTED.finditer(log_text):
        started = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        if started >= requested_at - 0.05:
            return round((started - requested_at) * 1000)
    return None


def measure_server_extension(browser, home: Path, *, samples: int) -> list[dict]:
    """Time ``samples`` first-time visits to /voila/render/..., the first as the server opens."""
    server = dp.JupyterServer(home).start()
    timings = []
    try:
        for number in range(samples):
            if number:  # the first visitor arrives as soon as the server listens
                settle(server)
            context = new_context(browser)
            requested_at = time.time()
            try:
                timing = time_page(context, server.url)
            finally:
                context.close()
            timing["kernel_start_ms"] = kernel_start_ms(server.log(), requested_at)
            timings.append(timing)
            print(f"server extension visit {number + 1}: {timing}", file=sys.stderr)
    finally:
        server.stop()
    return timings


def measure_first_visits(browser, home: Path, *, servers: int) -> list[dict]:
    """The first visit to each of ``servers`` new servers, made as soon as it listens.

    The visit a Binder or JupyterHub user makes, and the one a server's start-up still
    weighs on (its kernel template is importing); one server shows it only once.
    """
    return [
        measure_server_extension(browser, home / f"server-{number}", samples=1)[0]
        for number in range(servers)
    ]


def in_kernel_costs() -> dict:
    """What importing and building the dashboard costs in a fresh Python (offline)."""
    env = {**os.environ, "DIGITWIDGETS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as home:
        env.update(KERAS_HOME=str(Path(home) / "keras"), DIGITWIDGETS_RUNS=str(Path(home) / "r"))
        began = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-c", IN_KERNEL],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        total = time.perf_counter() - began
    costs = json.loads(finished.stdout.strip().splitlines()[-1])
    costs["process_total_s"] = round(total, 3)
    return costs


def main(argv: list[str] | None = None) -> int:
    """Measure both ways, print and write JSON if asked; exit 1 if the preheated median misses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="one sample each")
    parser.add_argument("--samples", type=int, default=4, help="page loads each way")
    parser.add_argument(
        "--first-visits",
        type=int,
        default=3,
        metavar="N",
        help="also the first visit to each of N new servers (server extension; 0 with --quick)",
    )
    args = parser.parse_args(argv)
    samples = 1 if args.quick else args.samples

    from playwright.sync_api import sync_playwright

    extension_samples = 1 if args.quick else max(5, args.samples)
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = dp.launch_chromium(playwright)
        try:
            extension = measure_server_extension(
                browser, Path(scratch) / "extension", samples=extension_samples
            )
            first_visits = measure_first_visits(
                browser, Path(scratch) / "first", servers=0 if args.quick else args.first_visits
            )
            warm = measure(browser, Path(scratch) / "warm", preheat=True, samples=samples)
            cold = measure(browser, Path(scratch) / "cold", preheat=False, samples=samples)
            floors = {
                "voila_floor": measure_voila_floor(
                    browser, Path(scratch) / "floor", samples=samples, configured=False
                ),
                "voila_floor_configured": measure_voila_floor(
                    browser, Path(scratch) / "configured", samples=samples, configured=True
                ),
            }
            warm_first = [t["seconds"] for t in warm["first_visit"]]
        finally:
            browser.close()
    extension_row = summary(extension)
    first_row = summary(first_visits) if first_visits else None
    figures = {
        "benchmark": "time_to_interactive",
        "quick": args.quick,
        "target_preheated_s": TARGET_PREHEATED_S,
        "target_server_extension_s": TARGET_SERVER_EXTENSION_S,
        "server_extension": extension_row,
        "server_extension_first_visits": first_row,
        "preheated": summary(warm["first_visit"]),
        "preheated_returning": summary(warm["returning"]),
        "not_preheated": summary(cold["first_visit"]),
        **{name: summary(floor["first_visit"]) for name, floor in floors.items()},
        **{f"{name}_returning": summary(floor["returning"]) for name, floor in floors.items()},
        "in_kernel": in_kernel_costs(),
        "passed": statistics.median(warm_first) < TARGET_PREHEATED_S
        and extension_row["max_s"] < TARGET_SERVER_EXTENSION_S
        and (first_row is None or first_row["max_s"] < TARGET_SERVER_EXTENSION_S),
        "machine": dp.machine(),
    }
    print(f"in kernel: {figures['in_kernel']}")
    for name in (
        "server_extension",
        "server_extension_first_visits",
        "preheated",
        "preheated_returning",
        "not_preheated",
        "voila_floor",
        "voila_floor_returning",
        "voila_floor_configured",
        "voila_floor_configured_returning",
    ):
        row = figures[name]
        if row is None:
            continue
        print(f"{name}: median {row['median_s']:.2f} s (samples {row['samples_s']})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
