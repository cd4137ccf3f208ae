"""Evaluate a run, see a cell's digits, compare two runs, download and delete, in a real page.

The page is the dashboard, where these components sit in the tabs of step 4;
``EVALUATION_NOTEBOOK`` can point at ``notebooks/evaluation.ipynb`` next to this file instead
(the components alone, trained on 1,500 digits): the test only uses the components' ``dw-*``
classes and the tab titles. The tests share one page (its training is the slow part): in
file order each finds what the one before it made, and each alone or in another order first
trains what it needs (``with_runs``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import ROOT, VoilaServer, axe_violations, open_dashboard, set_epochs, show_tab

NOTEBOOK = Path(os.environ.get("EVALUATION_NOTEBOOK", ROOT / "notebooks" / "dashboard.ipynb"))
RUN_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_path):
    server = VoilaServer(ROOT / NOTEBOOK, tmp_path_factory.mktemp("voila-evaluation"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(browser, server, artifacts):
    page = open_dashboard(browser, server.url, height=1800)
    yield page
    page.screenshot(path=str(artifacts / "evaluate-compare-export-final.png"), full_page=True)
    page.context.close()


# The model line names the run whose model is in use: "... your run <id> (finished)".
MODEL_RUN = r"your run (\S+) \((?:finished|stopped)\)"


def model_run(page) -> str | None:
    """The id of the run whose model the page uses now, or None (the pretrained model)."""
    found = re.search(MODEL_RUN, page.inner_text(".dw-model-label"))
    return found.group(1) if found else None


def train_and_wait(page) -> None:
    """Click Train and wait until the run is saved and its model is in use."""
    before = model_run(page)
    page.click("button.dw-train")
    page.wait_for_function(
        "([pattern, before]) => {"
        "  const found = new RegExp(pattern).exec("
        "    document.querySelector('.dw-model-label').textContent);"
        "  return found !== null && found[1] !== before; }",
        arg=[MODEL_RUN, before],
        timeout=RUN_TIMEOUT_MS,
    )


def with_runs(page, count: int) -> None:
    """Train one-epoch runs until the page lists ``count`` (the first with Adam, then SGD)."""
    show_tab(page, "Compare runs")  # builds step 4, where the runs are listed
    while (listed := page.locator(".dw-run-row").count()) < count:
        set_epochs(page, 1)
        # The kernel takes the choice before the click: both go down one websocket, in order.
        page.select_option(".dw-optimizer select", "adam" if listed == 0 else "sgd")
        train_and_wait(page)
        # The table on show lists the saved run (a closed tab lists it once opened).
        page.wait_for_function(
            "n => document.querySelectorAll('.dw-run-row').length > n",
            arg=listed,
            timeout=RUN_TIMEOUT_MS,
        )


def evaluated(page) -> None:
    """Show the Evaluate tab and wait for the test accuracy of the model in use.

    The status names the run it evaluated: the previous model's "Test accuracy" can still
    be there before the new evaluation starts.
    """
    show_tab(page, "Evaluate")
    run = model_run(page)
    pattern = f"Test accuracy .* · run {re.escape(run)} ·" if run else "^Test accuracy"
    page.wait_for_function(
        "pattern => new RegExp(pattern).test("
        "document.querySelector('.dw-evaluation-status').innerText)",
        arg=pattern,
        timeout=RUN_TIMEOUT_MS,
    )


def tick_every_run_until_overlaid(page, curves: int, timeout_s: float = 60) -> None:
    """Tick every run's box until the overlay draws ``curves`` curves.

    The table is rebuilt when a run's last news arrives; a tick that lands on a row just being
    replaced is lost, and a person would see the box empty and tick it again.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        for checkbox in page.locator(".dw-run-row input[type=checkbox]").all():
            if not checkbox.is_checked():
                checkbox.click()  # not check(): that fails when the row is replaced meanwhile
        try:
            page.wait_for_function(
                "n => document.querySelectorAll("
                "'.dw-compare-legend .dw-compare-curve').length === n",
                arg=curves,
                timeout=5_000,
            )
            return
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise


def test_train_then_the_confusion_matrix_appears(page, artifacts):
    show_tab(page, "Evaluate")
    set_epochs(page, 1)
    page.select_option(".dw-optimizer select", "adam")
    train_and_wait(page)
    evaluated(page)
    counts = page.eval_on_selector_all(
        ".dw-confusion text.label", "els => els.map(e => Number(e.textContent))"
    )
    assert len(counts) == 100 and sum(counts) == 1500
    # One cell per digit (cells that wrap on a phone), each "n of m" on hover.
    assert page.locator(".dw-class-accuracy div[title*=' of ']").count() == 10
    page.locator(".dw-evaluation").screenshot(path=str(artifacts / "evaluation.png"))


def test_click_an_off_diagonal_cell_and_see_its_digits(page, artifacts):
    with_runs(page, 1)
    evaluated(page)
    counts = page.eval_on_selector_all(
        ".dw-confusion text.label", "els => els.map(e => Number(e.textContent))"
    )
    off_diagonal = [k for k, count in enumerate(counts) if k // 10 != k % 10 and count]
    assert off_diagonal, "a model trained for one epoch on 1,500 digits makes mistakes"
    cell = max(off_diagonal, key=lambda k: counts[k])
    page.locator(".dw-confusion rect.heatmapcell").nth(cell).click()
    expected = min(counts[cell], 48)
    page.wait_for_function(
        "n => document.querySelectorAll('.dw-gallery-item').length === n", arg=expected
    )
    title = page.inner_text(".dw-gallery-title")
    match = re.search(r"(\d+) test digits? (\d) read as (\d)", title)
    assert match, title
    total, true, predicted = (int(group) for group in match.groups())
    assert total == counts[cell] and true != predicted
    captions = page.eval_on_selector_all(
        ".dw-gallery-item button", "els => els.map(e => e.innerText.trim())"
    )
    assert len(captions) == expected
    assert all(caption.startswith(f"{true}→{predicted} ") for caption in captions)
    assert page.locator(".dw-gallery-item img").count() == expected
    page.locator(".dw-evaluation").screenshot(path=str(artifacts / "evaluation-gallery.png"))

    page.locator(".dw-gallery-item button").first.click()
    # Read beside the gallery, where the visitor clicked, as a test digit: step 3 keeps
    # the visitor's own drawing (none here).
    picked = page.locator(".dw-evaluation .dw-picked-digit")
    picked.wait_for(state="visible")
    assert f"really a {true}, misread as {predicted}" in picked.inner_text()
    assert page.inner_text(".dw-prediction").strip() == ""


def test_second_run_then_overlay_both(page, artifacts):
    with_runs(page, 2)
    show_tab(page, "Compare runs")
    rows = page.locator(".dw-run-row").count()  # 2, unless another test trained more first
    tick_every_run_until_overlaid(page, rows)
    legend = page.eval_on_selector_all(
        ".dw-compare-legend .dw-compare-label", "els => els.map(e => e.textContent.trim())"
    )
    assert len(legend) == rows and len(set(legend)) == rows, legend
    assert any(label.startswith("sgd") for label in legend), legend
    assert any(label.startswith("adam") for label in legend)
    # Each row's box and buttons say which run they are for (the row's text shows it).
    assert page.get_by_role("checkbox", name="Compare the run of").count() == rows
    assert axe_violations(page, within=".dw-runs") == []
    page.locator(".dw-runs").screenshot(path=str(artifacts / "run-comparison.png"))


def test_download_the_model_and_load_it_back(page, tmp_path, digit_images):
    import keras
    import numpy as np

    with_runs(page, 1)
    show_tab(page, "Export")
    link = page.locator(".dw-download-model a")
    assert link.get_attribute("href").startswith("data:")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".keras")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    model = keras.models.load_model(path)
    x = np.stack(list(digit_images.values())).astype("float32") / 255.0
    assert np.asarray(model(x)).shape == (10, 10)

    with page.expect_download() as history_info:
        page.locator(".dw-download-history a").click()
    history = tmp_path / "history.csv"
    history_info.value.save_as(history)
    assert history.read_text().splitlines()[0] == (
        "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate"
    )


def test_delete_a_run_after_confirming(page):
    with_runs(page, 2)
    show_tab(page, "Compare runs")
    rows = page.locator(".dw-run-row").count()
    tick_every_run_until_overlaid(page, rows)
    page.locator(".dw-run-row .dw-delete-run").first.click()
    confirm = page.locator("button.dw-confirm-delete")
    confirm.wait_for(state="visible")
    assert confirm.inner_text().startswith("Really delete run")
    assert page.locator(".dw-run-row").count() == rows
    confirm.click()
    page.wait_for_function(
        "n => document.querySelectorAll('.dw-run-row').length === n", arg=rows - 1
    )
    page.wait_for_function(
        "n => document.querySelectorAll('.dw-compare-legend .dw-compare-curve').length === n",
        arg=rows - 1,
    )
    assert page.locator(".dw-download-model a").count() == 0
