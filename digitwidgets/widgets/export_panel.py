"""ExportPanel: download a run's model, its history as CSV and a script that trains it again."""

from __future__ import annotations

import base64
import html
import inspect

import ipywidgets as widgets
import traitlets

from digitwidgets.learning.export import ExportError, history_csv, model_bytes, reproduction_script
from digitwidgets.learning.runs import RunRecord
from digitwidgets.widgets.support import InView

_NO_RUN = "Train a model or load a saved run to download it."
# A link looks like one wherever the panel is shown (Voila's page draws links as plain text).
LINK_STYLE = "color:#1a5fb4; text-decoration:underline"


def download_link(data: bytes, filename: str, mime: str, text: str) -> str:
    """An ``<a download>`` link holding ``data`` in a ``data:`` URL, so no server path is used."""
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<a download="{html.escape(filename)}" href="data:{mime};base64,{encoded}" '
        f'target="_blank" style="{LINK_STYLE}">{html.escape(text)}</a>'
    )


def script_for(record: RunRecord) -> str:
    """The reproduction script of ``record``, with the learning-rate schedule it followed.

    ``lr_changes`` is passed only where ``export.reproduction_script`` takes it (it is being
    added alongside): until then a steered run's script trains at its first rate throughout.
    """
    options = {"run_id": record.run_id}
    if "lr_changes" in inspect.signature(reproduction_script).parameters:
        options["lr_changes"] = record.lr_changes
    return reproduction_script(record.hyperparameters, **options)


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{max(1, round(count / 1024))} KB"


class ExportPanel(InView, widgets.VBox):
    """Links to download one run: the ``.keras`` model, the history CSV, a Python script.

    The files are made in memory when ``run`` changes and sent to the browser inside the
    links; nothing on the server is named by the page.
    """

    run = traitlets.Instance(
        RunRecord, allow_none=True, help="The run to export (a RunStore record), or None."
    )
    status = traitlets.Unicode(_NO_RUN, read_only=True, help="What can be downloaded, in words.")

    def __init__(self, run: RunRecord | None = None, **kwargs):
        """Offer ``run``'s files (and later runs' once ``run`` is set or ``follow`` is used)."""
        super().__init__(**kwargs)
        self._status = widgets.Label(self.status)
        self._status.add_class("dw-export-status")
        traitlets.dlink((self, "status"), (self._status, "value"))
        self._model = self._link("dw-download-model")
        self._history = self._link("dw-download-history")
        self._script = self._link("dw-download-script")
        self.children = [
            self._status,
            widgets.HBox([self._model, self._history, self._script], layout={"grid_gap": "24px"}),
        ]
        self.add_class("dw-export")
        self.run = run

    @staticmethod
    def _link(css_class: str) -> widgets.HTML:
        link = widgets.HTML("")
        link.add_class(css_class)
        return link

    def follow(self, trainer) -> None:
        """Offer each run ``trainer`` finishes or stops, once it is saved."""
        trainer.add_listener(self._on_training_event)

    def forget(self, run_id: str) -> None:
        """Stop offering run ``run_id`` (it was deleted); other runs are kept."""
        if self.run is not None and self.run.run_id == run_id:
            self.run = None

    @traitlets.observe("run")
    def _on_run_change(self, _change) -> None:
        # The links carry the model (about 250 kB sent to the page): made once they are seen.
        # Out of view, the last run's links go at once (they may name a deleted run).
        if not self.in_view:
            self._model.value = self._history.value = self._script.value = ""
            self.set_trait("status", _NO_RUN)
        self.when_in_view("links", self._show_run)

    def _show_run(self) -> None:
        record: RunRecord | None = self.run
        links = ["", "", ""]
        if record is None:
            status = _NO_RUN
        else:
            status = f"Download run {record.run_id} ({record.status}):"
            stem = f"lenet5-{record.run_id}"
            try:
                model = model_bytes(record)
                links[0] = download_link(
                    model,
                    f"{stem}.keras",
                    "application/octet-stream",
                    f"Model ({stem}.keras, {_size(len(model))})",
                )
            except ExportError as exc:
                status = f"{status} {exc}"
            if record.history:
                links[1] = download_link(
                    history_csv(record.history).encode(),
                    f"{stem}-history.csv",
                    "text/csv",
                    "History (CSV)",
                )
            if record.hyperparameters is not None:
                script = script_for(record)
                links[2] = download_link(
                    script.encode(),
                    f"{stem}.py",
                    "text/x-python",
                    "Script to train it again (Python)",
                )
        self._model.value, self._history.value, self._script.value = links
        self.set_trait("status", status)

    def _on_training_event(self, event) -> None:
        # The event worker: the run is saved before its terminal event; set a trait only.
        if event.kind.carries_model and event.ended and event.run is not None:
            self.run = event.run
