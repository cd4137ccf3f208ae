"""Clumsy visitors in a real browser: strange uploads, dots and frantic drawing, and a page
closed in the middle of training, whose run is then found saved as "interrupted".
"""

from __future__ import annotations

import io

import psutil
import pytest
from PIL import Image

from tests.support import png_declaring

from .conftest import (
    ROOT,
    VoilaServer,
    choose_file,
    draw_stroke,
    kernel_hooks_env,
    kernel_id,
    new_context,
    open_dashboard,
    set_epochs,
)
from .kernel_messages import KernelMessages
from .test_dashboard import prediction_text


@pytest.fixture(scope="module")
def page(browser, dashboard_server, artifacts):
    """One visitor's dashboard for the upload and drawing tests."""
    page = open_dashboard(browser, dashboard_server.url)
    yield page
    page.screenshot(path=str(artifacts / "reliability-final.png"), full_page=True)
    page.context.close()


def upload_message(page) -> str:
    return page.inner_text(".dw-upload-message").strip()


def wait_for_upload_message(page, pattern: str) -> None:
    page.wait_for_function(
        "(pattern) => new RegExp(pattern, 'i').test("
        "document.querySelector('.dw-upload-message').textContent)",
        arg=pattern,
    )


def test_a_seven_first_then_strange_files_keep_it(page, digit_images, tmp_path, artifacts):
    seven = Image.fromarray(255 - digit_images[7]).resize((140, 140))
    buffer = io.BytesIO()
    seven.save(buffer, format="PNG")
    (tmp_path / "seven.png").write_bytes(buffer.getvalue())
    choose_file(page, tmp_path / "seven.png")
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() === '7'",
    )
    for name, content, pattern in [
        ("notes.png", b"my shopping list, not a picture\n" * 10, "notes.png: .*not a PNG"),
        ("bomb.png", png_declaring(20_000, 20_000), "bomb.png: .*too many pixels"),
    ]:
        (tmp_path / name).write_bytes(content)
        choose_file(page, tmp_path / name)
        wait_for_upload_message(page, pattern)
        assert prediction_text(page) == "7", f"{name} changed the prediction"
        assert "Traceback" not in page.inner_text("body")
    page.screenshot(path=str(artifacts / "reliability-bomb.png"), full_page=True)


def test_a_blank_white_image_says_nothing_is_drawn(page, tmp_path, artifacts):
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(buffer, format="PNG")
    (tmp_path / "blank.png").write_bytes(buffer.getvalue())
    choose_file(page, tmp_path / "blank.png")
    wait_for_upload_message(page, "blank.png: .*nothing drawn")
    assert prediction_text(page) == ""
    page.screenshot(path=str(artifacts / "reliability-blank.png"), full_page=True)


def pad_message(page) -> str:
    return page.inner_text(".dw-pad-message").strip()


def test_a_single_click_leaves_a_dot_that_gets_an_answer(page):
    page.click("button.dw-clear")
    draw_stroke(page, [(0.5, 0.5)])
    page.wait_for_function(
        "() => /Looks like|Nothing/.test(document.querySelector('.dw-pad-message').textContent)",
    )
    assert "Traceback" not in page.inner_text("body")


def test_frantic_drawing_and_clearing_leaves_a_working_page(page, artifacts):
    for round_ in range(15):
        draw_stroke(page, [(0.1 + 0.05 * round_, 0.1), (0.9, 0.9), (0.1, 0.9), (0.9, 0.1)])
        page.click("button.dw-clear")
    # Strokes that leave the pad and come back.
    draw_stroke(page, [(0.5, 0.5), (1.6, 0.5), (-0.5, 1.5), (0.5, 0.6)])
    page.click("button.dw-clear")
    draw_stroke(page, [(0.5, 0.15 + 0.07 * i) for i in range(11)])
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() === '1'",
    )
    # The pad's message is another widget: its update may reach the page a moment later.
    page.wait_for_function(
        "() => document.querySelector('.dw-pad-message').textContent.trim()"
        ".startsWith('Looks like a 1')",
    )
    assert pad_message(page).startswith("Looks like a 1")
    page.screenshot(path=str(artifacts / "reliability-after-frantic-drawing.png"), full_page=True)


def interrupted_runs(runs_folder) -> list:
    """The runs saved as interrupted, read as the app reads them.

    Not a glob of ``*/run.json``: that also finds a run still being written in its hidden
    temporary folder, before the rename that makes it whole.
    """
    from digitwidgets.learning.runs import RunStore

    return [run for run in RunStore(runs_folder).list() if run.status == "interrupted"]


def test_closing_the_page_during_training_saves_an_interrupted_run(
    browser, dashboard_server, epoch_gate, artifacts
):
    runs_folder = dashboard_server.home / "runs"
    assert not interrupted_runs(runs_folder)
    epoch_gate.allow(2)  # the run waits at the end of epoch 2 of 40 until the kernel ends
    page = open_dashboard(browser, dashboard_server.url)
    set_epochs(page, 40)
    page.click("button.dw-train")
    page.wait_for_function(
        "() => /Epoch [2-9]/.test(document.querySelector('.dw-progress').textContent)",
        timeout=180_000,
    )
    page.screenshot(path=str(artifacts / "reliability-before-close.png"), full_page=True)
    kernel = dashboard_server.kernels()[kernel_id(page)]
    # As a person closing the tab: the page's beforeunload asks Voila to shut its kernel down
    # (Voila's navigator.sendBeacon). The browser stays open, as a person's does: closing the
    # context at once could drop the beacon before it left (a fresh-clone run lost it so, and
    # the kernel went on holding its run).
    context = page.context
    page.close(run_before_unload=True)
    try:
        # The kernel saves the run as it shuts down, before its process ends.
        _, running = psutil.wait_procs([kernel], timeout=90)
    finally:
        context.close()
    assert not running, f"the kernel did not end:\n{dashboard_server.log()[-3000:]}"
    runs = interrupted_runs(runs_folder)
    assert len(runs) == 1, f"no interrupted run was saved:\n{dashboard_server.log()[-3000:]}"
    record = runs[0]
    assert record.hyperparameters.epochs == 40
    assert len(record.history["val_accuracy"]) >= 1, "the history so far was not kept"
    assert record.message.startswith("Interrupted")
    assert "Kernel shutdown" in dashboard_server.log(), "the kernel was not shut down"
    assert (record.path / "model.keras").stat().st_size > 100_000


def save_an_interrupted_run(runs_folder) -> None:
    """An interrupted run as the Trainer saves one, so this test needs no other test first."""
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5
    from digitwidgets.learning.runs import RunStore

    hp = Hyperparameters(epochs=40)
    RunStore(runs_folder).save(
        run_id="20260101-000000-closed",
        model=build_lenet5(hp),
        hyperparameters=hp,
        history={"loss": [0.5], "accuracy": [0.8], "val_loss": [0.4], "val_accuracy": [0.85]},
        data={},
        started_at="2026-01-01T00:00:00+00:00",
        duration=12.0,
        status="interrupted",
        message="Interrupted: the app shut down.",
    )


def test_reopening_the_page_lists_the_interrupted_run(browser, dashboard_server, artifacts):
    runs_folder = dashboard_server.home / "runs"
    if not interrupted_runs(runs_folder):  # run alone, or after a failure of the test above
        save_an_interrupted_run(runs_folder)
    assert len(interrupted_runs(runs_folder)) == 1
    page = open_dashboard(browser, dashboard_server.url)
    try:
        page.click("button.dw-open-details")
        page.get_by_role("tab", name="Compare runs").click()
        row = page.locator(".dw-run-row", has_text="interrupted")
        try:
            row.first.wait_for(state="visible")
        finally:
            page.screenshot(path=str(artifacts / "reliability-reopened.png"), full_page=True)
        assert row.count() == 1
    finally:
        page.context.close()


def test_a_model_that_arrives_while_the_page_builds_its_widgets_is_shown(
    browser, tmp_path, chromium_path
):
    # A page asks its kernel for every widget's state at once, then builds the widgets; a
    # change sent in between used to be lost, and the page said "Loading the pretrained
    # LeNet-5" for good beside a loaded model (a benchmark's page in CI). A kernel hook
    # (kernel_hooks/) makes the model arrive exactly then, in a preheated kernel, as it does
    # for an early visitor.
    with KernelMessages() as ready:
        env = {
            **kernel_hooks_env(),
            "DIGITWIDGETS_LATE_MODEL_READY": str(ready.path),
            # The hook patches the module as a kernel imports it; a kernel forked from the
            # template (server/forking.py) finds it imported already.
            "DIGITWIDGETS_FORK_KERNELS": "0",
        }
        notebook = ROOT / "notebooks" / "dashboard.ipynb"
        with VoilaServer(notebook, tmp_path, env=env).start() as server:
            # The pool's kernel has run the notebook and holds its model: the visitor comes now.
            said = ready.wait_for(bool, 120)
            assert said, f"the preheated kernel never loaded its model:\n{server.log()}"
            context = new_context(browser, viewport={"width": 1280, "height": 1100})
            page = context.new_page()
            page.goto(server.url)
            page.wait_for_selector("button.dw-train:not([disabled])")
            page.wait_for_function(
                "() => /Pretrained LeNet-5/.test(document.querySelector('.dw-model-label')"
                ".textContent) && /Draw a digit/i.test("
                "document.querySelector('.dw-pad-message').textContent)",
            )
            context.close()
