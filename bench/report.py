"""Turn the benchmarks' collected JSON into ``docs/benchmarks.md``, its plot and the README's table.

The page and the README's table of current figures are generated, never edited by hand; the
record of what was tried and why lives in ``docs/notes/benchmarks.md``, which the page links.
"""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path

import psutil

REPRODUCE = "python3 tasks.py bench"
# The record behind the figures, relative to docs/: written by hand, never regenerated.
NOTES = "notes/benchmarks.md"


def machine_description() -> dict:
    """The machine the figures come from, in a few fields."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(load, 2) for load in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _numbers(values) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def median_interval(values, coverage: float = 0.95) -> tuple[float, float, float] | None:
    """``(low, high, its coverage)``: the narrowest pair of order statistics that holds the
    true median with at least ``coverage`` whatever the distribution (the sign test's
    interval: for 9 rounds the 2nd and 8th, 96%); None for too few values (5 or fewer)."""
    ordered = sorted(values)
    n = len(ordered)
    found = None
    tail = 0.0  # P(Binomial(n, 1/2) <= k - 1): the median below the k-th smallest
    for k in range(1, n // 2 + 1):
        tail += math.comb(n, k - 1) / 2**n
        if 1 - 2 * tail < coverage:
            break
        found = (ordered[k - 1], ordered[n - k], 1 - 2 * tail)
    return found


def _interval_text(values) -> str:
    interval = median_interval(values)
    if interval is None:
        return ""
    low, high, covered = interval
    return f"; {covered:.0%} sure the median is in {low:.2f}-{high:.2f}"


def _median_range(summary: dict) -> str:
    """A timing summary as "1.23 s (1.10–1.45)": median, then best and worst."""
    return f"{summary['median_s']:.2f} s ({summary['min_s']:.2f}–{summary['max_s']:.2f})"


def _first_visits_row(figures: dict) -> list[tuple]:
    first = figures.get("server_extension_first_visits")
    if not first:
        return []
    return [
        (
            f"Server extension, first visit to each of {len(first['samples_s'])} new servers: "
            "median, worst",
            f"< {figures['target_server_extension_s']} s",
            f"{first['median_s']:.2f} s, {first['max_s']:.2f} s "
            f"(samples {_numbers(first['samples_s'])}; kernel started "
            f"{first.get('kernel_started_median_ms', '?')} ms, HTML {first['html_median_ms']} ms)",
            _verdict(first["max_s"] < figures["target_server_extension_s"]),
        )
    ]


def _voila_floor_rows(figures: dict) -> list[tuple]:
    rows = []
    for name, how in (
        ("voila_floor", "plain Voila"),
        ("voila_floor_configured", "served as voila.json configures the dashboard"),
    ):
        floor, back = figures.get(name), figures.get(f"{name}_returning")
        if not floor or not back:
            continue
        rows.append(
            (
                f"Voila's floor: a notebook of one Train button, lab template, preheated, {how}; "
                "first visit and returning: medians (min–max)",
                "",
                f"{_median_range(floor)}, {_median_range(back)}; "
                f"load event {floor['load_event_median_ms']} ms",
                "",
            )
        )
    return rows


WAYS = {
    "in_process": "In one process, every view built, {epochs} epoch(s) of the embedded sample",
    "browser": "Through the browser, layers view and map on screen, {epochs} epoch(s)",
}
WAYS_SHORT = {"in_process": "in process", "browser": "by page"}


def _overhead_ways(figures: dict):
    """(way, its figures) for each way the overhead was measured."""
    return list(figures["ways"].items())


def _upload_rows(figures: dict) -> list[tuple[str, str, str, str]]:
    """The upload's row, where the run measured it."""
    if "upload_median_ms" not in figures:
        return []
    return [
        (
            "Recognize a 280 px upload, dark on white (the photo path): median, p95",
            "",
            f"{figures['upload_median_ms']:.1f} ms, {figures['upload_p95_ms']:.1f} ms",
            "",
        )
    ]


def _verdict(passed) -> str:
    if passed is None:
        return "—"
    return "pass" if passed else "**miss**"


def rows(name: str, figures: dict) -> list[tuple[str, str, str, str]]:
    """(measure, target, measured, verdict) rows for one benchmark's figures."""
    if name == "training_overhead":
        out = []
        for way, figures_of_way in _overhead_ways(figures):
            where = WAYS[way].format(epochs=figures_of_way["epochs"])
            for size, row in figures_of_way["batch_sizes"].items():
                out.append(
                    (
                        f"{where}, batch {size}: wall time / plain `fit` (median of paired rounds)",
                        f"≤ {figures['target_ratio']}",
                        f"{row['ratio']:.3f} (rounds {_numbers(row['ratio_per_round'])}"
                        f"{_interval_text(row['ratio_per_round'])})",
                        _verdict(row["ratio"] <= figures["target_ratio"]),
                    )
                )
                cpu_target = figures.get("target_cpu_ratio")
                page = (
                    f"; the page's Chromium {row['browser_cpu_median_s']:.2f} s"
                    if "browser_cpu_median_s" in row
                    else ""
                )
                out.append(
                    (
                        f"{where}, batch {size}: processor time / plain `fit`; the reactions' "
                        "share per epoch",
                        f"≤ {cpu_target}" if cpu_target else "",
                        f"{row['kernel_cpu_median_s']:.2f} s / {row['plain_cpu_median_s']:.2f} s"
                        f" = {row['cpu_ratio']:.3f} (rounds {_numbers(row['cpu_ratio_per_round'])}"
                        f"{_interval_text(row['cpu_ratio_per_round'])})"
                        f"; {row['reactions_cpu_ms_per_epoch']} ms per epoch{page}",
                        _verdict(row["cpu_ratio"] <= cpu_target) if cpu_target else "",
                    )
                )
        reactions = figures.get("ways", {}).get("in_process", {}).get("reactions")
        if reactions and reactions.get("alone_ms_per_epoch") is not None:
            out.append(
                (
                    "An epoch's reactions with no training beside them, every view open: "
                    "processor time (the process's, all threads)",
                    "",
                    f"{reactions['alone_ms_per_epoch']:.1f} ms per epoch",
                    "",
                )
            )
        if reactions:
            for label, ms in reactions["ms_per_epoch"].items():
                out.append(
                    (
                        f"Where it goes, batch {reactions['batch_size']}: {label}",
                        "",
                        f"{ms:.1f} ms per epoch",
                        "",
                    )
                )
        return out
    if name == "recognition":
        drawing = f"{figures['recognize_median_ms']:.2f} ms, {figures['recognize_p95_ms']:.2f} ms"
        predict = f"{figures['predict_median_ms']:.1f} ms, {figures['predict_p95_ms']:.1f} ms"
        first = [
            (
                "Recognize a drawing on a 280 px pad (preprocess + model): median, p95",
                f"median < {figures['target_median_ms']:.0f} ms",
                drawing,
                _verdict(figures["passed"]),
            ),
            ("Same with `model.predict`: median, p95", "", predict, ""),
        ]
        return (
            first
            + _upload_rows(figures)
            + [
                (
                    f"Recognize a drawing on a {size} px canvas: median",
                    "",
                    f"{row['median_ms']:.2f} ms",
                    "",
                )
                for size, row in figures["canvas_sizes"].items()
            ]
        )
    if name == "browser_recognition":
        out = []
        for pages, row in figures["pages"].items():
            target = f"median < {figures['target_median_ms']:.0f} ms" if pages == "1" else ""
            out.append(
                (
                    f"Mouse up to digit shown, {pages} page(s) drawing at once: median, p95",
                    target,
                    f"{row['median_ms']:.0f} ms, {row['p95_ms']:.0f} ms "
                    f"({row['strokes']} strokes, {row['read_as_drawn']} read as drawn)",
                    _verdict(figures["passed"]) if pages == "1" else "",
                )
            )
        return out
    if name == "time_to_interactive":
        warm, cold = figures["preheated"], figures["not_preheated"]
        back = figures["preheated_returning"]
        extension = figures.get("server_extension")
        out = []
        if extension:
            kernel = figures.get("in_kernel", {})
            out += [
                (
                    "Server extension (/voila/render, as Binder and JupyterHub), first visit "
                    "included: median, worst",
                    f"< {figures['target_server_extension_s']} s",
                    f"{extension['median_s']:.2f} s, {extension['max_s']:.2f} s "
                    f"(samples {_numbers(extension['samples_s'])})",
                    _verdict(extension["max_s"] < figures["target_server_extension_s"]),
                ),
                *_first_visits_row(figures),
                (
                    "Where it goes (medians): kernel started, first byte, whole HTML "
                    "(notebook run), load event",
                    "",
                    f"{extension.get('kernel_started_median_ms', '?')} ms, "
                    f"{extension['first_byte_median_ms']} ms, {extension['html_median_ms']} ms, "
                    f"{extension['load_event_median_ms']} ms",
                    "",
                ),
                (
                    "Inside the kernel: import ipywidgets, import Dashboard, build it "
                    "(TensorFlow imported by the build?)",
                    "",
                    f"{kernel.get('import_ipywidgets_s', '?')} s, "
                    f"{kernel.get('import_dashboard_s', '?')} s, "
                    f"{kernel.get('build_dashboard_s', '?')} s "
                    f"({'yes' if kernel.get('tensorflow_imported_by_build') else 'no'})",
                    "",
                ),
            ]
        return out + [
            (
                "Page request to Train clickable, preheated kernel: median (min–max)",
                f"< {figures['target_preheated_s']} s",
                _median_range(warm),
                _verdict(warm["median_s"] < figures["target_preheated_s"]),
            ),
            (
                "Preheated, returning visitor (scripts cached): median (min–max)",
                "",
                _median_range(back),
                "",
            ),
            (
                "Preheated first visit: page HTML received, scripts loaded (load event)",
                "",
                f"{warm['html_median_ms']} ms, {warm['load_event_median_ms']} ms "
                f"({warm['widgets_on_page']} widget views on the page)",
                "",
            ),
            (
                "Same without preheating: median (min–max)",
                "",
                _median_range(cold),
                "",
            ),
            *_voila_floor_rows(figures),
        ]
    if name == "capacity":
        out = [
            (
                f"One page training, {n} drawing: mouse up to digit median, p95; memory",
                f"p95 < {figures['target_p95_ms']:.0f} ms",
                f"{row['median_ms']:.0f} ms, {row['p95_ms']:.0f} ms; {row['memory_mb']:,} MB "
                f"({row['kernels']} kernels)",
                _verdict(row["p95_ms"] < figures["target_p95_ms"]),
            )
            for n, row in figures["levels"].items()
        ]
        out.append(
            (
                "Largest N drawing while one trains, p95 < 150 ms and memory < 20 GB",
                "",
                str(figures["largest_n_drawing"]),
                "",
            )
        )
        return out
    if name == "kernel_memory":
        out = []
        for run_name, run in figures["runs"].items():
            out.append(
                (
                    f"Peak kernel RSS through training, {run_name.replace('_', ' ')} "
                    f"({run['epochs']} epoch(s))",
                    "< 1024 MB",
                    f"{run['peak_kernel_mb']} MB (idle {run['idle_kernel_mb']} MB)",
                    _verdict(run["peak_kernel_mb"] < 1024),
                )
            )
        return out
    if name == "kernel_start":
        out = []
        for way, mode in figures["modes"].items():
            template = (
                f"; templates {mode['template_cpu_s']} processor-s once, "
                f"{mode['template_rss_mb']} MB resident, {mode.get('template_uss_mb', '?')} MB own"
                if "template_cpu_s" in mode
                else ""
            )
            out.append(
                (
                    f"A kernel {way}: processor-seconds to its model, own memory (USS)",
                    "",
                    f"{mode['kernel_cpu_median_s']} s, {mode['kernel_uss_median_mb']} MB "
                    f"(resident {mode['kernel_rss_median_mb']} MB){template}",
                    "",
                )
            )
            out.append(
                (f"Train clickable, preheated, kernels {way}", "", f"{mode['tti_median_s']} s", "")
            )
            if "first_visit" in mode:  # figures from before it was measured lack it
                out.append(
                    (
                        f"A new server's first visit, kernels {way}: Train clickable after the "
                        "server's start",
                        "",
                        f"{mode['first_visit']['seconds']} s",
                        "",
                    )
                )
        if figures.get("kernel_cpu_saved_share") is not None:
            out.append(
                (
                    "Processor time a forked kernel saves",
                    "> 0",
                    f"{figures['kernel_cpu_saved_share']:.0%}",
                    _verdict(figures["passed"]),
                )
            )
        return out
    if name == "training_scaling":
        out = [
            (f"1 epoch on {int(size):,} digits", "", f"{row['median_s']:.2f} s", "")
            for size, row in figures["by_size"].items()
        ]
        out += [
            (
                f"{epochs} epoch(s) on {figures['epochs_data_size']:,} digits",
                "",
                f"{row['median_s']:.2f} s",
                "",
            )
            for epochs, row in figures["by_epochs"].items()
        ]
        for label, fit, unit in (
            (
                "digits",
                figures["size_fit"],
                f"{figures['size_fit']['ms_per_1000_digits']:.0f} ms per 1,000 digits",
            ),
            (
                "epochs",
                figures["epoch_fit"],
                f"{figures['epoch_fit']['s_per_epoch']:.2f} s per epoch",
            ),
        ):
            out.append(
                (
                    f"Straight line against {label}: slope, fixed cost, largest departure",
                    "",
                    f"{unit}, {fit['intercept_s']:.2f} s, {fit['max_departure']:.0%} "
                    f"({'linear' if fit['linear'] else 'not linear'})",
                    "",
                )
            )
        return out
    if name == "default_training":
        return [
            (
                "Default hyperparameters on the sample: test accuracy, wall time",
                f"≥ {figures.get('target_accuracy', 0.97):.0%} in "
                f"≤ {figures.get('target_seconds', 120):.0f} s",
                f"{figures['test_accuracy']:.1%} in {figures['wall_seconds']:.1f} s",
                _verdict(figures.get("passed")),
            )
        ]
    if name == "sweep":
        return [
            (
                f"Sweep of {figures['runs']} runs x {figures['epochs']} epochs, default "
                "settings, learning rates 1e-4..3e-2: wall time (best learning rate)",
                f"< {figures.get('target_seconds', 120):.0f} s",
                f"{figures['wall_seconds']:.1f} s (best {figures['best_learning_rate']}, "
                f"{figures['overhead_seconds']:.1f} s between runs)",
                _verdict(figures.get("passed")),
            )
        ]
    if name == "handwriting":
        out = []
        for model_name, runs in figures.get("models", {}).items():
            first = runs[0]
            out.append(
                (
                    f"Drawn digits (MNIST-style / plain resize), MNIST test: {model_name}",
                    "",
                    f"{first['drawn_mnist']:.1%} / {first['drawn_plain']:.1%}, "
                    f"{first['mnist_test']:.1%}",
                    "",
                )
            )
        return out
    if name == "photos":
        phone = figures["phone_photo"]
        worst = min(figures["variations"], key=figures["variations"].get)
        return [
            (
                f"Photos of digits on paper ({figures['photos']}): read right by the photo path "
                "(the old upload path)",
                "",
                f"{figures['accuracy']:.1%} ({figures['old_path_accuracy']:.1%}); weakest: "
                f"{worst} {figures['variations'][worst]:.1%}",
                _verdict(figures.get("passed")),
            ),
            (
                "A 12-megapixel phone photo read, decoding included: median (decode alone)",
                f"< {figures['target_median_ms']:.0f} ms",
                f"{phone['median_ms']:.0f} ms ({phone['decode_median_ms']:.0f} ms)",
                _verdict(phone["median_ms"] < figures["target_median_ms"]),
            ),
        ]
    if name == "distributions":
        return [
            (
                f"Recording how the weights move, {figures['epochs']} epochs: the recorder's "
                "share of the run (ms per epoch)",
                f"≤ {figures['target_share']:.0%}",
                f"{figures['recorder_share_median']:.2%} "
                f"({figures['recorder_ms_per_epoch']:.0f} ms)",
                _verdict(figures.get("passed")),
            ),
            (
                "The same run with the recorder / without: wall time, processor time (medians)",
                "",
                f"{figures['ratio_median']:.3f}, {figures['cpu_ratio_median']:.3f}",
                "",
            ),
        ]
    if name == "runs_table":
        most = figures["by_count"][str(figures["most"])]
        out = [
            (
                f"The runs table with {figures['most']:,} saved runs: built (a page load), "
                "widget models sent",
                f"≤ {figures['target_build_s']:.1f} s, no more than with "
                f"{min(map(int, figures['by_count']))}",
                f"{most['build_ms'] / 1000:.2f} s, {most['build_widget_models']}",
                _verdict(figures.get("passed")),
            )
        ]
        for count, row in figures["by_count"].items():
            out.append(
                (
                    f"{int(count):,} saved runs: read, built (widget models), a run's end "
                    "(new models)",
                    "",
                    f"{row['list_ms']:.0f} ms, {row['build_ms']:.0f} ms "
                    f"({row['build_widget_models']}), {row['run_end_ms']:.0f} ms "
                    f"({row['run_end_widget_models']})",
                    "",
                )
            )
        return out
    return [("(figures)", "", "see benchmarks.json", "")]


TITLES = {
    "training_overhead": "1. Training overhead of the live dashboard",
    "recognition": "2a. Recognition latency in Python",
    "browser_recognition": "2b and 6. Recognition latency in the browser, one and many users",
    "time_to_interactive": "3. Time to interactive",
    "kernel_memory": "4. Memory of one dashboard kernel",
    "kernel_start": "4b. What a kernel costs to start: forked against launched",
    "training_scaling": "5. How training cost grows",
    "default_training": "Default hyperparameters",
    "sweep": "10. A sweep of six runs",
    "handwriting": "Accuracy on drawn digits",
    "capacity": "7. How many people one machine holds",
    "crowd": "8. A burst of page loads against the kernel cap",
    "inside": "9. Inside the network: layer outputs, maps of digits",
    "photos": "11. Photos of digits written on paper",
    "distributions": "12. What recording the weights' distributions costs a run",
    "runs_table": "13. The runs table as saved runs pile up",
}


def markdown(collected: dict) -> str:
    """The whole benchmarks page."""
    machine = collected["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run_all.py` — do not edit by hand; regenerate with "
        f"`{REPRODUCE}`"
        + (
            " (this is a `--quick` run: tiny sizes, figures meaningless)."
            if collected["quick"]
            else "."
        ),
        "",
        f"- Date: {collected['date']} "
        f"(that run took {collected['total_seconds'] / 60:.1f} min; each section says when "
        "its benchmark ran)",
        f"- Machine: {machine['cpu']}, {machine['cpu_count']} CPU cores, "
        f"{machine['memory_gb']} GB memory, {machine['platform']}, Python {machine['python']}; "
        f"load average at the start {machine['load_average']} (the cores are shared with "
        "other work, so single figures are noisy: each is a median, and ratios are measured "
        "side by side, alternating)",
        "- Each benchmark also runs alone: "
        "`.venv/bin/python bench/<script> [--quick] [--json PATH]`.",
        "",
        "![How the costs grow](benchmarks.png)",
        "",
    ]
    for name, run in collected["benchmarks"].items():
        lines += [f"## {TITLES.get(name, name)}", ""]
        command = " ".join(["`.venv/bin/python", run["script"], *run["arguments"]]) + "`"
        lines += [
            f"Reproduce: {command} (run {run.get('date', collected['date'])[:10]}, exit code "
            f"{run['exit_code']}, {run['seconds']:.0f} s).",
            "",
        ]
        figures = run["figures"]
        if figures is None:
            lines += [
                "**No figures: the script failed.** Its log is in `build/benchmarks/raw/`.",
                "",
            ]
            continue
        lines += ["| Measure | Target | Measured | |", "|---|---|---|---|"]
        try:
            table = rows(name, figures)
        except (KeyError, TypeError, ValueError) as error:
            table = [("(figures in an unexpected shape)", "", repr(error), "")]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table]
        lines.append("")
    lines += [
        "## Notes",
        "",
        f"What each miss means, what limits a figure and what was tried to move it, with "
        f"dates: [{NOTES}]({NOTES}). Regenerating this page leaves the notes as they are.",
        "",
    ]
    return "\n".join(lines)


# The README's table of current figures sits between these two lines; ``write_readme``
# rewrites what is between them and nothing else.
README_START = (
    "<!-- figures: written by bench/report.py from docs/benchmarks.json; "
    "regenerate with python3 tasks.py bench -->"
)
README_END = "<!-- end of figures -->"


def _all_passed(flags) -> bool | None:
    flags = [flag for flag in flags if flag is not None]
    return all(flags) if flags else None


def _readme_row(name: str, figures: dict) -> tuple[str, str, str, str] | None:
    """The README's one line for a benchmark: (what, target, measured, verdict)."""
    if name == "default_training":
        return (
            "Train the default settings on the embedded sample: test accuracy, time",
            f"≥ {figures.get('target_accuracy', 0.97):.0%} in "
            f"≤ {figures.get('target_seconds', 120):.0f} s",
            f"{figures['test_accuracy']:.1%} in {figures['wall_seconds']:.0f} s",
            _verdict(figures.get("passed")),
        )
    if name == "recognition":
        return (
            "Read one drawing (preprocessing and model), median",
            f"< {figures['target_median_ms']:.0f} ms",
            f"{figures['recognize_median_ms']:.1f} ms (`model.predict`: "
            f"{figures['predict_median_ms']:.0f} ms)",
            _verdict(figures["passed"]),
        )
    if name == "browser_recognition":
        pages = figures["pages"]
        most = max(pages, key=int)
        return (
            f"Mouse up to digit shown in the browser, median: 1 page, {most} pages drawing",
            f"< {figures['target_median_ms']:.0f} ms",
            f"{pages['1']['median_ms']:.0f} ms, {pages[most]['median_ms']:.0f} ms",
            _verdict(figures["passed"]),
        )
    if name == "training_overhead":
        rows_ = [
            (way, size, row)
            for way, figures_of_way in _overhead_ways(figures)
            for size, row in figures_of_way["batch_sizes"].items()
        ]
        passed = [row["passed"] for _, _, row in rows_]
        return (
            "Training with every view open / plain `model.fit`: wall and processor time, "
            + ", ".join(f"{WAYS_SHORT[way]} batch {size}" for way, size, _ in rows_),
            f"≤ {figures['target_ratio']}, ≤ {figures.get('target_cpu_ratio', '—')}",
            ", ".join(f"{row['ratio']:.3f} and {row['cpu_ratio']:.3f}" for _, _, row in rows_),
            _verdict(_all_passed(passed)),
        )
    if name == "time_to_interactive":
        warm, target = figures["preheated"], figures["target_preheated_s"]
        floor = figures.get("voila_floor")
        rows = [
            (
                "Page request to Train clickable, preheated kernel, median",
                f"< {target} s",
                f"{warm['median_s']:.2f} s"
                + (f" (Voila's own one-button page: {floor['median_s']:.2f} s)" if floor else ""),
                _verdict(warm["median_s"] < target),
            )
        ]
        extension = figures.get("server_extension")
        first = figures.get("server_extension_first_visits")
        if extension:
            target = figures["target_server_extension_s"]
            worst = max(extension["max_s"], first["max_s"] if first else 0)
            rows.append(
                (
                    "The same through the server extension (Binder, JupyterHub): median"
                    + ("; a new server's first visit" if first else ""),
                    f"< {target} s",
                    f"{extension['median_s']:.2f} s"
                    + (f"; {first['median_s']:.2f} s" if first else ""),
                    _verdict(worst < target),
                )
            )
        return rows
    if name == "kernel_memory":
        name, largest = max(figures["runs"].items(), key=lambda item: item[1]["peak_kernel_mb"])
        return (
            f"Peak memory of one dashboard kernel through training, {name.replace('_', ' ')}",
            "< 1024 MB",
            f"{largest['peak_kernel_mb']} MB (idle {largest['idle_kernel_mb']} MB)",
            _verdict(largest["peak_kernel_mb"] < 1024),
        )
    if name == "kernel_start":
        share = figures.get("kernel_cpu_saved_share")
        if share is None:
            return None
        modes = figures["modes"]
        return (
            "Processor time a kernel forked from the template saves against one launched anew",
            "> 0",
            f"{share:.0%} ({modes['forked']['kernel_cpu_median_s']} s against "
            f"{modes['launched']['kernel_cpu_median_s']} s)",
            _verdict(figures["passed"]),
        )
    if name == "sweep":
        return (
            f"A sweep of {figures['runs']} runs × {figures['epochs']} epochs on the embedded "
            "sample",
            f"< {figures.get('target_seconds', 120):.0f} s",
            f"{figures['wall_seconds']:.0f} s",
            _verdict(figures.get("passed")),
        )
    if name == "handwriting":
        shipped = figures.get("models", {}).get("shipped")
        if not shipped:
            return None
        return (
            "The shipped model: the 600 drawn digits; the sample's 1,500 MNIST test digits",
            "",
            f"{shipped[0]['drawn_mnist']:.1%}; {shipped[0]['mnist_test']:.1%}",
            "",
        )
    if name == "photos":
        phone = figures["phone_photo"]
        return (
            "Photos of digits written on paper: read right; a 12-megapixel photo, median",
            f"< {figures['target_median_ms']:.0f} ms",
            f"{figures['accuracy']:.1%}; {phone['median_ms']:.0f} ms",
            _verdict(figures.get("passed")),
        )
    if name == "capacity":
        return (
            "People drawing at once while one page trains, the digit shown within "
            f"{figures['target_p95_ms']:.0f} ms (p95)",
            "",
            str(figures["largest_n_drawing"]),
            "",
        )
    if name == "crowd":
        return (
            f"A burst of {figures['loads']} page loads against the kernel cap: peak kernels, "
            "memory, the drawer's p95",
            "",
            f"{figures['peak_kernels']}, {figures['peak_kernel_mb']:,} MB, "
            f"{figures['drawer_p95_ms']:.0f} ms",
            _verdict(figures.get("passed")),
        )
    return None


# The order of the README's rows: what a visitor meets first, then what a host needs.
README_ORDER = (
    "default_training",
    "recognition",
    "browser_recognition",
    "training_overhead",
    "time_to_interactive",
    "handwriting",
    "photos",
    "sweep",
    "kernel_memory",
    "kernel_start",
    "capacity",
    "crowd",
)


def _run_dates(collected: dict) -> str:
    """ "the run of D", or "runs of D1 to D2" when benchmarks were run again apart."""
    dates = sorted(
        {run.get("date", collected["date"])[:10] for run in collected["benchmarks"].values()}
    )
    if len(dates) <= 1:
        return f"the run of {collected['date'][:10]}"
    return f"runs of {dates[0]} to {dates[-1]}"


def readme_figures(collected: dict) -> str:
    """The README's table of current figures, its two marker lines included."""
    machine = collected["machine"]
    benchmarks = collected["benchmarks"]
    lines = [
        README_START,
        "",
        f"From {_run_dates(collected)} on {machine['cpu_count']} shared CPU cores "
        f"without a GPU ({machine['memory_gb']} GB memory);",
        "every figure, its samples and how to reproduce it: "
        "[docs/benchmarks.md](docs/benchmarks.md).",
        "",
        "| What | Target | Measured | |",
        "|---|---|---|---|",
    ]
    for name in README_ORDER:
        run = benchmarks.get(name)
        if not run or run["figures"] is None:
            continue
        try:
            row = _readme_row(name, run["figures"])
        except (KeyError, TypeError, ValueError):
            continue  # figures of an older shape: the full page shows what it can of them
        for what, target, measured, verdict in [row] if isinstance(row, tuple) else row or []:
            lines.append(f"| {what} | {target} | {measured} | {verdict} |")
    lines += ["", README_END]
    return "\n".join(lines)


def write_readme(collected: dict, readme: Path) -> bool:
    """Put the table of current figures between the README's markers; False if it has none."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    new = text[:start] + readme_figures(collected) + text[end + len(README_END) :]
    if new != text:
        readme.write_text(new)
    return True


def plot(collected: dict, path: Path) -> None:
    """Six panels: growth with data, epochs and canvas; users; overhead; time to interactive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {name: run["figures"] for name, run in collected["benchmarks"].items()}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    panels = axes.ravel()

    def missing(axis, title):
        axis.set_title(title)
        axis.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axis.transAxes)

    scaling = figures.get("training_scaling")
    if scaling:
        for axis, key, fit_key, label in (
            (panels[0], "by_size", "size_fit", "training digits (1 epoch)"),
            (
                panels[1],
                "by_epochs",
                "epoch_fit",
                f"epochs ({scaling['epochs_data_size']:,} digits)",
            ),
        ):
            xs = [float(x) for x in scaling[key]]
            ys = [row["median_s"] for row in scaling[key].values()]
            for x, row in zip(xs, scaling[key].values(), strict=True):
                axis.plot([x] * len(row["samples_s"]), row["samples_s"], ".", color="#bbb")
            axis.plot(xs, ys, "o", color="#1f77b4", label="median")
            fit = scaling[fit_key]
            axis.plot(
                [0, max(xs)],
                [fit["intercept_s"], fit["intercept_s"] + fit["slope"] * max(xs)],
                "--",
                color="#ff7f0e",
                label="straight line",
            )
            axis.set_xlabel(label)
            axis.set_ylabel("seconds")
            axis.set_xlim(left=0)
            axis.set_ylim(bottom=0)
            axis.legend()
        panels[0].set_title("Training time vs data size")
        panels[1].set_title("Training time vs epochs")
    else:
        missing(panels[0], "Training time vs data size")
        missing(panels[1], "Training time vs epochs")

    recognition = figures.get("recognition")
    if recognition:
        sizes = [int(size) for size in recognition["canvas_sizes"]]
        rows_ = list(recognition["canvas_sizes"].values())
        panels[2].plot(sizes, [r["median_ms"] for r in rows_], "o-", label="median")
        panels[2].plot(sizes, [r["p95_ms"] for r in rows_], "s--", label="95th percentile")
        panels[2].set_xlabel("canvas side (px)")
        panels[2].set_ylabel("ms")
        panels[2].set_ylim(bottom=0)
        panels[2].legend()
    panels[2].set_title("Recognition (Python) vs canvas size")

    browser = figures.get("browser_recognition")
    if browser:
        pages = [int(p) for p in browser["pages"]]
        rows_ = list(browser["pages"].values())
        panels[3].plot(pages, [r["median_ms"] for r in rows_], "o-", label="median")
        panels[3].plot(pages, [r["p95_ms"] for r in rows_], "s--", label="95th percentile")
        panels[3].axhline(browser["target_median_ms"], color="red", lw=0.8, label="target (median)")
        panels[3].set_xticks(pages)
        panels[3].set_xlabel("pages drawing at once")
        panels[3].set_ylabel("ms, mouse up to digit shown")
        panels[3].set_ylim(bottom=0)
        panels[3].legend()
    panels[3].set_title("Recognition in the browser vs users")

    overhead = figures.get("training_overhead")
    if overhead:
        ways = dict(_overhead_ways(overhead))
        shown = ways.get("browser") or next(iter(ways.values()))
        sizes = list(shown["batch_sizes"])
        rows_ = list(shown["batch_sizes"].values())
        positions = range(len(sizes))
        panels[4].bar(
            [p - 0.2 for p in positions],
            [r["plain_samples_per_s"] for r in rows_],
            0.4,
            label="plain fit",
        )
        panels[4].bar(
            [p + 0.2 for p in positions],
            [r["dashboard_samples_per_s"] for r in rows_],
            0.4,
            label="dashboard",
        )
        for p, row in zip(positions, rows_, strict=True):
            panels[4].text(
                p + 0.2,
                row["dashboard_samples_per_s"],
                f"×{row['ratio']:.2f}",
                ha="center",
                va="bottom",
            )
        panels[4].set_xticks(list(positions), [f"batch {s}" for s in sizes])
        panels[4].set_ylabel("training digits per second")
        panels[4].legend(loc="lower right")
    panels[4].set_title("Training speed: dashboard vs plain Keras")

    tti = figures.get("time_to_interactive")
    if tti:
        labels = ["preheated", "preheated,\nreturning", "not preheated"]
        rows_ = [tti["preheated"], tti["preheated_returning"], tti["not_preheated"]]
        colours = ["#2ca02c", "#98df8a", "#999"]
        if tti.get("voila_floor"):
            labels.append("plain Voila,\none button")
            rows_.append(tti["voila_floor"])
            colours.append("#1f77b4")
        for i, row in enumerate(rows_):
            panels[5].plot([i] * len(row["samples_s"]), row["samples_s"], ".", color="#bbb")
        panels[5].bar(range(len(rows_)), [r["median_s"] for r in rows_], 0.5, color=colours)
        panels[5].axhline(
            tti["target_preheated_s"], color="red", lw=0.8, label="target (preheated)"
        )
        panels[5].set_xticks(range(len(rows_)), labels)
        panels[5].set_ylabel("seconds to Train clickable")
        panels[5].legend()
    panels[5].set_title("Time to interactive")

    fig.suptitle(
        f"digitwidgets benchmarks, {_run_dates(collected)}, "
        f"{collected['machine']['cpu_count']} CPU cores"
        + (" (quick: tiny sizes)" if collected["quick"] else "")
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
