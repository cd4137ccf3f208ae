"""Stored runs under stress: a runs folder that cannot be written, damaged run files, a model
of another kind, and a kernel killed while it saves.

The store's own rules (atomic save, a corrupt or older run.json listed as damaged, a model of
another shape refused) are tested in test_runs.py; here they go through the dashboard and
the Compare-runs table, and a real process is killed mid-save.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.mnist import MnistData
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import Trainer
from digitwidgets.widgets.dashboard import Dashboard
from digitwidgets.widgets.run_comparison import RunComparison
from tests.support import descendants, sample_subset

TINY = Hyperparameters(epochs=1, batch_size=32, dropout=0.0)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_data(sample_arrays) -> MnistData:
    """300 real training digits and 200 test digits."""
    return sample_subset(sample_arrays, 300)


@pytest.fixture(scope="module")
def model():
    from digitwidgets.learning.model import build_lenet5

    return build_lenet5(TINY)


def save(store, run_id, model, started_at="2026-01-01T10:00:00+00:00"):
    return store.save(
        run_id=run_id,
        model=model,
        hyperparameters=TINY,
        history={"loss": [0.5], "accuracy": [0.8], "val_loss": [0.4], "val_accuracy": [0.9]},
        data={"source": "embedded-sample", "n_train": 300, "n_test": 200},
        started_at=started_at,
        duration=3.0,
        status="finished",
        message="Finished.",
    )


def make_dashboard(data, store) -> Dashboard:
    trainer = Trainer(store, batch_interval=0)
    board = Dashboard(data, trainer=trainer)
    board.wait_until_ready()
    board.open_details()  # step 4, with the saved-runs table, as a visitor opens it
    atexit.unregister(trainer.shutdown)
    return board


def unwritable_roots(tmp_path) -> list[Path]:
    """Runs folders that really cannot be created, even by root (chmod does not stop root)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file, so nothing can live under it")
    roots = [blocker / "runs"]
    try:
        Path("/sys/digitwidgets-runs").mkdir()
    except OSError:
        roots.append(Path("/sys/digitwidgets-runs"))  # sysfs refuses new folders
    else:
        Path("/sys/digitwidgets-runs").rmdir()
    return roots


def test_an_unwritable_runs_folder_still_gives_the_trained_model(tiny_data, tmp_path):
    for root in unwritable_roots(tmp_path):
        board = make_dashboard(tiny_data, RunStore(root))
        board.controls.value = TINY
        board.training_panel.train()
        assert board.trainer.wait(120)
        status = board.training_panel.status
        assert status.startswith("Finished: validation accuracy"), status
        assert "The run could not be saved: Cannot save runs in" in status
        assert str(root) in status
        # The model of the unsaved run is in the pad all the same.
        assert "your run" in board.model_description
        assert board.runs.runs == []
        board.runs.refresh()
        assert board.runs.runs == []


def damage(store, model) -> dict[str, str]:
    """Save runs and damage all but one in different ways; id -> words of its message."""
    save(store, "good", model, started_at="2026-01-02T10:00:00+00:00")
    broken = {
        "corrupt": ("{not json", "cannot be read"),
        "binary": ("\x00\xff\xfe garbage", "cannot be read"),
        "a-list": ("[1, 2, 3]", "does not hold a run record"),
        "older": (None, "format version 0"),
        "no-history": (None, "run.json has no 'history'"),
        "unknown-setting": (None, "momentum"),
    }
    for run_id, (text, _words) in broken.items():
        path = save(store, run_id, model).path / "run.json"
        raw = json.loads(path.read_text())
        if run_id == "older":
            raw["format_version"] = 0
        elif run_id == "no-history":
            del raw["history"]
        elif run_id == "unknown-setting":
            raw["hyperparameters"]["momentum"] = 0.9
        path.write_bytes((text or json.dumps(raw)).encode("utf-8", "surrogateescape"))
    (store.root / "missing-json").mkdir()
    broken["missing-json"] = (None, "missing")
    return {run_id: words for run_id, (_text, words) in broken.items()}


def test_damaged_runs_show_as_damaged_in_the_table_and_the_good_one_loads(
    tmp_path, model, digit_images
):
    store = RunStore(tmp_path / "runs")
    expected = damage(store, model)
    table = RunComparison(store)
    assert set(table.runs) == {"good", *expected}
    rows = {row_id: row for row_id, row in zip(table.runs, table._table.children[1:], strict=True)}
    for run_id, words in expected.items():
        record = store.get(run_id)
        assert record.status == "damaged" and words in record.message, record.message
        cells = rows[run_id].children
        texts = " ".join(c.value for c in cells if isinstance(getattr(c, "value", 0), str))
        assert "damaged" in texts, f"the row of {run_id} does not say damaged"
        # It cannot be ticked or loaded (it can still be deleted).
        controls = [c for c in descendants(rows[run_id]) if _is_tick_or_load(c)]
        assert len(controls) == 2 and all(c.disabled for c in controls), run_id
    loaded = []
    table.on_load(lambda m, record: loaded.append((m, record)))
    table.load("good")
    assert loaded and loaded[0][1].run_id == "good"
    batch = np.stack([digit_images[d] for d in range(10)]).astype("float32") / 255
    assert np.allclose(loaded[0][0](batch), model(batch), atol=1e-5)
    table.load("corrupt")
    assert "damaged" in table.status and len(loaded) == 1


def test_a_model_of_another_kind_is_refused_and_the_pad_keeps_its_model(tiny_data, tmp_path, model):
    import keras

    store = RunStore(tmp_path / "runs")
    photos = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(100)]
    )
    save(store, "cifar", photos)
    garbage = save(store, "garbage", model).path / "model.keras"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    board = make_dashboard(tiny_data, store)
    board.pad._on_mouse_down(140, 40)
    board.pad._on_mouse_move(140, 240)
    board.pad._on_mouse_up(140, 240)
    before = (board.recognizer.model, board.model_description, board.pad.value)
    assert before[2].digit == 1
    board.runs.load("cifar")
    assert "not a digit model for (28, 28) -> (10,)" in board.runs.status
    board.runs.load("garbage")
    assert board.runs.status.startswith("Cannot load the model of run garbage")
    assert (board.recognizer.model, board.model_description, board.pad.value) == before


def _is_tick_or_load(widget) -> bool:
    import ipywidgets as widgets

    if isinstance(widget, widgets.Checkbox):
        return True
    return isinstance(widget, widgets.Button) and widget.description == "Load"


SAVE_THEN_STOP_INSIDE_A_SAVE = textwrap.dedent(
    """
    import sys
    import keras
    from digitwidgets.learning import runs
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5

    root, stage = sys.argv[1:]
    store = runs.RunStore(root)
    hp = Hyperparameters(epochs=1, seed=3)
    model = build_lenet5(hp)

    def save(run_id):
        store.save(run_id=run_id, model=model, hyperparameters=hp, history={"loss": [1.0]},
                   data={}, started_at="2026-01-03T00:00:00+00:00", duration=1.0,
                   status="finished", message="Finished.")

    def stop(step, after):
        def stopped(*args, **kwargs):
            if after:
                step(*args, **kwargs)
            print("inside", flush=True)
            sys.stdin.readline()  # never answered: the test kills this process here
        return stopped

    save(f"{stage}-whole")
    print("saved", flush=True)
    if stage == "before-model":  # the temporary folder made, nothing in it yet
        keras.Model.save = stop(keras.Model.save, after=False)
    elif stage == "after-model":  # the model written, its record not yet
        runs._fsync_file = stop(runs._fsync_file, after=True)
    else:  # the model and its record written, the folder not yet renamed into place
        runs._fsync_dir = stop(runs._fsync_dir, after=True)
    save(f"{stage}-killed")
    """
)
# Where each killed save stops, and what its temporary folder then holds.
KILL_STAGES = {
    "before-model": [],
    "after-model": ["model.keras"],
    "before-rename": ["model.keras", "run.json"],
}


@pytest.mark.slow
def test_killing_the_kernel_mid_save_leaves_earlier_runs_intact(tmp_path, model, digit_images):
    store = RunStore(tmp_path / "runs")
    save(store, "earlier-1", model)
    save(store, "earlier-2", model, started_at="2026-01-02T10:00:00+00:00")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    for stage in KILL_STAGES:
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVE_THEN_STOP_INSIDE_A_SAVE, str(store.root), stage],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for said in ("saved", "inside"):
                line = saver.stdout.readline().strip()
                assert line == said, f"{stage}: {line!r} {saver.stderr.read()}"
        finally:
            saver.send_signal(signal.SIGKILL)
            saver.wait(30)
        # The kill left a half-written save behind (the next save clears it away).
        (half_written,) = store.root.glob(f".tmp-{stage}-killed-*")
        assert sorted(path.name for path in half_written.iterdir()) == KILL_STAGES[stage]
    records = store.list()
    assert all(record.status == "finished" for record in records), [
        (r.run_id, r.message) for r in records if r.status != "finished"
    ]
    ids = {record.run_id for record in records}
    assert ids == {"earlier-1", "earlier-2"} | {f"{stage}-whole" for stage in KILL_STAGES}
    batch = np.stack([digit_images[d] for d in range(10)]).astype("float32") / 255
    for run_id in ("earlier-1", "earlier-2"):
        assert np.allclose(store.load_model(run_id)(batch), model(batch), atol=1e-5)
    # Every run a killed process did finish is whole: its model loads.
    for run_id in sorted(ids - {"earlier-1", "earlier-2"}):
        assert store.load_model(run_id)(batch).shape == (10, 10)
    # The next save clears what a kill left half-written.
    save(store, "after", model, started_at="2026-01-04T10:00:00+00:00")
    assert not list(store.root.glob(".tmp-*"))
