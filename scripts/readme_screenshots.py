"""Take the README's screenshots from a real Voila server and the system Chromium.

Run from the repository root with the project's environment (``python3 tasks.py test`` or
``app`` makes it)::

    .venv/bin/python scripts/readme_screenshots.py

It serves the dashboard on a free loopback port with a throw-away runs folder, trains two
short runs (SGD, then Adam), draws a digit, opens step 4, sweeps the learning rate and writes
PNGs into ``docs/images/``; ``phone.png`` is the page at a phone's 390 px with a 7 drawn.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tools.pagedriver import (
    ROOT,
    VoilaServer,
    draw_stroke,
    launch_chromium,
    set_epochs,
    show_tab,
)

IMAGES = ROOT / "docs" / "images"
SEVEN = [(0.25, 0.22), (0.75, 0.22), (0.6, 0.45), (0.45, 0.8)]


def train(page, epochs: int) -> None:
    """Train a run of ``epochs`` and wait until the status says it finished."""
    set_epochs(page, epochs)
    page.click("button.dw-train")
    page.wait_for_function("() => document.querySelector('button.dw-train').disabled")
    page.wait_for_function(
        "() => !document.querySelector('button.dw-train').disabled"
        " && /Finished/.test(document.querySelector('.dw-status').textContent)",
        timeout=300_000,
    )


def main() -> None:
    """Serve, act as a visitor, and save the screenshots."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="dw-screens-"))
    server = VoilaServer(ROOT / "notebooks" / "dashboard.ipynb", home).start()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.set_default_timeout(120_000)
            page.goto(server.url)
            page.wait_for_selector("button.dw-train", state="visible")
            page.select_option(".dw-optimizer select", "sgd")
            train(page, 8)
            page.select_option(".dw-optimizer select", "adam")
            train(page, 8)
            draw_stroke(page, SEVEN)
            page.wait_for_function(
                "() => document.querySelector('.dw-prediction').textContent.trim() !== ''"
            )
            page.wait_for_timeout(1000)
            page.screenshot(path=str(IMAGES / "dashboard.png"), clip=_clip(page, 1280, 1160))
            show_tab(page, "Evaluate")
            page.wait_for_function(
                "() => /Test accuracy/.test(document.querySelector('.dw-evaluation-status')"
                ".innerText)"
            )
            counts = page.eval_on_selector_all(
                ".dw-confusion text.label", "els => els.map(e => Number(e.textContent))"
            )
            worst = max((k for k in range(100) if k // 10 != k % 10), key=lambda k: counts[k])
            page.locator(".dw-confusion rect.heatmapcell").nth(worst).click()
            page.wait_for_timeout(1500)
            page.locator(".dw-details").screenshot(path=str(IMAGES / "evaluation.png"))
            show_tab(page, "Compare runs")
            for checkbox in page.locator(".dw-run-row input[type=checkbox]").all():
                checkbox.check()
            page.wait_for_timeout(1500)
            page.locator(".dw-details").screenshot(path=str(IMAGES / "compare-runs.png"))
            sweep_screenshot(page)
            phone_screenshot(browser, server.url)
            browser.close()
    finally:
        server.stop()
    print(f"wrote {', '.join(sorted(p.name for p in IMAGES.glob('*.png')))} in {IMAGES}")


def sweep_screenshot(page) -> None:
    """Sweep the learning rate over three values (2 epochs each) and save the Sweeps tab."""
    set_epochs(page, 2)
    show_tab(page, "Sweeps")
    page.select_option(".dw-sweep-setting select", label="Learning rate")
    values = page.locator(".dw-sweep-values input")
    values.fill("0.0003, 0.003, 0.03")
    values.press("Enter")
    page.click("button.dw-sweep")
    page.wait_for_function(
        "() => /^All 3 runs done/.test(document.querySelector('.dw-sweep-progress').textContent)",
        timeout=600_000,
    )
    page.wait_for_timeout(1500)
    page.locator(".dw-details").screenshot(path=str(IMAGES / "sweep.png"))


def phone_screenshot(browser, url: str) -> None:
    """The page on a 390 px touch screen: the model line, the pad with a 7 and its reading."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    page.wait_for_selector("button.dw-train", state="visible")
    page.wait_for_function(
        "() => !/Loading the pretrained/.test("
        "(document.querySelector('.dw-model-label') || {}).textContent || '')"
    )
    draw_stroke(page, SEVEN)
    page.wait_for_function(
        "() => document.querySelector('.dw-prediction').textContent.trim() !== ''"
    )
    page.evaluate("() => document.querySelector('.dw-model-label').scrollIntoView()")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(IMAGES / "phone.png"))
    context.close()


def _clip(page, width: int, height: int) -> dict:
    return {"x": 0, "y": 0, "width": width, "height": height}


if __name__ == "__main__":
    main()
