"""The one owner of "the model the app uses now", as traits that views link to or observe.

In the shape of the ipywidgets tutorial's password generator: a ``traitlets.HasTraits`` with
no widgets, which the components observe. Whoever produces a model (training, a saved run,
fine-tuning, the pretrained one) calls ``set``; nobody assigns a view's model by hand. A new
view of the model is one ``traitlets.dlink((current, "model"), (view, "model"))``; a view
that names the model dlinks ``description`` (and ``run``, the saved run it came from).

After a sweep the model in use is the sweep's best run (its final validation accuracy), not
its last: as each of the sweep's runs ends, the best so far becomes the current model again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import traitlets

from ..background import one_pass
from .runs import RunRecord
from .sweeps import describe_swept, run_score
from .training.events import EventKind

NO_MODEL = "No model yet: train one in step 2, or load a saved run in step 4."
LOADING = "Loading the pretrained LeNet-5 (a few seconds) ..."

# Where a model came from; "epoch" is a run still training (its model changes again soon).
SOURCES = ("", "pretrained", "epoch", "run", "loaded", "fine-tuned", "given")


@dataclass(frozen=True)
class _SweepBest:
    """The best run of one sweep so far, and its model."""

    sweep_id: str
    score: float | None
    model: Any
    run: RunRecord


class CurrentModel(traitlets.HasTraits):
    """The model in use, where it came from, a sentence about it and its test accuracy.

    ``set`` changes every trait at once, under a lock, so observers of ``model`` already
    see the new ``description``, ``source`` and ``run_id``. Observers run on the thread that
    called ``set`` (the Trainer's event worker for a training's models).
    """

    model = traitlets.Any(None, help="The Keras model the app uses now, or None.")
    source = traitlets.Enum(SOURCES, "", help="Where the model came from (see SOURCES).")
    run_id = traitlets.Unicode(None, allow_none=True, help="The run it came from, if any.")
    run = traitlets.Instance(
        RunRecord,
        allow_none=True,
        help="The saved run it came from (what Export offers), once saved; None otherwise.",
    )
    epoch = traitlets.Int(None, allow_none=True, help="Epochs trained when taken mid-run.")
    description = traitlets.Unicode(NO_MODEL, help="Which model it is, as a phrase.")
    test_accuracy = traitlets.Float(
        None, allow_none=True, help="Its accuracy on the MNIST test digits, when known."
    )
    loading = traitlets.Bool(
        False, help="Whether the pretrained model is being loaded in the background."
    )

    def __init__(self, **kwargs):
        """Start with no model (or the traits given)."""
        super().__init__(**kwargs)
        self._lock = threading.RLock()

    @property
    def settled(self) -> bool:
        """Whether the model will stay (False while it is a run's model between epochs)."""
        return self.model is not None and self.source != "epoch"

    def set(
        self,
        model,
        *,
        source: str,
        description: str,
        run_id: str | None = None,
        epoch: int | None = None,
        test_accuracy: float | None = None,
        run: RunRecord | None = None,
    ) -> None:
        """Make ``model`` the current model; every trait changes before observers run.

        ``run`` is the saved run it came from (its ``run_id`` is then the default).
        """
        if run is not None and run_id is None:
            run_id = run.run_id
        # One pass: a view that hears of the new model twice (through the model and through
        # its digit's new reading) computes once, after every observer has run.
        with self._lock, one_pass(), self.hold_trait_notifications():
            self.source = source
            self.run_id = run_id
            self.run = run
            self.epoch = epoch
            self.description = description
            self.test_accuracy = test_accuracy
            self.model = model

    def use_pretrained(self, *, unless_set: bool = False) -> bool:
        """Make the LeNet-5 shipped with the package the current model; True if it did.

        With ``unless_set``, a model set while it loaded (a run's first epoch) is kept.
        """
        from .pretrained import load_pretrained

        model, info = load_pretrained()
        with self._lock:
            if unless_set and self.model is not None:
                return False
            self.set(
                model,
                source="pretrained",
                description=info["description"],
                test_accuracy=info["mnist_test_accuracy"],
            )
        return True

    def expect_pretrained(self) -> None:
        """Say the pretrained model is on its way (``loading``) without loading it yet.

        ``load_pretrained_in_background`` starts the load; ``wait_loaded`` starts it too.
        """
        if self.model is None and getattr(self, "_loader", None) is None:
            self.loading = True
            self.description = LOADING

    def load_pretrained_in_background(self) -> None:
        """Load the pretrained model on a thread of its own, ``loading`` meanwhile; once.

        Loading it imports TensorFlow (seconds): a page shows its controls and pad at once
        and reads a drawing as soon as the model is there. A second call does nothing.
        """
        from ..background import BackgroundTask

        if getattr(self, "_loader", None) is not None:
            return

        def finished(result, error) -> None:
            if error is not None:
                self.description = f"The pretrained model could not be loaded ({error})."
            self.loading = False

        self.loading = True
        self.description = LOADING
        self._loader = BackgroundTask("digitwidgets-pretrained")
        if self._loader.run(self.use_pretrained, unless_set=True, done=finished) is None:
            self.loading = False

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait for the pretrained model's load to end (starting it if it is only expected);
        True when none is running any more."""
        if self.loading and getattr(self, "_loader", None) is None:
            self.load_pretrained_in_background()
        loader = getattr(self, "_loader", None)
        return True if loader is None else loader.wait(timeout)

    def record_test_accuracy(self, model, accuracy: float) -> None:
        """Note ``accuracy`` for ``model``, if it is still the current one."""
        with self._lock:
            if model is self.model:
                self.test_accuracy = accuracy

    def follow(self, trainer) -> None:
        """Take each model ``trainer`` hands over (every epoch, a run's end)."""
        trainer.add_listener(self._on_training_event)

    def _on_training_event(self, event) -> None:
        # The Trainer's event worker, never the training thread.
        if not event.kind.carries_model or event.model is None:
            return
        if event.kind is EventKind.EPOCH:
            self.set(
                event.model,
                source="epoch",
                run_id=event.run_id,
                epoch=event.epoch + 1,
                description=(
                    f"your run {event.run_id}, after epoch {event.epoch + 1} of {event.epochs}"
                ),
            )
        elif event.run is not None and event.run.sweep:
            self._take_sweep_run(event)
        else:
            ended = "finished" if event.kind is EventKind.FINISH else "stopped"
            self.set(
                event.model,
                source="run",
                run_id=event.run_id,
                epoch=event.epoch + 1,
                description=f"your run {event.run_id} ({ended})",
                run=event.run,
            )

    def _take_sweep_run(self, event) -> None:
        """A sweep's run ended: the best of the sweep's runs so far becomes the model."""
        record, tag = event.run, event.run.sweep
        score = run_score(record)
        best = getattr(self, "_sweep_best", None)
        if (
            best is None
            or best.sweep_id != tag.get("id")
            or (score is not None and (best.score is None or score > best.score))
        ):
            best = self._sweep_best = _SweepBest(tag.get("id"), score, event.model, record)
        index, count = tag.get("index", 1), tag.get("count", 1)
        runs = (
            f"your sweep's {count} runs"
            if index >= count
            else (f"your sweep so far ({index} of {count} runs done)")
        )
        measured = (
            f"{best.score:.1%} validation accuracy" if best.score is not None else "not measured"
        )
        self.set(
            best.model,
            source="run",
            description=(
                f"the best of {runs}: {describe_swept(best.run)} "
                f"({measured}), run {best.run.run_id}"
            ),
            run=best.run,
        )
