"""LayerView: every layer of LeNet-5 for the current digit, and the filters it has learned."""

from __future__ import annotations

import html

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import Canvas

from digitwidgets.background import react
from digitwidgets.reading.inside.layers import ArchitectureError, LayerInfo, layer_probe
from digitwidgets.reading.recognition import NO_MODEL, Recognition
from digitwidgets.widgets.charts import LEFT_TITLE_OFFSET, number_ticks, percent_ticks, show_ticks
from digitwidgets.widgets.support import WAITING, TitledImage, native_png

# Maps and filters are sent at their own size (a 10x10 map is a 10x10 PNG) and enlarged by
# the browser with hard edges (image-rendering: pixelated): a tenth of the bytes and of the
# encoding, at every epoch's model, of drawing them at the size shown.
_MAP_SIZE = 84  # screen pixels per small map: 28x28 at 3, 14x14 at 6, ...
_FILTER_PIXEL = 8  # screen pixels per kernel weight
_MAX_MAPS = 16
_SELECTED = "dw-layer-selected"
_TEXT = "font-size: 13px; line-height: 1.35; color: #333;"
# A transparent button over each small map: clicking the map enlarges it.
_STYLE = """<style>
.dw-layers .dw-feature-cell { position: relative; }
.dw-layers .dw-feature-cell .dw-map-enlarge { position: absolute; left: 0; top: 0;
  width: 100%; height: 100%; opacity: 0; margin: 0; cursor: zoom-in; }
.dw-layers .dw-feature-map img, .dw-layers img.dw-feature-map, .dw-layers .dw-filter,
.dw-layers img.dw-layers-input { image-rendering: pixelated; border: 1px solid #ccc; }
.dw-layers img.dw-enlarged-map { image-rendering: pixelated; border: 0; display: block;
  max-width: none; }
.dw-layers .dw-layer-selected { outline: 2px solid #08519c; }
.dw-layers .dw-feature-cell .dw-map-pick { position: absolute; left: 0; top: 0; z-index: 1;
  cursor: crosshair; }
.dw-layers .dw-enlarged-box { position: relative; align-self: flex-start; }
.dw-layers .dw-enlarged-box .dw-enlarged-pick { position: absolute; left: 0; top: 0;
  z-index: 1; cursor: crosshair; }
</style>"""


def color_scale(values: np.ndarray) -> tuple[float, float]:
    """The shared (black, white) values for a layer's maps: 0 (or the minimum) to the maximum."""
    values = np.asarray(values, dtype=np.float64)
    low = min(0.0, float(values.min())) if values.size else 0.0
    high = float(values.max()) if values.size else 1.0
    return low, high if high > low else low + 1.0


def scaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` mapped to [0, 1] on the scale ``low`` (black) .. ``high`` (white)."""
    return np.clip((np.asarray(values, dtype=np.float32) - low) / (high - low), 0.0, 1.0)


def enlarged_side(values: np.ndarray) -> int:
    """Screen pixels per value of an enlarged map: about 280 px across, at least 4."""
    return max(4, 280 // max(values.shape[:2]))


def enlarged_caption(values: np.ndarray, low: float, high: float, caption: str) -> str:
    """What an enlarged map is and how to read it."""
    rows, columns = values.shape
    return (
        f"<div style='{_TEXT}'><b>{html.escape(caption)}</b> ({rows}×{columns}; point at a "
        f"pixel for its value, click it to see where the value comes from; black = "
        f"{low:.3g}, white = {high:.3g})</div>"
    )


def _kernel_row(kernels: np.ndarray, limit: float) -> np.ndarray:
    """(in, h, w) kernels side by side, one grey pixel apart; 0 is mid-grey."""
    count, height, width = kernels.shape
    row = np.full((height, count * (width + 1) - 1), 0.5, dtype=np.float32)
    for index, kernel in enumerate(kernels):
        left = index * (width + 1)
        row[:, left : left + width] = 0.5 + 0.5 * np.clip(kernel / limit, -1.0, 1.0)
    return row


class LayerView(widgets.VBox):
    """The layers of a model as a strip to navigate, and the chosen layer for the current digit.

    Convolution and pooling layers show one greyscale map per channel on a shared, stated
    scale; clicking a map enlarges it, where pointing at a pixel shows its value and clicking
    it sets ``picked`` (a ``NumberExplanation`` following the view explains it). Dense layers show
    their activations as bars. A convolution also shows its learned kernels. Every map
    follows ``value`` (the current digit) and ``model`` (each epoch's, a loaded run's ...)
    as soon as they change, from whichever thread changes them.
    """

    model = traitlets.Any(None, allow_none=True, help="The Keras model to open up, or None.")
    value = traitlets.Instance(
        Recognition,
        allow_none=True,
        help="The current digit (its preprocessed 28x28 image is what every layer is shown "
        "for), or None.",
    )
    layer = traitlets.Unicode(
        "c1", help="The name of the layer whose maps are shown (one of ``layer_names``)."
    )
    layer_names = traitlets.Tuple(
        (), read_only=True, help="The layers in the strip, input first, output last."
    )
    enlarged = traitlets.Int(
        None, allow_none=True, help="The channel of the shown layer enlarged, or None."
    )
    message = traitlets.Unicode(
        "", read_only=True, help="Why nothing (or not everything) is shown; '' when all is."
    )
    picked = traitlets.Tuple(
        default_value=None,
        allow_none=True,
        help="The pixel last clicked in a map: (layer, map, row, column), 0-based; None "
        "before a click or once another layer is shown.",
    )

    def __init__(self, model=None, value: Recognition | None = None, **kwargs):
        """Build the view, then show ``model``'s layers for ``value``."""
        super().__init__(**kwargs)
        self._infos: tuple[LayerInfo, ...] = ()
        self._probe = None
        self._outputs: dict[str, np.ndarray] | None = None
        self._message = widgets.HTML("")
        self._message.add_class("dw-layers-message")
        self._strip = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._strip.add_class("dw-layer-strip")
        self._buttons: dict[str, widgets.Button] = {}

        self._title = widgets.HTML("")
        self._title.add_class("dw-layer-title")
        self._input = TitledImage(value=b"", format="png")
        self._input.layout = widgets.Layout(width="140px", height="140px")
        self._input.add_class("dw-layers-input")
        self._input.tooltip = "The drawing as the network gets it: 28 by 28 pixels"
        self._maps, self._cells = [], []
        for channel in range(_MAX_MAPS):
            image = TitledImage(value=b"", format="png", tooltip=f"Map {channel + 1}")
            image.layout = widgets.Layout(width=f"{_MAP_SIZE}px", height=f"{_MAP_SIZE}px")
            image.add_class("dw-feature-map")
            button = widgets.Button(description="", tooltip=f"Enlarge map {channel + 1}")
            button.add_class("dw-map-enlarge")
            button.on_click(lambda _button, channel=channel: self.enlarge(channel))
            caption = widgets.HTML(f"<div style='{_TEXT}'>map {channel + 1}</div>")
            # Over the map, a transparent canvas says which pixel was clicked (the button
            # under it stays for the keyboard).
            pick = Canvas(width=_MAP_SIZE, height=_MAP_SIZE)
            pick.layout = widgets.Layout(width=f"{_MAP_SIZE}px", height=f"{_MAP_SIZE}px")
            pick.add_class("dw-map-pick")
            pick.on_mouse_down(
                lambda x, y, channel=channel: self._on_map_click(
                    channel, x / _MAP_SIZE, y / _MAP_SIZE
                )
            )
            cell = widgets.VBox([image, caption, button, pick], layout=widgets.Layout(margin="2px"))
            cell.add_class("dw-feature-cell")
            self._maps.append(image)
            self._cells.append(cell)
        self._grid = widgets.HBox(self._cells, layout=widgets.Layout(flex_flow="row wrap"))

        self._bars = bqplot.Bars(
            x=np.arange(10), y=np.zeros(10), scales=self._bar_scales(), colors=["#6baed6"]
        )
        self._bar_axis = bqplot.Axis(scale=self._bars.scales["x"], label="Unit")
        self._value_axis = bqplot.Axis(
            scale=self._bars.scales["y"], side="left", label="Value", label_offset=LEFT_TITLE_OFFSET
        )
        self._bar_figure = bqplot.Figure(
            marks=[self._bars],
            axes=[self._bar_axis, self._value_axis],
            fig_margin={"top": 10, "bottom": 40, "left": 64, "right": 10},
            layout=widgets.Layout(width="100%", max_width="560px", height="200px"),
        )
        self._bar_figure.add_class("dw-layer-bars")

        # The map at its own size, enlarged by the browser, under a transparent canvas that
        # says which pixel the pointer is on (its value) or was clicked (``picked``).
        self._zoom_values: np.ndarray | None = None
        self._zoom_caption = widgets.HTML("")
        self._zoom_cells = TitledImage(
            value=b"", format="png", tooltip="The map enlarged: click a pixel for its sums"
        )
        self._zoom_cells.add_class("dw-enlarged-map")
        # Over the cells, a transparent canvas: pointing shows a value, clicking explains it.
        self._zoom_pick = Canvas(width=_MAP_SIZE, height=_MAP_SIZE)
        self._zoom_pick.add_class("dw-enlarged-pick")
        self._zoom_pick.on_mouse_down(self._on_enlarged_click)
        self._zoom_pick.on_mouse_move(self._on_enlarged_point)
        self._zoom_value = widgets.HTML("")
        self._zoom_value.add_class("dw-enlarged-value")
        cells = widgets.Box([self._zoom_cells, self._zoom_pick])
        cells.add_class("dw-enlarged-box")
        self._zoom_figure = widgets.VBox(
            [self._zoom_caption, cells, self._zoom_value],
            layout=widgets.Layout(margin="0 0 0 12px", display="none", flex="0 0 auto"),
        )
        self._zoom_figure.add_class("dw-feature-map-enlarged")

        self._filters_title = widgets.HTML("")
        self._filters = [
            TitledImage(value=b"", format="png", tooltip=f"The weights of filter {index + 1}")
            for index in range(_MAX_MAPS)
        ]
        for image in self._filters:
            image.add_class("dw-filter")
        self._filter_box = widgets.VBox(self._filters)
        self._filter_box.add_class("dw-filters")

        self._detail = widgets.VBox(
            [
                self._title,
                self._input,
                # The enlarged map beside the maps, or under them on a phone: whole, never squeezed.
                widgets.HBox(
                    [self._grid, self._zoom_figure], layout=widgets.Layout(flex_flow="row wrap")
                ),
                self._bar_figure,
                self._filters_title,
                self._filter_box,
            ]
        )
        style = widgets.HTML(_STYLE, layout=widgets.Layout(display="none"))
        self.children = [style, self._message, self._strip, self._detail]
        self.add_class("dw-layers")
        self._shown_model = None
        self.value = value
        self.model = model
        self._show_model()

    @staticmethod
    def _bar_scales() -> dict:
        return {"x": bqplot.OrdinalScale(), "y": bqplot.LinearScale()}

    # -- public actions ---------------------------------------------------------------

    def select(self, name: str) -> None:
        """Show layer ``name`` (as clicking it in the strip does)."""
        self.layer = name

    def enlarge(self, channel: int | None) -> None:
        """Enlarge map ``channel`` of the shown layer (None closes the enlarged map)."""
        self.enlarged = channel

    def pick(self, channel: int, row: int, column: int) -> None:
        """Enlarge map ``channel`` and set ``picked`` to its pixel (as clicking it does)."""
        self.enlarge(channel)
        self.picked = (self.layer, channel, row, column)

    def enlarged_values(self) -> np.ndarray | None:
        """The values of the enlarged map (pointing at a pixel shows one), or None."""
        return self._zoom_values

    # -- reactions ----------------------------------------------------------------------

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        name = proposal["value"]
        if self._infos and name not in self.layer_names:
            raise traitlets.TraitError(
                f"No layer {name!r} in this model; its layers are {', '.join(self.layer_names)}."
            )
        return name

    @traitlets.observe("model", "value")
    def _on_input_change(self, _change) -> None:
        # A new model reaches the view twice (itself, then the digit's new reading): one
        # computation at the end of the change (``background.one_pass``), with both.
        if hasattr(self, "_detail"):
            react(self, self._update)

    def _update(self) -> None:
        if self.model is not self._shown_model:
            self._show_model()
        elif self._probe is not None:
            self._refresh()

    def _show_model(self) -> None:
        self._probe = None
        model = self._shown_model = self.model
        if model is None:
            self._set_strip(())
            self._show_nothing(NO_MODEL)
            return
        try:
            probe = layer_probe(model)
        except ArchitectureError as error:
            self._set_strip(())
            self._show_nothing(str(error))
            return
        self._probe = probe
        self._set_strip(probe.layers)
        self._refresh()

    @traitlets.observe("layer")
    def _on_layer_change(self, change) -> None:
        if not hasattr(self, "_detail"):
            return
        for name, button in self._buttons.items():
            button.button_style = "info" if name == change["new"] else ""
            if name == change["new"]:
                button.add_class(_SELECTED)
            else:
                button.remove_class(_SELECTED)
        self.enlarged = None
        self.picked = None
        if self._probe is not None:
            self._show_layer()

    def _on_map_click(self, channel: int, across: float, down: float) -> None:
        # across, down: where in the map (0..1) the click was.
        outputs = None if self._outputs is None else self._outputs.get(self.layer)
        if outputs is None or outputs.ndim != 3 or channel >= outputs.shape[-1]:
            self.enlarge(channel)
            return
        rows, columns = outputs.shape[:2]
        row = min(rows - 1, max(0, int(down * rows)))
        column = min(columns - 1, max(0, int(across * columns)))
        self.pick(channel, row, column)

    @traitlets.observe("enlarged")
    def _on_enlarged_change(self, _change) -> None:
        if hasattr(self, "_detail"):
            self._show_enlarged()

    # -- drawing ----------------------------------------------------------------------

    def _set_strip(self, infos: tuple[LayerInfo, ...]) -> None:
        if infos == self._infos and self._buttons:
            return
        self._infos = infos
        self.set_trait("layer_names", tuple(info.name for info in infos))
        self._buttons = {}
        boxes = []
        for info in infos:
            button = widgets.Button(
                description=info.name,
                tooltip=info.description,
                layout=widgets.Layout(width="96px"),
            )
            button.add_class("dw-layer")
            button.on_click(lambda _button, name=info.name: self.select(name))
            parameters = f"{info.parameters:,} parameters" if info.parameters else "no parameters"
            caption = widgets.HTML(
                f"<div style='{_TEXT} text-align: center;'>{html.escape(info.kind)}<br>"
                f"{info.shape_text}<br>{parameters}</div>",
                layout=widgets.Layout(width="96px"),
            )
            self._buttons[info.name] = button
            boxes.append(widgets.VBox([button, caption], layout=widgets.Layout(margin="0 4px")))
        self._strip.children = boxes
        if infos and self.layer not in self.layer_names:
            names = [info.name for info in infos if info.kind == "convolution"]
            self.layer = names[0] if names else infos[0].name
        else:
            self._on_layer_change({"new": self.layer})

    def _show_nothing(self, message: str) -> None:
        """No model (or one that cannot be opened): the sentence, and nothing stale."""
        self._outputs = None
        self.set_trait("message", message)
        self._message.value = f"<div style='{_TEXT}'>{html.escape(message)}</div>"
        self._strip.layout.display = "none"
        self._detail.layout.display = "none"
        self.enlarged = None
        self._clear_maps()
        for image in self._filters:
            image.value = b""

    def _clear_maps(self) -> None:
        self._input.value = b""
        for image in self._maps:
            image.value = b""
        with self._bars.hold_sync():
            self._bars.y = np.zeros(len(self._bars.x))

    def _refresh(self) -> None:
        """Compute every layer's output for the current digit, then show the chosen layer."""
        recognition = self.value
        image = None if recognition is None else recognition.image
        self._outputs = None if image is None else self._probe.outputs(image)
        if image is None:
            text = WAITING if recognition is None else recognition.message or WAITING
        else:
            text = ""
        self.set_trait("message", text)
        self._message.value = f"<div style='{_TEXT}'>{html.escape(text)}</div>" if text else ""
        self._strip.layout.display = "flex"
        self._detail.layout.display = "flex"
        self._show_layer()

    def _info(self) -> LayerInfo | None:
        return next((info for info in self._infos if info.name == self.layer), None)

    def _show_layer(self) -> None:
        info = self._info()
        if info is None:
            return
        outputs = None if self._outputs is None else self._outputs[info.name]
        maps = info.has_maps and info.kind != "input"
        self._input.layout.display = "flex" if info.kind == "input" else "none"
        self._grid.layout.display = "flex" if maps else "none"
        self._bar_figure.layout.display = "none" if info.has_maps else "flex"
        title = f"<b>{html.escape(info.name)}</b>: {html.escape(info.description)}, output "
        title += f"{info.shape_text}"
        if outputs is None:
            self._clear_maps()
        elif info.kind == "input":
            self._input.value = native_png(outputs[..., 0])
            title += ". Black 0, white 1 (ink)."
        elif maps:
            low, high = color_scale(outputs)
            title += (
                f". Shared scale for these {info.output_shape[-1]} maps: black = {low:.3g}, "
                f"white = {high:.3g} (the largest value). Click a map to enlarge it."
            )
            for channel, (image, cell) in enumerate(zip(self._maps, self._cells, strict=True)):
                shown = channel < outputs.shape[-1]
                cell.layout.display = "flex" if shown else "none"
                image.value = native_png(scaled(outputs[..., channel], low, high)) if shown else b""
        else:
            self._show_bars(np.asarray(outputs, dtype=float), info.kind == "output")
            if info.kind == "output":
                title += ". The probability of each digit."
            else:
                title += f". The {len(outputs)} activations as bars."
        self._title.value = f"<div style='{_TEXT}'>{title}</div>"
        self._show_filters(info)
        self._show_enlarged()

    def _show_bars(self, values: np.ndarray, probabilities: bool) -> None:
        """A dense layer's values as bars: probabilities in percent (0, 50, 100%) against
        the digit, activations against a unit labelled every tenth, on round ticks."""
        with self._bars.hold_sync():
            self._bars.x = np.arange(len(values))
            self._bars.y = values
        units = np.arange(len(values))
        with self._bar_axis.hold_sync():
            self._bar_axis.label = "Digit" if probabilities else "Unit"
            # Every digit; a unit in ten of a wide layer (84 labels would overlap). An ordinal
            # axis ticks every category whatever tick_values says: the others' labels are "".
            self._bar_axis.tick_labels = {
                str(unit): str(unit) if len(units) <= 12 or unit % 10 == 0 else "" for unit in units
            }
        if probabilities:
            self._value_axis.label = "Probability"
            show_ticks(self._value_axis, percent_ticks(most=3))
        else:
            self._value_axis.label = "Activation"
            finite = values[np.isfinite(values)]
            low = min(0.0, float(finite.min())) if finite.size else 0.0
            high = max(0.0, float(finite.max())) if finite.size else 1.0
            show_ticks(self._value_axis, number_ticks(low, high, most=5))

    def _show_filters(self, info: LayerInfo) -> None:
        kernels = self._probe.filters().get(info.name) if info.kind == "convolution" else None
        self._filters_title.layout.display = "none" if kernels is None else "flex"
        self._filter_box.layout.display = "none" if kernels is None else "flex"
        if kernels is None:
            return
        limit = float(np.abs(kernels).max()) or 1.0
        count, inputs, height, width = kernels.shape
        self._filters_title.value = (
            f"<div style='{_TEXT}'><b>Learned filters</b>: {count} kernels of {height}×{width}"
            + (f"×{inputs} (one row per filter, one square per input map)" if inputs > 1 else "")
            + f". Grey = 0, white = +{limit:.3g}, black = −{limit:.3g}.</div>"
        )
        self._filter_box.layout.flex_flow = "column" if inputs > 1 else "row"
        for index, image in enumerate(self._filters):
            if index < count:
                row = _kernel_row(kernels[index], limit)
                pixel = _FILTER_PIXEL if inputs > 1 else 2 * _FILTER_PIXEL
                image.value = native_png(row)
                image.layout.width = f"{row.shape[1] * pixel}px"
                image.layout.height = f"{row.shape[0] * pixel}px"
                image.layout.margin = "2px"
                image.layout.display = "flex"
            else:
                image.value = b""
                image.layout.display = "none"

    def _show_enlarged(self) -> None:
        info = self._info()
        channel = self.enlarged
        outputs = None if (self._outputs is None or info is None) else self._outputs[info.name]
        usable = (
            channel is not None
            and outputs is not None
            and info.has_maps
            and info.kind != "input"
            and 0 <= channel < outputs.shape[-1]
        )
        if not usable:
            self._zoom_values = None
            self._zoom_figure.layout.display = "none"
            self._zoom_caption.value = self._zoom_value.value = ""
            self._zoom_cells.value = b""
            return
        values = np.asarray(outputs[..., channel], dtype=np.float32)
        self._zoom_values = values
        low, high = color_scale(outputs)
        side = enlarged_side(values)
        self._zoom_caption.value = enlarged_caption(
            values, low, high, f"{info.name}, map {channel + 1}"
        )
        self._zoom_cells.value = native_png(scaled(values, low, high))
        width, height = values.shape[1] * side, values.shape[0] * side
        for layout in (self._zoom_cells.layout, self._zoom_pick.layout):
            layout.width = layout.min_width = f"{width}px"
            layout.height = layout.min_height = f"{height}px"
        self._zoom_figure.layout.width = f"{width}px"  # the caption wraps to the map's width
        if (self._zoom_pick.width, self._zoom_pick.height) != (width, height):
            self._zoom_pick.width, self._zoom_pick.height = width, height
        self._zoom_figure.layout.display = "flex"

    def _enlarged_pixel(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, column) of the enlarged map under canvas point (x, y), or None."""
        values = self._zoom_values
        if values is None:
            return None
        side = enlarged_side(values)
        row, column = int(y // side), int(x // side)
        if 0 <= row < values.shape[0] and 0 <= column < values.shape[1]:
            return row, column
        return None

    def _on_enlarged_point(self, x: float, y: float) -> None:
        pixel = self._enlarged_pixel(x, y)
        if pixel is None:
            self._zoom_value.value = ""
            return
        row, column = pixel
        value = float(self._zoom_values[row, column])
        self._zoom_value.value = (
            f"<div style='{_TEXT}'>row {row + 1}, column {column + 1}: <b>{value:.3f}</b></div>"
        )

    def _on_enlarged_click(self, x: float, y: float) -> None:
        pixel = self._enlarged_pixel(x, y)
        if pixel is not None and self.enlarged is not None:
            self.pick(self.enlarged, *pixel)
