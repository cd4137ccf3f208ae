"""NumberExplanation: where one number inside the network comes from, step by step."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import Canvas

from digitwidgets.background import react
from digitwidgets.reading.inside.explain import (
    ConvolutionExplanation,
    DenseExplanation,
    ExplainError,
    PoolingExplanation,
    describe_value,
    explain,
)
from digitwidgets.reading.inside.layers import ArchitectureError, layer_probe
from digitwidgets.reading.recognition import Recognition
from digitwidgets.widgets.support import TitledImage, png_bytes

_MAP_PIXELS = 168  # the explained map's picture, screen pixels across
_TEXT = "font-size: 13px; line-height: 1.4; color: #333;"
HINT = (
    "Click a pixel of a convolution's or pooling layer's map in the layers above (or in the "
    "map here) to see where its value comes from; choose a unit for a dense layer."
)
_STYLE = """<style>
.dw-explain .dw-explain-grids { display: flex; flex-wrap: wrap; gap: 6px 14px;
  align-items: flex-start; margin: 4px 0; }
.dw-explain table { border-collapse: collapse; font: 11px/1.2 monospace; }
.dw-explain td { border: 1px solid #ddd; padding: 2px 3px; text-align: right; min-width: 34px; }
.dw-explain caption { font: 12px sans-serif; color: #555; text-align: left; }
.dw-explain .dw-explain-term.positive { background: #deebf7; }
.dw-explain .dw-explain-term.negative { background: #fde0dd; }
.dw-explain details { margin: 2px 0; }
.dw-explain summary { cursor: pointer; }
.dw-explain .dw-explain-result { font-weight: bold; }
.dw-explain-figure { position: relative; }
.dw-explain-figure .dw-explain-pick { position: absolute; left: 0; top: 0; cursor: crosshair; }
</style>"""


def _cell(value: float, term: bool = False) -> str:
    sign = " positive" if value > 0 else " negative" if value < 0 else ""
    css = f' class="dw-explain-term{sign}"' if term else ""
    return f"<td{css}>{describe_value(value)}</td>"


def grid_html(values: np.ndarray, caption: str, terms: bool = False) -> str:
    """A small table of numbers with a caption; ``terms`` marks each cell a product."""
    rows = "".join(
        "<tr>" + "".join(_cell(float(v), terms) for v in row) + "</tr>" for row in values
    )
    return f"<table><caption>{html.escape(caption)}</caption>{rows}</table>"


def _window_grids(terms, source: str) -> str:
    """The window, the weights and the products of one input map (``source`` names it)."""
    return (
        "<div class='dw-explain-grids'>"
        + grid_html(terms.window, f"{source} under the filter")
        + grid_html(terms.weights, "× the filter's weights")
        + grid_html(terms.products, "= 25 products", terms=True)
        + "</div>"
    )


def _ending(explained, before: str) -> str:
    same = np.isclose(explained.value, explained.output, rtol=1e-4, atol=1e-5)
    check = "the layer's own value" if same else "but the layer says"
    return (
        f"<div>{before}</div><div class='dw-explain-result'>= {describe_value(explained.value)}"
        f" ({check}: {describe_value(explained.output)})</div>"
    )


def _activation(explained) -> str:
    if explained.activation in ("linear", "None"):
        return ""
    return f", then {html.escape(explained.activation)}"


def explanation_html(explained, source: str) -> str:
    """The explanation as HTML: tables of numbers and the sums that make the value."""
    if isinstance(explained, ConvolutionExplanation):
        where = (
            f"<b>{explained.layer}, map {explained.channel + 1}, row {explained.row + 1}, "
            f"column {explained.column + 1}</b>"
        )
        if len(explained.maps) == 1:
            body = _window_grids(explained.maps[0], f"the {source}")
            sums = f"sum of the 25 products {describe_value(explained.total)}"
        else:
            body = "".join(
                f"<details><summary>{source} map {terms.channel + 1}: the 25 products sum to "
                f"<b>{describe_value(terms.sum)}</b></summary>"
                f"{_window_grids(terms, f'{source} map {terms.channel + 1}')}"
                "</details>"
                for terms in explained.maps
            )
            sums = f"sum over the {len(explained.maps)} maps {describe_value(explained.total)}"
        before = (
            f"{sums} + bias {describe_value(explained.bias)} = "
            f"{describe_value(explained.before_activation)}{_activation(explained)}"
        )
        return f"<div>{where}</div>{body}{_ending(explained, before)}"
    if isinstance(explained, PoolingExplanation):
        where = (
            f"<b>{explained.layer}, map {explained.channel + 1}, row {explained.row + 1}, "
            f"column {explained.column + 1}</b>"
        )
        body = (
            "<div class='dw-explain-grids'>"
            + grid_html(explained.window, f"the 2×2 window of {source}", terms=True)
            + "</div>"
        )
        word = "the largest" if explained.kind == "max" else "the mean"
        return f"<div>{where}</div>{body}{_ending(explained, f'{word} of the four')}"
    rows = "".join(
        f"<tr><td>{term.index + 1}</td>{_cell(term.input)}{_cell(term.weight)}"
        f"{_cell(term.product, term=True)}</tr>"
        for term in explained.largest
    )
    rows += (
        f"<tr><td colspan='3'>the other {explained.rest_count} products</td>"
        f"{_cell(explained.rest, term=True)}</tr>"
    )
    table = (
        "<table><caption>the largest contributions</caption><tr><td>input</td><td>value</td>"
        f"<td>weight</td><td>product</td></tr>{rows}</table>"
    )
    before = (
        f"sum {describe_value(explained.total)} + bias {describe_value(explained.bias)} = "
        f"{describe_value(explained.before_activation)}"
    )
    if explained.activation == "softmax":
        before += (
            f", then softmax: e to this sum over the total of e to each of the "
            f"{len(explained.logits)} sums"
        )
    else:
        before += _activation(explained)
    where = f"<b>{explained.layer}, unit {explained.unit + 1}</b>"
    return f"<div>{where}</div>{table}{_ending(explained, before)}"


class NumberExplanation(widgets.VBox):
    """Where one value inside the network comes from, for the current digit and model.

    ``target`` names the value: ``(layer, map, row, column)`` for a convolution's or a
    pooling layer's pixel, ``(layer, unit)`` for a dense layer (0-based), ``(layer,)`` for
    a dense layer's strongest unit for this digit. Link it to a
    ``LayerView``'s ``picked`` (``follow``) and clicking a map's pixel explains it. The
    explanation is computed again whenever ``model`` (each epoch's), ``value`` (the digit)
    or ``target`` changes; ``explanation`` holds it (``reading.inside.explain``).
    """

    model = traitlets.Any(None, allow_none=True, help="The Keras model explained, or None.")
    value = traitlets.Instance(Recognition, allow_none=True, help="The current digit, or None.")
    target = traitlets.Tuple(
        default_value=None,
        allow_none=True,
        help="(layer, map, row, column) of a map's pixel, (layer, unit) or (layer,) for a "
        "dense layer's strongest unit, or None.",
    )
    explanation = traitlets.Any(
        None, read_only=True, help="The explanation shown (reading.inside.explain), or None."
    )
    message = traitlets.Unicode(
        HINT, read_only=True, help="What is shown instead of an explanation, or ''."
    )

    def __init__(self, model=None, value: Recognition | None = None, **kwargs):
        """An explanation of ``target`` (none yet) for ``model`` and the digit ``value``."""
        super().__init__(**kwargs)
        self._map = TitledImage(
            value=b"", format="png", tooltip="The map explained, its pixel marked: click another"
        )
        self._map.layout = widgets.Layout(width=f"{_MAP_PIXELS}px", height=f"{_MAP_PIXELS}px")
        self._map.add_class("dw-explain-map")
        self._pick = Canvas(width=_MAP_PIXELS, height=_MAP_PIXELS)
        self._pick.layout = widgets.Layout(width=f"{_MAP_PIXELS}px", height=f"{_MAP_PIXELS}px")
        self._pick.add_class("dw-explain-pick")
        self._pick.on_mouse_down(self._on_map_click)
        box = widgets.Box([self._map, self._pick])
        box.add_class("dw-explain-figure")
        self._caption = widgets.HTML("", layout=widgets.Layout(width=f"{_MAP_PIXELS}px"))
        self._figure = widgets.VBox([box, self._caption])
        self._unit = widgets.BoundedIntText(
            value=1, min=1, max=1, description="Unit", layout=widgets.Layout(width="150px")
        )
        self._unit.add_class("dw-explain-unit")
        self._unit.observe(self._on_unit_change, "value")
        self._text = widgets.HTML("")
        self._text.add_class("dw-explain-text")
        style = widgets.HTML(_STYLE, layout=widgets.Layout(display="none"))
        self.children = [
            style,
            self._unit,
            widgets.Box(
                [self._figure, self._text],
                layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"),
            ),
        ]
        self.add_class("dw-explain")
        self.value = value
        self.model = model
        self._update()

    def follow(self, layer_view) -> None:
        """Explain the pixel clicked in ``layer_view``'s maps, for its model and digit; a
        dense layer shown there is explained at its strongest unit."""
        traitlets.dlink((layer_view, "model"), (self, "model"))
        traitlets.dlink((layer_view, "value"), (self, "value"))
        traitlets.dlink((layer_view, "picked"), (self, "target"))
        traitlets.dlink((layer_view, "layer"), (self, "target"), lambda name: (name,))

    @traitlets.observe("model", "value", "target")
    def _on_input_change(self, _change) -> None:
        # Once per change: a new model also brings a new reading of the digit and, through
        # the layers view, a new target (``background.one_pass``).
        if hasattr(self, "_text"):
            react(self, self._update)

    def _update(self) -> None:
        explained, outputs, text = None, None, ""
        target = self.target
        image = None if self.value is None else self.value.image
        if self.model is None or image is None or not target:
            text = HINT
        else:
            try:
                outputs = layer_probe(self.model).outputs(image)
                explained = self._explain(outputs, target)
            except (ArchitectureError, ExplainError) as error:
                text = str(error)
        text = text or ("" if explained is not None else HINT)
        self.set_trait("explanation", explained)
        self.set_trait("message", text)
        self._show(explained, outputs, text)

    def _explain(self, outputs, target):
        layer = target[0]
        if len(target) == 1:
            values = outputs.get(layer)
            if values is None or np.ndim(values) != 1:
                return None  # a map's layer: wait for a click on a pixel
            return explain(self.model, outputs, layer, int(np.argmax(values)))
        position = target[1:] if len(target) > 2 else target[1]
        return explain(self.model, outputs, layer, position)

    def _show(self, explained, outputs, text: str) -> None:
        dense = isinstance(explained, DenseExplanation)
        self._unit.layout.display = "flex" if dense else "none"
        if dense:
            with self.hold_trait_notifications():
                self._unit.max = len(outputs[explained.layer])
                self._unit.value = explained.unit + 1
        maps = explained is not None and not dense
        self._figure.layout.display = "flex" if maps else "none"
        if maps:
            values = outputs[explained.layer][..., explained.channel]
            self._map.value = png_bytes(_marked(values, explained.row, explained.column), 168)
            self._caption.value = (
                f"<div style='{_TEXT}'>{explained.layer}, map {explained.channel + 1}: the "
                "explained pixel in orange. Click another.</div>"
            )
        if explained is None:
            self._text.value = f"<div style='{_TEXT}'>{html.escape(text)}</div>"
            return
        source = self._source(explained.layer)
        self._text.value = f"<div style='{_TEXT}'>{explanation_html(explained, source)}</div>"

    def _source(self, layer: str) -> str:
        """What feeds ``layer``, as the user calls it: "digit" or a layer's name."""
        infos = layer_probe(self.model).layers
        names = [info.name for info in infos]
        index = names.index(layer) if layer in names else 0
        return "digit" if index <= 1 else names[index - 1]

    def _on_map_click(self, x: float, y: float) -> None:
        explained = self.explanation
        if not isinstance(explained, (ConvolutionExplanation, PoolingExplanation)):
            return
        image = self.value.image if self.value is not None else None
        if image is None:
            return
        rows, columns = layer_probe(self.model).outputs(image)[explained.layer].shape[:2]
        row = min(rows - 1, max(0, int(y / _MAP_PIXELS * rows)))
        column = min(columns - 1, max(0, int(x / _MAP_PIXELS * columns)))
        self.target = (explained.layer, explained.channel, row, column)

    def _on_unit_change(self, change) -> None:
        explained = self.explanation
        if isinstance(explained, DenseExplanation) and change["new"] - 1 != explained.unit:
            self.target = (explained.layer, change["new"] - 1)


def _marked(values: np.ndarray, row: int, column: int) -> np.ndarray:
    """The map in grey (0 to its largest value) as RGB, the explained pixel in orange."""
    values = np.asarray(values, dtype=np.float32)
    low = min(0.0, float(values.min()))
    high = max(float(values.max()), low + 1e-6)
    grey = np.clip((values - low) / (high - low), 0.0, 1.0)
    rgb = (np.repeat(grey[..., None], 3, axis=2) * 255).astype(np.uint8)
    rgb[row, column] = (255, 127, 14)
    return rgb
