"""Time to interactive: from requesting the dashboard page to its Train button being clickable.

Two Voila servers in turn, each serving the dashboard as ``voila.json`` configures it: one
with the preheated kernel pool (the shipped setting), one with
``--VoilaConfiguration.preheat_kernel=False``. Each sample opens a fresh browser context
(a first-time visitor, nothing cached), calls ``page.goto`` and waits for ``button.dw-train``
to be visible and enabled; with preheating, a returning visitor (cache warm) is timed too. Before a
preheated sample the pool has refilled and the server's processes are idle, as for a
visitor who arrives when nobody else just did. Target with preheating: under 1.5 s.

    .venv/bin/python bench/bench_time_to_interactive.py --json tti.json [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dashboard_page as dp  # noqa: E402

TARGET_PREHEATED_S = 1.5
POOL_FILLED = r"Kernel pool of .* is filled"


def pool_fills(server) -> int:
    """How many times the server has said its kernel pool is full."""
    import re

    return len(re.findall(POOL_FILLED, server.log()))


NAVIGATION = """() => {
    const n = performance.getEntriesByType('navigation')[0];
    return {html_ms: n.responseEnd, load_event_ms: n.loadEventEnd,
            widgets: document.querySelectorAll('.jupyter-widgets').length};
}"""


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
        page.close()


def new_context(browser):
    """A browser context of a first-time visitor: nothing cached."""
    return browser.new_context(viewport={"width": 1280, "height": 1100})


def measure(browser, home: Path, *, preheat: bool, samples: int) -> dict[str, list[dict]]:
    """Serve the dashboard and time ``samples`` page loads of first-time visitors.

    With preheating, also ``samples`` loads of a returning visitor (one context whose cache
    holds Voila's and the widgets' JavaScript from a first load, not counted).
    """
    extra = [] if preheat else ["--VoilaConfiguration.preheat_kernel=False"]
    server = dp.VoilaServer(dp.NOTEBOOK, home, extra_args=extra).start()
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
            dp.wait_until_idle([psutil.Process(server.process.pid)])
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


def summary(timings: list[dict]) -> dict:
    """Median, best and worst of the samples, and the median page milestones."""
    seconds = [timing["seconds"] for timing in timings]
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "samples_s": [round(s, 3) for s in seconds],
        "html_median_ms": round(statistics.median(t["html_ms"] for t in timings)),
        "load_event_median_ms": round(statistics.median(t["load_event_ms"] for t in timings)),
        "widgets_on_page": timings[-1]["widgets"],
    }


def main(argv: list[str] | None = None) -> int:
    """Measure both ways, print and write JSON if asked; exit 1 if the preheated median misses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="one sample each")
    parser.add_argument("--samples", type=int, default=4, help="page loads each way")
    args = parser.parse_args(argv)
    samples = 1 if args.quick else args.samples

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = dp.launch_chromium(playwright)
        try:
            warm = measure(browser, Path(scratch) / "warm", preheat=True, samples=samples)
            cold = measure(browser, Path(scratch) / "cold", preheat=False, samples=samples)
            warm_first = [t["seconds"] for t in warm["first_visit"]]
        finally:
            browser.close()
    figures = {
        "benchmark": "time_to_interactive",
        "quick": args.quick,
        "target_preheated_s": TARGET_PREHEATED_S,
        "preheated": summary(warm["first_visit"]),
        "preheated_returning": summary(warm["returning"]),
        "not_preheated": summary(cold["first_visit"]),
        "passed": statistics.median(warm_first) < TARGET_PREHEATED_S,
        "machine": dp.machine(),
    }
    for name in ("preheated", "preheated_returning", "not_preheated"):
        row = figures[name]
        print(f"{name}: median {row['median_s']:.2f} s (samples {row['samples_s']})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
