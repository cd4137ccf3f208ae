"""Clumsy training on the dashboard: Stop at once, Stop twice, Train right after Stop, a
learning rate that diverges, and drawing all through a run.

The Trainer's own stop, divergence and refusal rules are tested in test_training.py; here a
real tiny training runs behind the dashboard's widgets, as a visitor drives them.
"""

from __future__ import annotations

import atexit

import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.mnist import MnistData
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import Trainer
from digitwidgets.widgets.dashboard import Dashboard
from tests.support import sample_subset

TINY = Hyperparameters(epochs=1, batch_size=32, dropout=0.0, validation_split=0.1)


@pytest.fixture(scope="module")
def tiny_data(sample_arrays) -> MnistData:
    """300 real training digits and 200 test digits."""
    return sample_subset(sample_arrays, 300)


@pytest.fixture
def dashboard(tiny_data, tmp_path):
    """A dashboard with the pretrained model, training on the tiny data into its own runs."""
    trainer = Trainer(RunStore(tmp_path / "runs"), batch_interval=0)
    board = Dashboard(tiny_data, trainer=trainer)
    board.wait_until_ready()
    yield board
    trainer.shutdown()
    atexit.unregister(trainer.shutdown)


def run_to_the_end(board, timeout=120) -> None:
    assert board.trainer.wait(timeout), "training did not end"


def a_one(pad) -> None:
    pad._on_mouse_down(140, 40)
    for i in range(1, 11):
        pad._on_mouse_move(140, 40 + 20 * i)
    pad._on_mouse_up(140, 240)


def test_stop_during_the_first_batch(dashboard):
    panel = dashboard.training_panel
    dashboard.controls.value = TINY.replace(epochs=5)
    dashboard.trainer.hold()  # the run pauses after its first batch, on any machine
    panel._train.click()
    assert dashboard.trainer.wait_held(60)
    assert panel.status == "Training…" and panel.running
    panel._stop.click()
    assert panel.status == "Stopping after this batch…"
    run_to_the_end(dashboard)
    assert panel.status.startswith("Stopped by you in epoch 1 at batch 1/"), panel.status
    assert panel.status.endswith("the model is what its one batch taught it.")
    assert not panel.running and not panel._train.disabled and panel._stop.disabled
    record = dashboard.trainer.store.list()[0]
    assert record.status == "stopped"
    # The part of an epoch cut short is not counted: no history.
    assert not record.history.get("val_accuracy")


def test_stop_twice_then_train_right_after(dashboard):
    panel = dashboard.training_panel
    dashboard.controls.value = TINY.replace(epochs=5)
    dashboard.trainer.hold()
    panel.train()
    assert dashboard.trainer.wait_held(60)
    panel.stop()
    panel.stop()
    assert panel.status == "Stopping after this batch…"
    # Train while the stop is still pending (the button is disabled; code can still call it).
    panel.train()
    assert panel.status == "Could not start: A training is already running: stop it first."
    dashboard.trainer.release()
    run_to_the_end(dashboard)
    assert panel.status.startswith("Stopped by you")
    panel.stop()  # a third Stop, with nothing running, changes nothing
    assert panel.status.startswith("Stopped by you")
    assert [r.status for r in dashboard.trainer.store.list()] == ["stopped"]

    dashboard.controls.value = TINY
    panel._train.click()
    run_to_the_end(dashboard)
    assert panel.status.startswith("Finished: validation accuracy"), panel.status
    statuses = sorted(r.status for r in dashboard.trainer.store.list())
    assert statuses == ["finished", "stopped"]


def test_a_diverging_learning_rate_says_so_and_the_pad_keeps_its_model(dashboard):
    model_before = dashboard.recognizer.model
    description_before = dashboard.model_description
    a_one(dashboard.pad)
    assert dashboard.pad.value.digit == 1
    dashboard.controls.value = TINY.replace(optimizer="sgd", learning_rate=10.0, epochs=3)
    dashboard.training_panel.train()
    run_to_the_end(dashboard)
    status = dashboard.training_panel.status
    assert status.startswith("Training diverged: the loss"), status
    assert status.endswith("Lower the learning rate.")
    assert dashboard.recognizer.model is model_before
    assert dashboard.model_description == description_before
    assert dashboard.pad.value.digit == 1
    assert dashboard.trainer.store.list()[0].status == "failed"


def test_drawing_all_through_a_training_keeps_recognizing(dashboard):
    dashboard.controls.value = TINY.replace(epochs=3)
    errors = []
    # The training thread hands a model over at every epoch while the pad recognizes.
    dashboard.trainer.add_listener(lambda event: event.kind == "failed" and errors.append(event))
    dashboard.training_panel.train()
    recognitions = 0
    while dashboard.trainer.running and recognitions < 2_000:
        a_one(dashboard.pad)
        recognition = dashboard.pad.value
        assert recognition is not None and recognition.ok, dashboard.pad.message
        recognitions += 1
        dashboard.pad.clear()
    run_to_the_end(dashboard)
    assert not errors
    assert recognitions >= 5, "the pad stopped answering while training ran"
    assert dashboard.training_panel.status.startswith("Finished"), dashboard.training_panel.status
    assert "your run" in dashboard.model_description
    a_one(dashboard.pad)
    assert dashboard.pad.value.ok


def resident_mb() -> float:
    import gc

    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def draw_digits(board, digit_images, count: int) -> None:
    """Trace real digits on the pad (one stroke per third row of ink), read each, then clear.

    The pad reads the digit at every mouse-up: each digit is about nine recognitions.
    """
    for i in range(count):
        image = digit_images[i % 10]
        for row in range(0, 28, 3):
            ink = np.flatnonzero(image[row] > 100)
            if len(ink):
                y = row * 10.0 + 5
                board.pad._on_mouse_down(float(ink[0]) * 10 + 5, y)
                board.pad._on_mouse_up(float(ink[-1]) * 10 + 5, y)
        assert board.pad.value.ok
        board.pad.clear()


@pytest.mark.slow
def test_a_long_session_keeps_memory_flat(dashboard, digit_images, record_property):
    dashboard.controls.value = TINY
    # Warm-up: the first drawing traces the recognizer, the first run builds Keras's graphs.
    draw_digits(dashboard, digit_images, 50)
    dashboard.training_panel.train()
    run_to_the_end(dashboard)
    warm = resident_mb()
    after_each_run = []
    for run in range(3):
        dashboard.controls.value = TINY.replace(seed=run + 1)
        dashboard.training_panel.train()
        draw_digits(dashboard, digit_images, 100)
        run_to_the_end(dashboard)
        assert dashboard.training_panel.status.startswith("Finished")
        after_each_run.append(round(resident_mb()))
    end = resident_mb()
    record_property("resident_mb", {"after_warm_up": round(warm), "runs": after_each_run})
    print(f"\nresident memory: {warm:.0f} MB after warm-up, {after_each_run} MB after each run")
    assert len(dashboard.trainer.store.list()) == 4
    assert end - warm < 150, f"memory grew from {warm:.0f} MB to {end:.0f} MB"
