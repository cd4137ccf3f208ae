"""The query string of the Voila page a kernel serves: ``on_page_query(callback)``.

Kernel-side plumbing, no settings logic: ``digitwidgets.learning.settings_query`` reads what the
query asks for. A kernel that Voila starts for a request finds the query in ``$QUERY_STRING``;
a preheated kernel runs the notebook before any request and receives the query later, over
Voila's websocket.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

#: Voila sets it to "True" in the environment of the kernels it starts ahead of their visitors.
PREHEAT_VARIABLE = "VOILA_PREHEAT"

log = logging.getLogger(__name__)


def preheated() -> bool:
    """Whether Voila started this kernel ahead of its visitor (from its preheated pool)."""
    return os.environ.get(PREHEAT_VARIABLE) == "True"


def on_page_query(callback: Callable[[str], None], *, timeout: float = 3600.0) -> None:
    """Call ``callback(query_string)`` with the query of the Voila page this kernel serves.

    A kernel started for a request has the query in ``$QUERY_STRING``: called at once. A
    preheated kernel runs the notebook before any request; Voila sends the request to it
    over the ``/voila/query/<kernel id>`` websocket once a visitor opens the page, so the
    callback is called later, on a daemon thread (it never blocks the page or the kernel's
    exit). Outside Voila (Jupyter, a script) it does nothing.
    """
    if preheated():
        url = _request_info_url()
        if url is None:
            return
        threading.Thread(
            target=_wait_for_request,
            args=(url, callback, timeout),
            name="digitwidgets-page-query",
            daemon=True,
        ).start()
    elif PREHEAT_VARIABLE in os.environ or "VOILA_SERVER_URL" in os.environ:
        query = os.environ.get("QUERY_STRING")
        if query:
            callback(query)


def _request_info_url() -> str | None:
    # As voila.utils.wait_for_request builds it; that helper waits on a non-daemon thread,
    # which would hold a never-used pool kernel's exit until it is killed.
    kernel_id = os.environ.get("VOILA_KERNEL_ID")
    if not kernel_id:
        return None
    protocol = os.environ.get("VOILA_WS_PROTOCOL", "ws")
    host = os.environ.get("VOILA_APP_IP", "127.0.0.1")
    port = os.environ.get("VOILA_APP_PORT", "8866")
    server_url = os.environ.get("VOILA_SERVER_URL", "/")
    base = os.environ.get("VOILA_WS_BASE_URL", server_url)
    return f"{protocol}://{host}:{port}{base}voila/query/{kernel_id}"


def _wait_for_request(url: str, callback: Callable[[str], None], timeout: float) -> None:
    import asyncio
    import json

    async def receive() -> str:
        import websockets

        async with websockets.connect(url, open_timeout=10) as socket:
            return await asyncio.wait_for(socket.recv(), timeout)

    try:
        payload = json.loads(asyncio.run(receive()))
        query = str(payload.get("QUERY_STRING", "")) if isinstance(payload, dict) else ""
    except Exception as error:  # no request came, or the server went away: keep the defaults
        log.info("No page request reached this kernel: %s", error)
        return
    if query:
        callback(query)
