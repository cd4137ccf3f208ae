"""Time the training thread spends outside ``fit``'s own work, per epoch, behind a dashboard.

The dashboard holds a drawing on the pad and has step 4 open, so every reaction to a training
event (re-recognition, saliency, chart, table, evaluation) is wired. What runs on the training
thread outside Keras is the ``ProgressCallback`` hooks (counting, the loss check, taking the
weights at an epoch's end, queueing the event); this wraps them and sums their thread CPU and
wall time. Usage: ``python bench/profile_training_thread.py [epochs]``.
"""

from __future__ import annotations

import sys
import tempfile
import time

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.mnist import load_embedded_sample
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import ProgressCallback, Trainer
from digitwidgets.widgets.dashboard import Dashboard

spent = {"wall": 0.0, "cpu": 0.0, "calls": 0}


def timed(hook):
    def wrapper(self, *args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return hook(self, *args, **kwargs)
        finally:
            spent["wall"] += time.perf_counter() - wall
            spent["cpu"] += time.thread_time() - cpu
            spent["calls"] += 1

    return wrapper


def main(epochs: int = 3) -> None:
    for name in ("on_epoch_begin", "on_train_batch_end", "on_epoch_end"):
        setattr(ProgressCallback, name, timed(getattr(ProgressCallback, name)))
    data = load_embedded_sample()
    with tempfile.TemporaryDirectory() as runs:
        trainer = Trainer(RunStore(runs))
        dashboard = Dashboard(data, trainer=trainer)
        dashboard.pad._on_mouse_down(140, 40)
        dashboard.pad._on_mouse_move(140, 140)
        dashboard.pad._on_mouse_up(140, 240)
        dashboard.open_details()
        dashboard.evaluation.wait(60)
        hp = Hyperparameters(epochs=epochs)
        started = time.perf_counter()
        trainer.start(hp, data)
        assert trainer.wait(1800)
        total = time.perf_counter() - started
    print(
        f"{epochs} epochs of {len(data.x_train):,} digits in {total:.1f} s; training thread in "
        f"ProgressCallback hooks ({spent['calls']} calls): {spent['wall'] / epochs * 1000:.1f} ms "
        f"wall, {spent['cpu'] / epochs * 1000:.1f} ms CPU per epoch "
        f"({spent['wall'] / total:.2%} of the run)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
