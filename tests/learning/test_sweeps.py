"""Sweeps: planned and checked before anything trains, run one after the other, saved tagged."""

from __future__ import annotations

import json
import threading

import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.sweeps import (
    MAX_RUNS,
    Sweep,
    SweepError,
    SweepEventKind,
    parse_values,
    plan_sweep,
    run_sweep,
    suggested_values,
)
from digitwidgets.learning.training import Trainer
from tests.support import sample_subset

TINY = Hyperparameters(epochs=1, batch_size=32, dropout=0.0)
TIMEOUT = 300


@pytest.fixture(scope="module")
def tiny_data(sample_arrays):
    return sample_subset(sample_arrays, 300, 100)


@pytest.fixture(scope="module")
def swept(tiny_data, tmp_path_factory):
    """One real three-run sweep of the learning rate, 1 epoch each on 300 real digits."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    events = []
    records = run_sweep(
        TINY,
        {"learning_rate": [1e-4, 1e-3, 1e-2]},
        data=tiny_data,
        store=store,
        timeout=TIMEOUT,
        on_event=events.append,
    )
    return store, records, events


def test_a_sweep_saves_one_tagged_run_per_value_in_order(swept):
    store, records, _ = swept
    assert [r.hyperparameters.learning_rate for r in records] == [1e-4, 1e-3, 1e-2]
    assert all(r.status == "finished" for r in records)
    assert [r.sweep["index"] for r in records] == [1, 2, 3]
    tags = [r.sweep for r in records]
    assert len({tag["id"] for tag in tags}) == 1
    assert tags[0]["name"] == "learning_rate 0.0001, 0.001, 0.01"
    assert tags[0]["settings"] == ["learning_rate"] and tags[0]["count"] == 3
    # The tag is in run.json and read back with the run.
    saved = {r.run_id: r.sweep for r in store.list()}
    assert saved == {r.run_id: r.sweep for r in records}
    raw = json.loads((records[0].path / "run.json").read_text())
    assert raw["sweep"] == tags[0]
    # Otherwise they are ordinary runs: everything but the swept value is the base.
    assert {r.hyperparameters.replace(learning_rate=1e-3) for r in records} == {
        TINY.replace(learning_rate=1e-3)
    }


def test_a_sweep_tells_its_progress_run_by_run(swept):
    _, records, events = swept
    kinds = [event.kind for event in events]
    assert kinds == ["run-started", "run-ended"] * 3 + ["finished"]
    assert [e.message for e in events if e.kind == "run-started"] == [
        "Run 1 of 3: Learning rate 0.0001",
        "Run 2 of 3: Learning rate 0.001",
        "Run 3 of 3: Learning rate 0.01",
    ]
    assert [e.run for e in events if e.kind == "run-ended"] == records
    assert events[-1].message.startswith("All 3 runs done; best: Learning rate ")
    assert events[-1].ended and events[-1].index == 3


def test_a_run_without_a_sweep_has_no_tag_and_old_files_load(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    trainer.start(TINY, tiny_data)
    assert trainer.wait(TIMEOUT)
    (record,) = RunStore(tmp_path).list()
    assert record.sweep is None
    path = record.path / "run.json"
    raw = json.loads(path.read_text())
    del raw["sweep"]  # a run saved before sweeps existed
    path.write_text(json.dumps(raw))
    assert RunStore(tmp_path).get(record.run_id).status == "finished"
    raw["sweep"] = {"id": "x", "name": 3}  # a malformed tag loses the tag, not the run
    path.write_text(json.dumps(raw))
    again = RunStore(tmp_path).get(record.run_id)
    assert again.status == "finished" and again.sweep is None


def _held_sweep(tiny_data, store, values):
    trainer = Trainer(store)
    sweep = Sweep(TINY, values, data=tiny_data, trainer=trainer)
    events = []
    second_started = threading.Event()

    def on_event(event):
        events.append(event)
        if event.kind == "run-started" and event.index == 2:
            second_started.set()

    sweep.add_listener(on_event)
    trainer.hold()
    sweep.start()
    assert trainer.wait_held(TIMEOUT)
    return trainer, sweep, events, second_started


def test_stop_ends_the_sweep_after_the_current_run_which_is_saved_whole(tiny_data, tmp_path):
    store = RunStore(tmp_path)
    trainer, sweep, events, _ = _held_sweep(tiny_data, store, {"optimizer": ["adam", "sgd"]})
    assert sweep.running
    sweep.stop()
    trainer.release()
    assert sweep.wait(TIMEOUT)
    assert not sweep.running
    assert [e.kind for e in events] == ["run-started", "run-ended", "stopped"]
    assert events[-1].message.startswith("Stopped after run 1; best: Optimizer adam")
    (record,) = store.list()
    assert record.status == "finished" and record.hyperparameters.optimizer == "adam"
    assert not trainer.running


def test_a_sweep_cut_short_by_the_app_closing_keeps_its_finished_runs(tiny_data, tmp_path):
    store = RunStore(tmp_path)
    values = {"learning_rate": [1e-3, 2e-3, 3e-3]}
    trainer = Trainer(store)
    sweep = Sweep(TINY, values, data=tiny_data, trainer=trainer)
    events = []
    sweep.add_listener(events.append)
    second = threading.Event()
    # Hold the trainer as soon as run 2 starts, then shut down as at the interpreter's exit.
    sweep.add_listener(lambda e: e.kind == "run-started" and e.index == 2 and trainer.hold())
    sweep.add_listener(lambda e: e.kind == "run-started" and e.index == 2 and second.set())
    sweep.start()
    assert second.wait(TIMEOUT)
    assert trainer.wait_held(TIMEOUT)
    trainer.shutdown(TIMEOUT)
    assert sweep.wait(TIMEOUT)
    records = sorted(store.list(), key=lambda r: r.sweep["index"])
    assert [(r.sweep["index"], r.status) for r in records] == [(1, "finished"), (2, "interrupted")]
    assert events[-1].kind is SweepEventKind.STOPPED
    assert "Run 2 was stopped" in events[-1].message


def test_stopping_the_run_itself_ends_the_sweep(tiny_data, tmp_path):
    store = RunStore(tmp_path)
    trainer, sweep, events, _ = _held_sweep(tiny_data, store, {"seed": [0, 1, 2]})
    trainer.stop()
    trainer.release()
    assert sweep.wait(TIMEOUT)
    (record,) = store.list()
    assert record.status == "stopped" and record.sweep["index"] == 1
    assert events[-1].kind == "stopped"


def test_a_sweep_cannot_start_while_the_trainer_is_busy(tiny_data, tmp_path):
    from digitwidgets.learning.training import TrainingInProgressError

    trainer = Trainer(RunStore(tmp_path))
    trainer.hold()
    trainer.start(TINY, tiny_data)
    try:
        sweep = Sweep(TINY, {"seed": [1, 2]}, data=tiny_data, trainer=trainer)
        with pytest.raises(TrainingInProgressError):
            sweep.start()
        assert not sweep.running
    finally:
        trainer.stop()
        trainer.release()
        assert trainer.wait(TIMEOUT)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"learning_rate": [1e-3, 20.0]}, "Learning rate over 20.0"),
        ({"optimizer": ["adam", "adamw"]}, "Optimizer over 'adamw'"),
        ({"epochs": [1, 2.5]}, "Epochs over 2.5"),
        ({"colour": [1, 2]}, "Unknown setting 'colour'"),
        ({"seed": []}, "Give a list of values for Seed"),
        ({"seed": "1, 2"}, "Give a list of values for Seed"),
        ({"seed": [1, 1]}, "Seed repeats 1"),
        ({}, "Choose a setting"),
        ({"seed": [0], "epochs": [1], "dropout": [0.1]}, "at most 2 settings"),
        (
            {"seed": list(range(5)), "epochs": [1, 2, 3]},
            f"15 runs; a sweep trains at most {MAX_RUNS}",
        ),
    ],
)
def test_bad_sweeps_are_refused_before_anything_trains(values, words, tiny_data, tmp_path):
    with pytest.raises(SweepError, match=words.replace("(", r"\(").replace(".", r"\.")):
        Sweep(TINY, values, data=tiny_data, store=RunStore(tmp_path))
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_two_settings_sweep_their_cartesian_product():
    plan = plan_sweep(TINY, {"optimizer": ["adam", "sgd"], "learning_rate": [1e-3, 1e-2]})
    assert [(hp.optimizer, hp.learning_rate) for hp in plan] == [
        ("adam", 1e-3),
        ("adam", 1e-2),
        ("sgd", 1e-3),
        ("sgd", 1e-2),
    ]


def test_typed_values_are_parsed_and_checked():
    assert parse_values("learning_rate", "1e-4, 1e-3 1e-2") == [1e-4, 1e-3, 1e-2]
    assert parse_values("optimizer", "Adam, sgd") == ["adam", "sgd"]
    assert parse_values("augmentation", "false, true") == [False, True]
    assert parse_values("batch_size", "32,64") == [32, 64]
    for name, text, words in [
        ("learning_rate", "0.1, -1", "Learning rate over '-1'"),
        ("learning_rate", "fast", "over 'fast'"),
        ("epochs", " , ", "at least one value for Epochs"),
    ]:
        with pytest.raises(SweepError, match=words):
            parse_values(name, text)
    assert suggested_values("optimizer") == ["adam", "sgd", "rmsprop", "adagrad", "nadam"]
    assert suggested_values("learning_rate") == [1e-4, 1e-3, 1e-2]
