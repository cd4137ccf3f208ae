"""A process using digitwidgets ends cleanly with work in flight: status 0, nothing half-written.

A background thread still inside TensorFlow when Python finalizes aborts the process
(SIGABRT, status 134); ``digitwidgets.background`` stops and joins every one at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys

    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.mnist import MnistData, load_embedded_sample
    from digitwidgets.learning.runs import RunStore
    from digitwidgets.widgets.dashboard import Dashboard

    sample = load_embedded_sample()
    small = MnistData(
        sample.x_train[:600], sample.y_train[:600], sample.x_test[:300], sample.y_test[:300],
        sample.info,
    )
    dashboard = Dashboard(data=small, store=RunStore(sys.argv[1]))
    dashboard.wait_until_ready()
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_move(140, 140)
    dashboard.pad._on_mouse_up(140, 240)
    dashboard.open_details()
    dashboard.controls.value = Hyperparameters(epochs=1, batch_size=64)
    for _ in range(2):
        dashboard.training_panel.train()
        assert dashboard.trainer.wait(120)
    # Work in flight at exit: a run held between two batches, an evaluation, a fine-tuning.
    dashboard.trainer.hold()
    dashboard.controls.value = Hyperparameters(epochs=3, batch_size=32)
    dashboard.training_panel.train()
    assert dashboard.trainer.wait_held(120)
    dashboard.handwriting.correct(1)
    dashboard.handwriting.fine_tune()
    dashboard.evaluation.evaluate()
    print("leaving with work in flight", flush=True)
    """
)


def test_a_script_exits_with_status_0_and_saves_the_run_in_flight(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    runs = tmp_path / "runs"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, str(script), str(runs)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=Path(__file__).parent.parent,
    )
    assert "leaving with work in flight" in done.stdout, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "terminate called" not in done.stderr
    statuses = sorted(
        json.loads((folder / "run.json").read_text())["status"] for folder in runs.iterdir()
    )
    assert statuses == ["finished", "finished", "interrupted"]
    assert not [path.name for path in runs.iterdir() if path.name.startswith(".")]
