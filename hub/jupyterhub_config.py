"""JupyterHub for a room on one machine: the configuration ``make hub`` (``hub/run.py``) starts.

Read by ``jupyterhub -f hub/jupyterhub_config.py``; ``hub/run.py`` sets the
``CACHELAB_HUB_*`` variables below before it starts the hub, so run that, not this.

- **Log in**: the workshop's shared password (``SharedPasswordAuthenticator``): any
  learner name that is a valid course learner name (``cachelab.keys``), one password
  for the room. Nobody needs an account on the machine.
- **Servers**: each learner gets a Jupyter server of their own, started as a process
  of the hub's user (``SimpleLocalProcessSpawner``), in a home folder of their own
  under the room folder, laid out like the repository (``scripts/learner_home.py``:
  ``lessons/``, ``GLOSSARY.md``, ``docs/``, ``type-along/`` ...) so a lesson's links
  open, with their own ``data/``.
- **Redis**: one private ``redis-server`` for the whole room (started by ``hub/run.py``
  on a unix socket); every learner's kernel gets its URL as ``REDIS_URL`` and its
  learner name as ``CACHELAB_LEARNER``, so each one's keys live under
  ``cachelab:<learner>:`` and ``python -m cachelab.environment.reset --all-learners`` resets the room.
- **The instructor**: a service token (``CACHELAB_HUB_ADMIN_TOKEN``) with the scopes to
  list, add and stop users and their servers through the REST API.
- Everything listens on 127.0.0.1: the hub, its proxy (``configurable-http-proxy``,
  installed into ``hub/node_modules`` by ``make hub``) and every learner's server.
"""

import os
import subprocess
import sys
from pathlib import Path

from cachelab.keys import _LEARNER_NAME_PATTERN

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

ROOM = Path(os.environ["CACHELAB_HUB_ROOM"])  # the room's folder: database, homes, logs
REPO = Path(__file__).resolve().parents[1]

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["CACHELAB_HUB_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["CACHELAB_HUB_INTERNAL_PORT"])
c.JupyterHub.db_url = f"sqlite:///{ROOM / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOM / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(ROOM / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server
c.JupyterHub.cleanup_proxy = True

# The proxy, from hub/node_modules (npm install, never global).
c.ConfigurableHTTPProxy.command = [os.environ["CACHELAB_HUB_PROXY"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['CACHELAB_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = str(ROOM / "proxy.pid")

# One password for the room; a learner name is what the course accepts as one.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["CACHELAB_HUB_PASSWORD"]
c.Authenticator.allow_all = True
c.Authenticator.username_pattern = f"^(?:{_LEARNER_NAME_PATTERN.pattern})$"

# The instructor: a service whose token can manage users and servers through the REST API.
c.JupyterHub.services = [
    {"name": "instructor", "api_token": os.environ["CACHELAB_HUB_ADMIN_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {
        "name": "instructor",
        "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens"],
        "services": ["instructor"],
    }
]

# Each learner's server: a process of the hub's user, in a home folder of its own.
c.JupyterHub.spawner_class = "simple"  # jupyterhub.spawner.SimpleLocalProcessSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(ROOM / "homes" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []
c.Spawner.default_url = "/lab/tree/lessons/00_setup_check.ipynb"
c.Spawner.start_timeout = 120  # a busy 2-core machine starting several servers at once
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "REDIS_URL": os.environ["CACHELAB_HUB_REDIS_URL"],
    "CACHELAB_LEARNER": lambda spawner: spawner.user.name,
    "CACHELAB_DATA_DIR": lambda spawner: str(Path(spawner.home_dir) / "data"),
    "PYTHONUNBUFFERED": "1",
}


def give_the_learner_the_lessons(spawner) -> None:
    """Before a learner's server starts: a home laid out like the repository, as ``make lab``
    serves it (the lessons, the glossary, docs/, the type-along copies), so that a lesson's
    links open. What the home already holds is kept. The Kubernetes hub runs the same script."""
    home = Path(spawner.home_dir)
    (home / "data").mkdir(parents=True, exist_ok=True)
    script = REPO / "scripts" / "learner_home.py"
    subprocess.run([sys.executable, str(script), str(home)], check=True, capture_output=True)


c.Spawner.pre_spawn_hook = give_the_learner_the_lessons
