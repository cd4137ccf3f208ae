"""Train LeNet-5 on a background thread and tell listeners how it goes.

``Trainer.start`` returns at once; the training runs on a daemon thread and reports
``TrainingEvent`` objects to plain callables: one "start", "batch" events at most once per
``batch_interval`` seconds, one "epoch" per epoch and exactly one terminal event
("finish", "stopped" or "failed"). Listeners run on the training thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import math
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import augmentation
from .hyperparameters import Hyperparameters
from .model import build_lenet5
from .runs import RunRecord, RunStore

log = logging.getLogger(__name__)

Listener = Callable[["TrainingEvent"], None]
TERMINAL_KINDS = ("finish", "stopped", "failed")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
# Cross-entropy of one batch above this means logits thousands apart: the weights have blown
# up. ReLU networks often die with a huge but finite loss instead of reaching NaN.
EXPLODED_LOSS = 1e3


class TrainingInProgressError(RuntimeError):
    """A training is already running on this trainer."""


@dataclass(frozen=True)
class TrainingEvent:
    """One step of a training's story, as told to listeners."""

    kind: str  # "start" | "batch" | "epoch" | "finish" | "stopped" | "failed"
    run_id: str
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    step: int = 0
    logs: dict = field(default_factory=dict)
    elapsed: float = 0.0
    remaining: float | None = None
    message: str = ""
    model: Any = None
    run: RunRecord | None = None

    @property
    def progress(self) -> float:
        """Fraction of the planned batches done, 0..1 (1 once finished)."""
        if self.kind == "finish":
            return 1.0
        total = self.epochs * self.batches
        return min(1.0, self.step / total) if total else 0.0


class Trainer:
    """Runs one training at a time in the background and saves each run in a ``RunStore``."""

    def __init__(self, store: RunStore | None = None, *, batch_interval: float = 0.25):
        self.store = store if store is not None else RunStore()
        self.batch_interval = batch_interval
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False
        self._stop_requested = False
        self._interrupted = False
        self._keras_model = None
        self._model = None

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every event, on the training thread."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def running(self) -> bool:
        """Whether a training is under way (False from its terminal event on)."""
        return self._running

    @property
    def model(self):
        """The model of the latest finished or stopped run, or None."""
        return self._model

    def start(self, hp: Hyperparameters, data) -> str:
        """Start training ``hp`` on ``data`` (an ``MnistData``) in the background; return its id."""
        x_train, y_train = _training_arrays(data)
        n_validation = round(len(x_train) * hp.validation_split)
        n_train = len(x_train) - n_validation
        if hp.batch_size > n_train:
            raise ValueError(
                f"batch_size must be at most the {n_train} training digits left after the "
                f"validation split, not {hp.batch_size}."
            )
        info = getattr(data, "info", None)
        data_info = info.to_dict() if info is not None else {"n_train": len(x_train)}
        with self._lock:
            if self._running:
                raise TrainingInProgressError("A training is already running: stop it first.")
            self._running = True
            self._stop_requested = False
            self._interrupted = False
            run_id = _new_run_id()
            self._thread = threading.Thread(
                target=self._train,
                args=(run_id, hp, x_train, y_train, n_validation, data_info),
                name=f"digitwidgets-training-{run_id}",
                daemon=True,
            )
            self._thread.start()
        return run_id

    def stop(self) -> None:
        """Ask the training to end after the current batch; does nothing if none is running."""
        self._stop_requested = True
        model = self._keras_model
        if model is not None:
            model.stop_training = True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the training thread to end; True if no training is left running."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return not self._running

    def shutdown(self, timeout: float | None = 30.0) -> None:
        """Stop a running training and save it as "interrupted" (for kernel shutdown)."""
        if self._running:
            self._interrupted = True
            self.stop()
            self.wait(timeout)

    def _emit(self, event: TrainingEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                # A broken display must not end a training that is going well.
                log.exception("Training listener %r failed on a %s event", listener, event.kind)

    def _train(self, run_id, hp, x_train, y_train, n_validation, data_info) -> None:
        started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        clock = time.monotonic()
        n_train = len(x_train) - n_validation
        batches = math.ceil(n_train / hp.batch_size)
        self._emit(TrainingEvent("start", run_id, epochs=hp.epochs, batches=batches))
        progress = None
        model = None
        error = ""
        try:
            train, validation = _datasets(hp, x_train, y_train, n_validation)
            model = build_lenet5(hp)
            self._keras_model = model
            progress = ProgressCallback(self, run_id, hp.epochs, batches, clock)
            model.fit(
                train,
                epochs=hp.epochs,
                shuffle=False,  # the dataset shuffles itself; Keras would only warn
                validation_data=validation,
                callbacks=[progress],
                verbose=0,
            )
        except Exception as exc:
            log.exception("Training %s failed", run_id)
            error = f"Training failed: {exc}"
        finally:
            self._keras_model = None
            # The datasets hold the digits; let them go before _finish hands memory back.
            train = validation = None
        self._finish(run_id, hp, model, progress, error, data_info, started_at, clock)

    def _finish(self, run_id, hp, model, progress, error, data_info, started_at, clock) -> None:
        if progress is not None and progress.divergence:
            error = progress.divergence
        if error:
            kind, status, message = "failed", "failed", error
        elif self._interrupted:
            kind, status, message = "stopped", "interrupted", "Interrupted: the app shut down."
        elif self._stop_requested:
            kind, status, message = "stopped", "stopped", "Stopped."
        else:
            kind, status, message = "finish", "finished", "Finished."
        if model is None or kind == "failed":
            copy = None
        elif progress is not None and progress.last_copy is not None:
            copy = progress.last_copy  # the pad already has it: no second clone, no retrace
        else:
            copy = _copy_model(model)
        if copy is not None:
            self._model = copy
        elapsed = time.monotonic() - clock
        run = None
        try:
            run = self.store.save(
                run_id=run_id,
                model=copy if copy is not None else model,
                hyperparameters=hp,
                history=progress.history if progress is not None else {},
                data=data_info,
                started_at=started_at,
                duration=elapsed,
                status=status,
                message=message,
            )
        except Exception as exc:
            log.warning("Run %s was not saved: %s", run_id, exc)
            message = f"{message} The run could not be saved: {exc}"
        _release_memory()
        self._running = False
        self._emit(
            TrainingEvent(
                kind,
                run_id,
                epoch=progress.epoch if progress else 0,
                epochs=hp.epochs,
                batch=progress.batch if progress else 0,
                batches=progress.batches if progress else 0,
                step=progress.step if progress else 0,
                logs=dict(progress.last_logs) if progress else {},
                elapsed=elapsed,
                remaining=0.0,
                message=message,
                model=copy,
                run=run,
            )
        )


class ProgressCallback(keras.callbacks.Callback):
    """Thin Keras callback that turns fit's hooks into ``TrainingEvent``s for a ``Trainer``."""

    def __init__(self, trainer: Trainer, run_id: str, epochs: int, batches: int, clock: float):
        super().__init__()
        self.trainer = trainer
        self.run_id = run_id
        self.epochs = epochs
        self.batches = batches
        self.clock = clock
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.last_emit = -math.inf
        self.epoch_loss = 0.0
        self.last_logs: dict[str, float] = {}
        self.history: dict[str, list[float]] = {}
        self.divergence = ""
        # The copy handed over at the latest epoch end: Keras ends every epoch, a stopped one
        # too, after its last batch, so it holds the run's final weights once fit returns.
        self.last_copy = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.batch = 0
        self.epoch_loss = 0.0

    def on_train_batch_end(self, batch, logs=None):
        self.batch += 1
        self.step += 1
        if self.trainer._stop_requested:
            self.model.stop_training = True
        logs = logs or {}
        # Keras already made the logs Python floats: checking every batch costs nothing.
        loss = logs.get("loss")
        if loss is not None:
            # logs hold the epoch's running mean; this batch's own loss is the difference.
            batch_loss = loss * self.batch - self.epoch_loss * (self.batch - 1)
            self.epoch_loss = loss
            if not math.isfinite(loss) or batch_loss > EXPLODED_LOSS:
                self._diverged(batch_loss)
                return
        now = time.monotonic()
        if now - self.last_emit < self.trainer.batch_interval:
            return
        self.last_emit = now
        self.last_logs = _floats(logs)
        self.trainer._emit(self._event("batch", now, self.last_logs))

    def on_epoch_end(self, epoch, logs=None):
        logs = _floats(logs or {})
        if self.divergence:
            return
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self._diverged(loss)
            return
        for key in HISTORY_KEYS:
            if key in logs:
                self.history.setdefault(key, []).append(logs[key])
        self.last_logs = logs
        self.last_copy = _copy_model(self.model)
        self.trainer._emit(self._event("epoch", time.monotonic(), logs, model=self.last_copy))

    def _diverged(self, loss: float) -> None:
        became = "became NaN" if math.isnan(loss) else f"exploded to {loss:.3g}"
        self.divergence = (
            f"Training diverged: the loss {became} at epoch {self.epoch + 1}, "
            f"batch {self.batch}. Lower the learning rate."
        )
        self.model.stop_training = True

    def _event(self, kind: str, now: float, logs: dict, model=None) -> TrainingEvent:
        elapsed = now - self.clock
        total = self.epochs * self.batches
        remaining = elapsed / self.step * (total - self.step) if self.step else None
        return TrainingEvent(
            kind,
            self.run_id,
            epoch=self.epoch,
            epochs=self.epochs,
            batch=self.batch,
            batches=self.batches,
            step=self.step,
            logs=logs,
            elapsed=elapsed,
            remaining=remaining,
            model=model,
        )


def _copy_model(model):
    """An inference copy with the same weights, safe to use while training goes on.

    Augmentation layers act only in training, so the copy has identities in their place
    (they hold no weights): the copy, and the run saved from it, load with plain Keras.
    """
    copy = keras.models.clone_model(model, clone_function=_inference_layer)
    copy.set_weights(model.get_weights())
    return copy


def _inference_layer(layer):
    if isinstance(layer, augmentation.TRAINING_ONLY_LAYERS):
        return keras.layers.Identity(name=layer.name)
    return layer.__class__.from_config(layer.get_config())


def _datasets(hp: Hyperparameters, x_train: np.ndarray, y_train: np.ndarray, n_validation: int):
    """Training and validation ``tf.data`` pipelines that scale the uint8 digits per batch.

    Only the uint8 digits are held whole (47 MB for 60,000): a float32 copy for ``fit`` would
    be four times that, and Keras's array adapter would copy it once more. Batches are
    gathered from shuffled indices, as that adapter does, so each epoch reshuffles.
    """
    order = np.random.default_rng(hp.seed).permutation(len(x_train))
    x = tf.constant(x_train[order])
    y = tf.constant(y_train[order].astype("int32"))
    n_train = len(x_train) - n_validation

    def scaled(indices):
        return tf.cast(tf.gather(x, indices), tf.float32) / 255.0, tf.gather(y, indices)

    def batches(start: int, stop: int, shuffle: bool) -> tf.data.Dataset:
        indices = tf.data.Dataset.range(start, stop)
        if shuffle:
            indices = indices.shuffle(stop - start, seed=hp.seed, reshuffle_each_iteration=True)
        # batch before map: one gather per batch, not one per digit. Range, shuffle, batch and
        # map keep a known length, so Keras knows the steps per epoch.
        batched = indices.batch(hp.batch_size).map(scaled, num_parallel_calls=tf.data.AUTOTUNE)
        return batched.prefetch(tf.data.AUTOTUNE)

    validation = batches(n_train, len(x_train), shuffle=False) if n_validation else None
    return batches(0, n_train, shuffle=True), validation


def _release_memory() -> None:
    """Hand memory freed by a finished run back to the system, so the next starts lower.

    glibc keeps freed heap pages for reuse; without ``malloc_trim`` a kernel's second training
    starts from the first one's peak. Elsewhere only the garbage collection is done.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        # Not glibc (musl, for one): nothing to trim with.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _floats(logs: dict) -> dict[str, float]:
    return {str(name): float(value) for name, value in logs.items()}


def _training_arrays(data) -> tuple[np.ndarray, np.ndarray]:
    try:
        (x_train, y_train), _ = data
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "data must be an MnistData, (x_train, y_train), (x_test, y_test)."
        ) from exc
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    if x_train.ndim != 3 or x_train.shape[1:] != (28, 28):
        raise ValueError(f"x_train must hold 28x28 images, not shape {x_train.shape}.")
    if len(y_train) != len(x_train):
        raise ValueError(f"x_train has {len(x_train)} images but y_train {len(y_train)} labels.")
    if len(x_train) == 0:
        raise ValueError("There are no training digits.")
    return x_train, y_train


def _new_run_id() -> str:
    # Sortable by time, unique across quick successive runs and processes.
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"
