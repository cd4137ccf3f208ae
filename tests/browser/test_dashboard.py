"""A person's way through the dashboard on one page of a real Voila server.

The tests share one page (one kernel), as a visitor would: set a hyperparameter, train and
watch the chart grow, stop, draw a digit, upload images. Each passes alone and in any order:
the one that needs the pretrained model opens a page of its own, and training and stopping
are one test. The run is held at epoch ends by the ``epoch_gate`` fixture, so Stop lands
mid-run on any machine.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from tests.support import CSS_HOOKS

from .conftest import choose_file, draw_stroke, open_dashboard, set_epochs


@pytest.fixture(scope="module")
def page(browser, dashboard_server, artifacts):
    """The dashboard, opened once for the whole module."""
    page = open_dashboard(browser, dashboard_server.url)
    yield page
    page.screenshot(path=str(artifacts / "dashboard-final.png"), full_page=True)
    page.context.close()


def chart_points(page) -> int:
    """How many points the chart's lines draw now (bqplot renders each line as an SVG path)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.dw-chart path.line')]
              .map(p => (p.getAttribute('d') || '').split(/[ML]/).length - 1)
              .reduce((a, b) => a + b, 0)"""
    )


def status_text(page) -> str:
    return page.inner_text(".dw-status").strip()


def prediction_text(page) -> str:
    return page.inner_text(".dw-prediction").strip()


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_page_shows_every_part(page, artifacts):
    for hook in CSS_HOOKS:
        assert page.locator(f".{hook}").count() >= 1, f"nothing on the page has class {hook}"
    body = page.inner_text("body")
    assert "Traceback" not in body and "Error" not in body
    # The data line names what the kernel trains on, as DataInfo.describe() words it.
    data_line = page.locator(".dw-data-info").inner_text()
    assert re.fullmatch(
        r"Training data: (Full MNIST|Offline sample of real MNIST): [\d,]+ training / "
        r"[\d,]+ test digits \(.+\)",
        data_line.strip(),
    ), data_line
    page.screenshot(path=str(artifacts / "dashboard-opened.png"), full_page=True)


@pytest.fixture
def new_page(browser, dashboard_server):
    """A page of its own (a kernel nobody trained in), closed after the test."""
    page = open_dashboard(browser, dashboard_server.url)
    yield page
    page.context.close()


def test_draw_before_any_training_and_read_it(new_page, artifacts):
    page = new_page
    assert "Pretrained" in page.inner_text(".dw-model-label")
    draw_stroke(page, [(0.25, 0.22), (0.75, 0.22), (0.6, 0.45), (0.45, 0.8)])
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() !== ''",
    )
    assert prediction_text(page) == "7"
    page.screenshot(path=str(artifacts / "dashboard-pretrained-seven.png"), full_page=True)
    page.click("button.dw-clear")
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() === ''"
    )


def test_set_hyperparameter_train_watch_the_chart_grow_and_stop(page, epoch_gate, artifacts):
    # The run waits at the end of each epoch the gate has not allowed yet: it cannot end
    # before Stop, however fast the machine, and the chart's growth is seen epoch by epoch.
    epoch_gate.allow(1)
    set_epochs(page, 30)
    assert page.locator("button.dw-stop").is_disabled()
    page.click("button.dw-train")
    page.wait_for_function("() => document.querySelector('button.dw-train').disabled")
    page.wait_for_function("() => !document.querySelector('button.dw-stop').disabled")
    page.wait_for_function(
        "() => /validation|val/i.test(document.querySelector('.dw-chart').textContent)"
        " && [...document.querySelectorAll('.dw-chart path.line')]"
        ".some(p => (p.getAttribute('d') || '').split('L').length > 2)",
    )
    assert "poch" in page.inner_text(".dw-progress") or "poch" in status_text(page)
    first = chart_points(page)
    epoch_gate.allow(2)
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('.dw-chart path.line')]
              .map(p => (p.getAttribute('d') || '').split(/[ML]/).length - 1)
              .reduce((a, b) => a + b, 0) > {first}""",
    )
    page.wait_for_function(
        "() => /Epoch [2-9]/.test(document.querySelector('.dw-progress').textContent)",
    )
    page.screenshot(path=str(artifacts / "dashboard-training.png"), full_page=True)
    # The run now waits at the end of epoch 2 of 30, with a model worth drawing for.
    page.click("button.dw-stop")
    page.wait_for_function(
        "() => /stopped/i.test(document.querySelector('.dw-status').textContent)",
    )
    assert not page.locator("button.dw-train").is_disabled()
    page.screenshot(path=str(artifacts / "dashboard-stopped.png"), full_page=True)


def test_draw_a_one_and_read_it(page, artifacts):
    page.click("button.dw-clear")
    draw_stroke(page, [(0.5, 0.15 + 0.07 * i) for i in range(11)])
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() !== ''",
    )
    assert prediction_text(page) == "1"
    page.screenshot(path=str(artifacts / "dashboard-drawn.png"), full_page=True)


def test_upload_an_image_and_read_it(page, digit_images, tmp_path, artifacts):
    page.click("button.dw-clear")
    seven = np.asarray(Image.fromarray(255 - digit_images[7]).resize((140, 140)))
    path = tmp_path / "seven.png"
    path.write_bytes(png_bytes(seven))
    choose_file(page, path)
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() === '7'",
    )
    page.screenshot(path=str(artifacts / "dashboard-uploaded.png"), full_page=True)


def test_upload_a_non_image_shows_an_error(page, tmp_path, artifacts):
    before = prediction_text(page)
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture")
    choose_file(page, path)
    page.wait_for_function(
        "() => /not .*image/i.test(document.querySelector('.dw-upload-message').textContent)",
    )
    assert prediction_text(page) == before
    page.screenshot(path=str(artifacts / "dashboard-bad-upload.png"), full_page=True)
