# Two commands for a newcomer: `make demo` (a one-minute local run against the bundled target)
# and `make test` (every test). Both set themselves up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COLLECTION := collections/ansible_collections/romram/hailstorms
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo check test test-unit test-integration test-parallel test-serial docs docs-check changelog galaxy-importer lint sanity newest newest-sanity newest-run molecule molecule-default molecule-sudo molecule-docker ee ee-test clean

$(BIN)/.installed: requirements.txt $(COLLECTION)/runtime/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

setup: $(BIN)/.installed
	scripts/collections.sh

demo: setup
	scripts/demo.sh

# Every stage, timed (scripts/stages.sh prints the time of each at the end). First two lanes at once: the
# molecule scenarios on systemd hosts (sudo, which builds the test hosts' images on a fresh machine, and
# default, whose timed runs come after its hosts converge), the sanity tests and the unit tests, beside the
# integration tests that measure no timing, then the docker-backend scenario (on this machine's engine, apart
# from the local runs, whose stop.yml stops every load container of the engine), galaxy-importer and lint.
# The integration tests wait on their runs' clocks more than they use CPU, so the other lane's work fits
# beside them; the lanes end together (fresh-clone CI here, 2026-12-07: 1,363 and 1,216 s with galaxy-importer
# and lint in the first lane). Then, alone on a quiet machine, the tests marked serial and the newest
# ansible-core's local run.
test: setup
	scripts/stages.sh docs-check \
	    'molecule-sudo,sanity,newest-sanity,test-unit,molecule-default|test-parallel,molecule-docker,galaxy-importer,lint' \
	    test-serial newest-run

# The inner loop, a few minutes: unit and property tests, ansible-lint, one real local run (20 s of load).
check: setup
	$(BIN)/pytest $(COLLECTION)/tests/unit -q
	$(BIN)/ansible-lint --profile production
	$(BIN)/pytest tests/integration/test_playbooks_local.py::test_local_run_end_to_end -q

test-unit: setup
	$(BIN)/pytest $(COLLECTION)/tests/unit

# The tests that measure no timing run on INTEGRATION_WORKERS pytest-xdist workers at once (a file per
# worker; tests/conftest.py gives each worker its own load-host lock) (test-parallel), then the ones marked
# serial (timing at the target, CPU) alone, on a quiet machine (test-serial). Two workers: beside the lane of
# molecule `sudo` and the sanity tests, three starved their own load processes on a 2-CPU machine (2026-12-07:
# three fresh-clone runs, each failed by a different run late on its own machine, e.g. a start signal 1.6 s late).
INTEGRATION_WORKERS ?= 2
test-integration: test-parallel test-serial

test-parallel: setup
	$(BIN)/pytest tests --ignore=tests/ee -m "not serial" -n $(INTEGRATION_WORKERS) --dist loadfile --durations=15

test-serial: setup
	$(BIN)/pytest tests --ignore=tests/ee -m serial --durations=15

# Role READMEs and the argument specs' defaults, generated from defaults/main.yml and the specs;
# the collection README's content table, from the roles' and plugins' docs;
# docs/report.png, the report of a fixed sample run (scripts/report_png.py: docs needs chromium
# when the report changed, docs-check compares the HTML's hash and needs no browser).
docs: setup
	$(BIN)/python scripts/role_docs.py
	$(BIN)/python scripts/collection_readme.py
	$(BIN)/python scripts/report_png.py

docs-check: setup
	$(BIN)/python scripts/role_docs.py --check
	$(BIN)/python scripts/collection_readme.py --check
	$(BIN)/python scripts/report_png.py --check
	$(BIN)/python scripts/changelog.py --check

# The collection's CHANGELOG.md: the fragments in changelogs/fragments/ folded into changelog.yaml
# under galaxy.yml's version (antsibull-changelog release), CHANGELOG.md generated from it.
changelog: setup
	$(BIN)/python scripts/changelog.py

# Galaxy's own import checks on the tarball `ansible-galaxy collection build` makes.
galaxy-importer: setup
	scripts/galaxy_importer.sh

lint: setup
	$(BIN)/ansible-lint --profile production

sanity: setup
	scripts/sanity.sh

# Sanity and the local integration run on the newest tested ansible-core (requirements-newest.txt)
# with a Python >= 3.12, in .venv-newest.
newest: setup
	scripts/newest.sh

newest-sanity: setup
	scripts/newest.sh sanity

newest-run: setup
	scripts/newest.sh run

molecule: setup
	scripts/molecule.sh

# the scenarios apart: on systemd hosts (containers): default (three hosts, its run, abort and stop) and
# sudo (a newcomer's hosts and distributions); docker (the docker backend on this machine's engine)
molecule-default: setup
	scripts/molecule.sh default

molecule-sudo: setup
	scripts/molecule.sh sudo

molecule-docker: setup
	scripts/molecule.sh docker

# The execution environment image hailstorms-ee:latest (execution-environment.yml), built offline
# from the debootstrap base image; ee-test runs distribute.yml from it, locally and against two systemd
# hosts over SSH (molecule scenario ee) (opt-in, not in make test).
ee: setup
	scripts/ee.sh

ee-test: ee
	$(BIN)/pytest tests/ee
	scripts/molecule.sh ee

clean:
	rm -rf $(VENV) .venv-newest .cache results
