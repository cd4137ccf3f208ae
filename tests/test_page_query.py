"""The query string of the Voila page a kernel serves, at once or through Voila's websocket."""

from __future__ import annotations

from digitwidgets import page_query
from digitwidgets.page_query import on_page_query


def test_a_kernel_started_for_a_request_reads_its_query_at_once(monkeypatch):
    seen = []
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv("QUERY_STRING", "optimizer=sgd")
    on_page_query(seen.append)
    assert seen == ["optimizer=sgd"]


def test_outside_voila_nothing_is_read(monkeypatch):
    seen = []
    for name in ("VOILA_PREHEAT", "VOILA_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUERY_STRING", "optimizer=sgd")
    on_page_query(seen.append)
    assert seen == []


def test_a_preheated_kernel_reads_its_query_from_voilas_websocket(monkeypatch):
    """The request info comes later, over /voila/query/<kernel id>, on a daemon thread."""
    import asyncio
    import json
    import threading

    import websockets

    received = threading.Event()
    seen = []
    served = {}

    async def serve(ready):
        answered = asyncio.Event()

        async def handler(connection):
            served["path"] = connection.request.path
            await connection.send(json.dumps({"QUERY_STRING": "optimizer=sgd&epochs=2"}))
            # The kernel hangs up once it has read the query; then the server may go.
            await connection.wait_closed()
            answered.set()

        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            served["port"] = server.sockets[0].getsockname()[1]
            ready.set()
            await asyncio.wait_for(answered.wait(), 20)

    ready = threading.Event()
    server = threading.Thread(target=lambda: asyncio.run(serve(ready)), daemon=True)
    server.start()
    assert ready.wait(10)
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setenv("VOILA_KERNEL_ID", "abc-123")
    monkeypatch.setenv("VOILA_APP_PORT", str(served["port"]))
    monkeypatch.setenv("VOILA_SERVER_URL", "/")
    monkeypatch.delenv("QUERY_STRING", raising=False)

    def callback(query):
        seen.append((query, threading.current_thread().daemon))
        received.set()

    on_page_query(callback)
    assert received.wait(15)
    assert seen == [("optimizer=sgd&epochs=2", True)]
    assert served["path"] == "/voila/query/abc-123"
    server.join(15)
    assert not server.is_alive(), "the kernel never hung up"


def test_the_websocket_url_follows_voilas_environment(monkeypatch):
    monkeypatch.setenv("VOILA_KERNEL_ID", "k1")
    monkeypatch.setenv("VOILA_APP_PORT", "9000")
    monkeypatch.setenv("VOILA_SERVER_URL", "/base/")
    monkeypatch.delenv("VOILA_WS_BASE_URL", raising=False)
    assert page_query._request_info_url() == "ws://127.0.0.1:9000/base/voila/query/k1"
