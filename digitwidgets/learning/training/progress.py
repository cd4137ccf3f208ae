"""How far a run is: the Keras callback that fit calls, and the bookkeeping behind it.

``ProgressCallback`` is a thin adapter in the shape of ``keras.callbacks.History``: it hands
each hook's numbers to a ``RunProgress`` and tells ``fit`` to stop when asked. ``RunProgress``
counts batches, keeps the history, spots a diverging loss and sends ``TrainingEvent``s to
whoever the ``Trainer`` chose (its event worker); a model handed over at an epoch's end
travels as a ``ModelSnapshot``, whose copy is made off the training thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from ...background import Throttle
from ...keras_import import keras
from ..distributions import DistributionRecorder, Distributions
from .copies import inference_copy
from .events import BATCH_INTERVAL, EventKind, TrainingEvent

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
# Cross-entropy of one batch above this means logits thousands apart: the weights have blown
# up. ReLU networks often die with a huge but finite loss instead of reaching NaN.
EXPLODED_LOSS = 1e3

Send = Callable[[TrainingEvent, "ModelSnapshot | None"], None]


class ModelSnapshot:
    """A training model's weights at one moment; ``model()`` makes an inference copy once.

    Taking the weights is cheap (NumPy copies of 61,706 numbers) and happens on the training
    thread; the copy (``copies.inference_copy``) is made on whichever thread asks first,
    normally the event worker. Thread-safe: every caller gets the same copy.
    """

    def __init__(self, model, weights=None):
        """Copy ``model``'s weights now (or keep ``weights``, its ``get_weights()`` just
        taken); its layers are read later, to build the copy."""
        self._template = model
        self._weights = weights if weights is not None else model.get_weights()
        self._lock = threading.Lock()
        self._copy = None

    def model(self):
        """The inference copy (built on first call, then the same object)."""
        with self._lock:
            if self._copy is None:
                self._copy = inference_copy(self._template, self._weights)
                self._template = self._weights = None
            return self._copy


class RunProgress:
    """Counts one run's batches and epochs, keeps its history, and sends its events.

    ``send(event, snapshot)`` is called on the training thread and must return at once.
    Batch events are sent at most once per ``batch_interval`` seconds (0: every batch): the
    one place they are thinned, before they cross to the listeners' thread. Each batch's
    running loss and accuracy still reach them, in the next event's ``batch_points``.
    """

    def __init__(
        self,
        run_id: str,
        epochs: int,
        batches: int,
        clock: float,
        send: Send,
        *,
        batch_interval: float = BATCH_INTERVAL,
        learning_rate: float | None = None,
        distributions: DistributionRecorder | None = None,
    ):
        """A run of ``epochs`` x ``batches`` that started at ``time.monotonic()`` ``clock``.

        ``learning_rate`` is the rate the run starts with (recorded per epoch in the history).
        ``distributions`` records how the weights move at each epoch's end (every event
        then carries the run's ``Distributions`` so far).
        """
        self.run_id = run_id
        self.epochs = epochs
        self.batches = batches
        self.clock = clock
        self.send = send
        self._batch_throttle = Throttle(batch_interval)
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.last_logs: dict[str, float] = {}
        self.history: dict[str, list[float]] = {}
        self.divergence = ""
        self.learning_rate = learning_rate
        # Where a person steered the rate: {"epoch", "batch" (0-based, the first batch at the
        # new rate), "learning_rate"}, as RunRecord.lr_changes keeps them.
        self.lr_changes: list[dict] = []
        self.recorder = distributions
        self.distributions: Distributions | None = None
        # The snapshot sent at the latest epoch end: Keras ends every epoch, a stopped one
        # too, after its last batch, so it holds the run's final weights once fit returns.
        self.last_snapshot: ModelSnapshot | None = None
        # The logs of the latest whole epoch: what a run stopped part-way through an epoch
        # reports, since the part is not counted.
        self.epoch_logs: dict[str, float] = {}
        self._epoch_loss = 0.0
        # (position in epochs, loss, accuracy) of the batches since the last event sent.
        self._batch_points: list[tuple[float, float, float]] = []

    def epoch_begun(self, epoch: int) -> None:
        """``epoch`` (0-based) starts."""
        self.epoch = epoch
        self.batch = 0
        self._epoch_loss = 0.0

    def batch_begun(self, batch: int, model) -> None:
        """Batch ``batch`` (0-based) of the epoch starts; before the last one, the recorder
        keeps the weights it starts from."""
        if self.recorder is not None and batch == self.batches - 1:
            self.recorder.step_begins(model)

    def batch_ended(self, logs: dict) -> bool:
        """A batch ended with ``logs`` (the epoch's running means); False if it diverged."""
        self.batch += 1
        self.step += 1
        # Keras already made the logs Python floats: checking every batch costs nothing.
        loss = logs.get("loss")
        if loss is not None:
            # logs hold the epoch's running mean; this batch's own loss is the difference.
            batch_loss = loss * self.batch - self._epoch_loss * (self.batch - 1)
            self._epoch_loss = loss
            if not math.isfinite(loss) or batch_loss > EXPLODED_LOSS:
                self._diverged(batch_loss)
                return False
        position = self.epoch + self.batch / self.batches if self.batches else float(self.epoch)
        nan = float("nan")
        self._batch_points.append(
            (position, float(logs.get("loss", nan)), float(logs.get("accuracy", nan)))
        )
        now = time.monotonic()
        if self._batch_throttle.due(now):
            self.last_logs = _floats(logs)
            points = self._take_batch_points()
            self.send(self.event(EventKind.BATCH, now, self.last_logs, batch_points=points), None)
        return True

    def _take_batch_points(self) -> tuple:
        points, self._batch_points = tuple(self._batch_points), []
        return points

    def epoch_ended(self, logs: dict, model) -> bool:
        """An epoch ended with ``logs``; hand ``model``'s weights over. False if it diverged."""
        logs = _floats(logs)
        if self.divergence:
            return False
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self._diverged(loss)
            return False
        for key in HISTORY_KEYS:
            if key in logs:
                self.history.setdefault(key, []).append(logs[key])
        if self.learning_rate is not None:
            # The rate at the epoch's end: a steered run's schedule, epoch by epoch.
            self.history.setdefault("learning_rate", []).append(self.learning_rate)
        self.last_logs = self.epoch_logs = logs
        weights = model.get_weights()  # one copy, for the snapshot and the recorder
        if self.recorder is not None:
            self.distributions = self.recorder.epoch_ended(model, weights)
        self.last_snapshot = ModelSnapshot(model, weights)
        points = self._take_batch_points()
        self.send(
            self.event(EventKind.EPOCH, time.monotonic(), logs, batch_points=points),
            self.last_snapshot,
        )
        return True

    def epoch_cut_short(self) -> None:
        """The epoch under way was stopped before its last batch: it is not counted.

        Keras still ends it (and validates it), but a part of an epoch is not an epoch: no
        history, no ``EPOCH`` event, and the run keeps the weights and the logs of its last
        whole epoch (a run stopped in its first epoch keeps the weights it has).
        """
        self.last_logs = self.epoch_logs

    def learning_rate_changed(self, learning_rate: float) -> None:
        """The rate became ``learning_rate`` before the next batch; record it and say so."""
        self.learning_rate = learning_rate
        change = {"epoch": self.epoch, "batch": self.batch, "learning_rate": learning_rate}
        self.lr_changes.append(change)
        self.send(self.event(EventKind.LEARNING_RATE, time.monotonic(), self.last_logs), None)

    def event(self, kind: EventKind, now: float, logs: dict, **fields) -> TrainingEvent:
        """An event of ``kind`` telling where the run is at ``time.monotonic()`` ``now``."""
        elapsed = now - self.clock
        total = self.epochs * self.batches
        remaining = elapsed / self.step * (total - self.step) if self.step else None
        fields.setdefault("remaining", remaining)
        fields.setdefault("learning_rate", self.learning_rate)
        fields.setdefault("distributions", self.distributions)
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
            **fields,
        )

    def _diverged(self, loss: float) -> None:
        became = "became NaN" if math.isnan(loss) else f"exploded to {loss:.3g}"
        self.divergence = (
            f"Training diverged: the loss {became} at epoch {self.epoch + 1}, "
            f"batch {self.batch}. Lower the learning rate."
        )


class ProgressCallback(keras.callbacks.Callback):
    """Thin Keras callback: hands fit's hooks to a ``RunProgress`` and stops fit when asked.

    ``stop_requested`` is a ``threading.Event`` the Trainer sets; ``between_batches`` is
    called after each batch (the Trainer's hold: it blocks while training is held);
    ``requested_learning_rate()`` is asked before each batch and returns a rate to steer
    to, or None (the Trainer's ``set_learning_rate``).
    """

    def __init__(
        self,
        progress: RunProgress,
        stop_requested: threading.Event,
        between_batches: Callable[[], None] | None = None,
        requested_learning_rate: Callable[[], float | None] | None = None,
    ):
        """Report to ``progress``; end fit once ``stop_requested`` is set."""
        super().__init__()
        self.progress = progress
        self.stop_requested = stop_requested
        self.between_batches = between_batches
        self.requested_learning_rate = requested_learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        self.progress.epoch_begun(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        self.progress.batch_begun(batch, self.model)
        # The training thread, between two batches: the only safe moment to steer.
        if self.requested_learning_rate is None:
            return
        rate = self.requested_learning_rate()
        if rate is not None and rate != self.progress.learning_rate:
            self.model.optimizer.learning_rate.assign(rate)
            self.progress.learning_rate_changed(rate)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        going_on = self.progress.batch_ended(logs)
        if going_on and self.between_batches is not None:
            self.between_batches()
        if not going_on or self.stop_requested.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.stop_requested.is_set() and self.progress.batch < self.progress.batches:
            self.progress.epoch_cut_short()
            return
        if not self.progress.epoch_ended(logs, self.model):
            self.model.stop_training = True


def _floats(logs: dict) -> dict[str, float]:
    return {str(name): float(value) for name, value in logs.items()}
