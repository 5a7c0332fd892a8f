# Make or Break -- a hands-on caching course.
#
#   make lab     set up (.venv, the course and what the lessons need, shop database) and open
#                JupyterLab on the repository, at lessons/00_setup_check.ipynb
#   make test    set up (plus the test, bench, hub and site extras), then run every test: library,
#                every lesson on three machines, browser, room
#
# `make help` lists every target. Variables you may set on the command line:
#   PYTHON=python3.13   the interpreter that creates .venv (3.11-3.14; default: first suitable one found)
#   VENV=.venv313       the virtual environment to use (default .venv): a second Python beside the
#                       first, e.g. make test-fast VENV=.venv313 PYTHON=python3.13
#   OFFLINE=1           install from wheelhouse/ only (see `make wheelhouse`), no network
#   FULL=1              make wheelhouse: every extra's wheels too (the default is the learner's set)
#   PORT=8888           the port `make lab` asks JupyterLab for
#   HUB_PORT=8000       the port `make hub` serves the room's JupyterHub on
#   HUB_ROOM=/srv/...   the room's folder for `make hub` (default /srv/make-or-break-room)
#   DASHBOARD_PORT=8866 the port `make dashboard` serves the dashboards on (127.0.0.1 only)
#   ARGS=--quick        passed on to benchmarks/run.py by `make bench`

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       ?= .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.cachelab-installed
WHEELHOUSE := wheelhouse
# A learner's `make lab` installs the course and what the lessons need (pyproject's dependencies),
# nothing else. The maintainers' targets add the extra they need the first time they run, each
# recorded by a stamp of its own ($(VENV)/.cachelab-with-<extra>): test (make test-fast, lint),
# hub, site (make site, make dashboard), bench; make test takes them all.
ALL_EXTRAS := test+bench+hub+site
comma      := ,
HUB_PROXY  := hub/node_modules/.bin/configurable-http-proxy
PORT       ?= 8888
HUB_PORT   ?= 8000
DASHBOARD_PORT ?= 8866

# Pick the interpreter: $(PYTHON) if given, else python3 if it is 3.11-3.14, else the newest of
# python3.14/3.13/3.12/3.11 found.
PYTHON ?= $(shell for p in python3 python3.14 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3,11) <= sys.version_info[:2] <= (3,14))' 2>/dev/null \
	&& { echo $$p; break; }; done)

ifeq ($(FULL),1)
WHEELHOUSE_SET := .[$(subst +,$(comma),$(ALL_EXTRAS))]
else
WHEELHOUSE_SET := .
endif

ifeq ($(OFFLINE),1)
PIP_SOURCE := --no-index --find-links $(WHEELHOUSE)
else
PIP_SOURCE :=
endif

# --allow-root only when we really are root (containers, CI); never otherwise.
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: help lab test test-fast browser-and-proxy lint bench reset clean wheelhouse site setup data hub hub-remove-users hub-proxy dashboard type-along

help: ## list the targets
	@echo "Make or Break -- a hands-on caching course. Start with: make lab   (check everything: make test)"
	@echo
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-11s %s\n", $$1, $$2}'
	@echo
	@echo "  options: PYTHON=python3.13 (which Python makes .venv), VENV=.venv313, OFFLINE=1 (install from wheelhouse/), PORT=8888"

# --- set-up -------------------------------------------------------------------------------------

$(PY):
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: no Python 3.11-3.14 found (tried python3, python3.14, python3.13, python3.12, python3.11)." >&2; \
		echo "       Install one (Debian/Ubuntu: apt-get install python3 python3-venv; Fedora: dnf install python3;" >&2; \
		echo "       macOS: the installer from python.org or brew install python@3.13)," >&2; \
		echo "       or name it: make lab PYTHON=/path/to/python3.13. Every system's steps: docs/setup.md." >&2; \
		exit 1; fi
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; ok = (3,11) <= v <= (3,14); \
		print(f"using {sys.executable} (Python {v[0]}.{v[1]})"); \
		ok or print(f"error: this course needs Python 3.11-3.14, {sys.executable} is {v[0]}.{v[1]}; try make lab PYTHON=python3.13 (docs/setup.md)", file=sys.stderr); \
		sys.exit(0 if ok else 1)'
	@echo "$(PYTHON) -m venv $(VENV)"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "error: could not create $(VENV). On Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }

# The learner's install: the course and what the lessons need. Again only when pyproject.toml
# changes (or the venv is new); a new install also makes every extra's stamp out of date.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check $(PIP_SOURCE) -e .
	@touch $@

# Extras, installed the first time a target needs them: $(VENV)/.cachelab-with-test+hub installs
# .[test,hub] in one pip run and stamps each extra it installed (and the set) as done.
$(VENV)/.cachelab-with-%: $(STAMP)
	$(PY) -m pip install --disable-pip-version-check $(PIP_SOURCE) -e '.[$(subst +,$(comma),$*)]'
	@for extra in $(subst +, ,$*); do touch $(VENV)/.cachelab-with-$$extra; done
	@touch $@

TEST_EXTRAS := $(VENV)/.cachelab-with-test
ALL_EXTRAS_STAMP := $(VENV)/.cachelab-with-$(ALL_EXTRAS)

setup: $(STAMP) ## create .venv and install the course for a learner (only when pyproject.toml changed)

data: setup ## build the default shop database if it is missing (progress bar; quick when it exists)
	$(PY) -m cachelab.shop.data

# --- the two commands -----------------------------------------------------------------------------

# JupyterLab serves the repository's root and opens lessons/00_setup_check.ipynb: a lesson's links
# (../GLOSSARY.md, ../docs/setup.md, ../type-along/) reach only what the served tree holds, and the
# hubs give each learner's home the same layout (scripts/learner_home.py). The type-along copies
# are written the first time only: a learner types into them, so a later make lab keeps them.
LAB_START := lessons/00_setup_check.ipynb

lab: data ## set up, then open JupyterLab on the repository, at lessons/00_setup_check.ipynb
	@[ -d type-along ] || $(PY) scripts/type_along.py
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/$(LAB_START) --port=$(PORT) $(ALLOW_ROOT)

# make test is four pytest runs, one after the other, the first three on several workers
# (pytest-xdist):
#   1. the library: every test that executes no lesson and starts no browser (make test-fast),
#      on three workers: with two, a third of this machine's two cores sat idle (vmstat) while
#      tests waited for servers and subprocesses; three took 60 s instead of 71 s, and with
#      --dist worksteal (an idle worker takes tests queued for a busy one) 56 s instead of 60-66.
#      The few that follow processes machine-wide or play real-time bursts (serial) then run alone;
#   2. every lesson on three machines: nbval on the default shop with every core (lessons/), and
#      tests/test_lessons.py on the small shop (a fast machine) and on one CPU (a slow one);
#   3. a room of learners on one Redis, a JupyterHub, a six-node Redis Cluster (test_local_cluster:
#      about 15 s), the course site rendered from run 2's lessons, and the learner's packages
#      resolved from wheels for a Mac (test_platforms.py: needs the package index, skipped
#      without it);
#   4. the widget lessons and the dashboards in Chromium, one at a time, on a quieter machine
#      (README, "For maintainers": why a page once stayed on "Executing 3 of 4").
PYTEST := $(PY) -m pytest -n 2
# nbval executes the notebooks in lessons/ (pyproject's addopts leave it off elsewhere: it costs
# every pytest process 1.5 s of CPU at start-up). --nbval-lax: a cell's outputs are not compared.
NBVAL := -p nbval --nbval-lax --nbval-cell-timeout=300
LIBRARY_RUN := $(PY) -m pytest -n 3 --dist worksteal -m "not (lesson or room or browser or site or platforms or serial or cluster)"

test: data $(ALL_EXTRAS_STAMP) lint browser-and-proxy ## set up, then run every test: lint, library, lessons on three machines, room, browser, site
	$(LIBRARY_RUN) tests
	$(PY) -m pytest -m serial tests
	$(PYTEST) $(NBVAL) --dist loadgroup -m lesson --durations=25 lessons tests
	$(PYTEST) --dist loadgroup -m "room or site or platforms or cluster" tests
	$(PY) -m pytest -m browser tests

test-fast: $(TEST_EXTRAS) ## the library's tests alone (no lessons, browser, room or hub): about 80 s
	$(LIBRARY_RUN) tests
	$(PY) -m pytest -m serial tests

browser-and-proxy: $(TEST_EXTRAS)
	@# A browser for the browser tests: found, or (as root with apt-get) Debian's chromium installed.
	@# None: those tests are skipped, and the summary says how to get one (under CI=true they fail).
	@$(PY) scripts/browser.py --install || true
	@# JupyterHub's proxy for the hub test, from npm into hub/node_modules (skipped without npm).
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory hub-proxy; \
	else echo "note: no npm here, so the JupyterHub test will be skipped (failed under CI=true)"; fi

LINTED := lib tests benchmarks scripts lessons/solutions lessons/conftest.py book dashboards/serve.py

lint: $(TEST_EXTRAS) ## check the code's style with ruff (configured in pyproject.toml)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

# --- for instructors and maintainers ---------------------------------------------------------------

bench: data $(VENV)/.cachelab-with-bench ## run the benchmarks (honest measurements; never pass/fail); e.g. make bench ARGS=--quick
	$(PY) benchmarks/run.py $(ARGS)

hub: data $(VENV)/.cachelab-with-hub $(HUB_PROXY) ## JupyterHub for a room, as root (sudo make hub), on 127.0.0.1:8000 (HUB_PORT=...): a Unix user and a login per learner, a Redis ACL user each; Ctrl-C stops it
	$(PY) hub/run.py --port $(HUB_PORT) $(if $(HUB_ROOM),--room $(HUB_ROOM))

hub-remove-users: ## after the course: remove the Unix users make hub made for its learners (as root)
	$(PY) hub/run.py --remove-users $(if $(HUB_ROOM),--room $(HUB_ROOM))

hub-proxy: $(HUB_PROXY) ## install JupyterHub's proxy (configurable-http-proxy) into hub/node_modules

$(HUB_PROXY): hub/package.json
	@command -v npm >/dev/null || { echo "error: JupyterHub's proxy comes from npm: install Node.js" \
		"and npm (Debian/Ubuntu: apt-get install npm; macOS: brew install node)" >&2; exit 1; }
	npm install --prefix hub --no-audit --no-fund --no-package-lock
	@touch $@

reset: setup ## delete this learner's Redis keys (cachelab:<learner>:* only) and the generated databases
	$(PY) -m cachelab.environment.reset

wheelhouse: setup ## the learner's wheels into wheelhouse/ for offline installs (make lab OFFLINE=1); FULL=1: every extra's too
	mkdir -p $(WHEELHOUSE)
	$(PY) -m pip download --disable-pip-version-check -d $(WHEELHOUSE) pip setuptools wheel
	$(PY) -m pip wheel --disable-pip-version-check -w $(WHEELHOUSE) '$(WHEELHOUSE_SET)'
	rm -f $(WHEELHOUSE)/cachelab-*.whl  # the course itself is installed from the repository (-e .)
	rm -rf build  # what building the course's own wheel left behind
	@echo "wheelhouse/ holds $$(ls $(WHEELHOUSE) | wc -l) files for $(if $(filter 1,$(FULL)),every target (FULL=1),a learner's make lab)." \
		"Copy the repository with it, then: make lab OFFLINE=1$(if $(filter 1,$(FULL)),, (make test OFFLINE=1 needs make wheelhouse FULL=1))"

site: data $(VENV)/.cachelab-with-site ## the course as a web site in book/_build/html/ (lessons executed; outputs never go into lessons/)
	$(PY) book/build.py

dashboard: data $(VENV)/.cachelab-with-site ## lesson 07's TTL explorer and 08's XFetch view as pages to project (Voila, 127.0.0.1:8866)
	$(PY) dashboards/serve.py --port $(DASHBOARD_PORT)

type-along: setup ## each lesson with the cells an instructor types live emptied, into type-along/ (overwrites)
	$(PY) scripts/type_along.py

clean: ## remove .venv, the generated databases, caches and test by-products
	rm -rf $(VENV) .venv313 test-results site book/_build type-along .pytest_cache lib/*.egg-info build dist hub/node_modules
	rm -f data/*.db data/*.db-journal data/*.db-wal data/*.db-shm data/*.partial
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -not -path './.git/*' -exec rm -rf {} +
