"""HyperparameterControls: one control per training setting, kept in sync with a Hyperparameters."""

from __future__ import annotations

import ipywidgets as widgets
import traitlets

from digitwidgets.learning.hyperparameters import FIELDS, Hyperparameters
from digitwidgets.widgets.support import error_html

_DESCRIPTION_STYLE = {"description_width": "100px"}
# Each control fills its grid cell; the grid decides the width.
_CONTROL_LAYOUT = {"width": "100%", "min_width": "0"}


def _css_class(name: str) -> str:
    return "dw-" + name.replace("_", "-")


def _make_control(name: str) -> widgets.Widget:
    """The input widget for one field, as its ``FieldSpec`` describes it."""
    spec = FIELDS[name]
    tooltip = spec.help
    if spec.kind in ("int", "float"):
        # Told before typing, not only after a mistake.
        tooltip = f"{spec.help} Allowed: {spec.describe_range()}."
    common = {
        "value": getattr(Hyperparameters(), name),
        "description": spec.label,
        "tooltip": tooltip,
        "style": _DESCRIPTION_STYLE,
        "layout": widgets.Layout(**_CONTROL_LAYOUT),
    }
    control = _CONTROLS[spec.control](spec, common)
    control.add_class(_css_class(name))
    return control


# One maker per control hint of ``FieldSpec.control``. Typed numbers, not sliders: a text
# box carries its label for screen readers (a slider's handle has no accessible name), takes
# exact values on a phone, and a value out of range is explained under the controls instead
# of being clamped silently.
_CONTROLS = {
    "dropdown": lambda spec, common: widgets.Dropdown(options=list(spec.choices), **common),
    "checkbox": lambda spec, common: widgets.Checkbox(indent=False, **common),
    "int_text": lambda spec, common: widgets.IntText(**common),
    "float_text": lambda spec, common: widgets.FloatText(step=spec.step, **common),
}


class HyperparameterControls(widgets.VBox):
    """A control per training setting; ``value`` is always a valid Hyperparameters.

    Editing a control builds a new Hyperparameters; when the combination is invalid the
    reason is shown under the controls and ``value`` keeps the last valid settings.
    Setting ``value`` from code moves the controls.
    """

    value = traitlets.Instance(
        Hyperparameters,
        help="The current settings; always valid.",
    )
    disabled = traitlets.Bool(False, help="Lock every control, e.g. while a model trains.")
    message = traitlets.Unicode(
        "", read_only=True, help="Why the controls' current values are invalid, or ''."
    )

    def __init__(self, value: Hyperparameters | None = None, **kwargs):
        """Build the controls, starting from ``value`` (the defaults if None)."""
        super().__init__(**kwargs)
        self._controls = {name: _make_control(name) for name in FIELDS}
        self._message = widgets.HTML("")
        self._message.add_class("dw-controls-message")
        self._updating = False
        for control in self._controls.values():
            traitlets.dlink((self, "disabled"), (control, "disabled"))
            control.observe(self._on_control_change, "value")
        traitlets.dlink((self, "message"), (self._message, "value"), _message_html)
        self.value = value if value is not None else Hyperparameters()
        # Two columns of label + control where there is room (the ten settings take five
        # rows), one column in a narrow box; never more than two.
        self._grid = widgets.GridBox(
            list(self._controls.values()),
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fit, minmax(250px, 1fr))",
                max_width="700px",
                grid_gap="4px 16px",
                align_items="center",
            ),
        )
        self.children = [self._grid, self._message]
        self.add_class("dw-controls")

    @traitlets.default("value")
    def _default_value(self) -> Hyperparameters:
        return Hyperparameters()

    @traitlets.observe("value")
    def _on_value_change(self, change) -> None:
        if self._updating or not hasattr(self, "_controls"):
            return
        self._updating = True
        try:
            for name, control in self._controls.items():
                control.value = getattr(change["new"], name)
        finally:
            self._updating = False
        self.set_trait("message", "")

    def _on_control_change(self, change) -> None:
        if self._updating:
            return
        values = {name: control.value for name, control in self._controls.items()}
        try:
            candidate = Hyperparameters(**values)
        except ValueError as error:
            self.set_trait("message", str(error))
            return
        self._updating = True
        try:
            self.value = candidate
        finally:
            self._updating = False
        self.set_trait("message", "")


def _message_html(message: str) -> str:
    return error_html(f"{message} The last valid settings are kept.") if message else ""
