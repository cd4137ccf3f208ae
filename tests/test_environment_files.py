"""The ways in besides tasks.py agree with pyproject.toml: Binder, conda and the deploy files.

repo2docker ignores the root's environment.yml when binder/ exists, so binder/ carries its own
copy of the dependencies; these tests fail when any copy drifts from pyproject.toml, and check
the settings Binder, JupyterHub and the reverse proxy rely on.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli is in the test extra there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
DEPLOY = ROOT / "deploy"
DASHBOARD_URL = "/voila/render/notebooks/dashboard.ipynb"


def normalized(requirement: str) -> str:
    """A requirement line with spacing, quotes and the name's case made uniform."""
    requirement = re.sub(r"\s+", "", requirement.split(" #")[0]).replace('"', "'")
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower() + requirement[len(name) :]


def requirement_lines(path: Path) -> set[str]:
    """The requirements of a pip requirements file, without comments and blank lines."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {normalized(line) for line in lines if line}


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def runtime_requirements(pyproject) -> set[str]:
    requirements = {normalized(line) for line in pyproject["project"]["dependencies"]}
    assert any(line.startswith("voila") for line in requirements)
    return requirements


@pytest.fixture(scope="module")
def conda_environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


@pytest.fixture(scope="module")
def voila_json() -> dict:
    return json.loads((ROOT / "voila.json").read_text())


def conda_pip_section(environment: dict) -> list[str]:
    sections = [item["pip"] for item in environment["dependencies"] if isinstance(item, dict)]
    assert len(sections) == 1, "environment.yml needs exactly one pip: section"
    return sections[0]


def minimum_python(requires_python: str) -> tuple[int, int]:
    major, minor = re.fullmatch(r">=\s*(\d+)\.(\d+)", requires_python.strip()).groups()
    return int(major), int(minor)


def test_binder_requirements_match_pyproject(runtime_requirements):
    assert requirement_lines(BINDER / "requirements.txt") == runtime_requirements


def test_binder_python_satisfies_requires_python(pyproject):
    version = (BINDER / "runtime.txt").read_text().strip()
    major, minor = re.fullmatch(r"python-(\d+)\.(\d+)", version).groups()
    assert (int(major), int(minor)) >= minimum_python(pyproject["project"]["requires-python"])


def test_conda_environment_matches_pyproject(conda_environment, runtime_requirements, pyproject):
    assert conda_environment["name"] == "digitwidgets"
    pip_lines = conda_pip_section(conda_environment)
    assert "-e ." in pip_lines, "conda users need the package itself installed"
    assert {normalized(line) for line in pip_lines if line != "-e ."} == runtime_requirements
    conda_packages = [item for item in conda_environment["dependencies"] if isinstance(item, str)]
    assert "pip" in conda_packages
    python = [item for item in conda_packages if item.startswith("python")]
    assert python and minimum_python(python[0].removeprefix("python")) == minimum_python(
        pyproject["project"]["requires-python"]
    )


def test_post_build_starts_with_set_e_and_is_executable():
    post_build = BINDER / "postBuild"
    lines = [line.strip() for line in post_build.read_text().splitlines()]
    assert lines[0].startswith("#!") and "bash" in lines[0]
    commands = [line for line in lines[1:] if line and not line.startswith("#")]
    assert commands[0] == "set -e"
    assert post_build.stat().st_mode & stat.S_IXUSR
    text = post_build.read_text()
    assert re.search(r"pip install --no-deps (--editable|-e) \.", text)
    assert "load_mnist" in text, "postBuild should fill the Keras cache with full MNIST"


def test_start_script_is_executable_and_hands_over():
    start = BINDER / "start"
    assert start.stat().st_mode & stat.S_IXUSR
    last = [line for line in start.read_text().splitlines() if line.strip()][-1]
    assert last.strip() == 'exec "$@"'


def start_environment(**variables: str) -> dict[str, str]:
    """The environment binder/start hands to the Jupyter server, run with ``variables`` set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_NUM_", "OMP_", "CPU_LIMIT", "JUPYTER_CONFIG_PATH"))
    }
    result = subprocess.run(
        [str(BINDER / "start"), "env"],
        env={**env, **variables},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def test_start_script_gives_tensorflow_the_cpus_it_may_use():
    limited = start_environment(CPU_LIMIT="1.0")
    assert limited["TF_NUM_INTRAOP_THREADS"] == "1"
    assert limited["OMP_NUM_THREADS"] == "1"
    assert limited["TF_NUM_INTEROP_THREADS"] == "1"
    unlimited = start_environment()
    assert 1 <= int(unlimited["TF_NUM_INTRAOP_THREADS"]) <= os.cpu_count()
    config_dirs = unlimited["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert Path(config_dirs[0]) == BINDER / "jupyter-config"


def test_binder_server_config_matches_voila_json(voila_json):
    server = json.loads((BINDER / "jupyter-config" / "jupyter_server_config.json").read_text())
    # The server extension has no kernel pool: preheating applies to standalone Voila only.
    standalone_only = {"preheat_kernel", "default_pool_size"}
    expected = {
        key: value
        for key, value in voila_json["VoilaConfiguration"].items()
        if key not in standalone_only
    }
    assert server["VoilaConfiguration"] == expected
    assert server["MappingKernelManager"] == voila_json["MappingKernelManager"]
    assert server["CappedKernelManager"] == voila_json["CappedKernelManager"]


def test_idle_kernels_are_culled_after_the_documented_timeout(voila_json):
    culling = voila_json["MappingKernelManager"]
    assert culling["cull_idle_timeout"] == 1800
    assert 0 < culling["cull_interval"] <= 300
    assert "1800" in (ROOT / "docs" / "deploy.md").read_text()


def test_readme_binder_badge_opens_the_dashboard():
    readme = (ROOT / "README.md").read_text()
    urls = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    assert urls, "README.md has no Binder badge"
    for url in urls:
        assert url.endswith("?urlpath=voila/render/notebooks/dashboard.ipynb"), url
    assert (ROOT / "notebooks" / "dashboard.ipynb").exists()


def test_readme_gives_the_conda_commands():
    readme = (ROOT / "README.md").read_text()
    for command in (
        "conda env create -f environment.yml",
        "conda activate digitwidgets",
        "voila notebooks/dashboard.ipynb",
    ):
        assert command in readme


def test_kubernetes_config_lands_users_on_the_dashboard():
    config = yaml.safe_load((DEPLOY / "kubernetes" / "config.yaml").read_text())
    singleuser = config["singleuser"]
    assert singleuser["defaultUrl"] == DASHBOARD_URL
    assert singleuser["memory"]["limit"] and singleuser["memory"]["guarantee"]
    assert config["cull"]["enabled"] is True and config["cull"]["timeout"] > 0


def test_single_machine_hub_config_lands_users_on_the_dashboard():
    from traitlets.config import Config

    config = Config()
    code = (DEPLOY / "jupyterhub" / "jupyterhub_config.py").read_text()
    exec(compile(code, "jupyterhub_config.py", "exec"), {"get_config": lambda: config})
    assert config.Spawner.default_url == DASHBOARD_URL
    assert config.SystemdSpawner.mem_limit
    environment = config.Spawner.environment
    assert environment["JUPYTER_CONFIG_PATH"].endswith("binder/jupyter-config")
    start, server = config.Spawner.cmd  # as Binder starts it: the kernel template first
    assert start.endswith("/binder/start") and server.endswith("/jupyterhub-singleuser")
    assert any("--timeout=" in part for part in config.JupyterHub.services[0]["command"])


def test_nginx_forwards_websockets_to_the_loopback_voila():
    nginx = (DEPLOY / "voila-nginx" / "digitwidgets.nginx.conf").read_text()
    service = (DEPLOY / "voila-nginx" / "digitwidgets-voila.service").read_text()
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", nginx)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", nginx)
    assert "proxy_http_version 1.1;" in nginx
    # With $host a non-default port is lost and Voila refuses the websocket as cross-origin.
    assert re.search(r"proxy_set_header\s+Host\s+\$http_host;", nginx)
    location = re.search(r"location\s+(\S+)\s*\{", nginx).group(1)
    upstream = re.search(r"proxy_pass\s+http://127\.0\.0\.1:(\d+);", nginx).group(1)
    assert f"--Voila.base_url={location}" in service
    assert f"--port={upstream}" in service
    assert "--Voila.ip=127.0.0.1" in service
    assert "--Voila.token=" in service
