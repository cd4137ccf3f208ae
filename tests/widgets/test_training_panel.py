"""TrainingPanel: Train/Stop/status follow a run's events, and refusals are explained."""

from __future__ import annotations

import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.training import TrainingEvent, TrainingInProgressError
from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
from digitwidgets.widgets.support import format_duration
from digitwidgets.widgets.training_chart import TrainingChart
from digitwidgets.widgets.training_panel import TrainingPanel
from tests.support import find_widget


class FakeTrainer:
    """Records start/stop calls and lets the test emit events as the training thread would."""

    def __init__(self, refuse=None):
        self.listeners = []
        self.started = []
        self.stopped = 0
        self.refuse = refuse

    def add_listener(self, listener):
        self.listeners.append(listener)

    def remove_listener(self, listener):
        self.listeners.remove(listener)

    def start(self, hp, data):
        if self.refuse is not None:
            raise self.refuse
        self.started.append((hp, data))
        return f"run-{len(self.started)}"

    def stop(self):
        self.stopped += 1

    def set_learning_rate(self, learning_rate):
        if not 1e-5 <= learning_rate <= 1:
            raise ValueError(f"learning_rate must be between 1e-05 and 1, not {learning_rate:g}.")

    def emit(self, kind, **fields):
        event = TrainingEvent(kind, f"run-{len(self.started)}", **fields)
        for listener in self.listeners:
            listener(event)


def test_train_starts_with_the_controls_settings_and_locks_them():
    trainer, controls = FakeTrainer(), HyperparameterControls(Hyperparameters(epochs=3))
    panel = TrainingPanel(trainer, controls, data="the data")
    train, stop = find_widget(panel, "dw-train"), find_widget(panel, "dw-stop")
    assert not train.disabled and stop.disabled
    assert panel.hyperparameters == Hyperparameters(epochs=3)  # linked to the controls
    controls.value = Hyperparameters(epochs=4)
    assert panel.hyperparameters == Hyperparameters(epochs=4)
    controls.value = Hyperparameters(epochs=3)
    train.click()
    assert trainer.started == [(Hyperparameters(epochs=3), "the data")]
    assert panel.running and train.disabled and not stop.disabled and controls.disabled
    trainer.emit("start", epochs=3, batches=120)
    assert panel.status == "Training…"
    trainer.emit(
        "batch", epoch=1, epochs=3, batch=40, batches=120, step=160, elapsed=12.0, remaining=45.0
    )
    text = find_widget(panel, "dw-progress-text").value
    assert text == "Epoch 2/3 · batch 40/120 · 0:12 elapsed · ~0:45 left"
    assert find_widget(panel, "dw-progress-bar").value == pytest.approx(160 / 360)
    assert find_widget(panel, "dw-progress-text") in find_widget(panel, "dw-progress").children
    trainer.emit("finish", epoch=2, epochs=3, logs={"val_accuracy": 0.981}, elapsed=52.0)
    assert not panel.running and not train.disabled and stop.disabled and not controls.disabled
    assert panel.status.startswith("Finished")
    assert find_widget(panel, "dw-status").value == panel.status
    assert panel.progress == 1.0


def test_fallback_messages_when_the_trainer_gives_none():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(), data=None)
    panel.train()
    trainer.emit("finish", epoch=2, epochs=3, logs={"val_accuracy": 0.981}, elapsed=52.0)
    assert panel.status == "Finished: validation accuracy 98.1% in 0:52"
    panel.train()
    trainer.emit("stopped", epoch=2, epochs=10)
    assert panel.status == "Stopped by you after 2 epochs."


def test_stop_asks_the_trainer_and_the_stopped_event_ends_the_run():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(epochs=10), data=None)
    panel.train()
    find_widget(panel, "dw-stop").click()
    assert trainer.stopped == 1 and panel.running
    trainer.emit("stopped", epoch=2, epochs=10, batch=5, batches=100, message="Stopped.")
    assert not panel.running
    assert panel.status == (
        "Stopped by you in epoch 3 at batch 5/100: the model is the one from the end of epoch 2."
    )


def test_a_stopping_run_says_stopping_until_it_ends_never_training_again():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(epochs=10), data=None)
    panel.train()
    trainer.emit("start", epochs=10, batches=100)
    trainer.emit("batch", epoch=2, epochs=10, batch=4, batches=100, step=204)
    assert panel.status == "Training…"
    panel.stop()
    assert panel.status == "Stopping after this batch…"
    # The batch under way when Stop was pressed still reports, as may its epoch's end.
    trainer.emit("batch", epoch=2, epochs=10, batch=5, batches=100, step=205)
    assert panel.status == "Stopping after this batch…"
    trainer.emit("stopped", epoch=2, epochs=10, batch=5, batches=100, message="Stopped.")
    assert panel.status.startswith("Stopped by you in epoch 3")
    # The next run trains, and says so.
    panel.train()
    trainer.emit("start", epochs=10, batches=100)
    assert panel.status == "Training…"


def test_a_run_stopped_in_its_first_epoch_keeps_what_its_batches_taught():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(epochs=10), data=None)
    panel.train()
    trainer.emit("stopped", epoch=0, epochs=10, batch=14, batches=120, step=14, elapsed=2)
    assert panel.status == (
        "Stopped by you in epoch 1 at batch 14/120: the model is what those 14 batches taught it."
    )
    assert find_widget(panel, "dw-progress-text").value == "Stopped: 0 of 10 epochs done · 0:02"


def test_progress_says_where_a_stopped_run_ended_and_keeps_its_bar_partial():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(epochs=3), data=None)
    panel.train()
    fields = {"epoch": 2, "epochs": 3, "batch": 104, "batches": 120, "step": 344, "elapsed": 6.2}
    trainer.emit("batch", remaining=0.4, **fields)
    assert find_widget(panel, "dw-progress-text").value.endswith("~0:00 left")
    trainer.emit("stopped", remaining=0.0, message="Stopped.", **fields)
    # One account: the line beside the bar and the status agree on the two whole epochs.
    assert find_widget(panel, "dw-progress-text").value == "Stopped: 2 of 3 epochs done · 0:06"
    assert find_widget(panel, "dw-progress-bar").value == pytest.approx(344 / 360)
    assert panel.status == (
        "Stopped by you in epoch 3 at batch 104/120: the model is the one from the end of epoch 2."
    )


def test_progress_of_a_run_stopped_at_an_epoch_end_and_of_a_finished_run():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(epochs=20), data=None)
    panel.train()
    trainer.emit("stopped", epoch=4, epochs=20, batch=120, batches=120, step=600, elapsed=9)
    assert find_widget(panel, "dw-progress-text").value == "Stopped: 5 of 20 epochs done · 0:09"
    assert panel.status == "Stopped by you after epoch 5: the model is the one from its end."
    assert find_widget(panel, "dw-progress-bar").value == pytest.approx(0.25)
    panel.train()
    trainer.emit("batch", epoch=19, epochs=20, batch=60, batches=120, step=2340, elapsed=25)
    trainer.emit("finish", epoch=19, epochs=20, batch=120, batches=120, step=2400, elapsed=26)
    assert find_widget(panel, "dw-progress-text").value == "Done: 20 epochs in 0:26"
    assert find_widget(panel, "dw-progress-bar").value == 1.0


def test_learning_rate_now_is_the_run_s_while_it_trains_then_the_settings_again():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(epochs=2, learning_rate=0.001), data=None)
    steer = find_widget(panel, "dw-steer-lr")
    assert steer.value == 0.001 and steer.disabled and panel.learning_rate is None
    panel.train()
    trainer.emit("start", epochs=2, batches=120, learning_rate=0.001)
    trainer.emit("learning_rate", epoch=0, epochs=2, batch=5, batches=120, learning_rate=0.0002)
    assert steer.value == 0.0002 and not steer.disabled and panel.learning_rate == 0.0002
    trainer.emit("finish", epoch=1, epochs=2, batch=120, batches=120, learning_rate=0.0002)
    # Nothing trains: the field shows the rate the next run starts with, not the last one's.
    assert steer.disabled and panel.learning_rate is None
    assert steer.value == 0.001
    panel.hyperparameters = Hyperparameters(epochs=2, learning_rate=0.05)
    assert steer.value == 0.05


def test_progress_of_a_failed_run_says_where_it_ended():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(), data=None)
    panel.train()
    trainer.emit("batch", epoch=0, epochs=10, batch=7, batches=120, step=7, elapsed=1.0)
    trainer.emit("failed", epoch=0, epochs=10, batch=8, batches=120, step=8, elapsed=1.2)
    assert find_widget(panel, "dw-progress-text").value == "Ended at epoch 1, batch 8/120 · 0:01"
    assert find_widget(panel, "dw-progress-bar").value == pytest.approx(7 / 1200)


def test_interruption_and_save_errors_are_reported():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(), data=None)
    panel.train()
    trainer.emit("stopped", epoch=1, epochs=10, message="Interrupted: the app shut down.")
    assert panel.status == "Interrupted: the app shut down."
    panel.train()
    trainer.emit(
        "finish",
        epochs=1,
        logs={"val_accuracy": 0.5},
        elapsed=3,
        message="Finished.",
        save_error="disk full",
    )
    assert (
        panel.status
        == "Finished: validation accuracy 50.0% in 0:03. The run could not be saved: disk full"
    )


def test_failure_message_is_shown():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(), data=None)
    panel.train()
    message = "Diverged: the loss became NaN in epoch 1. Try a lower learning rate."
    trainer.emit("failed", epoch=0, epochs=10, message=message)
    assert panel.status == message and not panel.running


@pytest.mark.parametrize(
    "error", [TrainingInProgressError("a run is already in progress"), ValueError("no data")]
)
def test_refused_start_is_explained_and_nothing_else_changes(error):
    trainer, controls = FakeTrainer(refuse=error), HyperparameterControls()
    panel = TrainingPanel(trainer, controls, data=None)
    panel.train()
    assert panel.status == f"Could not start: {error}"
    assert not panel.running and not controls.disabled
    assert not find_widget(panel, "dw-train").disabled


def test_a_run_that_ends_before_start_returns_is_not_left_running():
    class InstantTrainer(FakeTrainer):
        def start(self, hp, data):
            run_id = super().start(hp, data)
            self.emit("finish", epochs=1, logs={"accuracy": 0.5})
            return run_id

    panel = TrainingPanel(InstantTrainer(), Hyperparameters(), data=None)
    panel.train()
    assert not panel.running


def test_on_event_redispatches():
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(), data=None)
    seen = []
    panel.on_event(seen.append)
    trainer.emit("start", epochs=1)
    assert [event.kind for event in seen] == ["start"]
    panel.on_event(seen.append, remove=True)
    trainer.emit("finish", epochs=1)
    assert len(seen) == 1


def test_format_duration():
    assert format_duration(52) == "0:52"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(None) == "?"


def test_a_real_tiny_training_through_the_trainer(sample_arrays):
    from digitwidgets.learning.training import Trainer

    data = (
        (sample_arrays["x_train"][:300], sample_arrays["y_train"][:300]),
        (
            sample_arrays["x_test"][:50],
            sample_arrays["y_test"][:50],
        ),
    )
    trainer = Trainer()
    controls = HyperparameterControls(Hyperparameters(epochs=1, batch_size=32))
    panel = TrainingPanel(trainer, controls, data)
    chart = TrainingChart()
    chart.follow(trainer)
    kinds = []
    panel.on_event(lambda event: kinds.append(event.kind))
    find_widget(panel, "dw-train").click()
    assert trainer.wait(timeout=120)
    assert kinds[0] == "start" and kinds[-1] == "finish" and "epoch" in kinds
    assert not panel.running and not controls.disabled
    assert panel.status.startswith("Finished: validation accuracy")
    assert panel.progress == 1.0
    assert find_widget(panel, "dw-progress-text").value.startswith("Done: 1 epoch in ")
    run = trainer.store.get(chart.run_id)
    assert chart.history["val_accuracy"] == pytest.approx(run.history["val_accuracy"])
    assert chart.history["loss"] == pytest.approx(run.history["loss"])


def test_a_rate_steered_before_the_run_s_start_arrives_keeps_its_message():
    """The field is usable once Train is clicked; the run's START, delivered later by the
    event worker, must not wipe what was said meanwhile."""
    trainer = FakeTrainer()
    panel = TrainingPanel(trainer, Hyperparameters(epochs=2, learning_rate=0.001), data=None)
    steer = find_widget(panel, "dw-steer-lr")
    panel.train()
    trainer.emit("start", epochs=2, batches=120, learning_rate=0.001)
    steer.value = 50.0
    assert "stays as it was" in panel.steer_message
    trainer.emit("finish", epoch=1, epochs=2, batch=120, batches=120, learning_rate=0.001)
    # The next click clears the last run's message at once.
    panel.train()
    assert panel.steer_message == "" and not steer.disabled
    steer.value = 50.0
    refused = panel.steer_message
    assert "stays as it was" in refused and steer.value == 0.001
    trainer.emit("start", epochs=2, batches=120, learning_rate=0.001)
    assert panel.steer_message == refused
    # A run started elsewhere (a sweep's next run, code) starts with no message.
    trainer.started.append("elsewhere")
    trainer.emit("start", epochs=2, batches=120, learning_rate=0.001)
    assert panel.steer_message == ""
