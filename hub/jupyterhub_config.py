"""JupyterHub for a room on one machine: the configuration ``make hub`` (``hub/run.py``) starts.

Read by ``jupyterhub -f hub/jupyterhub_config.py``; ``hub/run.py`` sets the
``CACHELAB_HUB_*`` variables below before it starts the hub, as root, so run that, not this.

- **Log in**: a login per learner (``FirstUseAuthenticator``, as The Littlest JupyterHub): the
  first login claims a name with a password of the learner's own, and only that password logs
  in as that name afterwards. The names admitted are course learner names that are also safe
  in a Unix name (``hub/learners.py``). ``instructor`` is the hub's admin; ``hub/run.py`` sets
  its password before the hub opens, so no learner can claim it.
- **Servers**: each learner's Jupyter server runs as a Unix user of that learner's own
  (``cl-<learner>``, made on first spawn, ``hub/learners.py``), never as root, with the
  learner's limits (processes, memory, a share of the CPUs), in a home of their own under
  the room folder (mode 0700), laid out like the repository (``scripts/learner_home.py``). It
  runs the room's course (``<room>/course``, ``hub/course_copy.py``), which learners can read
  but not change. Its environment holds nothing of the hub's: no secret, no admin token.
- **Redis**: one private ``redis-server`` for the whole room (started by ``hub/run.py``), locked
  down here with ACL users (``hub/room_redis.py``): each learner's kernel gets a ``REDIS_URL``
  of their own, confined to ``cachelab:<learner>:``, and their name as ``CACHELAB_LEARNER``.
  The instructor's URL (all of ``cachelab:``) goes to ``<room>/secrets/redis-instructor-url``.
- **The instructor**: the ``instructor`` admin user, and a service token
  (``CACHELAB_HUB_ADMIN_TOKEN``) to list, add and stop users and their servers through the
  REST API. Every secret lives in ``<room>/secrets/`` (root only).
- Everything listens on 127.0.0.1: the hub, its proxy (``configurable-http-proxy``,
  installed into ``hub/node_modules`` by ``make hub``) and every learner's server.
"""

import json
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

HUB = Path(__file__).resolve().parent
sys.path.insert(0, str(HUB))  # hub/learners.py, hub/room_redis.py
import learners  # noqa: E402
from room_redis import RoomRedis  # noqa: E402

ROOM = Path(os.environ["CACHELAB_HUB_ROOM"])  # the room's folder: secrets/, homes/, course/
SECRETS = ROOM / "secrets"  # root only: the hub's database, cookie secret, passwords, tokens

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["CACHELAB_HUB_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["CACHELAB_HUB_INTERNAL_PORT"])
c.JupyterHub.db_url = f"sqlite:///{SECRETS / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(SECRETS / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(SECRETS / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server
c.JupyterHub.cleanup_proxy = True

# The proxy, from hub/node_modules (npm install, never global).
c.ConfigurableHTTPProxy.command = [os.environ["CACHELAB_HUB_PROXY"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['CACHELAB_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = str(SECRETS / "proxy.pid")

# A login per learner: the first login claims the name; the instructor's is set by hub/run.py.
c.JupyterHub.authenticator_class = "firstuseauthenticator.FirstUseAuthenticator"
c.FirstUseAuthenticator.dbm_path = str(SECRETS / "passwords.dbm")
c.FirstUseAuthenticator.create_users = True
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"instructor"}
c.Authenticator.blocked_users = {"default"}  # Redis's own user: room_redis refuses it anyway
c.Authenticator.username_pattern = f"^{learners.HUB_NAME_PATTERN.pattern}$"

# The instructor's scripts: a service whose token can manage users and servers.
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

# The room's Redis: default off, an ACL user per learner (only when hub/run.py starts the hub;
# a test that only reads this configuration has no server to lock).
ROOM_REDIS = None
if "CACHELAB_HUB_REDIS_SECRET" in os.environ:
    ROOM_REDIS = RoomRedis.lock_down(
        os.environ["CACHELAB_HUB_REDIS_URL"], bytes.fromhex(os.environ["CACHELAB_HUB_REDIS_SECRET"])
    )
    instructor_file = SECRETS / "redis-instructor-url"
    instructor_file.write_text(ROOM_REDIS.instructor_url + "\n")
    instructor_file.chmod(0o600)

# The room's course, as hub/run.py staged it: the learners' Python, PATH, libpython.
COURSE = json.loads(os.environ.get("CACHELAB_HUB_COURSE_ENV", "{}"))


class LearnerSpawner(LocalProcessSpawner):
    """A learner's server as that learner's Unix user, with their limits, in their home."""

    @property
    def home_dir(self) -> str:
        return str(ROOM / "homes" / self.user.name)

    def make_preexec_fn(self, name: str):
        return learners.preexec(ROOM, name)

    def user_env(self, env: dict) -> dict:
        env.update(USER=learners.unix_name(self.user.name), HOME=self.home_dir)
        env["SHELL"] = learners.shell()
        return env


def make_the_learners_user(spawner) -> None:
    """Before a learner's server starts: their Unix user and their home, laid out like the
    repository, as ``make lab`` serves it, so that a lesson's links open (what the home already
    holds is kept). The Kubernetes hub lays out homes with the same script."""
    learners.ensure_user(ROOM, spawner.user.name, COURSE)


c.JupyterHub.spawner_class = LearnerSpawner
c.Spawner.pre_spawn_hook = make_the_learners_user
c.Spawner.cmd = [COURSE.get("PYTHON", sys.executable), "-m", "jupyterhub.singleuser"]
# A kernel's sockets as files in the learner's 0700 runtime folder (JUPYTER_RUNTIME_DIR below),
# not 127.0.0.1 TCP ports, where any local user could subscribe to its output (every cell's
# source and what it prints).
c.Spawner.args = ["--KernelManager.transport=ipc"]
# No server extension or package of the learner's own (~/.jupyter, ~/.local): a learner who
# could serve their own code on the hub's origin could act with a classmate's session.
c.Spawner.disable_user_config = True
c.Spawner.default_url = "/lab/tree/lessons/00_setup_check.ipynb"
c.Spawner.start_timeout = 120  # a busy 2-core machine starting several servers at once
c.Spawner.http_timeout = 120
c.Spawner.env_keep = ["LANG", "LC_ALL"]  # nothing else of the hub's environment
c.Spawner.environment = {
    **{name: value for name, value in COURSE.items() if name != "PYTHON"},
    "REDIS_URL": lambda spawner: (
        ROOM_REDIS.instructor_url  # the instructor's own server resets the room
        if spawner.user.name == "instructor"
        else ROOM_REDIS.learner_url(spawner.user.name)
    ),
    "CACHELAB_LEARNER": lambda spawner: spawner.user.name,
    "CACHELAB_DATA_DIR": lambda spawner: str(Path(spawner.home_dir) / "data"),
    "JUPYTER_RUNTIME_DIR": lambda spawner: str(learners.runtime_dir(ROOM, spawner.user.name)),
    "PYTHONUNBUFFERED": "1",
    "PYTHONNOUSERSITE": "1",  # no ~/.local site-packages (see disable_user_config)
}
