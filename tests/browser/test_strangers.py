"""A stranger on the public page: no notebook source, no tracebacks, no files outside what the
page needs, and no way to run code through the kernel's websocket.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from html import unescape

import pytest

from .conftest import ROOT, VoilaServer, new_context

NOTEBOOKS = ROOT / "tests" / "browser" / "notebooks"


def fetch(url: str) -> tuple[int, str]:
    """Status and body of a GET, without raising for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory, chromium_path):
    """Voila, with the app's voila.json, serving a notebook whose last cell raises."""
    server = VoilaServer(NOTEBOOKS / "failing.ipynb", tmp_path_factory.mktemp("failing"))
    server.start()
    yield server
    server.stop()


def test_the_dashboard_page_holds_no_notebook_source(dashboard_server):
    status, html = fetch(dashboard_server.url)
    assert status == 200
    # What the page must hold: the dashboard's widget, as the last cell's output.
    view = r'"application/vnd\.jupyter\.widget-view\+json": \{"model_id": "[0-9a-f]{32}"'
    assert len(re.findall(view, html)) == 1, "the dashboard's widget is not on the page"
    assert '"text/plain": "Dashboard(' in html
    # What it must not: any line of the notebook's code, or a cell's input area.
    cells = json.loads((ROOT / "notebooks" / "dashboard.ipynb").read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    lines = [line.strip() for cell in code for line in "".join(cell["source"]).splitlines()]
    # A line that is a bare name ("dashboard") is a word the page may well use.
    statements = [line for line in lines if line and not line.isidentifier()]
    assert len(statements) >= 3
    # Shown source is highlighted: words in spans, quotes escaped. Read the page's text.
    text = unescape(re.sub(r"<[^>]+>", "", html))
    for line in statements:
        assert line not in text, f"the page shows the source line {line!r}"
    rendered = re.findall(r'class="jp-Cell jp-CodeCell[^"]*"', html)
    assert len(rendered) == len(code) and all("jp-mod-noInput" in cell for cell in rendered)
    assert 'class="jp-InputArea' not in html and "jp-InputPrompt" not in html


def test_a_failing_cell_shows_no_source_and_no_traceback(failing_server, browser, artifacts):
    status, html = fetch(failing_server.url)
    assert status == 200
    assert "visible-output-of-cell-two" in html, "the notebook did not run"
    for secret in ("the-source-of-this-cell-is-private", "SECRET_SOURCE", "internal-detail"):
        assert secret not in html
    assert "Traceback" not in html and "RuntimeError" not in html
    page = browser.new_page()
    try:
        page.goto(failing_server.url)
        page.wait_for_selector("text=visible-output-of-cell-two", timeout=60_000)
        text = page.inner_text("body")
        assert "internal-detail" not in text and "RuntimeError" not in text
        assert "SECRET_SOURCE" not in text
        page.screenshot(path=str(artifacts / "strangers-failing-cell.png"), full_page=True)
    finally:
        page.close()


@pytest.mark.parametrize(
    "path",
    [
        "voila/files/voila.json",
        "voila/files/notebooks/dashboard.ipynb",
        "voila/files/digitwidgets/learning/runs.py",
        "voila/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "voila/render/notebooks/dashboard.ipynb",
        "api/contents/notebooks/dashboard.ipynb",
        "api/kernels",
        "api/sessions",
        "api/kernelspecs",
        "api/terminals",
        "tree",
    ],
)
def test_no_file_or_api_beyond_the_page(dashboard_server, path):
    status, body = fetch(dashboard_server.url + path)
    assert status in (403, 404, 405), f"{path} answered {status}: {body[:200]}"
    assert "from digitwidgets" not in body and "root:" not in body


SEND_ON_A_NEW_SOCKET = """
async ([url, code]) => {
  const socket = new WebSocket(url);
  await new Promise((opened, failed) => { socket.onopen = opened; socket.onerror = failed; });
  const received = [];
  socket.onmessage = (event) => {
    try {
      const message = JSON.parse(event.data);
      received.push((message.header || {}).msg_type || message.msg_type);
    } catch (error) {
      received.push('binary');
    }
  };
  const send = (type, content) => socket.send(JSON.stringify({
    header: {msg_id: crypto.randomUUID(), msg_type: type, username: 'visitor',
             session: 'visitor', date: new Date().toISOString(), version: '5.3'},
    parent_header: {}, metadata: {}, content, channel: 'shell', buffers: []}));
  send('execute_request', {code, silent: false, store_history: true,
                           user_expressions: {}, allow_stdin: false, stop_on_error: true});
  await new Promise((done) => setTimeout(done, 4000));
  send('kernel_info_request', {});
  await new Promise((done) => setTimeout(done, 4000));
  socket.close();
  return received;
}
"""


def test_a_visitor_cannot_execute_code_through_the_kernel_websocket(
    browser, dashboard_server, tmp_path
):
    context = new_context(browser)
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(dashboard_server.url)
    page.wait_for_selector("button.dw-train", state="visible", timeout=90_000)
    channels = [url for url in sockets if "/api/kernels/" in url and "/channels" in url]
    assert channels, f"the page opened no kernel websocket: {sockets}"
    kernel_id = channels[0].split("/api/kernels/")[1].split("/")[0]
    url = f"{dashboard_server.url.replace('http', 'ws', 1)}api/kernels/{kernel_id}/channels"
    url += f"?session_id={uuid.uuid4()}"
    marker = tmp_path / "visitor-was-here"
    code = f"open({str(marker)!r}, 'w').write('ran'); print('VISITOR-CODE-RAN')"
    try:
        received = page.evaluate(SEND_ON_A_NEW_SOCKET, [url, code])
        # The socket works (the kernel answers what widgets need), but code never runs.
        assert "kernel_info_reply" in received, received
        assert "execute_reply" not in received and "execute_input" not in received
        assert "stream" not in received and "execute_result" not in received
        assert not marker.exists(), "the visitor's code ran on the server"
        assert "execute_request" in dashboard_server.log()
        assert "not allowed" in dashboard_server.log()
        # The page is still the page: its own kernel was not harmed.
        assert page.locator("button.dw-train").is_enabled()
    finally:
        context.close()
