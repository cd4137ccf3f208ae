"""Nothing a library prints reaches the visitor's page, whatever happened to the data.

Three servers, as three machines would be: offline, with a download that fails (a local server
answering 500, counting how often it is asked), and with a damaged Keras cache. Each page must
show no output stream at all (Voila renders a kernel's stdout and stderr into the page), and
the failing download is tried once per machine, not once per visitor.
"""

from __future__ import annotations

import http.server
import threading

import pytest

from .conftest import ROOT, VoilaServer, open_dashboard

pytestmark = pytest.mark.browser

STREAMS = (
    "() => [...document.querySelectorAll("
    '\'[data-mime-type*="stdout"], [data-mime-type*="stderr"]\')].map(e => e.textContent)'
)
NOISE = ("Downloading", "WARNING", "Warning", "Traceback", "oneDNN", "absl", "tensorflow")


class RefusingServer(http.server.ThreadingHTTPServer):
    """A mirror that answers every request with 500 and counts them."""

    def __init__(self):
        self.hits = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                server.hits += 1
                self.send_error(500, "no MNIST here")

            def log_message(self, format, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def visit_and_assert_quiet(browser, server) -> None:
    """A new visitor opens the page; it must show no output and no library's words."""
    page = open_dashboard(browser, server.url)
    try:
        assert_quiet(page)
    finally:
        page.context.close()


def assert_quiet(page) -> None:
    assert page.evaluate(STREAMS) == []
    body = page.inner_text("body")
    for word in NOISE:
        assert word not in body, f"{word!r} on the page"
    assert "sample" in page.inner_text(".dw-data-info").lower()


def serve(tmp_path, name: str, env: dict) -> VoilaServer:
    notebook = ROOT / "notebooks" / "dashboard.ipynb"
    # Preheating off: each page load starts its kernel, as each new visitor's does.
    extra = ["--VoilaConfiguration.preheat_kernel=False"]
    return VoilaServer(notebook, tmp_path / name, extra_args=extra, env=env).start()


def test_offline_page_is_quiet(browser, tmp_path):
    server = serve(tmp_path, "offline", {"DIGITWIDGETS_OFFLINE": "1"})
    try:
        visit_and_assert_quiet(browser, server)
    finally:
        server.stop()


def test_a_failing_download_is_quiet_and_tried_once_per_machine(browser, tmp_path):
    mirror = RefusingServer()
    url = f"http://127.0.0.1:{mirror.server_port}/mnist.npz"
    server = serve(tmp_path, "failing", {"DIGITWIDGETS_OFFLINE": "", "DIGITWIDGETS_MNIST_URL": url})
    try:
        for _visitor in range(2):
            visit_and_assert_quiet(browser, server)
        assert mirror.hits == 1
        marker = tmp_path / "failing" / "keras" / "datasets" / "mnist.npz.download-failed"
        assert marker.exists()
    finally:
        server.stop()
        mirror.shutdown()
        mirror.server_close()


def test_a_damaged_cache_is_quiet(browser, tmp_path):
    cache = tmp_path / "damaged" / "keras" / "datasets" / "mnist.npz"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"not an archive" * 100)
    server = serve(tmp_path, "damaged", {"DIGITWIDGETS_OFFLINE": "1"})
    try:
        visit_and_assert_quiet(browser, server)
    finally:
        server.stop()
