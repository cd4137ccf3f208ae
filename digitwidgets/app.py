"""The ``digitwidgets`` command: serve the dashboard with Voila from the installed package.

``digitwidgets`` (or ``python -m digitwidgets``) runs Voila on the dashboard notebook with the
project's Voila settings (``voila.json``: no notebook source or tracebacks on the page, the
kernel cap, idle kernels culled) and its Voila template, on 127.0.0.1, from any directory.

Where the files come from:

- a wheel carries the repository's ``notebooks/dashboard.ipynb`` and ``voila.json`` as
  ``digitwidgets/app_files/notebooks/dashboard.ipynb`` and ``digitwidgets/app_files/voila.json``
  (copied there when the wheel is built: ``force-include`` in ``pyproject.toml``), so the
  folder has the repository root's layout;
- a source checkout (the editable install) reads them where they live, at the repository root;
- the ``digitwidgets`` Voila template is installed into the environment's ``share/jupyter`` by
  the wheel (its shared data), where Voila looks for templates.

Voila gets the folder of ``voila.json`` as its only configuration path, so neither the
current directory nor a user's own Voila settings change what the dashboard allows.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .learning.runs import default_root

DEFAULT_PORT = 8866
HOST = "127.0.0.1"
PACKAGED_FILES = Path(__file__).resolve().with_name("app_files")
CHECKOUT_ROOT = Path(__file__).resolve().parents[1]
# What Voila, Tornado, the kernels and TensorFlow print about their plumbing, never about the
# page, each line left out where it contains one of these:
PLUMBING_NOTICES = (
    # Voila: any notebook never opened in Jupyter is "not trusted".
    "is not trusted",
    # A kernel: its loopback ports are not encrypted (only this server connects to them, with
    # the key in the connection file).
    "running over TCP without encryption",
    # A kernel: the interrupt that the server sends before it shuts the kernel down.
    "KeyboardInterrupt caught in kernel",
    # Tornado: Jupyter's websocket ping timeout is longer than its interval, so it uses the
    # interval (two lines, both naming the setting).
    "websocket_ping_timeout",
    # TensorFlow: its CPU kernels, announced before its log level applies.
    "before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
)
# asyncio's report of a message the server wrote to a page that had just closed (Tornado's
# WebSocketClosedError, a traceback of about a dozen lines) is left out too: at most this many
# lines of it, should its shape ever change.
CLOSED_PAGE_LINES = 20
STOP_WAIT_SECONDS = 60


@dataclass(frozen=True)
class AppFiles:
    """Where the dashboard notebook and the folder holding its ``voila.json`` are."""

    notebook: Path
    config_folder: Path

    @classmethod
    def find(cls) -> AppFiles:
        """The installed copies (a wheel), else the repository's files (a source checkout)."""
        for root in (PACKAGED_FILES, CHECKOUT_ROOT):
            files = cls(root / "notebooks" / "dashboard.ipynb", root)
            if files.notebook.is_file() and (root / "voila.json").is_file():
                return files
        raise FileNotFoundError(
            f"The dashboard's files are missing from this installation (looked in "
            f"{PACKAGED_FILES}): reinstall digitwidgets."
        )


def port_number(text: str) -> int:
    """A TCP port given on the command line, 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port number: give a whole number from 1 to 65535"
        )
    return port


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``--port``, ``--runs`` and ``--no-browser``."""
    parser = argparse.ArgumentParser(
        prog="digitwidgets",
        description=(
            "Open the digitwidgets dashboard: train a small network to read handwritten "
            "digits, then draw one and watch it guess. The page is served on this computer "
            f"only ({HOST}); Ctrl+C stops it."
        ),
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help=f"the port the page is served on: http://{HOST}:PORT/ (default: {DEFAULT_PORT})",
    )
    runs_default = str(default_root())
    if os.environ.get("DIGITWIDGETS_RUNS"):
        runs_default = f"$DIGITWIDGETS_RUNS, now {runs_default}"
    parser.add_argument(
        "--runs",
        metavar="DIR",
        type=Path,
        help=(
            "the folder where the training runs you save are kept, created if needed "
            f"(default: {runs_default})"
        ),
    )
    parser.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open the page in a web browser; just print its address",
    )
    return parser


def voila_command(files: AppFiles, port: int, *, open_browser: bool) -> list[str]:
    """The Voila command line that serves the dashboard on ``HOST:port``."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(files.notebook),
        f"--port={port}",
        f"--Voila.ip={HOST}",
        "--Voila.port_retries=0",  # the port asked for, or a clear failure
        f"--Voila.config_file_paths={files.config_folder}",
        "--Voila.log_level=WARN",
        *([] if open_browser else ["--no-browser"]),
    ]


def port_problem(port: int) -> str | None:
    """Why the dashboard cannot listen on ``HOST:port`` now, or None when it can."""
    with socket.socket() as probe:
        if os.name != "nt":  # bind as the server does (SO_REUSEADDR means more on Windows)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except PermissionError:
            return f"port {port} needs administrator rights: choose one above 1023"
        except OSError:
            other = port + 1 if port < 65535 else DEFAULT_PORT
            return (
                f"port {port} is in use (another dashboard?): choose another, e.g. --port {other}"
            )
    return None


def main(argv: list[str] | None = None) -> int:
    """Serve the dashboard until Ctrl+C (or the end of Voila); the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = port_problem(args.port)
    if problem:
        parser.error(f"argument --port: {problem}")
    try:
        files = AppFiles.find()
    except FileNotFoundError as error:
        print(f"digitwidgets: {error}", file=sys.stderr)
        return 1
    env = dict(os.environ)
    if args.runs is not None:
        runs = args.runs.expanduser().resolve()  # kernels run in the notebook's folder
        try:
            runs.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            parser.error(f"argument --runs: cannot use {runs} as a folder ({error.strerror})")
        env["DIGITWIDGETS_RUNS"] = str(runs)
    else:
        runs = default_root()
    print(f"Starting the digitwidgets dashboard; saved runs go to {runs}", flush=True)
    command = voila_command(files, args.port, open_browser=not args.no_browser)
    return serve(command, env, args.port)


def serve(command: list[str], env: dict, port: int) -> int:
    """Run Voila, relay what it prints (less plumbing notices), announce the page; its status."""
    server = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    relay = threading.Thread(target=_relay, args=(server.stdout,), daemon=True)
    relay.start()
    # A stop asked of this command (a service manager's SIGTERM) stops Voila and its kernels.
    previous = signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    listening = stopped = False
    try:
        listening = _wait_until_listening(server, port)
        if listening:
            print(
                f"The dashboard is ready: open http://{HOST}:{port}/ in a web browser. "
                "Ctrl+C stops it.",
                flush=True,
            )
        server.wait()
    except KeyboardInterrupt:
        # The terminal's Ctrl+C reached Voila too; a second signal only makes sure it stops.
        server.terminate()
        stopped = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        _wait_for_end(server)
        relay.join(timeout=5)
    if listening or stopped:
        print("The dashboard has stopped.", flush=True)
        return 0 if server.returncode in (0, -signal.SIGTERM, -signal.SIGINT) else 1
    print("The dashboard could not start: the messages above say why.", file=sys.stderr)
    return server.returncode or 1


def _wait_for_end(server: subprocess.Popen) -> None:
    """Wait while Voila stops its kernels and ends; a second Ctrl+C (or a minute) ends it now."""
    try:
        server.wait(timeout=STOP_WAIT_SECONDS)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        server.kill()
        server.wait()


def _wait_until_listening(server: subprocess.Popen, port: int) -> bool:
    """Wait until Voila accepts connections on ``port`` (True) or ends first (False)."""
    while server.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return True
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=0.2)  # the pause between tries, cut short if Voila ends
    return False


def _relay(stream) -> None:
    """Copy the server's output to this command's stderr, leaving out plumbing notices."""
    closed_page = 0  # lines left of a closed page's traceback, left out too
    held = ""
    for line in stream:
        if held:
            # The line after asyncio's first says which exception: a closed page's is left out.
            if "WebSocketClosedError" in line:
                closed_page = CLOSED_PAGE_LINES
            else:
                _show(held)
            held = ""
        if closed_page:
            closed_page -= 1
            if line.strip() == "tornado.websocket.WebSocketClosedError":
                closed_page = 0
            continue
        if line.startswith("Task exception was never retrieved"):
            held = line
        elif not any(notice in line for notice in PLUMBING_NOTICES):
            _show(line)
    if held:
        _show(held)


def _show(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()
