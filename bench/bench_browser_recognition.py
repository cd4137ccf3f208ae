"""Latency a visitor sees: from releasing the mouse after a stroke to the digit on the page.

Serves the dashboard with Voila and opens 4 pages (4 visitors, each with a kernel of its
own) in the system Chromium. A page without a model trains one epoch first. Then 1, 2 and 4
of the pages draw digits at the same time: each draws one digit in one stroke on the pad,
releases the mouse and waits for ``.dw-prediction`` to show a digit, then clicks Clear and
draws the next. The page itself times it: ``performance.now()`` at the mouse-up (a capturing
listener) and at the first change of ``.dw-prediction`` to a digit (a MutationObserver set up
just before the mouse goes up). Target with one page: median under 100 ms.

    .venv/bin/python bench/bench_browser_recognition.py --json browser-recognition.json [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dashboard_page as dp  # noqa: E402

TARGET_MEDIAN_MS = 100.0
NO_MODEL = "Train a model first"


def _arc(cx, cy, rx, ry, start, end, n=14):
    angles = np.linspace(math.radians(start), math.radians(end), n)
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# One stroke per digit, in pad coordinates (0..1 of its size), as a person draws them.
DIGITS = {
    "0": _arc(0.5, 0.5, 0.22, 0.32, -90, 270, 20),
    "1": [(0.5, 0.15 + 0.07 * i) for i in range(11)],
    "7": [(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.45), (0.5, 0.65), (0.42, 0.85)],
    "2": _arc(0.5, 0.35, 0.2, 0.17, 180, 360 + 30, 12)
    + [(0.55, 0.55), (0.4, 0.7), (0.28, 0.82), (0.5, 0.82), (0.75, 0.82)],
    "4": [
        (0.6, 0.85),
        (0.6, 0.5),
        (0.6, 0.15),
        (0.4, 0.42),
        (0.25, 0.62),
        (0.5, 0.62),
        (0.78, 0.62),
    ],
    "3": _arc(0.48, 0.32, 0.2, 0.15, 200, 450, 10) + _arc(0.48, 0.66, 0.22, 0.18, 270, 520, 12),
}

WATCH = """() => {
    const shown = document.querySelector('.dw-prediction');
    const timing = {up: null, shown: null, digit: null};
    window.__dwTiming = timing;
    const observer = new MutationObserver(() => {
        const text = shown.textContent.trim();
        if (timing.up !== null && timing.shown === null && text !== '') {
            timing.shown = performance.now();
            timing.digit = text;
            observer.disconnect();
        }
    });
    observer.observe(shown, {childList: true, subtree: true, characterData: true});
    document.addEventListener('mouseup', () => { timing.up = performance.now(); },
                              {capture: true, once: true});
}"""


# What a page that did not become usable was doing: still loading, or loaded without widgets.
PAGE_STATE = """() => ({
    ready_state: document.readyState,
    kernel_configured: !!document.getElementById('jupyter-config-data'),
    widget_views: document.querySelectorAll('.jupyter-widgets').length,
    text: document.body ? document.body.innerText.slice(0, 300) : '',
})"""
OPEN_TIMEOUT_MS = 90_000


async def open_page(browser, url: str):
    """A new visitor's page, its Train button ready.

    A page that is not usable after 90 s is reloaded once, as its visitor would; what it was
    doing is printed first (a page stuck this way was seen twice in busy suite runs, its
    cause not yet found), and a second failure raises with it.
    """
    context = await browser.new_context(viewport={"width": 1280, "height": 1100})
    page = await context.new_page()
    page.set_default_timeout(dp.PAGE_TIMEOUT_MS)
    await page.goto(url)
    for attempt in (1, 2):
        try:
            await page.wait_for_selector(dp.TRAIN_ENABLED, timeout=OPEN_TIMEOUT_MS)
            return page
        except Exception as error:
            # Say what the visitor saw instead (a "full" page, an error, a page still loading).
            state = await page.evaluate(PAGE_STATE)
            print(f"page not usable after 90 s (try {attempt}): {state}", file=sys.stderr)
            if attempt == 2:
                raise RuntimeError(
                    f"the dashboard did not become usable; the page shows: {state}"
                ) from error
            await page.reload()


async def ensure_model(page) -> bool:
    """Train one quick epoch if the page's kernel has no model; True if it had to."""
    await draw(page, DIGITS["1"])
    await page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() !== '' || "
        "/Train a model/.test(document.querySelector('.dw-pad-message').textContent)"
    )
    message = await page.inner_text(".dw-pad-message")
    await page.click("button.dw-clear")
    if NO_MODEL not in message:
        return False
    for css_class, value in (("dw-epochs", 1), ("dw-batch-size", 128)):
        await dp.type_setting(page, css_class, value)
    await page.click("button.dw-train")
    await page.wait_for_function(dp.TRAINING)
    await page.wait_for_selector(dp.TRAIN_ENABLED, timeout=600_000)
    return True


async def draw(page, points, *, before_up=None) -> None:
    """Drag the mouse through ``points`` (0..1 of the pad); run ``before_up`` before releasing."""
    canvas = page.locator(".dw-pad canvas, canvas.dw-pad").last
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()

    def at(x, y):
        return box["x"] + x * box["width"], box["y"] + y * box["height"]

    await page.mouse.move(*at(*points[0]))
    await page.mouse.down()
    for x, y in points[1:]:
        await page.mouse.move(*at(x, y), steps=3)
    if before_up is not None:
        await before_up()
    await page.mouse.up()


async def draw_digits(page, count: int, offset: int) -> list[dict]:
    """Draw ``count`` digits in turn, clearing between them; the page's timings of each."""
    names = list(DIGITS)
    timings = []
    for i in range(count):
        name = names[(i + offset) % len(names)]
        await page.click("button.dw-clear")
        await page.wait_for_function(
            "() => document.querySelector('.dw-prediction').textContent.trim() === ''"
        )
        await draw(page, DIGITS[name], before_up=lambda: page.evaluate(WATCH))
        await page.wait_for_function("() => window.__dwTiming.shown !== null", timeout=60_000)
        timing = await page.evaluate("() => window.__dwTiming")
        timings.append(
            {"drawn": name, "read": timing["digit"], "ms": timing["shown"] - timing["up"]}
        )
    return timings


def percentile(values, q: float) -> float:
    """The q-th percentile of ``values``."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


async def run(args) -> dict:
    """Open the pages, make sure each has a model, then draw with 1, 2 and 4 pages at once."""
    from playwright.async_api import async_playwright

    levels = (1, 2) if args.quick else (1, 2, 4)
    per_page = 2 if args.quick else args.digits
    with tempfile.TemporaryDirectory() as scratch:
        server = dp.VoilaServer(dp.NOTEBOOK, Path(scratch) / "voila").start()
        try:
            async with async_playwright() as playwright:
                browser = await dp.launch_chromium(playwright)
                pages = [await open_page(browser, server.url) for _ in range(max(levels))]
                trained = await asyncio.gather(*(ensure_model(page) for page in pages))
                results = {}
                for level in levels:
                    runs = await asyncio.gather(
                        *(draw_digits(page, per_page, n) for n, page in enumerate(pages[:level]))
                    )
                    timings = [timing for run in runs for timing in run]
                    latencies = [timing["ms"] for timing in timings]
                    results[str(level)] = {
                        "median_ms": round(statistics.median(latencies), 1),
                        "p95_ms": round(percentile(latencies, 95), 1),
                        "max_ms": round(max(latencies), 1),
                        "strokes": len(latencies),
                        "read_as_drawn": sum(t["drawn"] == t["read"] for t in timings),
                    }
                    print(f"{level} page(s): {results[str(level)]}", file=sys.stderr)
                await browser.close()
        finally:
            server.stop()
    return {
        "benchmark": "browser_recognition",
        "quick": args.quick,
        "target_median_ms": TARGET_MEDIAN_MS,
        "pages_trained_first": sum(trained),
        "pages": results,
        "median_ms": results["1"]["median_ms"],
        "passed": results["1"]["median_ms"] < TARGET_MEDIAN_MS,
        "machine": dp.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print and write JSON if asked; exit 1 if the one-page median misses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--quick", action="store_true", help="1 and 2 pages, 2 digits each")
    parser.add_argument("--digits", type=int, default=12, help="digits each page draws")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args))
    print(f"{'pages':>5} {'median ms':>10} {'p95 ms':>10} {'strokes':>8}")
    for level, row in figures["pages"].items():
        print(f"{level:>5} {row['median_ms']:10.1f} {row['p95_ms']:10.1f} {row['strokes']:8d}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
