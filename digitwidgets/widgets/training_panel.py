"""TrainingPanel: Train and Stop buttons, progress and a status line for one Trainer."""

from __future__ import annotations

import threading
from collections.abc import Callable

import ipywidgets as widgets
import traitlets

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.training.events import EventKind
from digitwidgets.widgets.support import format_duration, message_html, take_settings


def _whole_epochs(event) -> int:
    """How many epochs a run's event says ran to their last batch."""
    return event.epoch + (1 if event.batches and event.batch >= event.batches else 0)


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"


def _progress_text(event) -> str:
    """The line beside the bar: where the run is, or, once it has ended, where it ended."""
    elapsed = format_duration(event.elapsed)
    epoch = min(event.epoch + 1, event.epochs)
    batch = f", batch {event.batch}/{event.batches}" if event.batches else ""
    if event.kind is EventKind.FINISH:
        return f"Done: {_epochs(event.epochs)} in {elapsed}"
    if event.kind is EventKind.STOPPED:
        return f"Stopped: {_whole_epochs(event)} of {_epochs(event.epochs)} done · {elapsed}"
    if event.kind is EventKind.FAILED:
        return f"Ended at epoch {epoch}{batch} · {elapsed}"
    parts = [f"Epoch {epoch}/{event.epochs}"]
    if event.batches:
        parts.append(f"batch {event.batch}/{event.batches}")
    parts.append(f"{elapsed} elapsed")
    if event.remaining is not None:
        parts.append(f"~{format_duration(event.remaining)} left")
    return " · ".join(parts)


def _stopped_text(event) -> str:
    """Where a run stopped by its user ended, and which weights it keeps (the Trainer keeps
    the last whole epoch's: the part of an epoch cut short is not counted)."""
    whole = _whole_epochs(event)
    if not event.batches:
        return f"Stopped by you after {_epochs(whole)}."
    if whole == event.epoch + 1:
        return f"Stopped by you after epoch {whole}: the model is the one from its end."
    cut = f"in epoch {event.epoch + 1} at batch {event.batch}/{event.batches}"
    if whole:
        return f"Stopped by you {cut}: the model is the one from the end of epoch {whole}."
    taught = "its one batch" if event.batch == 1 else f"those {event.batch} batches"
    return f"Stopped by you {cut}: the model is what {taught} taught it."


STOPPING = "Stopping after this batch…"


def _status_text(event, stopping: bool = False) -> str:
    """The status line for an event (``stopping``: the user asked the run to stop), and why
    its run could not be saved, if it could not."""
    if not event.ended:
        return STOPPING if stopping else "Training…"
    message = event.message or ""
    logs = event.logs or {}
    if event.kind is EventKind.FINISH:
        accuracy = logs.get("val_accuracy", logs.get("accuracy"))
        which = "validation accuracy" if "val_accuracy" in logs else "training accuracy"
        score = f"{which} {accuracy:.1%} " if accuracy is not None else ""
        text = f"Finished: {score}in {format_duration(event.elapsed)}"
    elif event.kind is EventKind.STOPPED and message in ("", "Stopped."):
        text = _stopped_text(event)
    else:
        text = message or "Training failed."
    if event.save_error:
        text = f"{text.rstrip('.')}. The run could not be saved: {event.save_error}"
    return text


class TrainingPanel(widgets.VBox):
    """Start and stop training, and follow its progress.

    Train starts a run with ``hyperparameters``. Built with a ``HyperparameterControls``,
    the panel follows its ``value`` (a dlink) and locks it while training; built with a
    ``Hyperparameters``, link what should drive it yourself. The panel listens to
    ``trainer``; its listener runs on the Trainer's event worker and only sets traits.

    Beside Stop, "Learning rate now" steers the run in progress: a new rate is used from
    the next batch (``Trainer.set_learning_rate``); a rate out of range is explained under
    it and changes nothing. It is disabled when nothing trains.
    """

    hyperparameters = traitlets.Instance(
        Hyperparameters, help="The settings Train starts a run with (linked to the controls)."
    )
    running = traitlets.Bool(False, read_only=True, help="Whether a run is in progress.")
    status = traitlets.Unicode(
        "Ready to train.", read_only=True, help="What happened last, as a sentence."
    )
    progress = traitlets.Float(0.0, read_only=True, help="Fraction of the run done, 0..1.")
    locked = traitlets.Bool(
        False, help="Keep Train off while something else drives the trainer (a sweep)."
    )
    learning_rate = traitlets.Float(
        None,
        allow_none=True,
        read_only=True,
        help="The learning rate the run in progress trains at (None while none trains).",
    )
    steer_message = traitlets.Unicode(
        "", read_only=True, help="What became of the last learning rate typed while training."
    )

    def __init__(self, trainer, hyperparameters, data, **kwargs):
        """Wire the buttons to ``trainer.start(hyperparameters, data)`` and ``trainer.stop()``.

        ``hyperparameters``: a ``Hyperparameters``, or the ``HyperparameterControls`` to follow.
        """
        super().__init__(**kwargs)
        self._trainer = trainer
        self._data = data
        self._lock = threading.Lock()
        self._ended: set[str] = set()
        # Stop was pressed and the run has not ended yet: its events until the last one say
        # "Stopping", never "Training" again.
        self._stopping = False
        # The run this panel started, whose steering message was cleared at the click: its
        # START, delivered later, must not wipe what a person steered in between.
        self._started_here = ""
        self._event_callbacks = widgets.CallbackDispatcher()

        self._train = widgets.Button(description="Train", button_style="primary", icon="play")
        self._train.add_class("dw-train")
        self._stop = widgets.Button(description="Stop", icon="stop", disabled=True)
        self._stop.add_class("dw-stop")
        self._progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="300px")
        )
        self._progress.add_class("dw-progress-bar")
        self._progress_label = widgets.Label("")
        self._progress_label.add_class("dw-progress-text")
        # The bar and its text share the dw-progress box: a reader finds both in one place.
        progress = widgets.HBox([self._progress, self._progress_label])
        progress.add_class("dw-progress")
        self._status = widgets.Label(self.status)
        self._status.add_class("dw-status")
        self._steer = widgets.FloatText(
            value=0.0,
            description="Learning rate now",
            tooltip="Change the learning rate while the model trains: used from the next batch",
            disabled=True,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="230px", max_width="100%"),
        )
        self._steer.add_class("dw-steer-lr")
        self._steer_message = widgets.HTML("")
        self._steer_message.add_class("dw-steer-lr-message")
        traitlets.dlink((self, "steer_message"), (self._steer_message, "value"), _steer_html)
        self._steering = False  # the kernel, not the visitor, is moving the field

        self.observe(self._update_train_button, ["running", "locked"])
        traitlets.dlink((self, "running"), (self._steer, "disabled"), lambda running: not running)
        traitlets.dlink((self, "running"), (self._stop, "disabled"), lambda running: not running)
        traitlets.dlink((self, "status"), (self._status, "value"))
        traitlets.dlink((self, "progress"), (self._progress, "value"))
        if take_settings(self, hyperparameters):
            traitlets.dlink((self, "running"), (hyperparameters, "disabled"))
        # Idle, the (disabled) field shows the rate a run would start with.
        self._show_in_field(self.hyperparameters.learning_rate)

        self._train.on_click(lambda _: self.train())
        self._stop.on_click(lambda _: self.stop())
        self._steer.observe(self._on_steer, "value")
        trainer.add_listener(self._on_event)

        self.children = [
            widgets.HBox(
                [self._train, self._stop, self._steer],
                layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self._steer_message,
            progress,
            self._status,
        ]
        self.add_class("dw-training-panel")

    def _update_train_button(self, _change=None) -> None:
        self._train.disabled = self.running or self.locked

    def train(self) -> None:
        """Start a run with the current settings; a refusal is shown in the status line."""
        from digitwidgets.learning.training import TrainingInProgressError

        if self.locked:
            self.set_trait("status", "Could not start: a sweep is training; stop it first.")
            return
        try:
            run_id = self._trainer.start(self.hyperparameters, self._data)
        except (ValueError, TrainingInProgressError) as error:
            self.set_trait("status", f"Could not start: {error}")
            return
        # The field can be used as soon as running is set, before the run's START arrives.
        self.set_trait("steer_message", "")
        with self._lock:
            self._started_here = run_id
            self._stopping = False
            # The run may already be over when start() returns (tiny data, a fast machine).
            if run_id not in self._ended:
                self.set_trait("running", True)

    def focus(self) -> None:
        """Put the keyboard focus on the button that can be pressed now (Stop or Train)."""
        (self._stop if self.running else self._train).focus()

    def stop(self) -> None:
        """Ask the trainer to stop after the current batch."""
        self._trainer.stop()
        with self._lock:
            if self.running:
                self._stopping = True
                self.set_trait("status", STOPPING)

    def set_learning_rate(self, learning_rate: float) -> None:
        """Steer the run in progress to ``learning_rate`` from its next batch on.

        A refusal (out of range, nothing training) is shown in ``steer_message`` and the
        field goes back to the rate in use.
        """
        try:
            self._trainer.set_learning_rate(learning_rate)
        except (ValueError, RuntimeError) as error:
            self.set_trait("steer_message", f"{error} The learning rate stays as it was.")
            # The run's rate; before its START arrives, the one it starts with.
            in_use = self.learning_rate
            if in_use is None:
                in_use = self.hyperparameters.learning_rate
            self._show_in_field(in_use)
            return
        self.set_trait("steer_message", f"Learning rate {learning_rate:g} from the next batch.")

    def _on_steer(self, change) -> None:
        if not self._steering:
            self.set_learning_rate(change["new"])

    def _show_learning_rate(self, learning_rate: float | None) -> None:
        self.set_trait("learning_rate", learning_rate)
        if learning_rate is not None:
            self._show_in_field(learning_rate)

    def _show_in_field(self, learning_rate: float) -> None:
        self._steering = True
        try:
            self._steer.value = learning_rate
        finally:
            self._steering = False

    @traitlets.default("hyperparameters")
    def _default_hyperparameters(self) -> Hyperparameters:
        return Hyperparameters()

    @traitlets.observe("hyperparameters")
    def _on_settings_change(self, change) -> None:
        if hasattr(self, "_steer") and not self.running:
            self._show_in_field(change["new"].learning_rate)

    def on_event(self, callback: Callable, remove: bool = False) -> None:
        """Register a callback for each TrainingEvent the panel receives (event worker)."""
        self._event_callbacks.register_callback(callback, remove=remove)

    def _on_event(self, event) -> None:
        # The Trainer's event worker: set traits only.
        with self._lock:
            stopping = self._stopping
            if event.ended:
                self._ended.add(event.run_id)
                self._stopping = False
                self.set_trait("running", False)
            elif event.run_id not in self._ended:
                self.set_trait("running", True)
            started_here = event.run_id == self._started_here
        if event.kind is EventKind.START and not started_here:
            self.set_trait("steer_message", "")  # a run started elsewhere (a sweep, code)
        if event.kind.sets_learning_rate and event.learning_rate is not None:
            self._show_learning_rate(event.learning_rate)
        if event.kind is EventKind.LEARNING_RATE:
            self.set_trait(
                "steer_message",
                f"Learning rate {event.learning_rate:g} from epoch {event.epoch + 1}, "
                f"batch {event.batch + 1}.",
            )
        if event.ended:
            # No run trains now: the (disabled) field shows the rate the next run starts
            # with, not the last rate of the run that ended.
            self.set_trait("learning_rate", None)
            self._show_in_field(self.hyperparameters.learning_rate)
        if event.kind is EventKind.FINISH:
            self.set_trait("progress", 1.0)
        elif event.kind is not EventKind.FAILED:
            self.set_trait("progress", float(event.progress))
        if event.epochs:
            self._progress_label.value = _progress_text(event)
        self.set_trait("status", _status_text(event, stopping))
        self._event_callbacks(event)


def _steer_html(message: str) -> str:
    return message_html(message) if message else ""
