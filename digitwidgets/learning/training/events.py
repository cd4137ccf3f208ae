"""What a training tells its listeners: a kind from a closed set, and where the run is."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ..runs import RunRecord

# Seconds between two BATCH events at least: the chart, the bar and its line move twice a
# second. At four a second the page's Chromium used 18% more processor time per second of
# training (6 alternating pairs on one page, 1 epoch of 54,000 digits at batch 32: 0.165 s
# against 0.135 s a second), and both processors train.
BATCH_INTERVAL = 0.5


class EventKind(str, enum.Enum):
    """The kinds of ``TrainingEvent``, with the predicates readers need.

    Readers compare members (``kind is EventKind.EPOCH``) or ask a predicate, never a
    string; it is a ``str`` only so that an event can be built from, or saved as, its name.
    """

    START = "start"
    BATCH = "batch"
    EPOCH = "epoch"
    FINISH = "finish"
    STOPPED = "stopped"
    FAILED = "failed"
    LEARNING_RATE = "learning_rate"  # the rate was steered; in force from this event's batch

    @property
    def ended(self) -> bool:
        """Whether this is a run's last event (finish, stopped or failed)."""
        return self in (EventKind.FINISH, EventKind.STOPPED, EventKind.FAILED)

    @property
    def carries_model(self) -> bool:
        """Whether events of this kind hand over a model (epoch, finish, stopped)."""
        return self in (EventKind.EPOCH, EventKind.FINISH, EventKind.STOPPED)

    @property
    def sets_learning_rate(self) -> bool:
        """Whether events of this kind tell the learning rate a run trains at from now on
        (start, learning_rate)."""
        return self in (EventKind.START, EventKind.LEARNING_RATE)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class TrainingEvent:
    """One step of a training's story, as told to listeners.

    ``kind`` may be given as its string ("epoch"); it is stored as an ``EventKind``.
    ``message`` is the sentence for a status line ("Finished.", "Training diverged: ...");
    ``save_error`` says why the run could not be saved ("" when it was, or was not tried).
    ``learning_rate`` is the rate in force; on a ``LEARNING_RATE`` event it is the new rate,
    used from batch ``batch`` (0-based: the batches done before it) of epoch ``epoch``.
    ``batch_points`` (on ``BATCH`` and ``EPOCH`` events) holds every batch since the previous
    such event as ``(position in epochs, loss, accuracy)``, the logs' running means: events
    are thinned, the curve a chart draws from them need not be.
    ``distributions`` is how the weights have moved so far (``learning.distributions``), or
    None when the run does not record it.
    """

    kind: EventKind
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
    save_error: str = ""
    learning_rate: float | None = None
    batch_points: tuple = ()
    distributions: Any = None

    def __post_init__(self):
        object.__setattr__(self, "kind", EventKind(self.kind))

    @property
    def ended(self) -> bool:
        """Whether this is the run's last event."""
        return self.kind.ended

    @property
    def progress(self) -> float:
        """Fraction of the planned batches done, 0..1 (1 once finished)."""
        if self.kind is EventKind.FINISH:
            return 1.0
        total = self.epochs * self.batches
        return min(1.0, self.step / total) if total else 0.0
