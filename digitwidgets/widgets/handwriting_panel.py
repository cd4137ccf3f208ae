"""HandwritingPanel: say whether the model read your digit right, and teach it your hand."""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from digitwidgets.background import BackgroundTask
from digitwidgets.learning.current_model import CurrentModel
from digitwidgets.learning.feedback import HandwritingLog, fine_tune
from digitwidgets.reading.preprocessing import Drawing
from digitwidgets.reading.recognition import Recognition
from digitwidgets.widgets.support import paragraph_html, test_digits

ASK = "Right?"
NOTHING_TO_ANSWER = "Draw a digit: then say whether the model read it right."


class HandwritingPanel(widgets.VBox):
    """Confirm or correct each prediction, count how often the model reads you right, fine-tune.

    ``value`` is the recognition to answer for (the dashboard links the pad's ``value`` to
    it) and ``drawing`` the pad's ``Drawing`` behind it, kept with the answer so fine-tuning
    can use the strokes. ✓ confirms; a digit button says which digit it really was. Each
    prediction takes one answer: the buttons are disabled until the next one.

    "Fine-tune on my drawings" trains a copy of ``current``'s model on the answered
    drawings mixed with ``data``'s training digits, on a thread of its own; when it is done
    the copy becomes the current model. "Use the pretrained model" makes the pretrained
    LeNet-5 current again. ``test_accuracy`` follows ``current``'s.
    """

    value = traitlets.Instance(
        Recognition, allow_none=True, help="The recognition to confirm or correct, or None."
    )
    drawing = traitlets.Instance(
        Drawing, allow_none=True, help="The drawing ``value`` was read from, kept with an answer."
    )
    answered = traitlets.Bool(False, read_only=True, help="Whether ``value`` has had its answer.")
    test_accuracy = traitlets.Float(
        None, allow_none=True, help="The model's accuracy on MNIST test digits, if known."
    )
    busy = traitlets.Bool(False, read_only=True, help="Whether fine-tuning is running.")
    status = traitlets.Unicode(
        "", read_only=True, help="What fine-tuning is doing or did, as a sentence."
    )
    score = traitlets.Unicode(read_only=True, help="The running count, as a sentence.")

    def __init__(
        self,
        current: CurrentModel,
        data,
        log: HandwritingLog | None = None,
        *,
        seed: int = 0,
        **kwargs,
    ):
        """Answer for ``current``'s predictions; fine-tune with ``data``'s training digits."""
        super().__init__(**kwargs)
        self.current = current
        self.data = data
        self.handwriting_log = log if log is not None else HandwritingLog()
        self.seed = seed
        self._task = BackgroundTask("digitwidgets-fine-tune")
        traitlets.dlink((current, "test_accuracy"), (self, "test_accuracy"))
        # The model a status line like "the pad now uses the tuned model" speaks of: once
        # another model is in use, the line no longer says what is true and is cleared.
        self._status_model = None
        current.observe(self._on_model_change, "model")

        self._question = widgets.HTML()
        self._question.add_class("dw-handwriting-question")
        self._confirm = widgets.Button(
            description="✓ Yes",
            button_style="success",
            tooltip="The model read it right",
            layout=widgets.Layout(width="70px"),
        )
        self._confirm.add_class("dw-confirm")
        self._confirm.on_click(lambda _: self.confirm())
        self._digits = []
        for digit in range(10):
            button = widgets.Button(
                description=str(digit),
                tooltip=f"It was a {digit}",
                layout=widgets.Layout(width="34px", padding="0"),
            )
            button.add_class(f"dw-correct-{digit}")
            button.on_click(lambda _, digit=digit: self.correct(digit))
            self._digits.append(button)
        self._score = widgets.HTML()
        self._score.add_class("dw-handwriting-score")
        self._fine_tune = widgets.Button(
            description="Fine-tune on my drawings",
            icon="graduation-cap",
            tooltip="Train the current model a little more on the drawings you answered for",
            layout=widgets.Layout(width="auto", max_width="100%"),
        )
        self._fine_tune.add_class("dw-fine-tune")
        self._fine_tune.on_click(lambda _: self.fine_tune())
        self._pretrained = widgets.Button(
            description="Use the pretrained model",
            icon="undo",
            tooltip="Go back to the LeNet-5 shipped with the app",
            layout=widgets.Layout(width="auto", max_width="100%"),
        )
        self._pretrained.add_class("dw-use-pretrained")
        self._pretrained.on_click(lambda _: self.use_pretrained())
        self._status = widgets.HTML()
        self._status.add_class("dw-handwriting-status")
        traitlets.dlink((self, "status"), (self._status, "value"), paragraph_html)
        traitlets.dlink((self, "score"), (self._score, "value"), paragraph_html)

        self.children = [
            widgets.HBox(
                [self._question, self._confirm], layout=widgets.Layout(align_items="center")
            ),
            widgets.HBox(
                [widgets.HTML("or it was a:"), *self._digits],
                layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
            ),
            self._score,
            # Side by side where they fit, one above the other on a phone.
            widgets.HBox(
                [self._fine_tune, self._pretrained],
                layout=widgets.Layout(flex_flow="row wrap", grid_gap="4px"),
            ),
            self._status,
        ]
        self.add_class("dw-handwriting")
        self._update()

    def confirm(self) -> None:
        """The model read the current drawing right."""
        if self._answerable():
            self.handwriting_log.confirm(self.value, self.drawing)
            self._answer()

    def correct(self, digit: int) -> None:
        """The current drawing is ``digit`` (which may be what the model read)."""
        if self._answerable():
            self.handwriting_log.correct(self.value, digit, self.drawing)
            self._answer()

    def fine_tune(self) -> None:
        """Start fine-tuning the current model on the answered drawings, in the background."""
        if self.busy or not self.handwriting_log.total:
            return
        model = self.current.model
        if model is None:
            self.set_trait("status", "There is no model to fine-tune: train one first.")
            return
        images, labels = self.handwriting_log.examples()
        x_train, y_train = self.data[0]
        description = self.current.description
        self.set_trait("busy", True)
        self.set_trait("status", f"Fine-tuning on your {len(labels)} drawings and MNIST digits…")
        started = self._task.run(
            fine_tune,
            model,
            images,
            labels,
            x_train,
            y_train,
            seed=self.seed,
            done=lambda tuned, error: self._fine_tuned(tuned, error, len(labels), description),
        )
        if started is None:  # the interpreter is exiting
            self.set_trait("busy", False)

    def use_pretrained(self) -> None:
        """Make the pretrained LeNet-5 the current model again."""
        self.current.use_pretrained()
        self.set_trait("status", "The pad uses the pretrained model again.")
        self._status_model = self.current.model

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a fine-tuning in progress; True when none is left running."""
        self._task.wait(timeout)
        return not self.busy

    def _fine_tuned(self, tuned, error, count: int, description: str) -> None:
        # Fine-tuning thread: hand the model to its owner, set traits; no output.
        if error is not None:
            self.set_trait("status", f"Fine-tuning failed: {error}. The model is unchanged.")
        else:
            self.current.set(
                tuned,
                source="fine-tuned",
                description=f"{description} · fine-tuned on your drawings",
            )
            self.set_trait(
                "status",
                f"Fine-tuned on your {count} drawings: the pad now uses the tuned model.",
            )
            self._status_model = tuned
        self.set_trait("busy", False)

    def _on_model_change(self, change) -> None:
        # Whichever thread set the model: a trait only.
        if self._status_model is not None and change["new"] is not self._status_model:
            self._status_model = None
            self.set_trait("status", "")

    @traitlets.observe("value")
    def _on_value_change(self, change) -> None:
        # The same drawing read again by a new model (fine-tuning, a run's epoch) keeps its
        # answer: it is not offered for confirmation twice.
        old, new = change["old"], change["new"]
        same = old is not None and new is not None and new.preprocessed is old.preprocessed
        if not same:
            self.set_trait("answered", False)
        self._update()

    @traitlets.observe("test_accuracy", "busy")
    def _on_change(self, change) -> None:
        self._update()

    def _answerable(self) -> bool:
        return self.value is not None and self.value.ok and not self.answered

    def _answer(self) -> None:
        self.set_trait("answered", True)
        self._update()

    def _update(self) -> None:
        if not hasattr(self, "_status"):
            return
        answerable = self._answerable()
        if answerable:
            question = f"The model read a <b>{self.value.digit}</b>. {ASK}"
        elif self.value is not None and self.value.ok:
            question = "Thanks: draw another digit to go on."
        else:
            question = NOTHING_TO_ANSWER
        self._question.value = question
        for button in (self._confirm, *self._digits):
            button.disabled = not answerable
        self._fine_tune.disabled = self.busy or not self.handwriting_log.total
        self.set_trait("score", self._describe_score())

    def _test_digits(self) -> str:
        try:
            count = len(test_digits(self.data)[1])
        except ValueError:
            return "the test digits"
        return f"this page's {count:,} MNIST test digits"

    def _describe_score(self) -> str:
        total, right = self.handwriting_log.total, self.handwriting_log.right
        if total:
            text = (
                f"The model read {right} of your {total} drawing{'' if total == 1 else 's'} "
                f"right ({right / total:.0%})"
            )
        else:
            text = "Confirm or correct a prediction to count how well it reads you"
        if self.test_accuracy is not None:
            # Which test digits: the model line may quote MNIST's full 10,000 for the same
            # model, and a page trained on a sample evaluates on the sample's.
            text += f" · on {self._test_digits()}: {self.test_accuracy:.1%}"
        return text + "."
