"""JupyterHub on one machine for a class or a team: each person lands on the dashboard.

Set-up, as root, on a Linux machine with systemd (the repository checked out in /opt):

    git clone https://github.com/digitwidgets/digitwidgets /opt/digitwidgets
    python3 -m venv /opt/digitwidgets/.venv
    /opt/digitwidgets/.venv/bin/pip install /opt/digitwidgets \
        jupyterhub jupyterhub-systemdspawner jupyterhub-idle-culler
    npm install -g configurable-http-proxy
    cd /opt/digitwidgets && .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Each user's server is a transient systemd unit with its own throw-away Unix user (no accounts to
create) and a hard memory limit. Figures behind the limits are in docs/deploy.md.
"""

import os

c = get_config()  # noqa: F821 (JupyterHub provides get_config when it loads this file)

REPO = os.environ.get("DIGITWIDGETS_REPO", "/opt/digitwidgets")
VENV_BIN = f"{REPO}/.venv/bin"

c.JupyterHub.bind_url = "http://127.0.0.1:8000"  # put nginx or another TLS proxy in front

# Replace with real logins for anything public (PAM, OAuthenticator, LDAPAuthenticator ...).
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("DIGITWIDGETS_HUB_PASSWORD", "change-this")
c.Authenticator.allow_all = True

c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.SystemdSpawner.dynamic_users = True
# A kernel training on full-size MNIST stays under 0.9 GB over several runs (docs/deploy.md).
c.SystemdSpawner.mem_limit = "2G"
c.SystemdSpawner.cpu_limit = 2.0
c.SystemdSpawner.unit_extra_properties = {"RuntimeMaxSec": "28800"}

# binder/start, as on Binder: it starts the dashboard's kernel template while the server starts
# (the first page's kernel is then forked from it) and keeps the TensorFlow settings below.
c.Spawner.cmd = [f"{REPO}/binder/start", f"{VENV_BIN}/jupyterhub-singleuser"]
c.Spawner.notebook_dir = REPO
c.Spawner.default_url = "/voila/render/notebooks/dashboard.ipynb"
c.Spawner.environment = {
    # The Binder server config: Voila settings and idle kernels culled after 30 minutes.
    "JUPYTER_CONFIG_PATH": f"{REPO}/binder/jupyter-config",
    # Match TensorFlow's thread pools to cpu_limit so users do not slow each other down.
    "TF_NUM_INTRAOP_THREADS": "2",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "2",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}

# Stop whole servers idle for 30 minutes, so memory comes back when people leave.
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [f"{VENV_BIN}/python", "-m", "jupyterhub_idle_culler", "--timeout=1800"],
    }
]
