"""RunComparison: the saved runs in a table, their validation curves overlaid, load and delete."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.learning.runs import RunRecord, RunStore, RunStoreError, curve_labels, local_time
from digitwidgets.learning.training.events import EventKind
from digitwidgets.widgets.charts import (
    LEFT_TITLE_OFFSET,
    chart_title,
    percent_ticks,
    show_ticks,
    whole_ticks,
)
from digitwidgets.widgets.support import InView, format_duration

# The columns of text between a row's tick box and its buttons, with their widths in px.
_TEXT_COLUMNS = (
    ("When", 130),
    ("Settings", 190),
    ("Data", 120),
    ("Train", 60),
    ("Val.", 60),
    ("Time", 55),
    ("Status", 80),
)
_CELL_GAP = 4
_TEXT_WIDTH = f"{sum(width for _, width in _TEXT_COLUMNS) + _CELL_GAP * (len(_TEXT_COLUMNS) - 1)}px"
_TICK_WIDTH, _BUTTONS_WIDTH, _BUTTON_WIDTH = "28px", "170px", "80px"
# Runs listed per page of the table: a runs folder shared by a class holds hundreds, and
# each row is a handful of widgets on every page that shows the tab.
PAGE_SIZE = 20
# One colour per ticked run, in the table's order; the legend under the chart uses the same.
_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_CHART_TITLE = "Validation accuracy of the ticked runs"
_SOURCES = {
    "embedded-sample": "sample",
    "path": "file",
    "keras-cache": "MNIST",
    "download": "MNIST",
}


def _data_text(data: dict) -> str:
    source = _SOURCES.get(data.get("source", ""), data.get("source") or "?")
    n_train = data.get("n_train")
    return f"{source}, {n_train:,}" if isinstance(n_train, int) else source


def _accuracy_text(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.1%}"


def _grouped(records: list[RunRecord]) -> list[RunRecord]:
    """The runs newest first, but a sweep's runs together, where its newest run is."""
    ordered: list[RunRecord] = []
    placed: set[str] = set()
    for record in records:
        sweep_id = record.sweep["id"] if record.sweep else None
        if sweep_id is None:
            ordered.append(record)
        elif sweep_id not in placed:
            placed.add(sweep_id)
            members = [r for r in records if r.sweep and r.sweep["id"] == sweep_id]
            ordered.extend(sorted(members, key=lambda r: r.sweep["index"]))
    return ordered


def _epochs_ran(record: RunRecord) -> int:
    """How many epochs the run trained (its history's length)."""
    return max((len(values) for values in record.history.values()), default=0)


def _said_as_run(record: RunRecord, label: str) -> str:
    """A curve's label, with the epochs a run cut short really ran: "epochs 3 of 20, stopped"
    where its settings say 20."""
    hp = record.hyperparameters
    ran = _epochs_ran(record)
    if hp is None or ran >= hp.epochs:
        return label
    planned = f"epochs {hp.epochs}"
    ran_text = f"{ran} of {hp.epochs}, {record.status}"
    if planned in label.split(", "):
        return label.replace(planned, f"epochs {ran_text}")
    return f"{label} · {ran_text} epochs"


def _best_of(records: list[RunRecord]) -> RunRecord | None:
    scored = [(record.final("val_accuracy"), record) for record in records]
    scored = [
        (value, record) for value, record in scored if value is not None and math.isfinite(value)
    ]
    return max(scored, key=lambda pair: pair[0])[1] if scored else None


class RunComparison(InView, widgets.VBox):
    """The saved runs of a ``RunStore``: compare their validation curves, load or delete one.

    Tick runs to overlay their per-epoch validation accuracy; each curve is labelled by
    what differs between the ticked runs. A sweep's runs are listed together under a row
    naming the sweep and its best run, with a button that overlays them all. The table shows
    ``PAGE_SIZE`` runs at a time, newest first (``page``); a tick holds on every page. "Load"
    fires ``on_load(model, record)``; "Delete" asks for confirmation first, then fires
    ``on_delete(run_id)``. Call ``refresh()`` (or ``follow(trainer)``) when runs change.
    """

    runs = traitlets.List(read_only=True, help="The saved run ids, newest first (every page).")
    page = traitlets.Int(0, help="Which page of the table is shown, 0 for the newest runs.")
    selected = traitlets.List(help="The ticked run ids, whose curves the chart overlays.")
    compared = traitlets.List(read_only=True, help="The curve labels the chart shows, in order.")
    status = traitlets.Unicode("", read_only=True, help="What happened last, as a sentence.")

    def __init__(self, store: RunStore | None = None, **kwargs):
        """List the runs in ``store`` (default: the default RunStore)."""
        super().__init__(**kwargs)
        self._store = store if store is not None else RunStore()
        self._records: dict[str, RunRecord] = {}
        self._checkboxes: dict[str, widgets.Checkbox] = {}
        # Each run's row, kept across rebuilds while its record is unchanged.
        self._rows: dict[str, tuple[RunRecord, widgets.HBox]] = {}
        self._pending_delete: str | None = None
        self._load_callbacks = widgets.CallbackDispatcher()
        self._delete_callbacks = widgets.CallbackDispatcher()

        self._table = widgets.VBox()
        self._table.add_class("dw-runs-table")
        # Built once: a rebuild (each run's end) makes only the rows that changed.
        self._header = self._header_row()
        self._newer = widgets.Button(
            description="Newer", icon="chevron-left", tooltip=f"The {PAGE_SIZE} newer runs"
        )
        self._newer.add_class("dw-runs-newer")
        self._newer.on_click(lambda _: self._turn(-1))
        self._older = widgets.Button(
            description="Older", icon="chevron-right", tooltip=f"The {PAGE_SIZE} older runs"
        )
        self._older.add_class("dw-runs-older")
        self._older.on_click(lambda _: self._turn(1))
        self._page_text = widgets.Label("")
        self._page_text.add_class("dw-runs-page")
        # The text first: on a phone the two buttons wrap to a line of their own, together.
        self._pager = widgets.HBox(
            [self._page_text, self._newer, self._older],
            layout=widgets.Layout(display="none", align_items="center", flex_flow="row wrap"),
        )
        self._pager.add_class("dw-runs-pager")
        self._status = widgets.Label("")
        self._status.add_class("dw-runs-status")
        traitlets.dlink((self, "status"), (self._status, "value"))
        self._confirm = widgets.Button(description="Delete", button_style="danger")
        self._confirm.add_class("dw-confirm-delete")
        self._confirm.on_click(lambda _: self.confirm_delete())
        self._cancel = widgets.Button(description="Cancel")
        self._cancel.add_class("dw-cancel-delete")
        self._cancel.on_click(lambda _: self.cancel_delete())
        self._confirmation = widgets.HBox(
            [self._confirm, self._cancel], layout=widgets.Layout(display="none")
        )
        self._lines, chart = self._build_chart()
        # The legend as HTML under the chart: bqplot draws its own inside the plot, over the
        # curves, and long labels ran off its left edge.
        self._legend = widgets.HTML("")
        self._legend.add_class("dw-compare-legend")
        # The title above the figure, in HTML that wraps: bqplot's own is one line of SVG,
        # cut at both edges of a phone-wide figure.
        title = chart_title(_CHART_TITLE, left=70, right=20)
        title.layout.max_width = chart.layout.max_width
        self.children = [
            self._table,
            self._pager,
            self._confirmation,
            self._status,
            title,
            chart,
            self._legend,
        ]
        self.add_class("dw-runs")
        self.refresh()

    def _build_chart(self) -> tuple[bqplot.Lines, bqplot.Figure]:
        x_scale = bqplot.LinearScale()
        y_scale = bqplot.LinearScale()
        self._epoch_axis = bqplot.Axis(scale=x_scale, label="Epoch")
        self._accuracy_axis = bqplot.Axis(
            scale=y_scale, side="left", label="Validation accuracy", label_offset=LEFT_TITLE_OFFSET
        )
        lines = bqplot.Lines(
            x=np.zeros((0, 0)),
            y=np.zeros((0, 0)),
            scales={"x": x_scale, "y": y_scale},
            marker="circle",
            marker_size=24,
            colors=list(_COLORS),
            display_legend=False,
            labels=[],
        )
        figure = bqplot.Figure(
            marks=[lines],
            axes=[self._epoch_axis, self._accuracy_axis],
            fig_margin={"top": 16, "bottom": 50, "left": 70, "right": 20},
            layout=widgets.Layout(width="100%", max_width="640px", height="316px"),
        )
        figure.add_class("dw-compare-chart")
        return lines, figure

    def follow(self, trainer) -> None:
        """Refresh the table whenever ``trainer`` ends a run (and has saved it)."""
        trainer.add_listener(self._on_training_event)

    def refresh(self) -> None:
        """Read the store again and rebuild the table, keeping ticked runs that still exist."""
        try:
            records = self._store.list()
        except OSError as exc:
            records = []
            self.set_trait("status", f"Cannot read the saved runs: {exc}")
        records = _grouped(records)
        self._records = {record.run_id: record for record in records}
        self.set_trait("runs", [record.run_id for record in records])
        if self.page > self._last_page():
            self.page = self._last_page()  # observed: shows that page
        else:
            self._show_page()
        if self._pending_delete not in self._records:
            self.cancel_delete()
        self.selected = [run_id for run_id in self.selected if run_id in self._records]
        self._update_chart()

    def _show_page(self) -> None:
        """Rows for the runs of the page shown, a sweep's row before its first run there (the
        runs as last read: turning a page reads no file)."""
        records = list(self._records.values())
        shown = records[self.page * PAGE_SIZE : (self.page + 1) * PAGE_SIZE]
        old_rows = self._table.children
        # A run's row outlives the rebuild while its record is unchanged: a tick or a click
        # that arrives while the table is being replaced (a run's last news) lands on the
        # same widgets instead of closed ones.
        previous_rows, self._rows = self._rows, {}
        self._checkboxes = {}
        rows = [self._header]
        for record in shown:
            if record.sweep and record.sweep["index"] == min(
                r.sweep["index"] for r in shown if r.sweep and r.sweep["id"] == record.sweep["id"]
            ):
                rows.append(self._sweep_row(record.sweep, records))
            rows.append(self._row_for(record, previous_rows))
        if not records:
            rows.append(widgets.HTML("<i>No saved runs yet: train one.</i>"))
        self._table.children = rows
        kept = set(map(id, rows))
        for row in old_rows:
            if id(row) in kept:
                continue
            for child in row.children if isinstance(row, widgets.Box) else ():
                child.close()
            row.close()
        self._show_pager(len(records))

    def _show_pager(self, count: int) -> None:
        """Where the page shown sits among all the runs; no pager while one page holds all."""
        first = self.page * PAGE_SIZE
        self._page_text.value = (
            f"Runs {first + 1}–{min(count, first + PAGE_SIZE)} of {count}, newest first"
        )
        self._newer.disabled = self.page == 0
        self._older.disabled = first + PAGE_SIZE >= count
        self._pager.layout.display = "flex" if count > PAGE_SIZE else "none"

    def _last_page(self) -> int:
        return max(0, math.ceil(len(self.runs) / PAGE_SIZE) - 1)

    def _turn(self, pages: int) -> None:
        self.page = max(0, self.page + pages)

    @traitlets.validate("page")
    def _valid_page(self, proposal) -> int:
        return min(max(0, proposal["value"]), self._last_page())

    @traitlets.observe("page")
    def _on_page_change(self, change) -> None:
        self._show_page()

    def on_load(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(model, record)`` when the user loads a run's model."""
        self._load_callbacks.register_callback(callback, remove=remove)

    def load(self, run_id: str) -> None:
        """Load the model of ``run_id`` and hand it to the ``on_load`` callbacks."""
        try:
            model = self._store.load_model(run_id)
            record = self._store.get(run_id)
        except RunStoreError as exc:
            self.set_trait("status", str(exc))
            return
        self.set_trait("status", f"Loaded run {run_id} into the drawing pad.")
        self._load_callbacks(model, record)

    def on_delete(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(run_id)`` after the user has deleted a run."""
        self._delete_callbacks.register_callback(callback, remove=remove)

    def ask_delete(self, run_id: str) -> None:
        """Ask the user to confirm deleting ``run_id``; nothing is deleted yet."""
        self._pending_delete = run_id
        self._confirm.description = f"Really delete run {run_id}?"
        self._confirmation.layout.display = "flex"

    def cancel_delete(self) -> None:
        """Forget the deletion the user was asked to confirm."""
        self._pending_delete = None
        self._confirmation.layout.display = "none"

    def confirm_delete(self) -> None:
        """Delete the run the user was asked about, then refresh the table."""
        run_id = self._pending_delete
        self.cancel_delete()
        if run_id is None:
            return
        try:
            self._store.delete(run_id)
        except (RunStoreError, OSError) as exc:
            self.set_trait("status", f"Could not delete run {run_id}: {exc}")
            self.refresh()
            return
        self.set_trait("status", f"Deleted run {run_id}.")
        self.refresh()
        self._delete_callbacks(run_id)

    @traitlets.observe("selected")
    def _on_selected_change(self, change) -> None:
        for run_id, checkbox in self._checkboxes.items():
            checkbox.value = run_id in change["new"]
        self._update_chart()

    def _update_chart(self) -> None:
        records = [self._records[run_id] for run_id in self.selected if run_id in self._records]
        labels = [
            _said_as_run(record, label)
            for record, label in zip(records, curve_labels(records), strict=True)
        ]
        curves = [record.history.get("val_accuracy") or [] for record in records]
        missing = [r.run_id for r, curve in zip(records, curves, strict=True) if not curve]
        # A run with nothing to draw gets no line: its markers would sit in a corner.
        drawn = [(label, curve) for label, curve in zip(labels, curves, strict=True) if curve]
        labels = [label for label, _ in drawn]
        curves = [curve for _, curve in drawn]
        # At least two columns: bqplot squeezes a (n, 1) array into one line of n points.
        longest = max([2, *(len(curve) for curve in curves)])
        # One row per run, a shorter one padded with its own last point again: bqplot draws
        # the markers of NaN padding in the plot's corner.
        x = np.ones((len(curves), longest))
        y = np.zeros((len(curves), longest))
        for row, curve in enumerate(curves):
            x[row] = [min(i, len(curve)) for i in range(1, longest + 1)]
            y[row] = [curve[min(i, len(curve)) - 1] for i in range(1, longest + 1)]
        # Whole epochs, half an epoch of room at each end (a one-epoch run's dots sit mid-
        # chart, not on the axis line); round percents around the curves, within 0-100%.
        ran = max([1, *(len(curve) for curve in curves)])
        show_ticks(self._epoch_axis, whole_ticks(1, ran, margin=0.5))
        show_ticks(self._accuracy_axis, percent_ticks(y[np.isfinite(y)].tolist()))
        with self._lines.hold_sync():
            self._lines.x = x
            self._lines.y = y
            self._lines.labels = labels
        self._legend.value = _legend_html(labels)
        self.set_trait("compared", labels)
        if missing:
            self.set_trait(
                "status", f"No validation accuracy to draw for run {', '.join(missing)}."
            )

    def _header_row(self) -> widgets.HBox:
        # The same three boxes as a run's row (its tick box, its text, its buttons), so that
        # the columns line up.
        headings = _cells_html([f"<b>{name}</b>" for name, _ in _TEXT_COLUMNS])
        return widgets.HBox(
            [
                widgets.HTML("", layout=widgets.Layout(width=_TICK_WIDTH)),
                widgets.HTML(headings, layout=widgets.Layout(width=_TEXT_WIDTH)),
                widgets.HTML("", layout=widgets.Layout(width=_BUTTONS_WIDTH)),
            ]
        )

    def compare_sweep(self, sweep_id: str) -> None:
        """Tick every listed run of one sweep (and only those) to overlay their curves."""
        self.selected = [
            run_id
            for run_id, record in self._records.items()
            if record.sweep and record.sweep["id"] == sweep_id and record.status != "damaged"
        ]

    def _sweep_row(self, tag: dict, records: list[RunRecord]) -> widgets.HBox:
        members = [r for r in records if r.sweep and r.sweep["id"] == tag["id"]]
        best = _best_of(members)
        text = f"<b>Sweep</b> {html.escape(tag['name'])} · {len(members)} of {tag['count']} runs"
        if best is not None:
            text += (
                f" · <b>best: run {best.sweep['index']}</b> "
                f"({_accuracy_text(best.final('val_accuracy'))} validation)"
            )
        compare = widgets.Button(
            description="Compare these",
            icon="line-chart",
            tooltip="Overlay the validation curves of this sweep's runs",
            layout=widgets.Layout(width="150px"),
        )
        compare.add_class("dw-compare-sweep")
        compare.on_click(lambda _: self.compare_sweep(tag["id"]))
        label = widgets.HTML(text, layout=widgets.Layout(flex="1 1 auto"))
        row = widgets.HBox([label, compare], layout={"align_items": "center"})
        row.add_class("dw-sweep-group")
        return row

    def _row_for(self, record: RunRecord, previous_rows: dict) -> widgets.HBox:
        """The run's row from before the rebuild if its record is unchanged, else a new one."""
        kept = previous_rows.get(record.run_id)
        row = kept[1] if kept is not None and kept[0] == record else self._row(record)
        self._rows[record.run_id] = (record, row)
        checkbox = row.children[0]
        self._checkboxes[record.run_id] = checkbox
        checkbox.value = record.run_id in self.selected
        return row

    def _row(self, record: RunRecord) -> widgets.HBox:
        hp = record.hyperparameters
        damaged = record.status == "damaged"
        settings = hp.describe_changes() if hp is not None else "?"
        if record.sweep:
            settings = f"{record.sweep['index']}/{record.sweep['count']} · {settings}"
        if record.steered:
            # Its settings name the rate it started with; the rest of its schedule is in the
            # history and the reproduction script.
            settings = f"{settings}, steered"
        # What a screen reader says for the row's box and buttons, which show no run of their
        # own: the box's description is there for it alone (dashboard.css hides it).
        run = f"the run of {local_time(record.started_at)} ({settings})"
        checkbox = widgets.Checkbox(
            value=record.run_id in self.selected,
            description=f"Compare {run}",
            indent=False,
            disabled=damaged,
            layout=widgets.Layout(width=_TICK_WIDTH),
        )
        checkbox.add_class("dw-run-tick")
        checkbox.observe(lambda change: self._on_tick(record.run_id, change["new"]), "value")
        texts = [
            local_time(record.started_at),
            settings,
            _data_text(record.data),
            _accuracy_text(record.final("accuracy")),
            _accuracy_text(record.final("val_accuracy")),
            format_duration(record.duration),
            record.status,
        ]
        # The texts are one widget: each widget of a row comes with its layout and style, all
        # sent to the page when the table is built and at each run's end.
        cells = widgets.HTML(
            _cells_html(map(html.escape, texts), title=record.message or record.run_id),
            layout=widgets.Layout(width=_TEXT_WIDTH),
        )
        load = widgets.Button(description="Load", icon="upload", disabled=damaged)
        load.tooltip = f"Use the model of {run} in the drawing pad and the evaluation"
        load.layout.width = _BUTTON_WIDTH
        load.add_class("dw-load-run")
        load.on_click(lambda _: self.load(record.run_id))
        delete = widgets.Button(description="Delete", icon="trash", tooltip=f"Delete {run}")
        delete.layout.width = _BUTTON_WIDTH
        delete.add_class("dw-delete-run")
        delete.on_click(lambda _: self.ask_delete(record.run_id))
        row = widgets.HBox([checkbox, cells, load, delete], layout={"align_items": "center"})
        row.add_class("dw-run-row")
        if record.sweep:
            row.add_class("dw-sweep-run")
        return row

    def _on_tick(self, run_id: str, ticked: bool) -> None:
        chosen = [r for r in self.selected if r != run_id] + ([run_id] if ticked else [])
        # Keep the table's order (newest first) so colours follow the rows.
        self.selected = [r for r in self._records if r in chosen]

    def _on_training_event(self, event) -> None:
        # The event worker: the run is saved before the terminal event is sent.
        if event.kind is EventKind.START and self.status.startswith("Loaded run"):
            # A new run's models take the pad's place: the loaded run is no longer in use.
            self.set_trait("status", "")
        if event.ended:  # once a run, in view or not: what the tab shows when opened
            self.refresh()

    @traitlets.observe("in_view")
    def _refresh_when_back(self, change) -> None:
        # Back in view: the runs folder is read again (runs saved meanwhile, by this page or
        # by another visitor's).
        if change["new"]:
            self.refresh()


def _cells_html(cells: Iterable[str], *, title: str | None = None) -> str:
    """Markup (already escaped) in the text columns, each cell its column's width."""
    spans = "".join(
        f"<span style='flex:0 0 {width}px; overflow-wrap:anywhere'>{cell}</span>"
        for cell, (_, width) in zip(cells, _TEXT_COLUMNS, strict=True)
    )
    said = f" title='{html.escape(title, quote=True)}'" if title else ""
    return (
        f"<div class='dw-run-cells' style='display:flex; column-gap:{_CELL_GAP}px'{said}>"
        f"{spans}</div>"
    )


def _legend_html(labels: list[str]) -> str:
    """Each curve's colour and label, wrapping under the chart."""
    items = "".join(
        "<span class='dw-compare-curve' style='display:inline-flex; column-gap:4px; "
        "max-width:100%'>"
        f"<span style='color:{_COLORS[index % len(_COLORS)]}; white-space:nowrap'>"
        f"━●━</span><span class='dw-compare-label'>{html.escape(label)}</span></span>"
        for index, label in enumerate(labels)
    )
    return (
        "<div style='padding-left:min(70px, 10%); font-size:13px; color:#333; display:flex; "
        f"flex-wrap:wrap; column-gap:18px; row-gap:4px; max-width:570px'>{items}</div>"
        if labels
        else ""
    )
