"""Every benchmark still runs: each script with ``--quick`` (tiny sizes) writes the JSON it should.

The figures themselves are not checked (tests do not time things); only that each script
ends well and reports the keys ``bench/report.py`` reads. Each test runs its own script, one
at a time: a browser benchmark keeps both processors busy (server, kernel, Chromium), so two
side by side took longer in all (313 s against 301 s) and starved each other's pages.

They are marked ``bench``: ``python3 tasks.py test -m "not bench"`` leaves them out locally;
CI (``.ci/run``) runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BROWSER = {
    "bench_training_overhead.py",
    "bench_browser_recognition.py",
    "bench_time_to_interactive.py",
    "bench_kernel_memory.py",
    "bench_kernel_start.py",
    "bench_crowd.py",
    "bench_capacity.py",
}

# script: keys its JSON must have (nested keys as "outer.inner").
EXPECTED = {
    "bench_recognition.py": [
        "recognize_median_ms",
        "recognize_p95_ms",
        "upload_median_ms",
        "predict_median_ms",
        "canvas_sizes.280.median_ms",
        "passed",
    ],
    "bench_training_scaling.py": [
        "by_size",
        "by_epochs",
        "size_fit.linear",
        "epoch_fit.s_per_epoch",
        "epochs_data_size",
    ],
    "bench_default_training.py": ["test_accuracy", "wall_seconds", "passed"],
    "bench_sweep.py": ["wall_seconds", "runs", "best_learning_rate", "overhead_seconds", "passed"],
    "bench_runs_table.py": [
        "by_count.20.build_ms",
        "by_count.60.build_widget_models",
        "by_count.60.run_end_widget_models",
        "passed",
    ],
    "bench_handwriting.py": ["models.plain", "models.shipped", "epoch_seconds_median"],
    "bench_training_overhead.py": [
        "ways.in_process.batch_sizes.32.ratio",
        "ways.in_process.batch_sizes.128.cpu_ratio",
        "ways.in_process.batch_sizes.128.reactions_cpu_ms_per_epoch",
        "ways.in_process.reactions.ms_per_epoch",
        "ways.browser.batch_sizes.32.ratio",
        "ways.browser.batch_sizes.128.cpu_ratio",
        "ways.browser.batch_sizes.32.browser_cpu_median_s",
        "worst_ratio",
        "worst_cpu_ratio",
    ],
    "bench_browser_recognition.py": ["pages.1.median_ms", "pages.2.p95_ms", "passed"],
    "bench_time_to_interactive.py": [
        "server_extension.median_s",
        "server_extension.html_median_ms",
        "in_kernel.build_dashboard_s",
        "preheated_returning.median_s",
        "preheated.median_s",
        "not_preheated.median_s",
        "voila_floor.median_s",
        "voila_floor_returning.median_s",
        "voila_floor_configured.median_s",
        "passed",
    ],
    "bench_kernel_memory.py": ["peak_kernel_mb", "runs.embedded_sample.peak_kernel_mb"],
    "bench_kernel_start.py": [
        "modes.forked.tti_median_s",
        "modes.forked.kernel_cpu_median_s",
        "modes.forked.kernel_uss_median_mb",
        "modes.forked.first_visit.seconds",
        "passed",
    ],
    "bench_crowd.py": ["peak_kernels", "served", "full", "drawer_p95_ms", "recovery_s", "passed"],
    "bench_capacity.py": ["levels.1.p95_ms", "largest_n_drawing", "memory_per_kernel_mb"],
    "bench_distributions.py": [
        "ratio_median",
        "cpu_ratio_median",
        "recorder_share_median",
        "recorder_ms_per_epoch",
        "passed",
    ],
    "bench_photos.py": [
        "accuracy",
        "variations.ruled",
        "digits.7",
        "phone_photo.median_ms",
        "passed",
    ],
    "bench_inside.py": [
        "layer_outputs.median_ms",
        "epoch_end_share",
        "linear_seconds",
        "tsne_seconds",
        "peak_memory_mb",
        "passed",
    ],
}


def lookup(figures: dict, dotted: str):
    """``figures["a"]["b"]`` for ``"a.b"``; KeyError naming the path when a part is missing."""
    value = figures
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def run_quick(script: str, folder: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """Run ``bench/<script> --quick --json ...`` in a plain subprocess."""
    output = folder / f"{script}.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    finished = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", "--json", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    return finished, output


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        pytest.param(script, marks=pytest.mark.xdist_group("servers"))
        if script in BROWSER
        else script
        for script in EXPECTED
    ],
)
def test_benchmark_runs_quick_and_reports_its_figures(script, tmp_path):
    if script in BROWSER and os.environ.get("DIGITWIDGETS_SKIP_BROWSER") == "1":
        pytest.skip("browser benchmarks left out on purpose (DIGITWIDGETS_SKIP_BROWSER=1)")
    finished, output = run_quick(script, tmp_path)
    log = (finished.stdout + finished.stderr)[-3000:]
    # Exit code 1 means a target was missed, which tiny sizes may well do; 2+ is a crash.
    assert finished.returncode in (0, 1), log
    assert output.exists(), f"{script} wrote no JSON:\n{log}"
    figures = json.loads(output.read_text())
    for key in EXPECTED[script]:
        lookup(figures, key)
    assert figures.get("quick") is True, f"{script} --quick did not report quick: true"
    # bench_<name>.py reports under <name>, as run_all.py and report.py call it.
    name = script.removeprefix("bench_").removesuffix(".py")
    table = report_module().rows(name, figures)
    assert table and all(len(row) == 4 for row in table)


def test_every_benchmark_script_is_covered():
    scripts = {path.name for path in BENCH.glob("bench_*.py")}
    assert scripts == set(EXPECTED), "a benchmark without a smoke test, or a stale entry"


def report_module():
    """``bench/report.py``, imported from its folder."""
    sys.path.insert(0, str(BENCH))
    try:
        import report
    finally:
        sys.path.remove(str(BENCH))
    return report


def test_report_renders_the_figures_in_the_docs(tmp_path):
    # The last full run's figures (what docs/benchmarks.md shows), rendered again; each
    # quick run above is rendered on its own by its test.
    report = report_module()
    collected = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    page = report.markdown(collected)
    report.plot(collected, tmp_path / "benchmarks.png")
    assert "unexpected shape" not in page
    for name in collected["benchmarks"]:
        assert report.TITLES[name] in page
    assert (tmp_path / "benchmarks.png").stat().st_size > 10_000


def test_the_interval_for_a_median_holds_it_for_any_distribution():
    report = report_module()
    # 9 rounds: the 2nd and 8th smallest, 1 - 2 * 10/512 = 96% sure (the sign test's table).
    rounds = [1.48, 0.89, 0.97, 0.97, 1.16, 1.19, 0.87, 1.23, 1.12]
    assert report.median_interval(rounds) == (0.89, 1.23, 1 - 20 / 512)
    # 20 rounds: the 6th and 15th smallest; 5 rounds cannot be 95% sure of anything.
    assert report.median_interval(range(100, 120))[:2] == (105, 114)
    assert report.median_interval([1, 2, 3, 4, 5]) is None
    # Drawn from a skewed distribution, the interval misses the true median about 4% of
    # the time, not more.
    rng = np.random.default_rng(4)
    true_median = np.log(2)  # of an exponential with mean 1
    misses = 0
    for _ in range(2000):
        low, high, _ = report.median_interval(rng.exponential(size=9))
        misses += not low <= true_median <= high
    assert misses / 2000 < 0.06
