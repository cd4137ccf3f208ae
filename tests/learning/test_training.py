"""Trainer: background training on real digits, its events, stopping, divergence, saving."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.mnist import load_embedded_sample
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import (
    EventKind,
    ProgressCallback,
    RunProgress,
    Trainer,
    TrainingEvent,
    TrainingInProgressError,
    datasets,
    release_memory,
)
from tests.support import hold_after_first_batch, sample_subset

TINY = Hyperparameters(epochs=1, batch_size=32, dropout=0.0)


@pytest.fixture(scope="module")
def small_data(sample_arrays):
    return sample_subset(sample_arrays, 1000)


@pytest.fixture(scope="module")
def tiny_data(sample_arrays):
    return sample_subset(sample_arrays, 300)


def _train(trainer, hp, data, timeout=120):
    events = []
    trainer.add_listener(events.append)
    trainer.start(hp, data)
    assert trainer.wait(timeout)
    return events


@pytest.fixture(scope="module")
def finished(small_data, tmp_path_factory):
    """One real two-epoch training on 1,000 digits, reporting every batch."""
    trainer = Trainer(RunStore(tmp_path_factory.mktemp("runs")), batch_interval=0)
    hp = Hyperparameters(epochs=2, batch_size=64, dropout=0.0)
    events = _train(trainer, hp, small_data)
    return trainer, events


def test_events_come_in_order_with_consistent_counts(finished):
    trainer, events = finished
    kinds = [event.kind for event in events]
    # 900 digits after the 10% validation split: 15 batches of 64 per epoch.
    assert kinds == ["start"] + (["batch"] * 15 + ["epoch"]) * 2 + ["finish"]
    batches = [event for event in events if event.kind == "batch"]
    assert [event.step for event in batches] == list(range(1, 31))
    assert [event.batch for event in batches] == list(range(1, 16)) * 2
    assert all(event.batches == 15 and event.epochs == 2 for event in events[1:])
    assert {"loss", "accuracy"} <= set(batches[0].logs)
    assert batches[-1].remaining == pytest.approx(0.0)
    assert events[-1].progress == 1.0
    assert batches[14].progress == pytest.approx(0.5)
    assert len({event.run_id for event in events}) == 1
    assert not trainer.running


def test_epoch_events_carry_validation_metrics_and_a_usable_model(finished, sample_arrays):
    _, events = finished
    epochs = [event for event in events if event.kind == "epoch"]
    assert [event.epoch for event in epochs] == [0, 1]
    for event in epochs:
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(event.logs)
    assert epochs[1].logs["loss"] < epochs[0].logs["loss"]
    digits = sample_arrays["x_test"][:200].astype("float32") / 255.0
    guesses = np.asarray(epochs[1].model(digits)).argmax(axis=1)
    assert (guesses == sample_arrays["y_test"][:200]).mean() > 0.5


def test_finished_run_is_saved_and_kept_as_the_trainers_model(finished, sample_arrays):
    trainer, events = finished
    finish = events[-1]
    assert finish.run.status == "finished"
    assert finish.model is trainer.model
    assert len(finish.run.history["val_accuracy"]) == 2
    assert finish.run.data["n_train"] == 1000
    digits = sample_arrays["x_test"][:32].astype("float32") / 255.0
    loaded = trainer.store.load_model(finish.run.run_id)
    np.testing.assert_allclose(
        np.asarray(loaded(digits)), np.asarray(trainer.model(digits)), rtol=1e-5, atol=1e-6
    )


def test_the_run_hands_over_its_last_epoch_copy_instead_of_cloning_again(finished):
    trainer, events = finished
    last_epoch = [event for event in events if event.kind == "epoch"][-1]
    assert events[-1].kind == "finish"
    assert events[-1].model is last_epoch.model is trainer.model


def test_batch_events_are_throttled(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path), batch_interval=3600)
    events = _train(trainer, TINY, tiny_data)
    kinds = [event.kind for event in events]
    assert kinds == ["start", "batch", "epoch", "finish"]
    assert events[-1].step == math.ceil(270 / 32)


def test_stop_from_a_listener_ends_the_training_after_the_batch_under_way(tiny_data, tmp_path):
    # Listeners hear of a batch some batches after it (they run on the event worker, at a
    # lower priority), so the promise is counted from the stop, not from the event: once
    # stop() returns, at most the batch then under way is trained.
    trainer = Trainer(RunStore(tmp_path), batch_interval=0)
    reached = []

    def stop_on_third_batch(event):
        if event.kind == "batch" and event.step == 3:
            model = trainer._keras_model  # the model fit is updating
            trainer.stop()
            reached.append(int(model.optimizer.iterations.numpy()))

    trainer.add_listener(stop_on_third_batch)
    # 100 epochs of 9 batches: the training cannot end before its listener hears of batch 3.
    events = _train(trainer, TINY.replace(epochs=100), tiny_data)
    assert events[-1].kind == "stopped" and events[-1].run.status == "stopped"
    assert 3 <= events[-1].step <= reached[0] + 1
    trainer.stop()  # idempotent once stopped


def test_a_run_stopped_in_its_first_epoch_keeps_what_its_batches_taught(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path), batch_interval=0)
    trained = []

    def stop_on_first_batch(event):
        if event.kind == "batch":
            trained.append(trainer._keras_model)  # the model fit is updating
            trainer.stop()

    trainer.add_listener(stop_on_first_batch)
    trainer.hold()  # paused after batch 1 until the stop: nothing runs ahead of the listener
    events = _train(trainer, TINY.replace(epochs=3), tiny_data)
    assert events[-1].kind == "stopped" and events[-1].step == 1
    assert trainer.model is events[-1].model is not None
    # The run has no whole epoch: no epoch event, no history, and its model is what the
    # batch before the stop taught it.
    assert not [e for e in events if e.kind == "epoch"] and not events[-1].run.history
    handed_over, final = events[-1].model.get_weights(), trained[0].get_weights()
    for copied, trained_weights in zip(handed_over, final, strict=True):
        np.testing.assert_array_equal(copied, trained_weights)


def test_second_start_is_refused_while_running(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    trainer.hold()
    trainer.start(TINY, tiny_data)
    assert trainer.wait_held(60)
    assert trainer.running
    with pytest.raises(TrainingInProgressError):
        trainer.start(TINY, tiny_data)
    training_threads = [
        t for t in threading.enumerate() if t.name.startswith("digitwidgets-training-")
    ]
    assert len(training_threads) == 1
    trainer.stop()
    assert trainer.wait(60)


def test_huge_learning_rate_fails_with_advice(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    hp = TINY.replace(optimizer="sgd", learning_rate=10.0, epochs=2)
    events = _train(trainer, hp, tiny_data)
    failed = events[-1]
    assert failed.kind == "failed"
    assert failed.message.startswith("Training diverged: the loss")
    assert "at epoch 1, batch" in failed.message
    assert failed.message.endswith("Lower the learning rate.")
    assert failed.run.status == "failed"
    assert trainer.model is None
    assert [event.kind for event in events].count("failed") == 1


def test_batch_size_larger_than_the_data_is_refused(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        trainer.start(TINY.replace(batch_size=512), tiny_data)
    assert not trainer.running


def test_a_failing_listener_does_not_stop_training(tiny_data, tmp_path, caplog):
    trainer = Trainer(RunStore(tmp_path))

    def broken(event):
        raise RuntimeError("display went away")

    trainer.add_listener(broken)
    events = _train(trainer, TINY, tiny_data)
    assert events[-1].kind == "finish"
    assert "display went away" in caplog.text


def test_an_error_inside_training_is_reported(tiny_data, tmp_path, monkeypatch):
    def out_of_memory(hp):
        raise MemoryError("cannot allocate the model")

    # The training thread imports the model builder when a run starts (TensorFlow with it).
    monkeypatch.setattr("digitwidgets.learning.model.build_lenet5", out_of_memory)
    events = _train(Trainer(RunStore(tmp_path)), TINY, tiny_data)
    assert [event.kind for event in events] == ["start", "failed"]
    assert "cannot allocate the model" in events[-1].message


def test_unwritable_store_still_hands_over_the_model(tiny_data, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    trainer = Trainer(RunStore(blocker / "runs"))
    events = _train(trainer, TINY, tiny_data)
    assert events[-1].kind == "finish"
    assert events[-1].run is None
    assert events[-1].message == "Finished."
    assert "a-file" in events[-1].save_error
    assert trainer.model is not None


def test_an_augmented_run_is_saved_for_plain_keras(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    events = _train(trainer, Hyperparameters(epochs=1, batch_size=64, augmentation=True), tiny_data)
    assert events[-1].kind == "finish"
    model_file = events[-1].run.path / "model.keras"
    code = (
        "import keras, sys; model = keras.models.load_model(sys.argv[1]); "
        "print(sum(type(layer).__module__.startswith('digitwidgets') for layer in model.layers))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code, str(model_file)], capture_output=True, text=True, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "0"


def test_shutdown_saves_the_run_as_interrupted(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path), batch_interval=0)
    # Surely mid-run, on any machine.
    events = hold_after_first_batch(
        trainer, lambda: trainer.start(TINY.replace(epochs=2), tiny_data)
    )
    trainer.shutdown()
    assert not trainer.running
    assert events[-1].kind == "stopped"
    assert events[-1].run.status == "interrupted"
    assert trainer.store.list()[0].status == "interrupted"


def _progress(events, epochs=2, batches=3):
    def send(event, snapshot):
        events.append(event if snapshot is None else replace(event, model=snapshot.model()))

    return RunProgress("hand", epochs, batches, 0.0, send, batch_interval=0.0)


@pytest.fixture(scope="module")
def small_model():
    return build_lenet5(TINY)


def test_callback_hooks_with_made_up_logs(small_model):
    events = []
    progress = _progress(events)
    callback = ProgressCallback(progress, threading.Event())
    callback.set_model(small_model)
    callback.on_epoch_begin(0)
    for batch, loss in enumerate([2.3, 2.0, 1.8]):
        callback.on_train_batch_end(batch, {"loss": loss, "accuracy": 0.2})
    callback.on_epoch_end(0, {"loss": 1.8, "accuracy": 0.3, "val_loss": 1.7, "val_accuracy": 0.4})
    kinds = [event.kind for event in events]
    assert kinds == ["batch", "batch", "batch", "epoch"]
    assert all(isinstance(kind, EventKind) for kind in kinds)
    assert [event.step for event in events] == [1, 2, 3, 3]
    assert events[-1].progress == pytest.approx(0.5)
    assert events[-1].model is not small_model
    assert progress.history == {
        "loss": [1.8],
        "accuracy": [0.3],
        "val_loss": [1.7],
        "val_accuracy": [0.4],
    }
    assert progress.divergence == ""


def test_callback_catches_nan_and_exploding_loss(small_model):
    progress = _progress([], epochs=1, batches=9)
    callback = ProgressCallback(progress, threading.Event())
    callback.set_model(small_model)
    small_model.stop_training = False
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0, {"loss": 2.3})
    assert not small_model.stop_training
    callback.on_train_batch_end(1, {"loss": math.nan})
    assert progress.divergence == (
        "Training diverged: the loss became NaN at epoch 1, batch 2. Lower the learning rate."
    )
    assert small_model.stop_training

    exploding = _progress([], epochs=1, batches=9)
    callback = ProgressCallback(exploding, threading.Event())
    callback.set_model(small_model)
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0, {"loss": 2.3})
    callback.on_train_batch_end(1, {"loss": 2.2})
    assert exploding.divergence == ""
    callback.on_train_batch_end(2, {"loss": 5000.0})
    assert "exploded" in exploding.divergence and "batch 3" in exploding.divergence


def test_an_epoch_stopped_part_way_is_not_counted(small_model):
    events, stop = [], threading.Event()
    progress = _progress(events, epochs=3, batches=4)
    callback = ProgressCallback(progress, stop)
    callback.set_model(small_model)
    callback.on_epoch_begin(0)
    for batch in range(4):
        callback.on_train_batch_end(batch, {"loss": 2.0, "accuracy": 0.3})
    callback.on_epoch_end(0, {"loss": 2.0, "accuracy": 0.3, "val_accuracy": 0.4})
    callback.on_epoch_begin(1)
    callback.on_train_batch_end(0, {"loss": 1.5, "accuracy": 0.5})
    stop.set()
    callback.on_train_batch_end(1, {"loss": 1.4, "accuracy": 0.6})
    # Keras ends (and validates) the stopped epoch: its part is not an epoch anywhere.
    callback.on_epoch_end(1, {"loss": 1.4, "accuracy": 0.6, "val_accuracy": 0.7})
    assert [event.epoch for event in events if event.kind == "epoch"] == [0]
    assert progress.history["val_accuracy"] == [0.4]
    assert progress.last_logs == {"loss": 2.0, "accuracy": 0.3, "val_accuracy": 0.4}
    # The run keeps the weights of its last whole epoch (the Trainer copies this snapshot).
    assert progress.last_snapshot is not None
    assert (progress.epoch, progress.batch) == (1, 2)
    # Stopped at an epoch's last batch, the epoch is whole and counted.
    callback.on_epoch_begin(2)
    for batch in range(4):
        callback.on_train_batch_end(batch, {"loss": 1.0, "accuracy": 0.8})
    callback.on_epoch_end(2, {"loss": 1.0, "accuracy": 0.8, "val_accuracy": 0.9})
    assert progress.history["val_accuracy"] == [0.4, 0.9]


def test_callback_passes_a_stop_request_to_keras(small_model):
    stop = threading.Event()
    callback = ProgressCallback(_progress([], epochs=1, batches=9), stop)
    callback.set_model(small_model)
    small_model.stop_training = False
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0, {"loss": 2.3})
    assert not small_model.stop_training
    stop.set()
    callback.on_train_batch_end(1, {"loss": 2.3})
    assert small_model.stop_training


def test_event_kinds_say_whether_a_run_ended_and_whether_a_model_comes_with_it():
    assert [kind.value for kind in EventKind if kind.ended] == ["finish", "stopped", "failed"]
    assert [kind.value for kind in EventKind if kind.carries_model] == [
        "epoch",
        "finish",
        "stopped",
    ]
    event = TrainingEvent("stopped", "run")
    assert event.kind is EventKind.STOPPED and event.ended and event.kind == "stopped"
    with pytest.raises(ValueError):
        TrainingEvent("finished", "run")


def test_listeners_never_run_on_the_training_thread_and_see_events_in_order(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path), batch_interval=0)
    seen = []
    trainer.add_listener(lambda event: seen.append((event, threading.current_thread().name)))
    events = _train(trainer, TINY.replace(epochs=3), tiny_data)
    threads = {name for _, name in seen}
    assert threads == {"digitwidgets-events"}
    epochs = [event for event, _ in seen if event.kind == "epoch"]
    assert [event.epoch for event in epochs] == [0, 1, 2]
    assert len({id(event.model) for event in epochs}) == 3
    # The run ends with the copy the last epoch handed over: the views keep it, no re-trace.
    assert events[-1].kind == "finish" and events[-1].model is epochs[-1].model
    assert trainer.model is epochs[-1].model


def test_a_held_trainer_waits_between_batches_until_released(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path), batch_interval=0)
    events = hold_after_first_batch(
        trainer, lambda: trainer.start(TINY.replace(epochs=2), tiny_data)
    )
    assert trainer.running and not trainer.wait(0.2)
    steps = [event.step for event in events if event.kind == "batch"]
    assert steps == [1]  # held right after the first batch
    trainer.release()
    assert trainer.wait(120)
    assert events[-1].kind == "finish"
    assert events[-1].step == 2 * events[-1].batches


def test_stop_while_held_ends_the_run_with_its_model(tiny_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    events = []
    trainer.add_listener(events.append)
    trainer.hold()
    trainer.start(TINY.replace(epochs=5), tiny_data)
    assert trainer.wait_held(60)
    trainer.stop()
    assert trainer.wait(60)
    assert events[-1].kind == "stopped" and events[-1].run.status == "stopped"
    # Keras ends the stopped epoch: its model is the run's model, and it is kept.
    assert events[-1].epoch == 0 and events[-1].model is not None
    assert trainer.model is events[-1].model


@pytest.mark.slow
def test_default_hyperparameters_reach_97_percent_on_the_sample(tmp_path):
    data = load_embedded_sample()
    trainer = Trainer(RunStore(tmp_path))
    events = _train(trainer, Hyperparameters(), data, timeout=600)
    assert events[-1].kind == "finish", events[-1].message
    probabilities = np.concatenate(
        [np.asarray(trainer.model(data.x_test[i : i + 500] / 255.0)) for i in range(0, 1500, 500)]
    )
    accuracy = (probabilities.argmax(axis=1) == data.y_test).mean()
    assert accuracy >= 0.97


def test_training_batches_are_scaled_shuffled_and_cover_every_digit_once(sample_arrays):
    x_train, y_train = sample_arrays["x_train"][:300], sample_arrays["y_train"][:300]
    hp = TINY.replace(batch_size=32)
    train, validation = datasets(hp, x_train, y_train, n_validation=30)
    assert int(train.cardinality()) == math.ceil(270 / 32)
    assert int(validation.cardinality()) == 1

    def epoch(dataset):
        batches = list(dataset.as_numpy_iterator())
        return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])

    first_x, first_y = epoch(train)
    second_x, _ = epoch(train)
    assert first_x.dtype == np.float32 and first_x.shape == (270, 28, 28)
    assert first_x.min() >= 0.0 and first_x.max() == 1.0
    # Each digit is its uint8 image over 255, with its own label.
    order = np.random.default_rng(hp.seed).permutation(300)
    seen = {x_train[i].tobytes(): y_train[i] for i in order[:270]}
    as_uint8 = np.rint(first_x * 255).astype(np.uint8)
    assert sorted(image.tobytes() for image in as_uint8) == sorted(seen)
    assert [seen[image.tobytes()] for image in as_uint8] == list(first_y)
    assert not np.array_equal(first_x, second_x), "each epoch should reshuffle"
    # Validation: the seeded split's last 30 digits, in the same order every time.
    validation_x, validation_y = epoch(validation)
    np.testing.assert_array_equal(np.rint(validation_x * 255), x_train[order[270:]])
    np.testing.assert_array_equal(validation_y, y_train[order[270:]])


def test_the_pipelines_run_without_tf_datas_autotuning_model(sample_arrays):
    # Its thread's sleep, doubling up to seconds, is sometimes waited out when an epoch's
    # iterator ends: an epoch of 18,000 digits stalled 1.5-2 s with both processors idle.
    train, validation = datasets(
        TINY, sample_arrays["x_train"][:100], sample_arrays["y_train"][:100], 20
    )
    assert train.options().autotune.enabled is False
    assert validation.options().autotune.enabled is False


def test_no_validation_split_gives_no_validation_data(sample_arrays):
    hp = TINY.replace(validation_split=0.0)
    train, validation = datasets(
        hp, sample_arrays["x_train"][:100], sample_arrays["y_train"][:100], 0
    )
    assert validation is None
    assert int(train.cardinality()) == math.ceil(100 / 32)


def test_a_run_makes_no_float32_copy_of_the_digits(sample_arrays, tmp_path):
    # numpy reports its allocations to tracemalloc: a float32 copy of the sample's 8,500
    # training digits is 27 MB, more than everything else a run allocates in Python.
    data = sample_subset(sample_arrays, 8500)
    trainer = Trainer(RunStore(tmp_path))
    tracemalloc.start()
    try:
        events = _train(trainer, TINY.replace(batch_size=256), data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events[-1].kind == "finish"
    assert peak < data.x_train.size * np.dtype(np.float32).itemsize


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_releasing_memory_hands_freed_heap_pages_back_to_the_system():
    """What a finished run frees stays in glibc's heap (the next run would start from the
    peak) until ``release_memory`` trims it; it can be called any number of times."""
    import numpy as np
    import psutil

    process = psutil.Process()
    blocks = [np.ones(1000, dtype=np.float32) for _ in range(40_000)]  # 4 KB each: the heap
    kept = [*blocks[::100], np.ones(1000, dtype=np.float32)]  # pins the heap's top
    del blocks
    before = process.memory_info().rss
    release_memory()
    after = process.memory_info().rss
    assert before - after > 50 * 2**20, f"only {(before - after) / 2**20:.0f} MB handed back"
    release_memory()
    assert len(kept) == 401


def test_the_one_throttle_lets_one_event_through_per_interval():
    from digitwidgets.background import Throttle

    throttle = Throttle(0.25)
    assert [throttle.due(now) for now in (10.0, 10.1, 10.24, 10.25, 10.3, 10.6)] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]
    assert all(Throttle(0).due(10.0) for _ in range(3))  # 0: every event


def test_one_pass_runs_each_views_reaction_once_with_the_newest_call():
    from digitwidgets.background import one_pass, react

    ran = []
    react("now", lambda: ran.append("outside a pass: at once"))
    assert ran == ["outside a pass: at once"]
    with one_pass():
        react("layers", lambda: ran.append("layers, old"))
        react("explanation", lambda: ran.append("explanation"))
        with one_pass():  # nested: the same pass
            react("layers", lambda: ran.append("layers, new"))
        react("failing", lambda: 1 / 0)  # logged; the others still run
        react("chained", lambda: react("later", lambda: ran.append("asked during the pass")))
        assert ran == ["outside a pass: at once"]
    assert ran[1:] == ["layers, new", "explanation", "asked during the pass"]


def test_the_event_worker_runs_below_the_training_threads_priority():
    import os

    from digitwidgets.background import REACTIONS_NICE, SerialWorker

    if not sys.platform.startswith("linux"):
        pytest.skip("threads lower their own priority on Linux only")
    seen = []
    worker = SerialWorker("test-nice", nice=REACTIONS_NICE)
    worker.submit(lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    assert worker.drain(30)
    worker.close()
    assert seen == [min(19, os.getpriority(os.PRIO_PROCESS, 0) + REACTIONS_NICE)]


def test_memory_is_released_only_after_a_run_that_grew_the_process():
    """A full collection costs a small run 5% of its processor time: only growth pays it."""
    from digitwidgets.learning.training.memory import (
        WORTH_RELEASING,
        release_memory_if_grown,
        resident_bytes,
    )

    now = resident_bytes()
    assert now > 0
    assert not release_memory_if_grown(now)
    assert release_memory_if_grown(now - 2 * WORTH_RELEASING)
    assert release_memory_if_grown(0)  # cannot tell: released


def test_an_inference_copy_of_an_augmented_model_reads_as_the_model_does(sample_arrays):
    """The copy's training-only layers are identities; its readings are the model's own."""
    from digitwidgets.learning.model import build_lenet5
    from digitwidgets.learning.training import inference_copy

    model = build_lenet5(Hyperparameters(augmentation=True, seed=3))
    copy = inference_copy(model)
    again = inference_copy(model)  # the recipe is kept per model and must stay whole
    trained_only = [layer.name for layer in model.layers if "Training" in type(layer).__name__]
    assert trained_only
    for each in (copy, again):
        kinds = {layer.name: type(layer).__name__ for layer in each.layers}
        assert all(kinds[name] == "Identity" for name in trained_only)
        images = sample_arrays["x_test"][:8].astype(np.float32) / 255.0
        np.testing.assert_allclose(each(images), model(images, training=False), atol=1e-6)
