"""Browser tests: a real Voila server started by the tests, driven by the system Chromium.

Chromium is never downloaded: Playwright drives the Debian build at ``/usr/bin/chromium``
(or ``$DIGITWIDGETS_CHROMIUM``). A missing browser fails the tests loudly; they are left out
only when ``DIGITWIDGETS_SKIP_BROWSER=1`` says so (``python3 tasks.py test --no-browser``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("DIGITWIDGETS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PAGE_TIMEOUT_MS = 90_000


def pytest_collection_modifyitems(items):
    """Mark every test in this folder as a browser test."""
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class VoilaServer:
    """A Voila process serving one notebook on a loopback port, with its own runs folder."""

    def __init__(self, notebook: Path, home: Path, *, extra_args=(), env=None):
        self.notebook = notebook
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = home / "voila.log"
        self.extra_args = list(extra_args)
        self.env = {
            **os.environ,
            "DIGITWIDGETS_RUNS": str(home / "runs"),
            "KERAS_HOME": str(home / "keras"),
            "DIGITWIDGETS_OFFLINE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            **(env or {}),
        }
        self.process = None

    def start(self, timeout: float = 60.0) -> VoilaServer:
        """Start the server and wait until its port accepts connections."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        voila = Path(sys.executable).with_name("voila")
        self.process = subprocess.Popen(
            [
                str(voila),
                str(self.notebook),
                f"--port={self.port}",
                "--no-browser",
                "--Voila.ip=127.0.0.1",
                *self.extra_args,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Voila exited early:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"Voila did not listen within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        """What the server has printed so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float = 60.0) -> bool:
        """Wait until the server's log matches ``pattern``; False when it did not in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()):
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Stop the server, killing it if it does not end within a few seconds."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """The system Chromium; the browser tests fail loudly without it."""
    if os.environ.get("DIGITWIDGETS_SKIP_BROWSER") == "1":
        pytest.skip("browser tests left out on purpose (DIGITWIDGETS_SKIP_BROWSER=1)")
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: install it (apt-get install chromium) or set "
            "DIGITWIDGETS_CHROMIUM; 'python3 tasks.py test' installs it when run as root."
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (kept after the run, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory, chromium_path):
    """A Voila server for the dashboard notebook, one per test module."""
    server = VoilaServer(ROOT / "notebooks" / "dashboard.ipynb", tmp_path_factory.mktemp("voila"))
    server.start()
    yield server
    server.stop()


def open_dashboard(browser, url: str, *, width: int = 1280, height: int = 1100):
    """Open the dashboard in a new browser context and wait until Train is on the page."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector(".dw-train button, button.dw-train", state="visible")
    # The page is usable at once and the pretrained model arrives seconds later (it loads in
    # the background): a person reading the model line waits for it, and so do the tests.
    page.wait_for_function(
        "() => !/Loading the pretrained/.test("
        "(document.querySelector('.dw-model-label') || {}).textContent || '')",
        timeout=PAGE_TIMEOUT_MS,
    )
    return page


# What a person does on the page, shared by the browser tests.


def set_epochs(page, epochs: int) -> None:
    """Type a number of epochs into the epochs control (a text field or a slider's readout)."""
    field = page.locator(".dw-epochs input").first
    if field.count():
        field.fill(str(epochs))
        field.press("Enter")
    else:
        page.locator(".dw-epochs .widget-readout").first.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(epochs))
        page.keyboard.press("Enter")
    page.wait_for_timeout(300)


def draw_stroke(page, points) -> None:
    """Drag the mouse through ``points`` given in pad coordinates (0..1 of its size)."""
    canvas = page.locator("canvas.dw-pad, .dw-pad canvas").first
    canvas.scroll_into_view_if_needed()  # the mouse only reaches what is in the viewport
    box = canvas.bounding_box()
    x0, y0 = points[0]
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=3)
    page.mouse.up()


def choose_file(page, path) -> None:
    """Click the upload button and pick a file in the chooser, as a person would."""
    with page.expect_file_chooser() as chooser:
        page.click(".dw-upload")
    chooser.value.set_files(str(path))
