"""Sweeps: train one run per value of one setting (or per pair of two), one after the other.

A ``Sweep`` drives an ordinary ``Trainer``: each run trains, is saved and told to listeners
like any other, and its ``RunRecord.sweep`` tag says which sweep it belongs to. The next run
starts when the Trainer has delivered the previous one's end, on the Trainer's event worker:
no thread of its own, and never two runs at once (the machine has two cores).

``Sweep.stop()`` ends the sweep once the run in progress has finished (that run is saved
whole); ``Trainer.stop()`` ends the run in progress and with it the sweep. Each finished run
is an ordinary saved run, so a sweep cut short (a closed page, a kernel shut down) keeps
them; the run in progress is saved as "interrupted" by the Trainer's own exit path.

    records = run_sweep(Hyperparameters(epochs=3), {"learning_rate": [1e-4, 1e-3, 1e-2]},
                        data=load_mnist())
"""

from __future__ import annotations

import enum
import itertools
import math
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import background
from .hyperparameters import FIELDS, Hyperparameters
from .runs import RunRecord, RunStore
from .settings_query import format_value, parse_value
from .training.events import EventKind

MAX_RUNS = 12  # one after the other on two cores: a dozen default runs already take minutes
MAX_SETTINGS = 2


class SweepError(ValueError):
    """A sweep cannot be planned: the message names the setting or value at fault."""


def parse_values(name: str, text: str) -> list:
    """The values a person typed for one setting ("1e-4, 1e-3, 1e-2"); ``SweepError`` if bad.

    Commas or spaces separate values; each is checked against the setting's range.
    """
    parts = [part for part in text.replace(",", " ").split() if part]
    if not parts:
        raise SweepError(f"Give at least one value for {_said(name)}.")
    values = []
    for part in parts:
        try:
            values.append(parse_value(name, part))
        except ValueError as error:
            raise SweepError(f"Cannot sweep {_said(name)} over {part!r}: {error}") from None
    return values


def _said(name: str) -> str:
    """A setting as a visitor names it (its label in FIELDS: "Learning rate")."""
    return FIELDS[name].label if name in FIELDS else name


def describe_choice(values: dict) -> str:
    """Swept values in words: "Learning rate 0.05 and Optimizer sgd"."""
    return " and ".join(f"{_said(name)} {format_value(value)}" for name, value in values.items())


def suggested_values(name: str) -> list:
    """Values worth comparing for one setting: every choice, or a few around the default."""
    spec = FIELDS[name]
    if spec.kind == "choice":
        return list(spec.choices or ())
    if spec.kind == "bool":
        return [False, True]
    return list(_SUGGESTED.get(name, ()))


_SUGGESTED = {
    "learning_rate": [1e-4, 1e-3, 1e-2],
    "epochs": [1, 3, 10],
    "batch_size": [32, 64, 128],
    "dropout": [0.0, 0.2, 0.5],
    "validation_split": [0.1, 0.2, 0.3],
    "train_digits": [100, 1000, 10000, 60000],
    "seed": [0, 1, 2],
}


def describe_values(values: Sequence) -> str:
    """Values as a person writes them: "1e-04, 0.001, 0.01" becomes "0.0001, 0.001, 0.01"."""
    return ", ".join(format_value(value) for value in values)


def plan_sweep(base: Hyperparameters, values: dict[str, Sequence]) -> list[Hyperparameters]:
    """The settings of every run: ``base`` with each combination of ``values`` (in order).

    ``SweepError`` names what is wrong (an unknown setting, a value out of range, a
    repeated value, too many runs) before anything trains.
    """
    if not values:
        raise SweepError("Choose a setting to sweep.")
    if len(values) > MAX_SETTINGS:
        raise SweepError(f"A sweep varies at most {MAX_SETTINGS} settings, not {len(values)}.")
    checked: dict[str, list] = {}
    for name, given in values.items():
        if name not in FIELDS:
            raise SweepError(f"Unknown setting {name!r}. Known ones: {', '.join(FIELDS)}.")
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or not given:
            raise SweepError(
                f"Give a list of values for {_said(name)}, e.g. {suggested_values(name)}."
            )
        normalized = []
        for value in given:
            try:
                normalized.append(getattr(base.replace(**{name: value}), name))
            except (ValueError, TypeError) as error:
                raise SweepError(f"Cannot sweep {_said(name)} over {value!r}: {error}") from None
        repeated = {v for v in normalized if normalized.count(v) > 1}
        if repeated:
            repeats = describe_values(sorted(repeated, key=str))
            raise SweepError(f"{_said(name)} repeats {repeats}.")
        checked[name] = normalized
    count = math.prod(len(v) for v in checked.values())
    if count > MAX_RUNS:
        raise SweepError(f"That is {count} runs; a sweep trains at most {MAX_RUNS}.")
    names = list(checked)
    return [
        base.replace(**dict(zip(names, combination, strict=True)))
        for combination in itertools.product(*checked.values())
    ]


class SweepEventKind(str, enum.Enum):
    """What a sweep tells its listeners."""

    RUN_STARTED = "run-started"  # run ``index`` of ``count`` is training
    RUN_ENDED = "run-ended"  # it ended (finished, stopped or failed) and is saved in ``run``
    FINISHED = "finished"  # every run has ended
    STOPPED = "stopped"  # ended early: Stop, a stopped run, the app shutting down
    FAILED = "failed"  # a run could not start

    @property
    def ended(self) -> bool:
        """Whether this is the sweep's last event."""
        return self in (SweepEventKind.FINISHED, SweepEventKind.STOPPED, SweepEventKind.FAILED)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SweepEvent:
    """One step of a sweep: which run (1-based ``index`` of ``count``) and a sentence."""

    kind: SweepEventKind
    sweep_id: str
    index: int
    count: int
    message: str
    run_id: str = ""
    run: RunRecord | None = None

    @property
    def ended(self) -> bool:
        """Whether this is the sweep's last event."""
        return self.kind.ended


def run_score(record: RunRecord | None) -> float | None:
    """What ranks a sweep's runs: the run's final validation accuracy; None if not measured
    or not finite (such a run is never the best)."""
    value = record.final("val_accuracy") if record is not None else None
    return value if value is not None and math.isfinite(value) else None


def describe_swept(record: RunRecord) -> str:
    """A sweep's run by the values it tried, in words: "Learning rate 0.003"."""
    tag, hp = record.sweep or {}, record.hyperparameters
    if hp is None:
        return f"run {tag.get('index', '?')}"
    return ", ".join(
        f"{FIELDS[name].label if name in FIELDS else name} {format_value(getattr(hp, name))}"
        for name in tag.get("settings", ())
        if hasattr(hp, name)
    )


@dataclass(frozen=True)
class SweepResult:
    """One run of a sweep: the swept values, and how it did (None until it has ended)."""

    index: int  # 1-based
    values: dict  # swept name -> value
    run: RunRecord | None = None

    @property
    def val_accuracy(self) -> float | None:
        """The run's final validation accuracy; None if not measured or not finite."""
        return run_score(self.run)


SweepListener = Callable[[SweepEvent], None]


class Sweep(background.Announcer[SweepEvent]):
    """Train ``base`` once per combination of ``values``, one run after the other.

    ``start()`` returns at once (``SweepError`` for a bad plan, ``TrainingInProgressError``
    when the trainer is busy). Listeners (``add_listener``) get ``SweepEvent``s: the first
    "run-started" on the thread that called ``start()``, the rest on the Trainer's event
    worker, after the Trainer's own listeners have had the run's events.
    """

    def __init__(
        self,
        base: Hyperparameters,
        values: dict[str, Sequence],
        *,
        data,
        trainer=None,
        store: RunStore | None = None,
    ):
        """Plan the runs now (``SweepError`` names a bad value); ``trainer`` defaults to a new
        ``Trainer(store)``."""
        super().__init__()
        self.plan = plan_sweep(base, values)
        self.settings = list(values)
        if trainer is None:
            from .training import Trainer

            trainer = Trainer(store if store is not None else RunStore())
        self.trainer = trainer
        self.data = data
        self.id = uuid.uuid4().hex[:8]
        self.name = " × ".join(
            f"{name} {describe_values(dict.fromkeys(getattr(hp, name) for hp in self.plan))}"
            for name in self.settings
        )
        self.results = [
            SweepResult(index, {name: getattr(hp, name) for name in self.settings})
            for index, hp in enumerate(self.plan, start=1)
        ]
        self.message = ""
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._started = False
        self._stopping = False
        self._current: tuple[int, str] | None = None  # (index, run id) of the run training

    @property
    def count(self) -> int:
        """How many runs the sweep trains."""
        return len(self.plan)

    @property
    def running(self) -> bool:
        """Whether the sweep has started and not yet ended."""
        return self._started and not self._done.is_set()

    @property
    def records(self) -> list[RunRecord]:
        """The saved runs so far, in the sweep's order."""
        return [result.run for result in self.results if result.run is not None]

    @property
    def best(self) -> SweepResult | None:
        """The run with the highest final validation accuracy (the first of equals), or None."""
        scored = [result for result in self.results if result.val_accuracy is not None]
        return max(scored, key=lambda result: result.val_accuracy) if scored else None

    def tag(self, index: int) -> dict:
        """The ``RunRecord.sweep`` tag of run ``index`` (1-based)."""
        return {
            "id": self.id,
            "name": self.name,
            "settings": list(self.settings),
            "index": index,
            "count": self.count,
        }

    def start(self) -> None:
        """Start the first run in the background; the others follow by themselves."""
        with self._lock:
            if self._started:
                raise RuntimeError("This sweep has already started.")
            self._started = True
            self.trainer.add_listener(self._on_training_event)
            try:
                self._start_run(1)
            except Exception:
                self.trainer.remove_listener(self._on_training_event)
                self._started = False
                raise

    def stop(self) -> None:
        """End the sweep once the run in progress has finished and is saved."""
        with self._lock:
            if self.running:
                self._stopping = True
                self.message = "Stopping after this run…"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the sweep has ended and its last event is delivered; True if so."""
        return self._done.wait(timeout)

    def _start_run(self, index: int) -> None:
        # The caller holds the lock: the run's end cannot be handled before it is recorded.
        run_id = self.trainer.start(self.plan[index - 1], self.data, sweep=self.tag(index))
        self._current = (index, run_id)
        self._emit(SweepEventKind.RUN_STARTED, index, self._describe_run(index), run_id=run_id)

    def _describe_run(self, index: int) -> str:
        return f"Run {index} of {self.count}: {describe_choice(self.results[index - 1].values)}"

    def _on_training_event(self, event) -> None:
        # The Trainer's event worker, after the listeners registered before this sweep.
        if not event.ended:
            return
        with self._lock:
            if self._current is None or event.run_id != self._current[1]:
                return
            index = self._current[0]
            self._current = None
            result = self.results[index - 1]
            self.results[index - 1] = SweepResult(index, result.values, event.run)
            self._emit(
                SweepEventKind.RUN_ENDED, index, event.message, run_id=event.run_id, run=event.run
            )
            if index == self.count:
                self._end(SweepEventKind.FINISHED, self._summary(f"All {self.count} runs done"))
            elif self._stopping:
                self._end(SweepEventKind.STOPPED, self._summary(f"Stopped after run {index}"))
            elif event.kind is EventKind.STOPPED or background.closing():
                self._end(
                    SweepEventKind.STOPPED,
                    self._summary(f"Run {index} was stopped, so the sweep ended"),
                )
            else:
                try:
                    self._start_run(index + 1)
                except Exception as error:  # someone else started a run meanwhile
                    self._end(
                        SweepEventKind.FAILED,
                        self._summary(f"Run {index + 1} could not start ({error})"),
                    )

    def _summary(self, opening: str) -> str:
        best = self.best
        if best is None:
            return f"{opening}; no run measured a validation accuracy."
        return (
            f"{opening}; best: {describe_choice(best.values)}, "
            f"{best.val_accuracy:.1%} validation accuracy."
        )

    def _end(self, kind: SweepEventKind, message: str) -> None:
        self.trainer.remove_listener(self._on_training_event)
        index = max((r.index for r in self.results if r.run is not None), default=0)
        self._emit(kind, index, message)
        self._done.set()

    def _emit(self, kind: SweepEventKind, index: int, message: str, **fields: Any) -> None:
        self.message = message
        self._announce(SweepEvent(kind, self.id, index, self.count, message, **fields))


def run_sweep(
    base: Hyperparameters,
    values: dict[str, Sequence],
    *,
    data,
    store: RunStore | None = None,
    trainer=None,
    timeout: float | None = None,
    on_event: SweepListener | None = None,
) -> list[RunRecord]:
    """Train a sweep and wait for it; return its saved runs in the sweep's order.

    ``on_event`` is called with each ``SweepEvent`` (e.g. ``print``). ``TimeoutError`` if
    the sweep has not ended after ``timeout`` seconds (it goes on in the background).
    """
    sweep = Sweep(base, values, data=data, trainer=trainer, store=store)
    if on_event is not None:
        sweep.add_listener(on_event)
    sweep.start()
    if not sweep.wait(timeout):
        raise TimeoutError(f"The sweep had not ended after {timeout} s.")
    return sweep.records
