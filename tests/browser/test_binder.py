"""What a Binder build and launch do, as far as this machine allows without repo2docker.

A fresh virtual environment gets ``binder/requirements.txt`` (as repo2docker installs it), then
``binder/postBuild`` runs with a fresh home (its MNIST download fails offline, and the build
must still succeed), then ``binder/start`` launches a Jupyter server with the Voila server
extension, and the browser opens ``/voila/render/notebooks/dashboard.ipynb`` as the README's
badge does. Not simulated: the container image, the conda base environment repo2docker makes,
``jupyterhub-singleuser`` and a real download.

The fresh environment sees the project's ``.venv`` packages (a ``.pth`` line) instead of
unpacking TensorFlow's gigabyte again, which took two of the suite's minutes: pip must still
find every line of ``binder/requirements.txt`` satisfied, and ``test_environment_files.py``
checks those lines against ``pyproject.toml``. postBuild installs digitwidgets itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import psutil
import pytest

from .conftest import ROOT, JupyterServer, new_context

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

BINDER = ROOT / "binder"
PROJECT_PACKAGES = sysconfig.get_paths()["purelib"]
# Variables the test session sets that a Binder container would not have.
NOT_ON_BINDER = (
    "KERAS_HOME",
    "DIGITWIDGETS_RUNS",
    "DIGITWIDGETS_OFFLINE",
    "DIGITWIDGETS_MNIST",
    "VIRTUAL_ENV",
    "JUPYTER_CONFIG_PATH",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
)


def not_this_projects_template(folder: str, names: list[str]) -> list[str]:
    """``shutil.copytree``'s ignore: leave out digitwidgets' own Voila template."""
    return ["digitwidgets"] if Path(folder).name == "templates" else []


class BinderBuild:
    """A virtual environment and home made from binder/ as repo2docker would make them."""

    def __init__(self, root: Path):
        self.venv = root / "venv"
        self.home = root / "home"
        self.home.mkdir()
        bin_dir = self.venv / "bin"
        self.env = {key: value for key, value in os.environ.items() if key not in NOT_ON_BINDER}
        self.env.update(
            HOME=str(self.home),
            PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            # A short bounded wait: offline it fails either way, and the build must go on.
            DIGITWIDGETS_MNIST_TIMEOUT="20",
        )
        self.post_build_output = ""
        self.post_build_status = None

    def build(self) -> None:
        """Install the requirements into a fresh environment, then run postBuild."""
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True, timeout=300)
        python = self.venv / "bin" / "python"
        found = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        # The test session's own packages, after the fresh environment's: pip finds the
        # requirements installed and the build's own steps (postBuild) run for real.
        (Path(found.stdout.strip()) / "project-packages.pth").write_text(f"{PROJECT_PACKAGES}\n")
        # Their data files (Voila's templates, the server extensions' switches), but not
        # this project's template: postBuild must install that.
        for data in ("share/jupyter", "etc/jupyter"):
            shutil.copytree(
                Path(sys.prefix) / data,
                self.venv / data,
                ignore=not_this_projects_template,
            )
        # Their commands too (jupyter, jupyter-server, voila), run by the fresh Python.
        own_python = f"#!{Path(sys.executable).parent / 'python'}"
        for script in Path(sys.executable).parent.iterdir():
            target = self.venv / "bin" / script.name
            if target.exists() or not script.is_file():
                continue
            with script.open("rb") as handle:
                first_line = handle.readline().decode(errors="replace").rstrip()
            if first_line.startswith(own_python):
                body = script.read_text().split("\n", 1)[1]
                target.write_text(f"#!{python}\n{body}")
                target.chmod(0o755)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "-r",
                BINDER / "requirements.txt",
            ],
            check=True,
            timeout=1200,
        )
        result = subprocess.run(
            [BINDER / "postBuild"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.post_build_status = result.returncode
        self.post_build_output = result.stdout + result.stderr


@pytest.fixture(scope="module")
def binder(tmp_path_factory, chromium_path):
    """The built environment; removed afterwards (TensorFlow is over a gigabyte)."""
    root = tmp_path_factory.mktemp("binder")
    build = BinderBuild(root)
    try:
        build.build()
        yield build
    finally:
        # Removing a gigabyte of small files takes tens of seconds on a busy disk: let it
        # finish beside the rest of the suite instead of holding it up.
        subprocess.Popen(["rm", "-rf", str(root / "venv")], start_new_session=True)


@pytest.fixture(scope="module")
def jupyter_server(binder):
    """``binder/start jupyter server``: the launch Binder does, on a loopback port with a token."""
    with JupyterServer(binder.home, env=binder.env).start() as server:
        yield server


def test_post_build_succeeds_offline_and_says_it_fell_back(binder):
    assert binder.post_build_status == 0, binder.post_build_output
    assert "falls back to the embedded sample" in binder.post_build_output
    assert not (binder.home / ".keras" / "datasets" / "mnist.npz").exists()
    where = subprocess.run(
        [binder.venv / "bin" / "python", "-c", "import digitwidgets; print(digitwidgets.__file__)"],
        env=binder.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(ROOT), "postBuild did not install this checkout"


def test_binder_url_opens_the_dashboard_on_the_offline_sample(
    binder, jupyter_server, browser, artifacts
):
    server = jupyter_server
    url = server.url
    # Not open_dashboard's 90 s: with the server extension there is no preheated kernel, and
    # this one imports TensorFlow from a fresh environment, on a machine that may be busy.
    context = new_context(browser, viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(240_000)
    try:
        page.goto(url)
        page.wait_for_selector("button.dw-train", state="visible")
        data_line = page.inner_text(".dw-data-info")
        assert "sample" in data_line.lower(), data_line
        body = page.inner_text("body")
        assert "Traceback" not in body
        assert "import Dashboard" not in body, "sources should be stripped"
        page.screenshot(path=str(artifacts / "binder-dashboard.png"), full_page=True)

        # The server read binder/jupyter-config: idle kernels are culled after 30 minutes.
        assert "idle durations > 1800 seconds" in server.log()
        kernels = [
            child
            for child in psutil.Process(server.process.pid).children(recursive=True)
            if "ipykernel_launcher" in " ".join(child.cmdline())
        ]
        assert kernels, "no kernel process under the Jupyter server"
        for kernel in kernels:
            assert Path(kernel.cmdline()[0]).is_relative_to(binder.venv)
            environment = kernel.environ()
            assert 1 <= int(environment["TF_NUM_INTRAOP_THREADS"]) <= os.cpu_count()
            assert environment["TF_NUM_INTEROP_THREADS"] == "1"
    finally:
        context.close()
