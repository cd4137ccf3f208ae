"""Sample every thread of a training with every view open, and say where the time goes.

The same set-up as ``bench_training_overhead.py --way in-process`` (a ``Dashboard`` with a
7 on the pad, the layers view open with a pixel explained, the map of digits on show), one
warm-up run, then a run of ``--epochs`` epochs sampled by py-spy (PyPI ``py-spy``; it
samples every Python thread of a running process, on Linux as root or with ptrace allowed).
Prints the samples of each thread and, for the event worker, of each reaction (the
outermost digitwidgets frame under the worker's loop). Python frames only: TensorFlow's own
pool threads are not Python threads, and only the thread holding Python's lock is sampled
(``--gil``), so the training thread's TensorFlow work is mostly not seen: this shows where
Python's time goes; ``bench_training_overhead.py`` clocks each reaction's processor time.

    .venv/bin/python bench/profile_reactions.py [--epochs 4] [--batch-size 128] [--rate 200]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench_training_overhead import open_everything, settle  # noqa: E402

FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>.*?):\d+\)$")


def summarise(raw: Path, rate: int) -> str:
    """Per thread, and per reaction of the event worker, the sampled processor seconds."""
    threads: collections.Counter = collections.Counter()
    reactions: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        name = re.sub(r"^thread \(\d+\): ", "", frames[0])
        name = re.sub(r"-\d{8}-\d{6}-\w+$", "-<run>", name)
        threads[name] += int(count)
        if name != "digitwidgets-events":
            continue
        ours = []
        for frame in frames[1:]:
            match = FRAME.match(frame)
            path = match["path"] if match else ""
            if path.startswith("digitwidgets/") or "/digitwidgets/digitwidgets/" in path:
                ours.append(f"{match['function']} ({Path(match['path']).name})")
        # Below the worker's loop, the delivery and the announcement: the reaction itself.
        inner = [f for f in ours if not f.startswith(("SerialWorker.", "Trainer._deliver"))]
        skipped = ("Announcer.", "CurrentModel.", "one_pass", "react ")
        inner = [f for f in inner if not f.startswith(skipped)]
        reactions[inner[0] if inner else "(waiting, or between reactions)"] += int(count)
    lines = ["Samples per thread (seconds of a thread's time at the sampling rate):"]
    lines += [f"  {count / rate:6.2f} s  {name}" for name, count in threads.most_common()]
    lines.append("The event worker, by reaction:")
    lines += [f"  {count / rate:6.2f} s  {name}" for name, count in reactions.most_common(15)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the sampled training and print where its threads spent their time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2

    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.mnist import load_embedded_sample

    data = load_embedded_sample()
    with tempfile.TemporaryDirectory() as scratch:
        dashboard = open_everything(data, Path(scratch) / "runs")
        trainer = dashboard.trainer
        trainer.start(Hyperparameters(epochs=1, batch_size=args.batch_size), data)
        trainer.wait(600)
        settle(dashboard)
        raw = Path(scratch) / "samples.txt"
        # --idle off: only threads that run are sampled; --threads names each stack's thread.
        sampler = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(os.getpid()),
                "--rate",
                str(args.rate),
                "--threads",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            trainer.start(Hyperparameters(epochs=args.epochs, batch_size=args.batch_size), data)
            trainer.wait(1800)
            settle(dashboard)
        finally:
            sampler.send_signal(subprocess.signal.SIGINT)
            sampler.wait(60)
        trainer.shutdown()
        if not raw.exists():
            print(f"py-spy wrote nothing: {sampler.stderr.read()}", file=sys.stderr)
            return 1
        print(f"{args.epochs} epochs at batch {args.batch_size}, sampled at {args.rate} Hz.")
        print(summarise(raw, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
