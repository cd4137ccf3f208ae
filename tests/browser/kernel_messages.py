"""What the kernel hooks (``kernel_hooks/sitecustomize.py``) tell a test: process ids, sent as
datagrams to a Unix socket the test listens on, so that a test waits for the message itself."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path


class KernelMessages:
    """A Unix datagram socket that kernels send their process ids to; ``path`` is its address.

    Give ``str(messages.path)`` to a server's kernels in the variable a hook reads.
    """

    def __init__(self):
        # A short folder of its own: a socket's address is limited to about 100 bytes.
        self._folder = Path(tempfile.mkdtemp(prefix="dw-kernels-"))
        self.path = self._folder / "messages"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        self.pids: list[int] = []

    def wait_for(self, condition, timeout: float) -> bool:
        """Receive process ids until ``condition(set_of_pids)`` holds; False if not in time."""
        deadline = time.monotonic() + timeout
        while not condition(set(self.pids)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._socket.settimeout(remaining)
            try:
                self.pids.append(int(self._socket.recv(64)))
            except TimeoutError:
                return False
        return True

    def close(self) -> None:
        """Stop listening and remove the socket."""
        self._socket.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> KernelMessages:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
