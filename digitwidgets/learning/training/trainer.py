"""Train LeNet-5 on a thread that only trains, and tell listeners how it goes.

``Trainer.start`` returns at once. The training thread runs ``fit``, saves the run and hands
each ``TrainingEvent`` to the Trainer's event worker (``background.SerialWorker``), which
calls the listeners in order: one ``START``, ``BATCH`` events at most once per
``batch_interval`` seconds, one ``EPOCH`` per epoch and exactly one terminal event
(``FINISH``, ``STOPPED`` or ``FAILED``). Whatever a listener does (redraw, recognize, rebuild
a table) costs the training nothing but the hand-over.

Batch events are thinned in one place: on the training thread, before the hand-over
(``RunProgress``, with a ``background.Throttle``). Every one handed over is delivered, and
listeners (the chart among them) show every event they get.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ... import background
from ..hyperparameters import Hyperparameters
from ..runs import RunStore
from .data import training_arrays, validation_size
from .events import BATCH_INTERVAL, EventKind, TrainingEvent
from .memory import release_memory_if_grown, resident_bytes

if TYPE_CHECKING:
    from .progress import ModelSnapshot

# TensorFlow is imported by the training thread when a run starts (the modules below import
# it), never by building a Trainer: a page shows its controls without waiting seconds for it.

log = logging.getLogger(__name__)


class TrainingInProgressError(RuntimeError):
    """A training is already running on this trainer."""


class Trainer(background.Announcer[TrainingEvent]):
    """Runs one training at a time in the background and saves each run in a ``RunStore``.

    Listeners (``add_listener``) are called on the Trainer's event worker, one event after
    the other, never on the training thread. ``hold()`` pauses the training between two
    batches until ``release()`` (tests and demos use it to act on a run that is surely
    under way).
    ``set_learning_rate`` steers the run in progress from its next batch on. While another
    job that trains holds the trainer (``reserve``: the learning-rate finder) no run starts.
    At interpreter exit a running training is stopped and saved as "interrupted".
    """

    def __init__(self, store: RunStore | None = None, *, batch_interval: float = BATCH_INTERVAL):
        """Save runs in ``store`` (default ``RunStore()``); ``batch_interval``: see the module."""
        super().__init__()
        self.store = store if store is not None else RunStore()
        self.batch_interval = batch_interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._events = background.SerialWorker(
            "digitwidgets-events", nice=background.REACTIONS_NICE
        )
        self._running = False
        self._stop = threading.Event()
        self._interrupted = False
        self._hold = threading.Condition()
        self._held = False
        self._waiting_at_hold = False
        self._keras_model = None
        self._resident_at_start = 0
        self._model = None
        self._hp: Hyperparameters | None = None
        self._requested_learning_rate: float | None = None
        self._reserved_by = ""
        background.at_exit(self.shutdown)

    @property
    def running(self) -> bool:
        """Whether a training is under way (False from its terminal event on)."""
        return self._running

    @property
    def model(self):
        """The model of the latest finished or stopped run, or None."""
        return self._model

    def start(self, hp: Hyperparameters, data, *, sweep: dict | None = None) -> str:
        """Start training ``hp`` on ``data`` (an ``MnistData``) in the background; return its id.

        ``sweep`` is saved with the run as its ``RunRecord.sweep`` tag
        (``digitwidgets.learning.sweeps``).
        """
        x_train, y_train = training_arrays(data)
        n_validation = validation_size(hp, len(x_train))
        info = getattr(data, "info", None)
        data_info = info.to_dict() if info is not None else {"n_train": len(x_train)}
        with self._lock:
            if self._running:
                raise TrainingInProgressError("A training is already running: stop it first.")
            if self._reserved_by:
                raise TrainingInProgressError(
                    f"{self._reserved_by} is running: stop it first, or wait for it to end."
                )
            self._running = True
            self._hp = hp
            self._requested_learning_rate = None
            self._stop.clear()
            self._interrupted = False
            run_id = _new_run_id()
            self._thread = threading.Thread(
                target=self._train,
                args=(run_id, hp, x_train, y_train, n_validation, data_info, sweep),
                name=f"digitwidgets-training-{run_id}",
                daemon=True,
            )
            self._thread.start()
        return run_id

    def stop(self) -> None:
        """Ask the training to end after the current batch; does nothing if none is running."""
        self._stop.set()
        model = self._keras_model
        if model is not None:
            model.stop_training = True
        with self._hold:
            self._hold.notify_all()

    def set_learning_rate(self, learning_rate: float) -> None:
        """Train the run in progress at ``learning_rate`` from its next batch on.

        The rate is checked as the ``learning_rate`` setting is (``ValueError`` naming the
        range); ``RuntimeError`` when no training is running. The change is recorded in the
        run (``RunRecord.lr_changes``) and told as a ``LEARNING_RATE`` event when it is made.
        """
        with self._lock:
            if not self._running or self._hp is None:
                raise RuntimeError(
                    "No training is running: choose the learning rate in the settings."
                )
            checked = self._hp.replace(learning_rate=learning_rate).learning_rate
            self._requested_learning_rate = checked

    def _take_requested_learning_rate(self) -> float | None:
        # The training thread, before each batch.
        with self._lock:
            rate, self._requested_learning_rate = self._requested_learning_rate, None
            return rate

    def reserve(self, user: str) -> None:
        """Keep runs from starting while ``user`` ("The learning-rate finder") trains a model.

        ``TrainingInProgressError`` if a run, or another user, has the trainer already. A
        ``start`` meanwhile is refused with a sentence naming ``user``. ``unreserve`` ends it.
        """
        with self._lock:
            if self._running:
                raise TrainingInProgressError(
                    "A training is running: wait for it to end, or stop it first."
                )
            if self._reserved_by:
                raise TrainingInProgressError(f"{self._reserved_by} is running already.")
            self._reserved_by = user

    def unreserve(self) -> None:
        """Let runs start again after ``reserve``."""
        with self._lock:
            self._reserved_by = ""

    def hold(self) -> None:
        """Pause the training after its current batch (and each next run) until ``release``."""
        with self._hold:
            self._held = True

    def release(self) -> None:
        """Let a held training go on."""
        with self._hold:
            self._held = False
            self._hold.notify_all()

    def wait_held(self, timeout: float | None = None) -> bool:
        """Wait until the training is paused by ``hold`` and its listeners have had every
        event sent so far; True if so."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._hold:
            if not self._hold.wait_for(lambda: self._waiting_at_hold, timeout):
                return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._events.drain(left)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the training and the delivery of its events; True if both are done.

        Called from a listener it waits for the training only.
        """
        thread = self._thread
        deadline = None if timeout is None else time.monotonic() + timeout
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                return False
        if self._running:
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._events.drain(left)

    def shutdown(self, timeout: float | None = 30.0) -> None:
        """Stop a running training and save it as "interrupted" (for kernel shutdown)."""
        if self._running:
            self._interrupted = True
            self.stop()
            self.wait(timeout)

    def _send(self, event: TrainingEvent, snapshot: ModelSnapshot | None = None) -> None:
        # Training thread: hand over and return. The copy is made on the worker.
        self._events.submit(self._deliver, event, snapshot)

    def _deliver(self, event: TrainingEvent, snapshot: ModelSnapshot | None) -> None:
        if snapshot is not None:
            event = replace(event, model=snapshot.model())
        self._announce(event)

    def _between_batches(self) -> None:
        with self._hold:
            while self._held and not self._stop.is_set():
                self._waiting_at_hold = True
                self._hold.notify_all()
                self._hold.wait()
            self._waiting_at_hold = False

    def _train(self, run_id, hp, x_train, y_train, n_validation, data_info, sweep) -> None:
        from ..distributions import GRADIENT_BATCH, DistributionRecorder
        from ..model import build_lenet5
        from .data import datasets, fixed_batch, training_size
        from .progress import ProgressCallback, RunProgress

        started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        clock = time.monotonic()
        self._resident_at_start = resident_bytes()
        n_train = training_size(hp, len(x_train), n_validation)
        batches = math.ceil(n_train / hp.batch_size)
        progress = RunProgress(
            run_id,
            hp.epochs,
            batches,
            clock,
            self._send,
            batch_interval=self.batch_interval,
            learning_rate=hp.learning_rate,
            distributions=DistributionRecorder(
                *fixed_batch(hp, x_train, y_train, min(GRADIENT_BATCH, n_train))
            ),
        )
        self._send(
            TrainingEvent(
                EventKind.START,
                run_id,
                epochs=hp.epochs,
                batches=batches,
                learning_rate=hp.learning_rate,
            )
        )
        model = None
        error = ""
        try:
            train, validation = datasets(hp, x_train, y_train, n_validation)
            model = build_lenet5(hp)
            self._keras_model = model
            if self._stop.is_set():
                model.stop_training = True
            model.fit(
                train,
                epochs=hp.epochs,
                shuffle=False,  # the dataset shuffles itself; Keras would only warn
                validation_data=validation,
                callbacks=[
                    ProgressCallback(
                        progress,
                        self._stop,
                        self._between_batches,
                        self._take_requested_learning_rate,
                    )
                ],
                verbose=0,
            )
        except Exception as exc:
            log.exception("Training %s failed", run_id)
            error = f"Training failed: {exc}"
        finally:
            self._keras_model = None
            # The datasets hold the digits; let them go before memory is handed back.
            train = validation = None
        self._finish(run_id, hp, model, progress, error, data_info, started_at, sweep)

    def _finish(self, run_id, hp, model, progress, error, data_info, started_at, sweep) -> None:
        from .copies import inference_copy

        error = progress.divergence or error
        if error:
            kind, status, message = EventKind.FAILED, "failed", error
        elif self._interrupted:
            kind, status = EventKind.STOPPED, "interrupted"
            message = "Interrupted: the app shut down."
        elif self._stop.is_set():
            kind, status, message = EventKind.STOPPED, "stopped", "Stopped."
        else:
            kind, status, message = EventKind.FINISH, "finished", "Finished."
        if model is None or kind is EventKind.FAILED:
            copy = None
        elif progress.last_snapshot is not None:
            # The last whole epoch's weights (a stopped epoch's part is not kept); the pad
            # already has them: no second clone.
            copy = progress.last_snapshot.model()
        else:
            copy = inference_copy(model)
        if copy is not None:
            self._model = copy
        elapsed = time.monotonic() - progress.clock
        run = None
        save_error = ""
        try:
            run = self.store.save(
                run_id=run_id,
                model=copy if copy is not None else model,
                hyperparameters=hp,
                history=progress.history,
                data=data_info,
                started_at=started_at,
                duration=elapsed,
                status=status,
                message=message,
                sweep=sweep,
                lr_changes=progress.lr_changes,
                distributions=progress.distributions,
            )
        except Exception as exc:
            log.warning("Run %s was not saved: %s", run_id, exc)
            save_error = str(exc)
        model = None
        # Only a run that grew the process much: a full collection costs a small run 5%.
        release_memory_if_grown(self._resident_at_start)
        self._running = False
        self._send(
            progress.event(
                kind,
                progress.clock + elapsed,
                dict(progress.last_logs),
                remaining=0.0,
                message=message,
                model=copy,
                run=run,
                save_error=save_error,
            )
        )


def _new_run_id() -> str:
    # Sortable by time, unique across quick successive runs and processes.
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"
