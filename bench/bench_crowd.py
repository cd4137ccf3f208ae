"""A crowd at the door: a burst of page loads against a capped server while two people work.

Serves the dashboard with ``voila.json`` (the kernel cap, the release of kernels whose page
never connects, the preheated pool) on the loopback interface and opens two real pages in
the system Chromium: one trains, one draws. Then 8 threads fire a burst of plain page loads
(60 in 10 s by default; no browser, no websocket: what a crawler, a link preview or a class
reloading at once does). Sampled every 0.25 s: the server's kernels and their resident
memory. Measured: peak kernels and memory, how many loads got the dashboard and how many the
"full" page (HTTP 503), how long until memory is back to the two pages' level, and the
drawing page's mouse-up-to-digit latency while the burst runs (timed by the page itself, as
``bench_browser_recognition.py`` does).

Passes when memory never exceeds the cap's budget (cap x kernel size), no kernel of the two
pages is lost, the training run finishes and is saved, the drawer's p95 stays under 500 ms
during the burst and memory is back within 2 minutes.

    .venv/bin/python bench/bench_crowd.py --max-kernels 10 --json crowd.json --write-docs
    .venv/bin/python bench/bench_crowd.py --quick   # 12 loads in 4 s, cap 4, release after 8 s

Every request goes to 127.0.0.1 only; the burst is bounded in count and time, and the
server and its kernels are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dashboard_page as dp  # noqa: E402
from bench_browser_recognition import DIGITS, WATCH, draw, open_page, percentile  # noqa: E402

from digitwidgets.server.capacity import (  # noqa: E402
    DASHBOARD_KERNEL_BYTES,
    available_cpus,
    available_memory_bytes,
    default_max_kernels,
)

MB = 2**20
TARGET_P95_MS = 500.0
TARGET_RECOVERY_S = 120.0
DOCS = dp.ROOT / "docs" / "deploy.md"
DOCS_START = "<!-- bench_crowd:start -->"
DOCS_END = "<!-- bench_crowd:end -->"
LOAD_TIMEOUT_S = 150


class Sampler(threading.Thread):
    """Samples the server's kernels and their resident memory every 0.25 s."""

    def __init__(self, server, page_kernels=()):
        super().__init__(daemon=True)
        import psutil

        self._server = psutil.Process(server.process.pid)
        self._page_kernels = tuple(page_kernels)
        # (time, kernels, their bytes, bytes of the kernels other than the two pages')
        self.samples: list[tuple[float, int, int, int]] = []
        self._halt = threading.Event()

    def kernels(self):
        import psutil

        found = []
        for child in self._server.children(recursive=True):
            try:
                if "ipykernel_launcher" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found

    def sample(self) -> tuple[float, int, int, int]:
        import psutil

        kernels = self.kernels()
        total = others = 0
        for kernel in kernels:
            try:
                rss = kernel.memory_info().rss
                page = any(kid in part for kid in self._page_kernels for part in kernel.cmdline())
            except psutil.NoSuchProcess:
                continue
            total += rss
            others += 0 if page else rss
        return time.monotonic(), len(kernels), total, others

    def run(self):
        while not self._halt.is_set():
            self.samples.append(self.sample())
            time.sleep(0.25)

    def stop(self):
        self._halt.set()
        self.join(timeout=5)


async def settled(sampler: Sampler, deadline: float) -> tuple[float, int, int, int]:
    """A sample once the kernels' memory has held still (within 10 MB) for 3 s: the pool's
    kernel has finished rendering the dashboard."""
    last = sampler.sample()
    steady = 0
    while steady < 3 and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = sampler.sample()
        steady = steady + 1 if abs(now[2] - last[2]) < 10 * MB else 0
        last = now
    return last


def load_page(url: str, at: float) -> dict:
    """Wait until ``at`` (monotonic), then GET the page as a crawler would; what came back."""
    delay = at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=LOAD_TIMEOUT_S) as reply:
            status, headers = reply.status, reply.headers
            body = reply.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        status, headers = error.code, error.headers
        body = error.read().decode(errors="replace")
    except OSError as error:  # a refused or timed-out connection is a result too
        return {"status": None, "error": str(error), "seconds": time.monotonic() - began}
    answered_at = time.monotonic()
    return {
        "status": status,
        "retry_after": headers.get("Retry-After"),
        "dashboard": "jupyter-config-data" in body,
        "full_page": "The dashboard is full right now" in body,
        "seconds": answered_at - began,
        "answered_at": answered_at,
    }


def fire_burst(url: str, loads: int, within_s: float, threads: int) -> list[dict]:
    """``loads`` page loads spread evenly over ``within_s`` seconds from ``threads`` threads."""
    start = time.monotonic() + 0.5
    times = [start + i * within_s / loads for i in range(loads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda at: load_page(url, at), times))


async def draw_one(page, name: str) -> dict:
    """Clear the pad, draw ``name`` in one stroke, wait for a digit; the page's own timing."""
    await page.click("button.dw-clear")
    await page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() === ''"
    )
    await draw(page, DIGITS[name], before_up=lambda: page.evaluate(WATCH))
    await page.wait_for_function("() => window.__dwTiming.shown !== null", timeout=60_000)
    timing = await page.evaluate("() => window.__dwTiming")
    return {
        "drawn": name,
        "read": timing["digit"],
        "ms": timing["shown"] - timing["up"],
        "at": time.monotonic(),
    }


async def draw_until(page, done: asyncio.Event) -> list[dict]:
    """Draw digits one after another until ``done`` is set."""
    names = list(DIGITS)
    timings = []
    while not done.is_set():
        timings.append(await draw_one(page, names[len(timings) % len(names)]))
    return timings


async def run(args) -> dict:
    """Two pages at work, the burst, then the wait for memory to come back."""
    from playwright.async_api import async_playwright

    cap = args.max_kernels or default_max_kernels(available_memory_bytes(), cpus=available_cpus())
    budget = cap * DASHBOARD_KERNEL_BYTES
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "voila"
        server = dp.VoilaServer(
            dp.NOTEBOOK,
            home,
            extra_args=[
                f"--CappedKernelManager.max_kernels={cap}",
                f"--CappedKernelManager.release_unconnected_after={args.release_s}",
            ],
        ).start()
        runs_root = home / "runs"
        sampler = None
        try:
            async with async_playwright() as playwright:
                browser = await dp.launch_chromium(playwright)
                try:
                    trainer = await open_page(browser, server.url)
                    drawer = await open_page(browser, server.url)
                except RuntimeError as error:  # say what the server did meanwhile
                    raise RuntimeError(f"{error}\nserver log:\n{server.log()[-6000:]}") from error
                page_kernels = [await page.evaluate(dp.KERNEL_ID) for page in (trainer, drawer)]
                # Warm the drawer's recognizer so the burst measures the crowd, not a first trace.
                await draw_one(drawer, "1")
                sampler = Sampler(server, page_kernels)
                deadline = time.monotonic() + 180
                while len(sampler.kernels()) < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)  # the pool refills behind the two pages
                baseline = await settled(sampler, deadline)
                sampler.start()

                known = {path.parent.name for path in runs_root.glob("[!.]*/run.json")}
                await dp.type_setting(trainer, "dw-epochs", args.epochs)
                await trainer.click("button.dw-train")
                await trainer.wait_for_function(dp.TRAINING)

                done = asyncio.Event()
                drawing = asyncio.ensure_future(draw_until(drawer, done))
                burst_began = time.monotonic()
                loads = await asyncio.to_thread(
                    fire_burst, server.url, args.loads, args.within_s, args.threads
                )
                burst_ended = time.monotonic()
                slowest = max(load["seconds"] for load in loads)
                print(
                    f"burst: {burst_ended - burst_began:.1f} s, slowest load {slowest:.1f} s",
                    file=sys.stderr,
                )
                done.set()
                strokes = await drawing

                await trainer.wait_for_selector(dp.TRAIN_ENABLED, timeout=600_000)
                status = (await trainer.inner_text(".dw-status")).strip()
                print(f"training: {status}", file=sys.stderr)
                saved = [
                    json.loads(path.read_text())
                    for path in runs_root.glob("[!.]*/run.json")
                    if path.parent.name not in known
                ]

                # Memory is back when the kernels other than the two pages' (which grow as
                # they work) are down to the pool's again.
                recovered_at = None
                limit = time.monotonic() + args.release_s + 180
                while time.monotonic() < limit:
                    now, kernels, _, others = sampler.samples[-1]
                    if kernels <= baseline[1] and others <= baseline[3] + 100 * MB:
                        recovered_at = now
                        break
                    await asyncio.sleep(0.5)
                cmdlines = _cmdlines(sampler)
                alive = [k for k in page_kernels if any(k in line for line in cmdlines)]
                after = await draw_one(drawer, "7")
                await browser.close()
        finally:
            try:
                if sampler is not None:
                    sampler.stop()
            finally:
                server.stop()
        log = server.log()

    during = [s for s in sampler.samples if burst_began <= s[0] <= burst_ended + 30]
    latencies = [stroke["ms"] for stroke in strokes]
    served = sum(1 for load in loads if load["status"] == 200 and load["dashboard"])
    full = [load for load in loads if load["status"] == 503 and load["full_page"]]
    figures = {
        "benchmark": "crowd",
        "quick": args.quick,
        "cap": cap,
        "cap_budget_mb": round(budget / MB),
        "release_s": args.release_s,
        "loads": args.loads,
        "within_s": args.within_s,
        "threads": args.threads,
        "baseline_kernels": baseline[1],
        "baseline_kernel_mb": round(baseline[2] / MB),
        "baseline_pool_mb": round(baseline[3] / MB),
        "end_kernel_mb": round(sampler.samples[-1][2] / MB),
        "peak_kernels": max(s[1] for s in sampler.samples),
        "peak_kernel_mb": round(max(s[2] for s in sampler.samples) / MB),
        "served": served,
        "full": len(full),
        "full_with_retry_after": sum(1 for load in full if load["retry_after"]),
        "other": args.loads - served - len(full),
        "released": len(re.findall(r"its page never connected", log)),
        "recovery_s": None if recovered_at is None else round(recovered_at - burst_began, 1),
        "recovery_after_last_load_s": (
            None if recovered_at is None else round(recovered_at - burst_ended, 1)
        ),
        "burst_answered_s": round(burst_ended - burst_began, 1),
        "drawer_strokes": len(latencies),
        "drawer_median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "drawer_p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "drawer_max_ms": round(max(latencies), 1) if latencies else None,
        "drawer_after_ms": round(after["ms"], 1),
        # When the slowest strokes and the served loads ended, from the burst's start: which
        # part of the burst the drawer's worst moments belong to.
        "drawer_slowest": [
            {"at_s": round(stroke["at"] - burst_began, 1), "ms": round(stroke["ms"])}
            for stroke in sorted(strokes, key=lambda stroke: -stroke["ms"])[:5]
        ],
        "served_answered_at_s": sorted(
            round(load["answered_at"] - burst_began, 1)
            for load in loads
            if load["status"] == 200 and load["dashboard"]
        ),
        "page_kernels_alive": len(alive),
        "training_status": status,
        "runs_saved": len(saved),
        "during_burst_peak_kernels": max((s[1] for s in during), default=0),
        "machine": dp.machine(),
    }
    figures["passed"] = bool(
        figures["peak_kernel_mb"] <= figures["cap_budget_mb"]
        and figures["peak_kernels"] <= cap
        and len(alive) == 2
        and re.search(r"finished", status, re.I)
        and len(saved) == 1
        and latencies
        and figures["drawer_p95_ms"] < TARGET_P95_MS
        and figures["recovery_s"] is not None
        and figures["recovery_s"] <= TARGET_RECOVERY_S
    )
    return figures


def _cmdlines(sampler: Sampler) -> list[str]:
    import psutil

    lines = []
    for kernel in sampler.kernels():
        try:
            lines.append(" ".join(kernel.cmdline()))
        except psutil.NoSuchProcess:
            continue
    return lines


def docs_section(figures: dict) -> str:
    """The figures as the Markdown that ``docs/deploy.md`` shows between its markers."""
    machine = figures["machine"]
    return "\n".join(
        [
            DOCS_START,
            f"Measured with `bench/bench_crowd.py --max-kernels {figures['cap']}` on a "
            f"{machine['cpu_count']}-CPU, {round(machine['memory_total_mb'] / 1024)} GiB "
            f"{machine['processor']} machine (Python "
            f"{machine['python']}): {figures['loads']} page loads in {figures['within_s']:g} s "
            f"from {figures['threads']} threads, while one page trained and one drew.",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| cap (budget at 0.9 GB a kernel) | {figures['cap']} kernels "
            f"({figures['cap_budget_mb']} MB) |",
            f"| before the burst: two pages and the pool | {figures['baseline_kernels']} kernels, "
            f"{figures['baseline_kernel_mb']} MB |",
            f"| peak | {figures['peak_kernels']} kernels, {figures['peak_kernel_mb']} MB |",
            f"| loads that got the dashboard / the full page (503, Retry-After) / other | "
            f"{figures['served']} / {figures['full']} ({figures['full_with_retry_after']}) / "
            f"{figures['other']} |",
            f"| kernels released because their page never connected | {figures['released']} |",
            f"| all loads answered, from the burst's start | {figures['burst_answered_s']} s |",
            f"| memory back to the two pages' level, from the burst's start | "
            f"{figures['recovery_s']} s ({figures['recovery_after_last_load_s']} s after the "
            f"last load was answered; release time {figures['release_s']:g} s) |",
            f"| drawing page, mouse-up to digit during the burst: median / p95 / max | "
            f"{figures['drawer_median_ms']} / {figures['drawer_p95_ms']} / "
            f"{figures['drawer_max_ms']} ms ({figures['drawer_strokes']} strokes) |",
            f"| the two pages' kernels alive after | {figures['page_kernels_alive']} of 2 |",
            f"| training during the burst | {figures['training_status']}; "
            f"{figures['runs_saved']} run saved |",
            f"| passed | {'yes' if figures['passed'] else 'no'} |",
            DOCS_END,
        ]
    )


def write_docs(figures: dict) -> None:
    """Replace the figures between the markers in ``docs/deploy.md``."""
    text = DOCS.read_text()
    if DOCS_START not in text or DOCS_END not in text:
        raise SystemExit(f"{DOCS} has no {DOCS_START} ... {DOCS_END} markers")
    head, rest = text.split(DOCS_START, 1)
    _, tail = rest.split(DOCS_END, 1)
    DOCS.write_text(head + docs_section(figures) + tail)


def shipped_release_s() -> float:
    """The release time ``voila.json`` ships: what a deployment from the repository gets."""
    config = json.loads((dp.ROOT / "voila.json").read_text())
    return float(config["CappedKernelManager"]["release_unconnected_after"])


def main(argv: list[str] | None = None) -> int:
    """Measure, print, write JSON and the docs' figures if asked; exit 1 if a criterion fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-kernels", type=int, default=0, help="the cap (0: derived)")
    parser.add_argument("--loads", type=int, default=60, help="page loads in the burst")
    parser.add_argument("--within-s", type=float, default=10.0, help="seconds they span")
    parser.add_argument("--threads", type=int, default=8, help="threads firing them")
    parser.add_argument(
        "--release-s", type=float, default=shipped_release_s(), help="release time (voila.json's)"
    )
    parser.add_argument("--epochs", type=int, default=10, help="the training page's epochs")
    parser.add_argument("--quick", action="store_true", help="12 loads in 4 s, cap 4, 8 s")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--write-docs", action="store_true", help="update docs/deploy.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.loads, args.within_s, args.release_s, args.epochs = 12, 4.0, 8.0, 2
        args.max_kernels = args.max_kernels or 4
    if not (0 < args.loads <= 200 and 0 < args.within_s <= 60 and 0 < args.threads <= 16):
        parser.error("keep the burst bounded: 1-200 loads within 60 s from 1-16 threads")
    figures = asyncio.run(run(args))
    print(json.dumps({k: v for k, v in figures.items() if k != "machine"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    if args.write_docs:
        write_docs(figures)
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
