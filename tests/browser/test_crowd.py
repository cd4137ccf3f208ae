"""A crowd of page loads against a server capped at 3 kernels, while a real page is in use.

The server runs with ``voila.json`` (preheated pool, the kernel cap, the release of kernels
whose page never connects), only with a small cap and a short release time, so that the
whole story fits in about a minute:

- page loads beyond the cap get the "full" page, HTTP 503 with ``Retry-After``;
- the live kernels never exceed the cap, and the real page keeps drawing and reading digits;
- the kernels of loads that never opened their websocket are released after the release
  time, and the kernel count and memory go back to what the real page and the pool hold.
"""

from __future__ import annotations

import concurrent.futures
import re
import threading
import urllib.error
import urllib.request

import psutil
import pytest

from .conftest import (
    ROOT,
    VoilaServer,
    draw_stroke,
    kernel_hooks_env,
    new_context,
    open_dashboard,
)
from .kernel_messages import KernelMessages

CAP = 3
RELEASE_S = 8
RETRY_AFTER = 30
BURST = 4
KERNEL_WAIT_S = 120
ONE = [(0.5, 0.15 + 0.07 * i) for i in range(11)]


@pytest.fixture(scope="module")
def loaded():
    """Where the server's kernels say they hold the pretrained model (kernel_hooks/)."""
    with KernelMessages() as messages:
        yield messages


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_path, loaded):
    """The dashboard served with voila.json, capped at 3 kernels, releasing after 8 s."""
    server = VoilaServer(
        ROOT / "notebooks" / "dashboard.ipynb",
        tmp_path_factory.mktemp("voila-crowd"),
        extra_args=[
            f"--CappedKernelManager.max_kernels={CAP}",
            f"--CappedKernelManager.release_unconnected_after={RELEASE_S}",
            f"--CappedKernelManager.retry_after={RETRY_AFTER}",
        ],
        env={**kernel_hooks_env(), "DIGITWIDGETS_MODEL_LOADED": str(loaded.path)},
    )
    server.start()
    # The first page must find the preheated kernel ready, as a visitor after the first does.
    assert server.wait_for_log(r"Kernel pool .* is filled", 120), server.log()
    yield server
    server.stop()


def kernels(server: VoilaServer) -> list[psutil.Process]:
    """The server's kernel processes now."""
    return list(server.kernels().values())


def kernel_memory(server: VoilaServer) -> int:
    """Resident bytes of all the server's kernels."""
    total = 0
    for kernel in kernels(server):
        try:
            total += kernel.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def pool_full(log: str) -> bool:
    """Whether the server's log says its pool was filled again after each pooled kernel used."""
    return log.count("is filled with") > log.count("Using pre-heated kernel")


def settled_memory(server: VoilaServer, loaded: KernelMessages) -> int:
    """The kernels' memory once each holds the pretrained model, as each says (kernel_hooks/):
    a kernel that has just started is still importing TensorFlow and loading the model."""
    running = {kernel.pid for kernel in kernels(server)}
    assert loaded.wait_for(running.issubset, KERNEL_WAIT_S), (running, loaded.pids)
    return kernel_memory(server)


def wait_for_releases(server: VoilaServer, count: int) -> None:
    """Wait until ``count`` kernels whose page never connected are released and have ended,
    and the pool is full again."""
    said = server.wait_until(lambda log: log.count("its page never connected") >= count, 120)
    assert said, server.log()
    released = re.findall(r"releasing kernel (\S+): its page never connected", server.log())
    ending = [kernel for kernel_id, kernel in server.kernels().items() if kernel_id in released]
    _, running = psutil.wait_procs(ending, timeout=KERNEL_WAIT_S)
    assert not running, f"released kernels still running: {running}"
    assert server.wait_until(pool_full, KERNEL_WAIT_S), server.log()


def load_page(url: str) -> tuple[int, dict, str]:
    """A plain GET of the page, as a crawler or a reload loop does: no browser, no websocket."""
    try:
        with urllib.request.urlopen(url, timeout=KERNEL_WAIT_S) as reply:
            return reply.status, dict(reply.headers), reply.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode(errors="replace")


def wait_for_prediction(page, *, shown: bool) -> None:
    test = "!== ''" if shown else "=== ''"
    page.wait_for_function(
        f"() => document.querySelector('.dw-prediction').textContent.trim() {test}",
        timeout=60_000,
    )


def draw_and_read(page) -> str:
    """Draw a one, wait for the page's kernel to read a digit, clear the pad; the digit read."""
    draw_stroke(page, ONE)
    wait_for_prediction(page, shown=True)
    digit = page.inner_text(".dw-prediction").strip()
    page.click("button.dw-clear")
    wait_for_prediction(page, shown=False)
    return digit


def test_a_crowd_beyond_the_cap_gets_the_full_page_and_the_real_page_keeps_working(
    browser, server, loaded, artifacts
):
    page = open_dashboard(browser, server.url)
    try:
        assert draw_and_read(page).isdigit()
        # The page took the preheated kernel; the pool holds its next one.
        assert server.wait_until(pool_full, KERNEL_WAIT_S), server.log()
        baseline_kernels = len(kernels(server))
        assert baseline_kernels == 2
        baseline_memory = settled_memory(server, loaded)

        # Count the kernels through the burst, from outside the server, ten times a second.
        peak, stop = [0], threading.Event()

        def watch():
            while True:
                peak[0] = max(peak[0], len(kernels(server)))
                if stop.wait(0.1):
                    break

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        with concurrent.futures.ThreadPoolExecutor(BURST) as pool:
            loads = list(pool.map(load_page, [server.url] * BURST))
            # The real page keeps answering while the crowd is at the door.
            assert draw_and_read(page).isdigit()
        stop.set()
        watcher.join(timeout=5)

        full = [load for load in loads if load[0] == 503]
        served = [load for load in loads if load[0] == 200]
        assert len(full) + len(served) == BURST, [load[0] for load in loads]
        # Room for two more at most: the pooled kernel and one start.
        assert 1 <= len(served) <= CAP - 1
        assert len(full) >= BURST - (CAP - 1)
        for _, headers, body in full:
            assert headers.get("Retry-After") == str(RETRY_AFTER)
            assert "The dashboard is full right now" in body
            assert "people are using it" in body or "person is using it" in body
            assert "dw-train" not in body
        for _, _, body in served:
            assert "jupyter-config-data" in body
        assert peak[0] <= CAP, f"{peak[0]} kernels alive at once, cap {CAP}"

        # Nobody opens those served pages: their kernels go after the release time, and the
        # pool refills within the cap.
        wait_for_releases(server, len(served))
        assert len(kernels(server)) == baseline_kernels
        assert settled_memory(server, loaded) <= baseline_memory * 1.15 + 50 * 2**20

        # The real page connected, so its kernel stayed: it still draws and reads.
        assert draw_and_read(page).isdigit()
        page.screenshot(path=str(artifacts / "crowd-real-page.png"), full_page=True)

        # With room again, a newcomer gets the dashboard, not the full page; it never
        # connects either, so its kernel goes too, leaving room for the next test's page.
        status, _, body = load_page(server.url)
        assert status == 200 and "jupyter-config-data" in body
        wait_for_releases(server, len(served) + 1)
    finally:
        page.context.close()


def test_a_page_that_connects_too_late_says_so_instead_of_dying(server, browser):
    """A page whose websocket never opened loses its kernel after the release time: it says so."""
    context = new_context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        # The page's websocket never reaches the server, as on a connection that stalls.
        page.route_web_socket("**/channels*", lambda ws: None)
        # The test before waited for its kernels to go: there is room.
        assert page.goto(server.url).status == 200
        banner = page.locator(".dw-kernel-gone")
        banner.wait_for(timeout=(RELEASE_S + 60) * 1000)
        assert banner.get_attribute("role") == "alert"
        assert "Reload the page" in banner.inner_text()
    finally:
        context.close()
