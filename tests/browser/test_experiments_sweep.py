"""Sweeps and links with settings, in the real page.

A 3-value sweep of 1 epoch lists 3 runs and marks the best; a link with settings opens the
page with them, through a preheated kernel (standalone Voila with ``voila.json``), a kernel
started for the request (no pool) and the Jupyter server extension (``/voila/render/...``,
as on Binder); a bad link names what it ignored beside the controls. The servers train on
1,200 real digits of the embedded sample (``$DIGITWIDGETS_MNIST``) to keep each run short.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from .conftest import (
    PAGE_TIMEOUT_MS,
    ROOT,
    JupyterServer,
    VoilaServer,
    new_context,
    open_dashboard,
)

NOTEBOOK = ROOT / "notebooks" / "dashboard.ipynb"
SAMPLE = ROOT / "digitwidgets" / "assets" / "mnist_sample.npz"
SWEEP_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory) -> Path:
    """1,200 training and 300 test digits of the real sample, as an MNIST file."""
    path = tmp_path_factory.mktemp("mnist") / "mnist-small.npz"
    with np.load(SAMPLE) as data:
        np.savez(
            path,
            x_train=data["x_train"][:1200],
            y_train=data["y_train"][:1200],
            x_test=data["x_test"][:300],
            y_test=data["y_test"][:300],
        )
    return path


def _server(tmp_path_factory, small_mnist, name, extra_args=()):
    home = tmp_path_factory.mktemp(name)
    return VoilaServer(
        NOTEBOOK, home, extra_args=extra_args, env={"DIGITWIDGETS_MNIST": str(small_mnist)}
    ).start()


@pytest.fixture(scope="module")
def preheated_server(tmp_path_factory, small_mnist, chromium_path):
    """Voila as deployed: voila.json gives it a pool of one preheated kernel."""
    server = _server(tmp_path_factory, small_mnist, "voila-preheated")
    yield server
    server.stop()


def _select_value(page, css_class: str) -> str:
    return page.eval_on_selector(f".{css_class} select", "element => element.value")


def _input_value(page, css_class: str) -> str:
    return page.input_value(f".{css_class} input")


def _wait_for_select(page, css_class: str, value: str) -> None:
    page.wait_for_function(
        "([css, value]) => (document.querySelector(`.${css} select`) || {}).value === value",
        arg=[css_class, value],
        timeout=60_000,
    )


def test_a_link_opens_a_preheated_kernel_with_its_settings_and_a_sweep_marks_the_best(
    browser, preheated_server, artifacts
):
    server = preheated_server
    assert server.wait_for_log(r"Kernel pool .* is filled", 240), server.log()
    query = "optimizer=sgd&learning_rate=0.05&epochs=1&batch_size=32"
    page = open_dashboard(browser, f"{server.url}?{query}", height=1400)
    try:
        # The kernel ran the notebook before the request; the settings arrive after it.
        _wait_for_select(page, "dw-optimizer", "sgd")
        assert "Using pre-heated" in server.log()
        assert _input_value(page, "dw-learning-rate") == "0.05"
        assert _input_value(page, "dw-epochs") == "1"
        assert page.inner_text(".dw-link-message").strip() == ""
        href = page.eval_on_selector(".dw-share-link a", "a => a.href")
        assert href == f"{server.url}?{query}"

        page.click("button.dw-open-details")
        page.get_by_role("tab", name="Sweeps").click()
        values = page.locator(".dw-sweep-values input")
        values.fill("0.005, 0.05, 0.3")
        values.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('.dw-sweep-plan').textContent.includes('3 runs of 1')"
        )
        page.click("button.dw-sweep")
        page.wait_for_function(
            "() => /Run \\d of 3/.test(document.querySelector('.dw-sweep-progress').textContent)"
        )
        assert page.locator("button.dw-train").is_disabled()
        page.wait_for_function(
            "() => document.querySelector('.dw-sweep-progress').textContent"
            ".startsWith('All 3 runs done')",
            timeout=SWEEP_TIMEOUT_MS,
        )
        best = page.inner_text(".dw-sweep-best")
        assert best.startswith("Best: Learning rate "), best
        # The pad reads with the best run, and the model line says so.
        assert "the best of your sweep's 3 runs" in page.inner_text(".dw-model-label")
        page.locator(".dw-sweep-chart").scroll_into_view_if_needed()
        # The swept rates are the ticks, written as typed; no percent above 100.
        ticks = page.eval_on_selector_all(
            ".dw-sweep-chart .tick text", "els => els.map(e => e.textContent.trim())"
        )
        assert {"0.005", "0.05", "0.3"} <= set(ticks), ticks
        assert not any(t.endswith("%") and float(t[:-1]) > 100 for t in ticks), ticks
        page.screenshot(path=str(artifacts / "sweep-panel.png"), full_page=True)
        assert not page.locator("button.dw-train").is_disabled()

        page.get_by_role("tab", name="Compare runs").click()
        group = page.locator(".dw-sweep-group")
        assert group.count() == 1
        assert "learning_rate 0.005, 0.05, 0.3" in group.inner_text()
        assert "best: run" in group.inner_text()
        assert page.locator(".dw-sweep-run").count() == 3
        # The sweep's validation curves are overlaid: its three runs are ticked.
        assert page.locator(".dw-sweep-run input[type=checkbox]:checked").count() == 3
    finally:
        page.context.close()


def test_a_bad_link_names_what_it_ignored_in_a_kernel_started_for_it(
    browser, tmp_path_factory, small_mnist, artifacts
):
    server = _server(
        tmp_path_factory,
        small_mnist,
        "voila-no-pool",
        ["--VoilaConfiguration.preheat_kernel=False"],
    )
    try:
        page = open_dashboard(browser, f"{server.url}?learning_rate=50&colour=red&dropout=0.5")
        try:
            page.wait_for_function(
                "() => document.querySelector('.dw-link-message').textContent.includes('50')",
                timeout=60_000,
            )
            message = page.inner_text(".dw-link-message")
            assert "learning_rate=50" in message and "(0, 10]" in message
            assert "unknown setting 'colour'" in message
            assert _input_value(page, "dw-learning-rate") == "0.001"
            assert _input_value(page, "dw-dropout") == "0.5"
            assert "Using pre-heated" not in server.log()
            page.screenshot(path=str(artifacts / "bad-link.png"))
        finally:
            page.context.close()
    finally:
        server.stop()


def test_a_link_through_the_server_extension_opens_with_its_settings(
    browser, tmp_path_factory, small_mnist, chromium_path
):
    home = tmp_path_factory.mktemp("jupyter-server")
    env = {
        **os.environ,
        "DIGITWIDGETS_RUNS": str(home / "runs"),
        "KERAS_HOME": str(home / "keras"),
        "DIGITWIDGETS_OFFLINE": "1",
        "DIGITWIDGETS_MNIST": str(small_mnist),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JUPYTER_CONFIG_PATH": str(ROOT / "binder" / "jupyter-config"),
    }
    with JupyterServer(home, env=env, binder=False, cwd=home).start(timeout=60) as server:
        context = new_context(browser, viewport={"width": 1280, "height": 1100})
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS * 2)
        try:
            page.goto(f"{server.url}&optimizer=rmsprop&epochs=2")
            page.wait_for_selector("button.dw-train", state="visible")
            _wait_for_select(page, "dw-optimizer", "rmsprop")
            assert _input_value(page, "dw-epochs") == "2"
            # Voila's token is the server's, not a setting: nothing is reported.
            assert page.inner_text(".dw-link-message").strip() == ""
            href = page.eval_on_selector(".dw-share-link a", "a => a.href")
            assert href.endswith(
                "/voila/render/notebooks/dashboard.ipynb?optimizer=rmsprop&epochs=2"
            )
        finally:
            context.close()
