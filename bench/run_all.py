"""Run every benchmark in ``bench/``; write ``docs/benchmarks.md``, its plot, the README's table.

Each benchmark is a plain script that takes ``--quick`` (tiny sizes) and ``--json PATH``; this
runs them one after another in this Python, collects their JSON into ``benchmarks.json``, and
writes a table per benchmark (target, measured figure, pass or fail), the machine, the date
and how to reproduce, plus a plot of how the costs grow. A full run into ``docs/`` also
rewrites the README's table of current figures (between its two marker lines). ``--quick``
writes to ``build/benchmarks-quick/`` and leaves the README alone, so that a check that the
scripts run does not overwrite the published figures. ``--report-only`` runs no benchmark:
it writes the page, the plot and the README's table again from ``benchmarks.json``.

    python3 tasks.py bench            # or: .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import report

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
README = ROOT / "README.md"

# name: (script, extra arguments for the full run). Cheap and independent ones first.
BENCHMARKS = {
    "recognition": ("bench_recognition.py", []),
    "training_scaling": ("bench_training_scaling.py", []),
    "training_overhead": ("bench_training_overhead.py", []),
    "browser_recognition": ("bench_browser_recognition.py", []),
    "time_to_interactive": ("bench_time_to_interactive.py", ["--first-visits", "6"]),
    "kernel_memory": ("bench_kernel_memory.py", []),
    "kernel_start": ("bench_kernel_start.py", []),
    "default_training": ("bench_default_training.py", []),
    "sweep": ("bench_sweep.py", []),
    # Its accuracies are the point, not its speed: one seed keeps the whole run short.
    "handwriting": ("bench_handwriting.py", ["--seeds", "1"]),
    "capacity": ("bench_capacity.py", []),
    "crowd": ("bench_crowd.py", ["--max-kernels", "8"]),
    "inside": ("bench_inside.py", []),
    # 2,200 generated photos read, then a 12-megapixel one timed: about 6 minutes.
    "photos": ("bench_photos.py", []),
    # The default 20-epoch run with and without the weight recorder, 3 alternating pairs.
    "distributions": ("bench_distributions.py", []),
    # 20, 300 and 1,000 saved runs: seconds.
    "runs_table": ("bench_runs_table.py", []),
}
TIMEOUT_S = 1800  # the overhead benchmark (21 pairs in process, 9 by page) takes about 17 minutes


def run_benchmark(name: str, quick: bool, results: Path) -> dict:
    """Run one benchmark script; return its JSON, or what went wrong."""
    script, extra = BENCHMARKS[name]
    output = results / f"{name}.json"
    output.unlink(missing_ok=True)
    command = [sys.executable, str(BENCH / script), "--json", str(output)]
    command += ["--quick"] if quick else extra
    print(f"[bench] {name}: {' '.join(command[1:])}", flush=True)
    began = time.monotonic()
    try:
        finished = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S
        )
        returncode, log = finished.returncode, finished.stdout + finished.stderr
    except subprocess.TimeoutExpired as timeout:
        returncode, log = None, f"timed out after {TIMEOUT_S} s\n{timeout.stdout or ''}"
    seconds = time.monotonic() - began
    (results / f"{name}.log").write_text(log if isinstance(log, str) else log.decode())
    figures = json.loads(output.read_text()) if output.exists() else None
    print(f"[bench] {name}: exit {returncode} in {seconds:.0f} s", flush=True)
    if figures is None:
        tail = "\n".join(str(log).splitlines()[-15:])
        print(f"[bench] {name} wrote no figures:\n{tail}", file=sys.stderr, flush=True)
    return {
        "script": f"bench/{script}",
        "arguments": ["--quick"] if quick else extra,
        "exit_code": returncode,
        "seconds": round(seconds, 1),
        "figures": figures,
    }


def write_report(collected: dict, output: Path) -> None:
    """Write benchmarks.md and benchmarks.png into ``output``; the README's table for docs/."""
    report.plot(collected, output / "benchmarks.png")
    (output / "benchmarks.md").write_text(report.markdown(collected))
    print(f"[bench] wrote {output / 'benchmarks.md'} and its plot", flush=True)
    if output.resolve() == (ROOT / "docs").resolve() and not collected["quick"]:
        if report.write_readme(collected, README):
            print(f"[bench] wrote the table of current figures in {README}", flush=True)
        else:
            print(f"[bench] {README} has no figures markers: table not written", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and write the report; exit 1 if one could not run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, into build/")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run just these")
    parser.add_argument("--output", type=Path, help="folder for benchmarks.md/.png/.json")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the page and plot from benchmarks.json"
    )
    args = parser.parse_args(argv)
    output = args.output or (ROOT / "build" / "benchmarks-quick" if args.quick else ROOT / "docs")
    if args.report_only:
        write_report(json.loads((output / "benchmarks.json").read_text()), output)
        return 0
    results = ROOT / "build" / ("benchmarks-quick" if args.quick else "benchmarks") / "raw"
    results.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)

    began = datetime.now(timezone.utc)
    runs = {name: run_benchmark(name, args.quick, results) for name in args.only or BENCHMARKS}
    for run in runs.values():
        run["date"] = began.isoformat(timespec="seconds")
    previous = output / "benchmarks.json"
    if args.only and previous.exists():
        # Only some were run again: the others keep their last figures, and their date.
        kept = json.loads(previous.read_text())
        for run in kept["benchmarks"].values():
            run.setdefault("date", kept["date"])
        runs = {**kept["benchmarks"], **runs}
    collected = {
        "date": began.isoformat(timespec="seconds"),
        "quick": args.quick,
        "total_seconds": round((datetime.now(timezone.utc) - began).total_seconds(), 1),
        "machine": report.machine_description(),
        "benchmarks": runs,
    }
    (output / "benchmarks.json").write_text(json.dumps(collected, indent=2) + "\n")
    write_report(collected, output)
    return 0 if all(run["figures"] is not None for run in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
