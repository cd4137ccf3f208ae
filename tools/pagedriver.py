"""Drive the dashboard page as a visitor would: serve it, open it in Chromium, act on it.

One home for the browser tests (``tests/browser``), the benchmarks (``bench/``) and the
screenshot script (``scripts/readme_screenshots.py``), so all three serve and load the page
the same way:

- ``VoilaServer``: standalone Voila serving one notebook (with ``voila.json``), on a loopback
  port, with its own runs folder;
- ``JupyterServer``: ``binder/start jupyter server``, the path Binder and JupyterHub take
  (``/voila/render/...`` through Voila's server extension);
- ``launch_chromium`` and ``open_dashboard``: the system Chromium, never a downloaded one;
- what a person does on the page: ``set_setting``, ``draw_stroke``, ``choose_file``,
  ``show_tab``.

It needs a source checkout (the notebooks and ``binder/`` sit beside the package) and
Playwright (a test dependency), which is imported only by the functions that use it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "dashboard.ipynb"
BINDER = ROOT / "binder"
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
# Pages opened side by side must all run at full speed, as each visitor's own tab would.
SIDE_BY_SIDE_FLAGS = [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
PAGE_TIMEOUT_MS = 90_000
RENDER_PATH = "voila/render/notebooks/dashboard.ipynb"
# Environment a Binder or JupyterHub session does not have; the test machine's is dropped.
_CONNECTION_FILE = re.compile(r"kernel-([0-9a-f-]+)\.json")
_NOT_IN_A_SESSION = ("DIGITWIDGETS_OFFLINE", "JUPYTER_CONFIG_PATH", "TF_NUM_INTRAOP_THREADS")


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Server:
    """A server process on a loopback port, with its log in a file under ``home``.

    What the server prints is read as it comes, by a thread of this process: each line goes
    to the log file and wakes whoever waits for the log (``wait_for_log``).
    """

    log_name = "server.log"

    def __init__(self, home: Path):
        self.home = Path(home)
        self.port = free_port()
        self.log_path = self.home / self.log_name
        self.process: subprocess.Popen | None = None
        self._copier: threading.Thread | None = None
        self._output = threading.Condition()
        self._printed = ""
        self._ended = False

    def _launch(self, command: list[str], env: dict, timeout: float, cwd: Path = ROOT) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._copier = threading.Thread(
            target=self._copy_output, args=(self.process.stdout, log), daemon=True
        )
        self._copier.name = f"{self.log_name} reader"
        self._copier.start()
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited early:\n{self.log()}")
            printed = len(self.log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                # A server says so when it listens: try again at its next line (or in 1 s).
                self._wait_for_output(printed, min(remaining, 1.0))
        self.stop()
        raise RuntimeError(f"{command[0]} did not listen within {timeout:.0f} s:\n{self.log()}")

    def _copy_output(self, stream, log) -> None:
        with stream, log:
            for line in stream:
                log.write(line)
                log.flush()
                with self._output:
                    self._printed += line.decode(errors="replace")
                    self._output.notify_all()
        with self._output:
            self._ended = True
            self._output.notify_all()

    def _wait_for_output(self, seen: int, timeout: float) -> None:
        with self._output:
            self._output.wait_for(lambda: len(self._printed) > seen or self._ended, timeout)

    def log(self) -> str:
        """What the server has printed so far."""
        with self._output:
            return self._printed

    def wait_for_log(self, pattern: str, timeout: float = 60.0) -> bool:
        """Wait until the server's log matches ``pattern``; False when it did not in time."""
        return self.wait_until(lambda log: re.search(pattern, log) is not None, timeout)

    def wait_until(self, condition, timeout: float = 60.0) -> bool:
        """Wait until ``condition(log)`` holds, asked again at each line the server prints.

        False when it did not within ``timeout`` seconds, or the server's output ended first.
        """
        with self._output:
            self._output.wait_for(lambda: self._ended or condition(self._printed), timeout)
            return bool(condition(self._printed))

    def kernels(self) -> dict:
        """The server's kernel processes now (``psutil.Process``), by kernel id.

        A kernel's command line names its connection file, ``kernel-<id>.json``.
        """
        import psutil

        found = {}
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                named = _CONNECTION_FILE.search(" ".join(child.cmdline()))
            except psutil.NoSuchProcess:
                continue
            if named:
                found[named.group(1)] = child
        return found

    def stop(self) -> None:
        """Stop the server, killing it if it does not end within a few seconds.

        Then ``log()`` holds all it printed (unless a process it left behind holds its output
        open: that is waited for 10 s at most).
        """
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._copier is not None:
            self._copier.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class VoilaServer(_Server):
    """Standalone Voila serving one notebook on a loopback port, with its own runs folder.

    It runs in the repository, whose ``voila.json`` configures it, unless ``cwd`` is another
    folder.
    """

    log_name = "voila.log"

    def __init__(self, notebook: Path, home: Path, *, extra_args=(), env=None, cwd: Path = ROOT):
        super().__init__(home)
        self.notebook = notebook
        self.cwd = Path(cwd)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.extra_args = list(extra_args)
        self.env = {
            **os.environ,
            "DIGITWIDGETS_RUNS": str(self.home / "runs"),
            "KERAS_HOME": str(self.home / "keras"),
            "DIGITWIDGETS_OFFLINE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            **(env or {}),
        }

    def start(self, timeout: float = 60.0) -> VoilaServer:
        """Start the server and wait until its port accepts connections."""
        voila = Path(sys.executable).with_name("voila")
        command = [
            str(voila),
            str(self.notebook),
            f"--port={self.port}",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            *self.extra_args,
        ]
        self._launch(command, self.env, timeout, self.cwd)
        return self


class JupyterServer(_Server):
    """``binder/start jupyter server`` on a loopback port with a token, as Binder launches it.

    ``env`` replaces the environment (a built Binder environment brings its own); by default
    it is this process's, less what a Binder session would not have, with the runs and Keras
    folders under ``home``. With ``binder=False`` it is a plain ``jupyter server``, which
    ``env`` alone configures, run in ``cwd``.
    """

    log_name = "jupyter-server.log"
    token = "digitwidgets-test-token"

    def __init__(
        self, home: Path, *, env: dict | None = None, binder: bool = True, cwd: Path = ROOT
    ):
        super().__init__(home)
        self.binder = binder
        self.cwd = Path(cwd)
        if env is None:
            env = {k: v for k, v in os.environ.items() if k not in _NOT_IN_A_SESSION}
            env.update(
                KERAS_HOME=str(self.home / "keras"),
                DIGITWIDGETS_RUNS=str(self.home / "runs"),
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            )
        self.env = env

    @property
    def url(self) -> str:
        """The dashboard through the server extension, with the token."""
        return f"http://127.0.0.1:{self.port}/{RENDER_PATH}?token={self.token}"

    def start(self, timeout: float = 120.0) -> JupyterServer:
        """Start the server and wait until its port accepts connections."""
        if self.binder:
            jupyter = [str(BINDER / "start"), "jupyter"]
        else:
            jupyter = [str(Path(sys.executable).with_name("jupyter"))]
        command = [
            *jupyter,
            "server",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={ROOT}",
            # Binder runs as jovyan; CI machines often run as root, which Jupyter refuses.
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ]
        self._launch(command, self.env, timeout, self.cwd)
        return self


def launch_chromium(playwright, *, side_by_side: bool = False):
    """The system Chromium, headless; ``side_by_side`` keeps background tabs at full speed."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"Chromium is not at {CHROMIUM}: install it (apt-get install chromium) or set "
            "DIGITWIDGETS_CHROMIUM."
        )
    flags = CHROMIUM_FLAGS + (SIDE_BY_SIDE_FLAGS if side_by_side else [])
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=flags, headless=True)


def new_context(browser, **options):
    """A new browser context whose waits allow a slow, busy machine ``PAGE_TIMEOUT_MS``.

    Playwright's own default (30 s) is shorter than a page takes to open while the other
    processor trains.
    """
    context = browser.new_context(**options)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    return context


def open_dashboard(browser, url: str, *, width: int = 1280, height: int = 1100):
    """Open the dashboard in a new browser context; wait until Train and the model are there."""
    page = new_context(browser, viewport={"width": width, "height": height}).new_page()
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


def kernel_id(page) -> str:
    """The id of the kernel behind a Voila page (``VoilaServer.kernels`` finds its process)."""
    return page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
    )


# What a person does on the page.


# What the kernel says back about the settings: the link that encodes them and the line
# that refuses a bad value. Either changes once the kernel has taken a value that was typed;
# None on a page without the link (nothing to wait on there).
_SETTINGS_SAID = """() => {
  const link = document.querySelector('.dw-settings-link');
  if (!link) { return null; }
  const refusal = document.querySelector('.dw-controls-message');
  return link.textContent + '|' + (link.querySelector('a') || {}).href + '|' +
    (refusal ? refusal.textContent : '');
}"""
_SETTINGS_CHANGED = f"before => ({_SETTINGS_SAID})() !== before"
SETTING_TIMEOUT_MS = 30_000
# What a setting's box shows now: a text box's value, a slider readout's text.
_SHOWN = "e => 'value' in e ? e.value : e.textContent"


def _field(page, css_class: str):
    """The text box of a setting (a slider's readout where it has no box)."""
    field = page.locator(f".{css_class} input").first
    return field if field.count() else page.locator(f".{css_class} .widget-readout").first


def set_setting(page, css_class: str, value) -> None:
    """Type ``value`` into the setting whose control has ``css_class`` ("dw-epochs", ...).

    Returns once the kernel has taken it: the settings link (or the refusal under the
    controls) has changed, unless the box showed ``value`` already.
    """
    field = _field(page, css_class)
    shown = field.evaluate(_SHOWN)
    before = page.evaluate(_SETTINGS_SAID)
    if page.locator(f".{css_class} input").count():
        field.fill(str(value))
        field.press("Enter")
    else:  # a slider: its readout takes typing
        field.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(value))
        page.keyboard.press("Enter")
    if before is not None and shown.strip() != str(value):
        page.wait_for_function(_SETTINGS_CHANGED, arg=before, timeout=SETTING_TIMEOUT_MS)


async def type_setting(page, css_class: str, value) -> None:
    """``set_setting`` for an async Playwright page."""
    field = page.locator(f".{css_class} input, .{css_class} .widget-readout").first
    shown = await field.evaluate(_SHOWN)
    before = await page.evaluate(_SETTINGS_SAID)
    await field.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.type(str(value))
    await page.keyboard.press("Enter")
    if before is not None and shown.strip() != str(value):
        await page.wait_for_function(_SETTINGS_CHANGED, arg=before, timeout=SETTING_TIMEOUT_MS)


def set_epochs(page, epochs: int) -> None:
    """Type a number of epochs into the epochs control."""
    set_setting(page, "dw-epochs", epochs)


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


def show_tab(page, title: str) -> None:
    """Open one of step 4's tabs (building step 4 first), if the page has tabs."""
    opener = page.locator("button.dw-open-details")
    if opener.count() and opener.first.is_visible():
        opener.first.click()
        page.wait_for_selector(".dw-tabs", state="visible")
    tab = page.locator(f".dw-tabs .lm-TabBar-tab:has-text('{title}')")
    if tab.count():
        tab.first.click()
        # Shown once it is the current tab (the tab bar marks it when its panel shows).
        page.locator(f".dw-tabs .lm-TabBar-tab.lm-mod-current:has-text('{title}')").first.wait_for(
            state="visible", timeout=SETTING_TIMEOUT_MS
        )
