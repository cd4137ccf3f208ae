"""Experiments with the learning rate in a real page: find one and use it; steer a run with it.

The page's Trainer cannot be held from the browser, so the steering test trains for many
epochs, steers as soon as the field is enabled, then stops the run itself: nothing depends
on how fast this machine trains.
"""

from __future__ import annotations

import base64
import csv
import io
import re

import pytest

from .conftest import open_dashboard, set_epochs
from .test_evaluate_compare_export import show_tab

TIMEOUT_MS = 120_000


@pytest.fixture
def page(browser, dashboard_server, artifacts, request):
    page = open_dashboard(browser, dashboard_server.url, height=1400)
    yield page
    page.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)
    page.context.close()


def test_find_a_learning_rate_and_use_it(page, artifacts):
    learning_rate = page.locator(".dw-learning-rate input")
    assert learning_rate.input_value() == "0.001"
    page.click("button.dw-lr-finder")
    apply = page.locator("button.dw-lr-suggestion")
    apply.wait_for(state="visible", timeout=TIMEOUT_MS)
    match = re.fullmatch(r"Use (\S+)", apply.inner_text().strip())
    assert match, apply.inner_text()
    suggested = float(match.group(1))
    assert 1e-6 <= suggested <= 1
    status = page.inner_text(".dw-lr-finder-status")
    assert f"Suggested learning rate {match.group(1)}" in status
    # The chart: a curve on a log axis, and the suggestion marked with its value.
    chart = page.locator(".dw-lr-finder-chart")
    assert chart.is_visible()
    labels = chart.locator("text").all_text_contents()
    assert match.group(1) in [label.strip() for label in labels]
    assert any(re.fullmatch(r"1e-0?6", label.strip()) for label in labels), labels
    page.locator(".dw-lr-finder-panel").screenshot(path=str(artifacts / "lr-finder.png"))

    apply.click()
    page.wait_for_function(
        "rate => Math.abs(parseFloat(document.querySelector('.dw-learning-rate input').value)"
        " - rate) < rate * 1e-6",
        arg=suggested,
    )
    assert page.locator("button.dw-train").is_enabled()


def _history_rows(page) -> list[dict]:
    href = page.locator(".dw-download-history a").get_attribute("href")
    assert href.startswith("data:text/csv;base64,")
    text = base64.b64decode(href.split(",", 1)[1]).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_change_the_learning_rate_mid_run(page, artifacts):
    set_epochs(page, 40)
    steer = page.locator(".dw-steer-lr input")
    assert steer.is_disabled()  # nothing trains yet
    page.click("button.dw-train")
    page.wait_for_function(
        "() => { const f = document.querySelector('.dw-steer-lr input');"
        " return f && !f.disabled; }",
        timeout=TIMEOUT_MS,
    )
    steer.fill("50")  # out of range: explained beside it, nothing changes
    steer.press("Enter")
    message = page.locator(".dw-steer-lr-message")
    page.wait_for_function(
        "() => /stays as it was/.test(document.querySelector('.dw-steer-lr-message').textContent)",
    )
    assert "learning_rate must be" in message.inner_text()
    steer.fill("0.0005")
    steer.press("Enter")
    page.wait_for_function(
        "() => /0.0005 from epoch \\d+, batch \\d+/.test("
        "document.querySelector('.dw-steer-lr-message').textContent)",
        timeout=TIMEOUT_MS,
    )
    changed = re.search(r"from epoch (\d+)", message.inner_text())
    changed_epoch = int(changed.group(1))  # 1-based, as the CSV counts epochs
    # The live chart marks the change with the new rate.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dw-chart text')]"
        ".some(t => t.textContent.trim() === 'rate 0.0005')",
    )
    page.locator(".dw-chart").screenshot(path=str(artifacts / "steered-chart.png"))
    # The epoch of the change ends before Stop: its row of the history has the new rate.
    page.wait_for_function(
        "epoch => new RegExp(`^Epoch ${epoch}/`).test("
        "document.querySelector('.dw-progress-text').textContent)",
        arg=changed_epoch + 1,
        timeout=TIMEOUT_MS,
    )
    page.click("button.dw-stop")
    page.wait_for_function(
        "() => /Stopped/.test(document.querySelector('.dw-status').textContent)",
        timeout=TIMEOUT_MS,
    )
    assert steer.is_disabled()

    show_tab(page, "Export")
    page.wait_for_selector(".dw-download-history a")
    rows = _history_rows(page)
    assert rows and "learning_rate" in rows[0]
    # The rate at each epoch's end: the first one before the change, the new one from it on.
    rates = {int(row["epoch"]): float(row["learning_rate"]) for row in rows}
    assert max(rates) >= changed_epoch
    assert rates == {
        epoch: 0.001 if epoch < changed_epoch else 0.0005 for epoch in range(1, max(rates) + 1)
    }
    show_tab(page, "Compare runs")
    row = page.locator(".dw-run-row").first
    row.wait_for(state="visible")
    assert "steered" in row.inner_text()
