#!/usr/bin/env python3
"""The project's commands, each doing its own set-up: ``python3 tasks.py app|test|bench``.

``app``   serves the dashboard on localhost with the package's ``digitwidgets`` command.
``test``  runs ruff and the whole test suite, browser tests included.
``bench`` runs the benchmarks in ``bench/`` and rewrites ``docs/benchmarks.md``.

The first run makes a virtual environment in ``.venv`` and installs the package with its
test extra; later runs reuse it and reinstall only when ``pyproject.toml`` changed. Only the
standard library is used here, so any Python 3.10+ can run it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".digitwidgets-installed"
CHROMIUM = Path(os.environ.get("DIGITWIDGETS_CHROMIUM", "/usr/bin/chromium"))
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def say(message: str) -> None:
    """Print a progress line that stands out from the tools' own output."""
    print(f"[digitwidgets] {message}", flush=True)


def run(*command: str | Path, **kwargs) -> None:
    """Run a command, stopping this script with its exit code if it fails."""
    result = subprocess.run([str(part) for part in command], **kwargs)
    if result.returncode != 0:
        sys.exit(result.returncode)


def install_fingerprint() -> str:
    """What the installed environment depends on: package metadata, copied files, the Python.

    An editable install links the package's Python code but copies ``share/`` (the Voila
    template) into the environment, so a change there needs a reinstall too.
    """
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for path in sorted((ROOT / "share").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create ``.venv`` and install the package with its test extra, once per change."""
    if not PYTHON.exists():
        say(f"creating the virtual environment in {VENV} ...")
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as error:
            hint = "On Debian or Ubuntu: apt-get install python3-venv"
            sys.exit(f"Could not create {VENV}: {error}. {hint}")
    fingerprint = install_fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    say("installing digitwidgets and its dependencies (the first time takes a few minutes) ...")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--editable", f"{ROOT}[test]")
    STAMP.write_text(fingerprint)


def ensure_chromium() -> None:
    """Make sure the system Chromium the browser tests drive is there, installing it as root."""
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        say("installing Chromium for the browser tests (apt-get install chromium) ...")
        run(apt, "update", "-qq")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(apt, "install", "-y", "-qq", "chromium", env=env)
    if not CHROMIUM.exists():
        sys.exit(
            f"The browser tests need Chromium at {CHROMIUM}. Install it (Debian/Ubuntu: "
            "sudo apt-get install chromium), point DIGITWIDGETS_CHROMIUM at it, or run "
            "'python3 tasks.py test --no-browser' to leave the browser tests out on purpose."
        )


def command_app(args: argparse.Namespace) -> None:
    """Serve the dashboard with the package's own ``digitwidgets`` command, as a user would."""
    ensure_environment()
    env = {**os.environ, **QUIET_ENV}
    command = [BIN / "digitwidgets", f"--port={args.port}"]
    if args.runs:
        command += ["--runs", args.runs]
    if args.no_browser:
        command.append("--no-browser")
    with subprocess.Popen([str(part) for part in command], env=env) as server:
        try:
            server.wait()
        except KeyboardInterrupt:
            server.wait()  # Ctrl+C reached the command too: it stops the dashboard and says so
    sys.exit(server.returncode)


def command_test(args: argparse.Namespace) -> None:
    """Lint, then run the whole test suite; extra arguments go to pytest.

    ``-m "not bench"`` leaves out the benchmarks' quick runs (``tests/test_bench_smoke.py``),
    as a developer may locally; CI runs everything.
    """
    ensure_environment()
    env = {**os.environ, **QUIET_ENV}
    if args.no_browser:
        env["DIGITWIDGETS_SKIP_BROWSER"] = "1"
        say("leaving the browser tests out, as asked (--no-browser)")
    else:
        ensure_chromium()
        env["DIGITWIDGETS_CHROMIUM"] = str(CHROMIUM)
    say("ruff check ...")
    run(BIN / "ruff", "check", ROOT, cwd=ROOT)
    run(BIN / "ruff", "format", "--check", "--quiet", ROOT, cwd=ROOT)
    say("pytest ...")
    run(PYTHON, "-m", "pytest", *workers(args.pytest_args), *args.pytest_args, cwd=ROOT, env=env)


def workers(pytest_args: list[str]) -> list[str]:
    """Two pytest workers where there are two processors, unless the options choose (``-n 0``).

    Most tests keep one processor busy, so a second worker nearly halves the suite. The tests
    that start servers, kernels or Chromium stay on one worker, one after the other
    (``--dist loadgroup``, their ``xdist_group`` in ``tests/conftest.py``): two of them side by
    side starve each other's pages.
    """
    chosen = any(arg.startswith(("-n", "--numprocesses", "--dist")) for arg in pytest_args)
    xdist_off = "no:xdist" in pytest_args  # "-p no:xdist": pytest would refuse "-n"
    if chosen or xdist_off or (os.cpu_count() or 1) < 2:
        return []
    return ["-n", "2", "--dist", "loadgroup"]


def command_bench(args: argparse.Namespace) -> None:
    """Run every benchmark and rewrite docs/benchmarks.md with its table and plot."""
    ensure_environment()
    ensure_chromium()
    env = {**os.environ, **QUIET_ENV, "DIGITWIDGETS_CHROMIUM": str(CHROMIUM)}
    extra = ["--quick"] if args.quick else []
    run(PYTHON, ROOT / "bench" / "run_all.py", *extra, cwd=ROOT, env=env)


def main() -> None:
    """Parse the command line and run the chosen command."""
    # ruff assumes 3.10+, but this is exactly where an older Python must get a clear answer.
    if sys.version_info < (3, 10):  # noqa: UP036
        sys.exit(f"digitwidgets needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    app = commands.add_parser("app", help="serve the dashboard on localhost (digitwidgets)")
    app.add_argument("--port", default="8866", help="the port to serve on (default: 8866)")
    app.add_argument("--runs", metavar="DIR", help="the folder where saved runs go")
    app.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    app.set_defaults(handler=command_app)
    test = commands.add_parser(
        "test",
        help="run ruff and the test suite; other arguments go to pytest "
        '(-m "not bench" leaves out the benchmarks\' quick runs)',
        description=command_test.__doc__,
        allow_abbrev=False,
    )
    test.add_argument("--no-browser", action="store_true", help="leave the browser tests out")
    test.set_defaults(handler=command_test)
    bench = commands.add_parser("bench", help="run the benchmarks, rewrite docs/benchmarks.md")
    bench.add_argument("--quick", action="store_true", help="tiny sizes, to check they run")
    bench.set_defaults(handler=command_bench)
    args, extra = parser.parse_known_args()
    if extra and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    # Everything else after "test" goes to pytest: paths, -k, -x, --durations=20 ...
    args.pytest_args = extra[1:] if extra[:1] == ["--"] else extra
    args.handler(args)


if __name__ == "__main__":
    main()
