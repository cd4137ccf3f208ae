"""Browser tests: a real Voila server started by the tests, driven by the system Chromium.

Chromium is never downloaded: Playwright drives the Debian build at ``/usr/bin/chromium``
(or ``$DIGITWIDGETS_CHROMIUM``). A missing browser fails the tests loudly; they are left out
only when ``DIGITWIDGETS_SKIP_BROWSER=1`` says so (``python3 tasks.py test --no-browser``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.pagedriver import (  # noqa: F401  (the tests import these from here)
    CHROMIUM,
    CHROMIUM_FLAGS,
    PAGE_TIMEOUT_MS,
    ROOT,
    JupyterServer,
    VoilaServer,
    choose_file,
    draw_stroke,
    free_port,
    kernel_id,
    launch_chromium,
    new_context,
    open_dashboard,
    set_epochs,
    set_setting,
    show_tab,
)

ARTIFACTS = ROOT / "test-artifacts"


def pytest_collection_modifyitems(items):
    """Mark every test in this folder as a browser test."""
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


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
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (kept after the run, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


KERNEL_HOOKS = Path(__file__).with_name("kernel_hooks")


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory, chromium_path):
    """A Voila server for the dashboard notebook, one per test module, whose kernels' runs
    the ``epoch_gate`` fixture can hold (``kernel_hooks/sitecustomize.py``)."""
    home = tmp_path_factory.mktemp("voila")
    server = VoilaServer(ROOT / "notebooks" / "dashboard.ipynb", home, env=gated_env(home))
    server.start()
    yield server
    server.stop()


def gated_env(home: Path) -> dict:
    """A server environment whose kernels' runs an ``EpochGate`` on ``home`` can hold."""
    return {**kernel_hooks_env(), "DIGITWIDGETS_EPOCH_GATE": str(home / "epoch-gate")}


def kernel_hooks_env() -> dict:
    """A server environment whose kernels load ``kernel_hooks/``; its variables pick the hooks."""
    path = os.pathsep.join(filter(None, [str(KERNEL_HOOKS), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path}


class EpochGate:
    """How many epochs a run on a server with ``gated_env`` may finish before it waits (Stop
    ends it)."""

    def __init__(self, server: VoilaServer):
        self.path = Path(server.env["DIGITWIDGETS_EPOCH_GATE"])

    def allow(self, epochs: int) -> None:
        """Let runs go on to the end of epoch ``epochs`` (counting from 1) and wait there."""
        self.path.write_text(str(epochs))

    def open(self) -> None:
        """Let runs go on freely."""
        self.path.unlink(missing_ok=True)


@pytest.fixture
def epoch_gate(dashboard_server):
    """The gate of this module's server, opened again after the test."""
    gate = EpochGate(dashboard_server)
    yield gate
    gate.open()


def axe_violations(page, within: str | None = None) -> list[str]:
    """axe-core's violations on the page as it is now (or in the elements ``within`` selects),
    one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=within)
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes'][:5]]}"
        for v in results.response["violations"]
    ]
