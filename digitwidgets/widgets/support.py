"""Helpers the components share: images as PNG (and a picture with words for a screen reader),
messages and numbers as text or HTML, the test digits of a data set, and sending a page the
state it may have missed."""

from __future__ import annotations

import html
import io
import threading
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image

from digitwidgets.learning.hyperparameters import Hyperparameters

# What the prediction view and the views inside the network say with nothing to show.
WAITING = "Draw a digit or upload a picture to see what the model reads."


def png_bytes(image: np.ndarray | None, size: int) -> bytes:
    """A float [0, 1] (or uint8) image as PNG, its longest side ``size`` pixels.

    Enlarged with hard edges (nearest neighbour: each model pixel stays a visible square);
    a larger image, such as the ink cropped from the 280 px pad, is shrunk smoothly instead.
    """
    if image is None or np.asarray(image).size == 0:
        return b""
    values = np.asarray(image)
    if values.dtype != np.uint8:
        values = (np.clip(values, 0.0, 1.0) * 255).round().astype(np.uint8)
    picture = Image.fromarray(values)
    scale = size / max(picture.size)
    shape = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    picture = picture.resize(shape, resample)
    buffer = io.BytesIO()
    # zlib's fastest level: 2-4 times faster than the default 6 on these small pictures
    # (0.11 against 0.40 ms for a digit at 140 px), 0-17% more bytes. A page following a
    # training encodes dozens at each epoch.
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def native_png(image: np.ndarray | None) -> bytes:
    """A float [0, 1] (or uint8) image as PNG at its own size, one pixel per value: for an
    image the browser enlarges with hard edges (CSS ``image-rendering: pixelated``)."""
    if image is None or np.asarray(image).size == 0:
        return b""
    return png_bytes(image, max(np.asarray(image).shape[:2]))


class TitledImage(widgets.Image):
    """An ``ipywidgets.Image`` whose ``tooltip`` is its text for a screen reader (the picture's
    title, which axe-core's image-alt rule accepts).

    ipywidgets 8's front end reads a widget's ``description`` before it sets a title, and an
    Image has none: the view fails to render ("Could not create a view"). This one sends an
    empty one.
    """

    description = traitlets.Unicode("", help="Always empty: lets the title be set.").tag(sync=True)


class InView(traitlets.HasTraits):
    """A view that draws only while the visitor can see it (mixed into a component).

    ``in_view`` is True unless whoever lays the view out says otherwise (the Dashboard, from
    its tabs). ``when_in_view(key, draw)`` draws now when in view; out of view it keeps the
    newest ``draw`` per key and runs them once the view is back: a hidden tab costs nothing
    at each epoch and shows the latest when opened.
    """

    in_view = traitlets.Bool(
        True,
        help="Whether the visitor can see this view; out of view it keeps its data and "
        "draws once back in view.",
    )

    def when_in_view(self, key: str, draw: Callable[[], object]) -> None:
        """Run ``draw()`` now if the view is in view, else when it comes back (newest only)."""
        with _in_view_lock:
            if not self.in_view:
                self._waiting_draws()[key] = draw
                return
        draw()

    def _waiting_draws(self) -> dict:
        if "_draws_waiting" not in self.__dict__:
            self._draws_waiting = {}
        return self._draws_waiting

    @traitlets.observe("in_view")
    def _on_in_view(self, change) -> None:
        if not change["new"]:
            return
        with _in_view_lock:
            draws, self._draws_waiting = self._waiting_draws(), {}
        for draw in draws.values():
            draw()


_in_view_lock = threading.RLock()


def take_settings(component, settings) -> bool:
    """Give ``component.hyperparameters`` its settings: ``settings`` itself, or, when it is a
    ``HyperparameterControls`` (anything with a ``value`` trait), a dlink from its ``value``.

    True when it links: the caller may then wire more to the controls (lock them, say).
    """
    if isinstance(settings, Hyperparameters):
        component.hyperparameters = settings
        return False
    traitlets.dlink((settings, "value"), (component, "hyperparameters"))
    return True


def show_new_inputs(source, view) -> None:
    """Show in ``view`` each reading of a new input of ``source`` (a drawing, an upload).

    A reading of the same input by a new model (the same ``preprocessed``) is not passed on:
    ``view`` reads what it shows again itself, which may be another source's input.
    """

    def show(change) -> None:
        old, new = change["old"], change["new"]
        if old is not None and new is not None and new.preprocessed is old.preprocessed:
            return
        view.value = new

    source.observe(show, "value")


def send_state_again(*roots) -> None:
    """Send these widgets' state, and their children's, to the page once more.

    A page asks the kernel for every widget's state in one message, then builds its widgets
    (ipywidgets' ``_loadFromKernel``). A change made between the two by another thread (the
    pretrained model arriving, a link's settings) reaches no widget yet and is lost: the page
    would show "Loading ..." beside a loaded model for good. Called once the page has built
    its widgets (the Dashboard's hidden ``dw-page-built`` button, which the page's template
    clicks), this makes it show what the kernel holds.
    """
    pending = list(roots)
    while pending:
        widget = pending.pop()
        widget.send_state()
        pending.extend(getattr(widget, "children", ()))


def short_model_name(description: str) -> str:
    """A model's name for a title: its description up to the first parenthesis or colon
    ("Pretrained LeNet-5", "your run 20261207-0606-7cee21"), the whole of a short one."""
    cut = min((i for i in (description.find(" ("), description.find(":")) if i > 0), default=-1)
    name = description[:cut] if cut > 0 else description
    return name.strip().rstrip(".,;") or description


def message_html(message: str) -> str:
    """A message as HTML that wraps within its box."""
    return f"<div style='line-height: 1.4; padding: 4px 0'>{html.escape(message)}</div>"


def error_html(message: str) -> str:
    """A message about bad input, escaped, in red; "" for no message."""
    return f"<span style='color:#b00020'>{html.escape(message)}</span>" if message else ""


def paragraph_html(text: str) -> str:
    """``text`` as an escaped paragraph, or "" for no text."""
    return f"<div style='line-height: 1.4'>{html.escape(text)}</div>" if text else ""


def format_duration(seconds: float | None) -> str:
    """Seconds as "m:ss" (or "h:mm:ss"); "?" when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def sure(probability: float) -> str:
    """How sure a model is, as "87% sure"; "over 99% sure" rather than an overstated "100%"
    for a softmax merely very close to 1."""
    if probability >= 0.995:
        return "over 99% sure"
    return f"{probability:.0%} sure"


def percent(value: float | None) -> str:
    """A fraction as "97.5%"; "–" for NaN or None."""
    return "–" if value is None or value != value else f"{value:.1%}"


def test_digits(data) -> tuple[np.ndarray, np.ndarray]:
    """(x_test, y_test) of an ``MnistData`` or ``((x_train, y_train), (x_test, y_test))``.

    The labels come back as int64, whatever the data stores.
    """
    try:
        _, (x_test, y_test) = data
    except (TypeError, ValueError) as error:
        raise ValueError(
            "data must be an MnistData, (x_train, y_train), (x_test, y_test)."
        ) from error
    return np.asarray(x_test), np.asarray(y_test).astype(np.int64)
