"""The notebooks run top to bottom, with tiny settings put into their ``parameters`` cell."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TINY = {"EPOCHS": 1, "TRAINING_DIGITS": 600}


def execute(name: str, parameters: dict | None = None) -> nbformat.NotebookNode:
    """Execute a notebook in a fresh kernel, replacing its parameters cell's values."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    if parameters:
        cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
        cell.source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    return notebook


def outputs_of(notebook) -> list:
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return [output for cell in code_cells for output in cell.outputs]


def assert_clean(notebook) -> None:
    """No errors and nothing on stderr (TensorFlow's chatter included)."""
    for output in outputs_of(notebook):
        assert output.output_type != "error", output.get("evalue")
        assert output.get("name") != "stderr", output.get("text")


def widget_views(notebook) -> int:
    return sum(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for output in outputs_of(notebook)
    )


def test_dashboard_notebook_runs_and_shows_the_dashboard():
    notebook = execute("dashboard.ipynb")
    assert_clean(notebook)
    assert widget_views(notebook) == 1
    assert len(notebook.cells) <= 4, "the dashboard notebook only composes components"


@pytest.mark.slow
def test_tour_notebook_runs_top_to_bottom():
    notebook = execute("tour.ipynb", TINY)
    assert_clean(notebook)
    # controls, training panel with chart, the learning-rate finder, the steered run's panel
    # and chart again, the weights' distributions, pad with view, layers, the explanation of
    # one number, map of digits, sweeps
    assert widget_views(notebook) == 10
    text = "".join(
        "".join(output.get("data", {}).get("text/plain", "")) + output.get("text", "")
        for output in outputs_of(notebook)
    )
    assert re.search(r"[\d,]+ training / [\d,]+ test digits", text), text
    assert "Finished: validation accuracy" in text, text
    assert "The learning rate is now" in text, text
    assert "[{'epoch': 0, 'batch': 1, 'learning_rate':" in text, text
    assert re.search(r"The model reads digit \d \(\d+% sure\); the label is \d\.", text), text
    assert "(0.01, 'finished', 'learning_rate 0.001, 0.01')" in text, text
    explained = re.search(r"c1, map 1, row 15, column 15: (-?[\d.]+) computed, (-?[\d.]+) in", text)
    assert explained and explained[1] == explained[2], text
    assert "(['c1', 'c3', 'f5', 'f6', 'probabilities'], 1)" in text, text
    assert "[(100, 'finished'), (300, 'finished'), (1000, 'finished')]" in text, text
