"""The learning-rate range test (Leslie Smith, 2015; fast.ai's ``lr_find``): which rate to train at.

One short run with the learning rate rising exponentially, batch after batch, from
``START_LEARNING_RATE`` (1e-6) to ``END_LEARNING_RATE`` (1): the loss against the rate shows
where the network starts to learn, where it learns fastest and where it blows up. The model
is built exactly as a training builds it (``model.build_lenet5``: architecture, activation,
optimizer, batch size and seed of the settings) and fed the same training digits; it is
thrown away afterwards: a range test is not a run, nothing is saved.

The suggested rate follows one stated rule, ``suggest_learning_rate``: the steepest descent
of the smoothed loss before its minimum; when that is ill-defined (too few points, no
descent), a tenth of the rate at the minimum.

``find_learning_rate(hp, data)`` blocks (a script); ``LearningRateRangeTest`` runs it on a
thread of its own and tells listeners how it goes (a page). TensorFlow is imported by the
thread that runs the test, never by importing this module.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import background
from .hyperparameters import Hyperparameters
from .training.data import training_arrays, validation_size
from .training.memory import release_memory

START_LEARNING_RATE = 1e-6
END_LEARNING_RATE = 1.0
DEFAULT_BATCHES = 250
# fast.ai's choices: the loss is smoothed with an exponential moving average (debiased), and
# the test ends once the smoothed loss is four times the best seen.
SMOOTHING = 0.98
DIVERGENCE_FACTOR = 4.0
# The first points are noise around the starting loss: the steepest descent is not sought there.
_SKIP_START = 5
_MIN_DESCENT_POINTS = 5

STEEPEST_RULE = "steepest descent of the smoothed loss"
MINIMUM_RULE = "a tenth of the rate at the smoothed loss's minimum"

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class LearningRateRange:
    """A range test's points so far (while it runs) or in all (once it has ended).

    ``status``: "running", then "finished" (every planned batch), "diverged" (stopped early
    because the loss blew up: the normal end), "stopped" (asked to) or "failed"
    (``message`` says why). ``suggestion`` and ``rule`` are set once it has ended.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    planned: int = DEFAULT_BATCHES
    status: str = "running"
    suggestion: float | None = None
    rule: str = ""
    message: str = ""
    seconds: float = 0.0
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)

    @property
    def done(self) -> bool:
        """Whether the test has ended."""
        return self.status != "running"

    @property
    def progress(self) -> float:
        """Fraction of the planned batches done, 0..1 (1 once ended)."""
        if self.done:
            return 1.0
        return min(1.0, len(self.losses) / self.planned) if self.planned else 0.0

    def describe(self) -> str:
        """The outcome in one sentence: the suggestion and its rule, or why there is none."""
        if not self.done:
            return f"Finding a learning rate: batch {len(self.losses)} of {self.planned}…"
        if self.status == "failed":
            return self.message
        if self.suggestion is None:
            return self.message or "Too few points to suggest a learning rate."
        ended = {
            "diverged": "the loss blew up at",
            "stopped": "stopped at",
            "finished": "reached",
        }[self.status]
        reached = self.learning_rates[-1] if len(self.learning_rates) else END_LEARNING_RATE
        return (
            f"Suggested learning rate {format_rate(self.suggestion)} ({self.rule}); "
            f"{len(self.losses)} batches, {ended} {format_rate(reached)}."
        )


def format_rate(rate: float) -> str:
    """A learning rate as people write it: "3.2e-3", "0.1", "1e-6"."""
    if rate >= 0.01:
        return f"{rate:.2g}"
    mantissa, exponent = f"{rate:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def learning_rate_schedule(
    batches: int, start: float = START_LEARNING_RATE, end: float = END_LEARNING_RATE
) -> np.ndarray:
    """The rate of each batch: exponential from ``start`` (first batch) to ``end`` (last)."""
    if batches < 2:
        raise ValueError(f"A range test needs at least 2 batches, not {batches}.")
    if not 0 < start < end:
        raise ValueError(f"The rates must rise from a positive start: {start} -> {end}.")
    return start * (end / start) ** (np.arange(batches) / (batches - 1))


def smooth_losses(losses, beta: float = SMOOTHING) -> np.ndarray:
    """Exponential moving average of ``losses``, debiased (its first values are not pulled to 0)."""
    losses = np.asarray(losses, dtype=float)
    smoothed = np.empty_like(losses)
    average = 0.0
    for index, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        smoothed[index] = average / (1 - beta ** (index + 1))
    return smoothed


def suggest_learning_rate(learning_rates, smoothed) -> tuple[float | None, str]:
    """The suggested rate and the rule that gave it (``STEEPEST_RULE`` or ``MINIMUM_RULE``).

    Steepest descent: the rate where the smoothed loss falls fastest against log10 of the
    rate, looked for between the first few points and the loss's minimum. When fewer than
    five points lie there or the loss never falls, a tenth of the rate at the minimum
    (fast.ai's other rule). Rounded to two significant digits, within 1e-6..1.
    (None, reason) with fewer than two finite points.
    """
    rates = np.asarray(learning_rates, dtype=float)
    values = np.asarray(smoothed, dtype=float)
    finite = np.isfinite(values)
    rates, values = rates[finite], values[finite]
    if len(values) < 2:
        return None, "Too few batches ran to suggest a learning rate."
    lowest = int(np.argmin(values))
    start = min(_SKIP_START, lowest)
    if lowest - start + 1 >= _MIN_DESCENT_POINTS:
        window_rates, window = rates[start : lowest + 1], values[start : lowest + 1]
        slopes = np.gradient(window, np.log10(window_rates))
        steepest = int(np.argmin(slopes))
        if slopes[steepest] < 0:
            return _clamp(window_rates[steepest]), STEEPEST_RULE
    return _clamp(rates[lowest] / 10), MINIMUM_RULE


def _clamp(rate: float) -> float:
    # Two significant digits: the test's resolution is far coarser, and the settings then
    # read as the button does ("Use 1.9e-3" puts 0.0019).
    rounded = float(f"{rate:.2g}")
    return min(max(rounded, START_LEARNING_RATE), END_LEARNING_RATE)


Progress = Callable[[LearningRateRange], None]


def find_learning_rate(
    hp: Hyperparameters,
    data,
    *,
    batches: int = DEFAULT_BATCHES,
    start: float = START_LEARNING_RATE,
    end: float = END_LEARNING_RATE,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> LearningRateRange:
    """Run the range test with ``hp``'s model on ``data``'s training digits; block until done.

    ``data`` is what a Trainer trains on (an ``MnistData``); the validation split is left
    out as a training leaves it out. ``progress(range_so_far)`` is called after every batch
    on this thread; setting ``stop`` ends the test after the current batch. ``ValueError``
    for unusable data or settings (as ``Trainer.start``); a failure inside Keras is
    returned as status "failed".
    """
    x_train, y_train = training_arrays(data)
    n_validation = validation_size(hp, len(x_train))
    schedule = learning_rate_schedule(batches, start, end)
    stop = stop if stop is not None else threading.Event()
    recorder = _Recorder(schedule, hp, progress)
    clock = time.monotonic()
    try:
        _run(hp, x_train, y_train, n_validation, schedule, recorder, stop)
    except Exception as exc:
        log.debug("The range test failed", exc_info=True)
        return recorder.result("failed", time.monotonic() - clock, f"Finding failed: {exc}")
    finally:
        release_memory()
    if stop.is_set():
        status = "stopped"
    elif recorder.diverged:
        status = "diverged"
    else:
        status = "finished"
    return recorder.result(status, time.monotonic() - clock)


def _run(hp, x_train, y_train, n_validation, schedule, recorder, stop) -> None:
    from ..keras_import import keras
    from .model import build_lenet5
    from .training.data import datasets

    train, _ = datasets(hp, x_train, y_train, n_validation)
    model = build_lenet5(hp.replace(learning_rate=float(schedule[0])))

    class RangeCallback(keras.callbacks.Callback):
        # Thin adapter: sets each batch's rate, hands each batch's loss to the recorder.
        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate.assign(float(schedule[batch]))

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            if not recorder.add(float(logs.get("loss", math.nan))) or stop.is_set():
                self.model.stop_training = True

    if stop.is_set():
        return
    model.fit(
        train.repeat(),
        epochs=1,
        steps_per_epoch=len(schedule),
        shuffle=False,
        callbacks=[RangeCallback()],
        verbose=0,
    )


class _Recorder:
    """The points of one test: each batch's own loss from fit's running mean, smoothed."""

    def __init__(self, schedule: np.ndarray, hp: Hyperparameters, progress: Progress | None):
        self.schedule = schedule
        self.hp = hp
        self.progress = progress
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.diverged = False
        self._mean = 0.0
        self._average = 0.0
        self._best = math.inf

    def add(self, running_mean: float) -> bool:
        """A batch ended with fit's running mean ``running_mean``; False once diverged."""
        count = len(self.losses) + 1
        # fit's logs hold the mean over the batches so far; this batch's own loss is the rest.
        loss = running_mean * count - self._mean * (count - 1)
        self._mean = running_mean
        if not math.isfinite(loss):
            self.diverged = True
            return False
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * loss
        smoothed = self._average / (1 - SMOOTHING**count)
        self.losses.append(loss)
        self.smoothed.append(smoothed)
        self._best = min(self._best, smoothed)
        if smoothed > DIVERGENCE_FACTOR * self._best:
            self.diverged = True
        if self.progress is not None:
            self.progress(self.result("running", 0.0))
        return not self.diverged

    def result(self, status: str, seconds: float, message: str = "") -> LearningRateRange:
        """The points so far as a ``LearningRateRange``; with a suggestion once ended."""
        rates = self.schedule[: len(self.losses)].copy()
        smoothed = np.asarray(self.smoothed, dtype=float)
        suggestion, rule = None, ""
        if status not in ("running", "failed"):
            suggestion, rule = suggest_learning_rate(rates, smoothed)
            if suggestion is None:
                message, rule = message or rule, ""
        return LearningRateRange(
            learning_rates=rates,
            losses=np.asarray(self.losses, dtype=float),
            smoothed=smoothed,
            planned=len(self.schedule),
            status=status,
            suggestion=suggestion,
            rule=rule,
            message=message,
            seconds=seconds,
            hyperparameters=self.hp,
        )


class LearningRateRangeTest(background.Announcer[LearningRateRange]):
    """Runs ``find_learning_rate`` on a thread of its own, one test at a time.

    Listeners (``add_listener``) get ``LearningRateRange`` snapshots on a worker thread
    (never the test's): at most one every ``interval`` seconds while it runs (thinned on the
    test's thread, before the hand-over), and always the final one. With a
    ``trainer``, the test refuses to start while a run trains (``TrainingInProgressError``)
    and no run starts while the test runs (the trainer is reserved: Train says why).
    """

    NAME = "The learning-rate finder"

    def __init__(self, trainer=None, *, interval: float = 0.2):
        """Keep clear of ``trainer``'s runs (a ``Trainer`` or None)."""
        super().__init__()
        self.trainer = trainer
        self.interval = interval
        self._task = background.BackgroundTask("digitwidgets-lr-finder")
        self._events = background.SerialWorker(
            "digitwidgets-lr-finder-events", nice=background.REACTIONS_NICE
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running = False
        self._throttle = background.Throttle(interval)
        self.result: LearningRateRange | None = None
        background.at_exit(self.stop)

    @property
    def running(self) -> bool:
        """Whether a test is under way (False from its final snapshot on)."""
        return self._running

    def start(self, hp: Hyperparameters, data, *, batches: int = DEFAULT_BATCHES) -> None:
        """Start a test of ``hp`` on ``data`` in the background.

        ``RuntimeError`` if a test is running already, ``TrainingInProgressError`` while the
        trainer trains, ``ValueError`` for unusable data or settings.
        """
        x_train, _ = training_arrays(data)
        validation_size(hp, len(x_train))
        with self._lock:
            if self._running:
                raise RuntimeError("The learning-rate finder is running already.")
            if self.trainer is not None:
                self.trainer.reserve(self.NAME)
            self._running = True
            self._stop.clear()
            self._throttle = background.Throttle(self.interval)
        if self._task.run(self._find, hp, data, batches) is None:  # the interpreter is ending
            self._ended()

    def stop(self) -> None:
        """End the test after its current batch; does nothing if none runs."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the test and the delivery of its snapshots; True if both are done."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._task.wait(timeout):
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._events.drain(left) and not self._running

    def _find(self, hp, data, batches) -> None:
        result = None
        try:
            result = find_learning_rate(
                hp, data, batches=batches, progress=self._progress, stop=self._stop
            )
        except Exception as exc:  # checked before start: only the unforeseen gets here
            log.debug("The range test failed", exc_info=True)
            empty = np.zeros(0)
            result = LearningRateRange(
                empty, empty, empty, status="failed", message=f"Finding failed: {exc}"
            )
        finally:
            self._ended()
            self.result = result
            self._events.submit(self._deliver, result)

    def _ended(self) -> None:
        with self._lock:
            self._running = False
            if self.trainer is not None:
                self.trainer.unreserve()

    def _progress(self, so_far: LearningRateRange) -> None:
        # The test's thread: hand over at most one snapshot per interval, and return.
        if self._throttle.due():
            self._events.submit(self._deliver, so_far)

    def _deliver(self, result: LearningRateRange | None) -> None:
        if result is not None:
            self._announce(result)
