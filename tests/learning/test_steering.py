"""Steering a run's learning rate while it trains: from the next batch, recorded and saved."""

from __future__ import annotations

import json
import math
import threading

import pytest

from digitwidgets.learning.export import HISTORY_COLUMNS, history_csv
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.runs import RUN_FILE, RunStore
from digitwidgets.learning.training import (
    EventKind,
    ProgressCallback,
    RunProgress,
    Trainer,
    TrainingInProgressError,
)
from tests.support import hold_after_first_batch, sample_subset

TINY = Hyperparameters(epochs=2, batch_size=32, dropout=0.0)


@pytest.fixture(scope="module")
def tiny_data(sample_arrays):
    return sample_subset(sample_arrays, 300)


@pytest.fixture(scope="module")
def steered(tiny_data, tmp_path_factory):
    """A real two-epoch run held after its first batch, steered to 0.01, then let go."""
    trainer = Trainer(RunStore(tmp_path_factory.mktemp("runs")), batch_interval=0)
    events = hold_after_first_batch(trainer, lambda: trainer.start(TINY, tiny_data))
    trainer.set_learning_rate(0.01)
    trainer.release()
    assert trainer.wait(120)
    return trainer, events


def test_the_new_rate_takes_effect_at_the_next_batch_and_is_told(steered):
    _, events = steered
    kinds = [event.kind for event in events]
    change = kinds.index(EventKind.LEARNING_RATE)
    assert kinds.count(EventKind.LEARNING_RATE) == 1
    # After the first batch (where the run was held), before the second.
    assert [e.step for e in events[:change] if e.kind == "batch"] == [1]
    event = events[change]
    assert (event.epoch, event.batch, event.learning_rate) == (0, 1, 0.01)
    assert events[0].learning_rate == TINY.learning_rate
    assert all(e.learning_rate == 0.01 for e in events[change:])
    assert events[-1].kind == "finish"


def test_the_run_keeps_its_schedule_in_the_history_and_the_record(steered):
    trainer, events = steered
    record = events[-1].run
    assert record.lr_changes == [{"epoch": 0, "batch": 1, "learning_rate": 0.01}]
    assert record.steered
    assert record.history["learning_rate"] == [0.01, 0.01]  # the rate at each epoch's end
    assert record.hyperparameters.learning_rate == TINY.learning_rate  # what it started with
    again = trainer.store.get(record.run_id)
    assert again.lr_changes == record.lr_changes
    assert again.history["learning_rate"] == [0.01, 0.01]
    saved = json.loads((record.path / RUN_FILE).read_text())
    assert saved["lr_changes"] == [{"epoch": 0, "batch": 1, "learning_rate": 0.01}]


def test_the_csv_exports_the_learning_rate_per_epoch(steered):
    _, events = steered
    lines = history_csv(events[-1].run.history).splitlines()
    assert lines[0].split(",") == list(HISTORY_COLUMNS)
    assert HISTORY_COLUMNS[-1] == "learning_rate"
    assert [line.split(",")[-1] for line in lines[1:]] == ["0.01", "0.01"]


def test_an_unsteered_run_records_its_constant_rate(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    events = []
    trainer.add_listener(events.append)
    trainer.start(TINY.replace(epochs=1, learning_rate=0.002), tiny_data)
    assert trainer.wait(120)
    record = events[-1].run
    assert record.history["learning_rate"] == [0.002]
    assert record.lr_changes == [] and not record.steered
    assert EventKind.LEARNING_RATE not in [event.kind for event in events]


@pytest.mark.parametrize("rate", [0.0, -0.1, 20.0, math.nan, True])
def test_an_out_of_range_rate_is_refused_and_changes_nothing(tiny_data, tmp_path, rate):
    trainer = Trainer(RunStore(tmp_path))
    events = []
    trainer.add_listener(events.append)
    trainer.hold()
    trainer.start(TINY.replace(epochs=1), tiny_data)
    try:
        assert trainer.wait_held(60)
        with pytest.raises(ValueError, match="learning_rate"):
            trainer.set_learning_rate(rate)
    finally:
        trainer.release()
        assert trainer.wait(120)
    record = events[-1].run
    assert record.lr_changes == []
    assert record.history["learning_rate"] == [TINY.learning_rate]


def test_steering_with_nothing_training_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="No training is running"):
        Trainer(RunStore(tmp_path)).set_learning_rate(0.01)


def test_a_reserved_trainer_refuses_to_start_and_a_running_one_to_be_reserved(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    trainer.reserve("The learning-rate finder")
    with pytest.raises(TrainingInProgressError, match="The learning-rate finder is running"):
        trainer.start(TINY, tiny_data)
    trainer.unreserve()
    trainer.hold()
    trainer.start(TINY.replace(epochs=1), tiny_data)
    try:
        assert trainer.wait_held(60)
        with pytest.raises(TrainingInProgressError, match="training is running"):
            trainer.reserve("The learning-rate finder")
    finally:
        trainer.stop()
        trainer.release()
        assert trainer.wait(60)


def test_the_callback_assigns_a_requested_rate_before_a_batch():
    # The hooks by hand, on a small real model: the optimizer's variable is what changes.
    model = build_lenet5(TINY)
    sent = []
    progress = RunProgress("run", 2, 10, 0.0, lambda e, s: sent.append(e), learning_rate=1e-3)
    requests = [None, 0.05, None, 0.05]
    callback = ProgressCallback(progress, threading.Event(), None, lambda: requests.pop(0))
    callback.set_model(model)
    callback.on_epoch_begin(0)
    for batch in range(3):
        callback.on_train_batch_begin(batch)
        callback.on_train_batch_end(batch, {"loss": 2.3})
    callback.on_train_batch_begin(3)  # the same rate again: no change recorded
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert progress.lr_changes == [{"epoch": 0, "batch": 1, "learning_rate": 0.05}]
    changes = [event for event in sent if event.kind is EventKind.LEARNING_RATE]
    assert [(e.epoch, e.batch, e.learning_rate) for e in changes] == [(0, 1, 0.05)]


def test_runs_saved_before_steering_existed_still_load(tmp_path):
    store = RunStore(tmp_path)
    hp = Hyperparameters(epochs=1)
    record = store.save(
        run_id="20260101-000000-old",
        model=None,
        hyperparameters=hp,
        history={"loss": [0.5], "val_accuracy": [0.9]},
        data={},
        started_at="2026-01-01T00:00:00+00:00",
        duration=3.0,
        status="finished",
    )
    path = record.path / RUN_FILE
    raw = json.loads(path.read_text())
    del raw["lr_changes"]
    path.write_text(json.dumps(raw))
    old = store.get(record.run_id)
    assert old.status == "finished" and old.lr_changes == [] and not old.steered
    assert history_csv(old.history).splitlines()[1].endswith(",")  # no learning rate: empty
