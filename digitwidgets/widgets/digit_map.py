"""DigitMap: the test digits on a 2-D map of what the network makes of them, and yours."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets import background
from digitwidgets.reading.inside.layers import ArchitectureError, layer_probe
from digitwidgets.reading.inside.projection import (
    METHODS,
    NEIGHBOURS,
    DigitProjection,
    EmbeddingCancelled,
    embed_neighbours,
    linear_projection,
    nearest_digits,
)
from digitwidgets.reading.preprocessing import Preprocessed
from digitwidgets.reading.recognition import NO_MODEL, Recognition
from digitwidgets.widgets.picked_digit import PickedDigit
from digitwidgets.widgets.support import TitledImage, png_bytes, short_model_name, test_digits

# Matplotlib's tab10, one colour per true digit.
DIGIT_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
# How much of a point's colour covers what is under it. In the colour itself (rgba), not as
# a point's opacity: an opacity makes each of the 1,500 points an effect of its own, which
# the browser's compositor walks at every frame while a training redraws the chart (with
# the map on show, the renderer's main thread took 1.73-1.93 s of an 11 s epoch at batch 32
# that way, 1.34-1.63 s this way).
_POINT_ALPHA = 0.75
_MISREAD_ALPHA = 0.6
_THUMBNAIL = 56
_TEXT = "font-size: 13px; line-height: 1.35; color: #333;"
_LABELS = {"linear": "Linear (PCA)", "t-SNE": "t-SNE (neighbours kept)"}


def translucent(color: str, alpha: float) -> str:
    """``"#rrggbb"`` as ``"rgba(r, g, b, alpha)"``."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


class DigitMap(widgets.VBox):
    """The test digits placed by their penultimate-layer features, coloured by true digit.

    ``recompute()`` maps them for the current ``model`` in the background: the linear map
    (principal components) first, at once, then the t-SNE map with ``progress``. The
    current digit (``value``) is placed on the map as a black triangle, and its 8 nearest
    test digits in feature space are shown beside it. Hovering a point shows its digit; clicking one
    fires ``on_image_selected`` with a ``Recognition`` of it, as the confusion gallery does.
    A new ``model`` does not redraw the map by itself (training would pay for it every
    epoch); the map names the model it shows and offers to recompute.
    """

    model = traitlets.Any(None, allow_none=True, help="The current Keras model, or None.")
    model_description = traitlets.Unicode(
        "", help="A phrase naming the current model (shown above its map); '' uses its name."
    )
    value = traitlets.Instance(
        Recognition,
        allow_none=True,
        help="The current digit (its preprocessed 28x28 image is placed on the map), or None.",
    )
    method = traitlets.Enum(METHODS, "linear", help="Which projection is shown.")
    progress = traitlets.Float(
        0.0, read_only=True, help="How far the t-SNE map of the last recompute is (0..1)."
    )
    busy = traitlets.Bool(False, read_only=True, help="Whether a map is being computed.")
    status = traitlets.Unicode("", read_only=True, help="What the map shows, as a sentence.")
    shown_model = traitlets.Unicode(
        "", read_only=True, help="The short name of the model the map shows ('' for none)."
    )
    neighbours = traitlets.Tuple(
        read_only=True, help="Indices of the test digits nearest the current digit."
    )
    you = traitlets.Tuple(
        default_value=None,
        allow_none=True,
        read_only=True,
        help="Where the current digit sits on the shown map, (x, y), or None.",
    )
    highlighted = traitlets.Tuple(read_only=True, help="Indices of the highlighted test digits.")

    def __init__(self, data, model=None, *, model_description: str = "", **kwargs):
        """Map ``data``'s test digits for ``model`` (at once, in the background) if given."""
        super().__init__(**kwargs)
        self._images, self._labels = test_digits(data)
        self._lock = threading.Lock()
        self._generation = 0
        self._task = background.BackgroundTask("digitwidgets-digit-map")
        self._image_callbacks = widgets.CallbackDispatcher()
        self._map_model = None
        self._placed = None  # (input, model, projection) of the digit last placed
        self._features = None
        self._probabilities = None
        self._projections: dict[str, DigitProjection] = {}

        self._title = widgets.HTML("")
        self._title.add_class("dw-map-title")
        self._recompute = widgets.Button(
            description="Recompute",
            icon="refresh",
            tooltip="Map the test digits for the current model",
        )
        self._recompute.add_class("dw-map-recompute")
        self._recompute.on_click(lambda _button: self.recompute())
        self._method = widgets.ToggleButtons(
            options=[(_LABELS[name], name) for name in METHODS],
            value=self.method,
            style={"button_width": "auto"},  # each as wide as its words
        )
        self._method.add_class("dw-map-method")
        traitlets.link((self, "method"), (self._method, "value"))
        # Shown, and named, only while the t-SNE map is being computed.
        self._progress = widgets.FloatProgress(
            min=0.0,
            max=1.0,
            description="t-SNE map",
            style={"description_width": "initial"},
            layout={"width": "240px", "max_width": "100%", "display": "none"},
        )
        self._progress.add_class("dw-map-progress")
        traitlets.dlink((self, "progress"), (self._progress, "value"))
        traitlets.dlink(
            (self, "busy"), (self._progress.layout, "display"), lambda busy: "" if busy else "none"
        )
        self._status = widgets.HTML("")
        self._status.add_class("dw-map-status")
        traitlets.dlink(
            (self, "status"), (self._status, "value"),
            lambda text: f"<div style='{_TEXT}'>{html.escape(text)}</div>",
        )  # fmt: skip

        self._figure = self._build_figure()
        self._legend = widgets.HTML(
            "<div style='font-size: 13px'>"
            + " ".join(
                f"<span style='color:{color}'>●&nbsp;{digit}</span>"
                for digit, color in enumerate(DIGIT_COLORS)
            )
            + " &nbsp;+ misread &nbsp;◯ highlighted &nbsp;▲ your digit</div>"
        )
        self._you = widgets.HTML("")
        self._you.add_class("dw-map-point-you")
        self._neighbours_title = widgets.HTML("")
        self._neighbours_title.add_class("dw-neighbours-title")
        self._neighbour_items = [self._neighbour_item(rank) for rank in range(NEIGHBOURS)]
        self._neighbours = widgets.Box(
            [item for item, _, _ in self._neighbour_items],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        self._neighbours.add_class("dw-neighbours")
        # A test digit clicked on the map or among the neighbours is read here, under the
        # map: where the visitor looks (step 3 is for the visitor's own digit).
        self._picked = PickedDigit()

        self.children = [
            self._title,
            widgets.HBox(
                [self._recompute, self._method, self._progress],
                layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
            ),
            self._status,
            self._figure,
            self._legend,
            self._picked,
            self._you,
            self._neighbours_title,
            self._neighbours,
        ]
        self.add_class("dw-digit-map")
        self.model_description = model_description
        self.model = model
        self._show()
        if model is not None:
            self.recompute()

    # -- building ---------------------------------------------------------------------

    def _build_figure(self) -> bqplot.Figure:
        x, y = bqplot.LinearScale(), bqplot.LinearScale()
        colors = bqplot.OrdinalColorScale(
            colors=[translucent(color, _POINT_ALPHA) for color in DIGIT_COLORS],
            domain=list(range(10)),
        )
        empty = np.zeros(0)
        self._points = bqplot.Scatter(
            x=empty, y=empty, color=empty, scales={"x": x, "y": y, "color": colors},
            default_size=12, stroke="transparent",
            interactions={"hover": "tooltip", "click": "select"},
        )  # fmt: skip
        self._tooltip_image = TitledImage(
            value=b"", format="png", width=_THUMBNAIL, tooltip="The test digit pointed at"
        )
        self._tooltip_text = widgets.HTML("")
        self._points.tooltip = widgets.VBox([self._tooltip_image, self._tooltip_text])
        self._points.on_hover(self._on_hover)
        self._points.on_element_click(self._on_click)
        self._misread = bqplot.Scatter(
            x=empty, y=empty, scales={"x": x, "y": y}, marker="cross",
            default_size=18, colors=[translucent("#000000", _MISREAD_ALPHA)],
        )  # fmt: skip
        self._highlight = bqplot.Scatter(
            x=empty, y=empty, scales={"x": x, "y": y}, marker="circle", fill=False,
            default_size=120, colors=["#d62728"], stroke_width=2.5,
        )  # fmt: skip
        self._you_mark = bqplot.Scatter(
            x=empty, y=empty, scales={"x": x, "y": y}, marker="triangle-up",
            default_size=500, colors=["#000000"], stroke="#ffffff", stroke_width=1.5,
        )  # fmt: skip
        figure = bqplot.Figure(
            marks=[self._points, self._misread, self._highlight, self._you_mark],
            fig_margin={"top": 10, "bottom": 10, "left": 10, "right": 10},
            layout=widgets.Layout(width="560px", max_width="100%", height="520px"),
            display_toolbar=False,  # it would cover the map's top on hover
        )
        figure.add_class("dw-map-figure")
        return figure

    def _neighbour_item(self, rank: int):
        image = TitledImage(
            value=b"",
            format="png",
            width=_THUMBNAIL,
            height=_THUMBNAIL,
            tooltip=f"Test digit {rank + 1} of the {NEIGHBOURS} nearest yours",
        )
        caption = widgets.Button(
            description="", layout=widgets.Layout(width=f"{_THUMBNAIL + 20}px"),
            tooltip="Show this digit in the prediction view",
        )  # fmt: skip
        caption.on_click(lambda _button, rank=rank: self._on_neighbour_click(rank))
        item = widgets.VBox([image, caption], layout=widgets.Layout(margin="2px"))
        item.add_class("dw-neighbour")
        return item, image, caption

    # -- public actions ---------------------------------------------------------------

    def recompute(self) -> None:
        """Map the test digits for the current ``model`` in the background; returns at once.

        The linear map is shown as soon as the features are computed; the t-SNE map follows.
        A newer call stops an older one.
        """
        model = self.model
        with self._lock:
            self._generation += 1
            generation = self._generation
        if model is None:
            self._forget_map()
            return
        description = short_model_name(self._describe(model))
        self.set_trait("busy", True)
        self.set_trait("progress", 0.0)
        self.set_trait("status", f"Computing the map for {description}…")
        # A task of digitwidgets.background: joined before the interpreter ends (a thread
        # still inside TensorFlow then aborts the process), and told to stop by closing().
        self._task.run(self._compute, generation, model, description)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the map being computed; True when none is left running."""
        return self._task.wait(timeout)

    def stop(self) -> None:
        """Stop computing (the map shown stays); nothing happens if none is running."""
        with self._lock:
            self._generation += 1
        self.wait(30)

    def highlight(self, indices) -> None:
        """Circle the test digits at ``indices`` on the map (empty: none)."""
        indices = tuple(int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1))
        self.set_trait("highlighted", indices)
        self._show_highlight()

    def highlight_cell(self, true: int, predicted: int) -> None:
        """Circle the test digits of ``true`` that the mapped model reads as ``predicted``."""
        if self._probabilities is None:
            self.highlight(())
            return
        predictions = self._probabilities.argmax(axis=1)
        self.highlight(np.flatnonzero((self._labels == true) & (predictions == predicted)))

    def on_image_selected(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(recognition)`` when the user clicks a digit on the map or a neighbour."""
        self._image_callbacks.register_callback(callback, remove=remove)

    def select_point(self, index: int) -> None:
        """Hand test digit ``index`` to the ``on_image_selected`` callbacks as a Recognition."""
        if self._probabilities is None or not 0 <= index < len(self._labels):
            return
        image = self._images[index].astype(np.float32) / 255.0
        probabilities = self._probabilities[index].astype(np.float32)
        preprocessed = Preprocessed(image=image, cropped=image, scaled=image)
        recognition = Recognition(int(probabilities.argmax()), probabilities, preprocessed)
        self._picked.show(recognition, int(self._labels[index]), f"Test digit #{index}")
        self._image_callbacks(recognition)

    def hover(self, index: int) -> None:
        """Show test digit ``index`` in the point's tooltip (as hovering it does)."""
        if not 0 <= index < len(self._labels):
            return
        self._tooltip_image.value = png_bytes(self._images[index], _THUMBNAIL)
        read = ""
        if self._probabilities is not None:
            read = f", read as {int(self._probabilities[index].argmax())}"
        self._tooltip_text.value = f"<b>{int(self._labels[index])}</b>{read}"

    # -- computing (worker thread) ----------------------------------------------------

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation and not background.closing()

    def _compute(self, generation: int, model, description: str) -> None:
        try:
            probe = layer_probe(model)
            features, probabilities = probe.penultimate(self._images)
        except ArchitectureError as error:
            if self._current(generation):
                self._forget_map(str(error))
            return
        if not self._current(generation):
            return
        linear = linear_projection(features)
        with self._lock:
            if generation != self._generation:
                return
            self._map_model = model
            self._features, self._probabilities = features, probabilities
            self._projections = {"linear": linear}
        self.set_trait("shown_model", description)
        self.highlight(())
        self._show()
        self._place_value()
        self.set_trait("status", self._status_text("computing the t-SNE map…"))
        try:
            embedding = embed_neighbours(
                features,
                progress=lambda fraction: (
                    self._current(generation) and self.set_trait("progress", float(fraction))
                ),
                cancelled=lambda: not self._current(generation),
            )
        except (EmbeddingCancelled, ImportError, ValueError) as error:
            if self._current(generation):
                self.set_trait("busy", False)
                self.set_trait("status", self._status_text(f"no t-SNE map: {error}"))
            return
        with self._lock:
            if generation != self._generation:
                return
            self._projections["t-SNE"] = embedding
        self.set_trait("progress", 1.0)
        self.set_trait("busy", False)
        self._show()
        self._place_value()

    # -- showing ----------------------------------------------------------------------

    def _describe(self, model) -> str:
        return self.model_description or f"model {getattr(model, 'name', 'without a name')}"

    def _status_text(self, extra: str = "") -> str:
        count = f"{len(self._labels):,} test digits"
        text = f"{count} placed by what the model makes of them (its f6 features)"
        if self.model is not None and self.model is not self._map_model:
            text += ". The current model has changed: press Recompute to map it"
        return f"{text}{'; ' + extra if extra else '.'}"

    def _projection(self) -> DigitProjection | None:
        projections = self._projections
        return projections.get(self.method) or projections.get("linear")

    def _forget_map(self, message: str = NO_MODEL) -> None:
        """No model, or one that cannot be mapped: say so and show nothing stale."""
        with self._lock:
            self._map_model = None
            self._features = self._probabilities = None
            self._projections = {}
        self.set_trait("shown_model", "")
        self.set_trait("busy", False)
        self.set_trait("progress", 0.0)
        self.set_trait("highlighted", ())
        self._show(message)
        self._place_value()

    def _show(self, message: str | None = None) -> None:
        projection = self._projection()
        mapped = projection is not None
        # Hidden, never removed from the layout: a bqplot figure first drawn while display was
        # "none" can stay zero-sized after it is shown (seen once in the browser suite).
        self._figure.layout.visibility = "visible" if mapped else "hidden"
        self._legend.layout.visibility = "visible" if mapped else "hidden"
        self._title.value = (
            f"<div style='{_TEXT}'><b>Map of the test digits: {html.escape(self.shown_model)}"
            f"</b> ({_LABELS[projection.method]})</div>"
            if mapped
            else ""
        )
        if not mapped:
            with self._points.hold_sync():
                self._points.x = self._points.y = self._points.color = np.zeros(0)
            self.set_trait("status", message or (NO_MODEL if self.model is None else ""))
            self._show_highlight()
            return
        x, y = projection.positions[:, 0], projection.positions[:, 1]
        with self._points.hold_sync():
            self._points.x, self._points.y = x, y
            self._points.color = self._labels
        misread = np.flatnonzero(self._probabilities.argmax(axis=1) != self._labels)
        with self._misread.hold_sync():
            self._misread.x, self._misread.y = x[misread], y[misread]
        self._show_highlight()
        if projection.method != self.method:
            self.set_trait("status", self._status_text("the t-SNE map is not ready yet"))
        elif not self.busy:
            self.set_trait("status", self._status_text())

    def _show_highlight(self) -> None:
        projection = self._projection()
        indices = np.asarray(self.highlighted, dtype=np.int64)
        if projection is None or len(indices) == 0:
            x = y = np.zeros(0)
        else:
            x, y = projection.positions[indices, 0], projection.positions[indices, 1]
        with self._highlight.hold_sync():
            self._highlight.x, self._highlight.y = x, y

    def _place_value(self) -> None:
        """Put the current digit on the map and show its nearest test digits."""
        recognition = self.value
        image = None if recognition is None else recognition.image
        projection = self._projection()
        with self._lock:
            model, features = self._map_model, self._features
        if image is None or projection is None or model is None:
            self._placed = None
            self.set_trait("you", None)
            self.set_trait("neighbours", ())
            with self._you_mark.hold_sync():
                self._you_mark.x = self._you_mark.y = np.zeros(0)
            if projection is None:
                text = ""
            elif recognition is not None and recognition.message:
                text = recognition.message
            else:
                text = (
                    "Draw a digit or upload a picture to see where it lands among the test digits."
                )
            self._you.value = f"<div style='{_TEXT}'>{html.escape(text)}</div>" if text else ""
            self._neighbours_title.value = ""
            self._show_neighbours(())
            return
        placed = (recognition.preprocessed, model, projection)
        if self._placed is not None and all(
            a is b for a, b in zip(placed, self._placed, strict=True)
        ):
            # The same input read again by a newer model (every epoch): the map, made with
            # the map's own model, puts it where it already is.
            return
        self._placed = placed
        feature, probabilities = layer_probe(model).penultimate(np.asarray(image)[None])
        position = projection.place(feature[0])
        nearest = tuple(int(i) for i in nearest_digits(features, feature[0]))
        digit = int(probabilities[0].argmax())
        self.set_trait("you", (float(position[0]), float(position[1])))
        self.set_trait("neighbours", nearest)
        with self._you_mark.hold_sync():
            self._you_mark.x, self._you_mark.y = position[:1], position[1:]
        self._you.value = (
            f"<div style='{_TEXT}'>▲ Your digit, read as {digit}, at "
            f"({position[0]:.2f}, {position[1]:.2f}) on this map.</div>"
        )
        self._neighbours_title.value = (
            f"<div style='{_TEXT}'>The model thinks your {digit} looks most like these "
            f"{len(nearest)} test digits (nearest in its f6 features):</div>"
        )
        self._show_neighbours(nearest)

    def _show_neighbours(self, nearest: tuple[int, ...]) -> None:
        self._neighbours.layout.display = "flex" if nearest else "none"
        for rank, (item, image, caption) in enumerate(self._neighbour_items):
            if rank < len(nearest):
                index = nearest[rank]
                image.value = png_bytes(self._images[index], _THUMBNAIL)
                caption.description = f"a {int(self._labels[index])}"
                item.layout.display = "flex"
            else:
                image.value = b""
                caption.description = ""
                item.layout.display = "none"

    # -- reactions --------------------------------------------------------------------

    @traitlets.observe("value")
    def _on_value_change(self, _change) -> None:
        if hasattr(self, "_you"):
            self._place_value()

    @traitlets.observe("method")
    def _on_method_change(self, _change) -> None:
        if hasattr(self, "_you"):
            self._show()
            self._place_value()

    @traitlets.observe("model", "model_description")
    def _on_model_change(self, _change) -> None:
        if not hasattr(self, "_you"):
            return
        if self.model is None:
            # Nothing stale: a map of a model that is gone is not shown.
            with self._lock:
                self._generation += 1
            self._forget_map()
        elif self._projections and not self.busy:
            self.set_trait("status", self._status_text())
        self._recompute.disabled = self.model is None

    def _on_hover(self, _mark, event) -> None:
        index = (event or {}).get("data", {}).get("index")
        if index is not None:
            self.hover(int(index))

    def _on_click(self, _mark, event) -> None:
        index = (event or {}).get("data", {}).get("index")
        if index is not None:
            self.select_point(int(index))

    def _on_neighbour_click(self, rank: int) -> None:
        nearest = self.neighbours
        if rank < len(nearest):
            self.select_point(nearest[rank])
