# docknet.fabric: the whole set-up and test flow. Run as root on Debian 12 or 13.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SANITY_VENV ?= .venv-sanity
LAB := tests/lab/lab
export LAB_ID ?= 0
LAB_NODES ?= 3
# The Docker engine of the labs (tests/lab/README.md): 20.10, 26 or 28. make demo and the
# Molecule/site acceptance run the newest; make test runs the module tests on each of TEST_ENGINES.
export LAB_ENGINE ?= 28
TEST_ENGINES ?= 20.10 28
# The lab of the module integration tests: never lab 0, which is make demo's.
TEST_LAB_ID ?= 1
# The lab the Molecule scenarios bring up and down (their create/destroy).
MOLECULE_LAB_ID ?= 7
MOLECULE_ROLES := swarm_cluster swarm_networks swarm_services swarm_policy
# ansible-test wants the collection under ansible_collections/<namespace>/<name>.
SANITY_DIR ?= .build/sanity
SANITY_ROOT := $(SANITY_DIR)/ansible_collections/docknet/fabric
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help deps host-deps venv collection-link lab-up lab-down lab-status demo test unit sanity lint changelog-lint integration integration-engine integration-site integration-oldest molecule molecule-site molecule-roles integration-ssh molecule-ssh acceptance clean

help:
	@echo "make demo   build a $(LAB_NODES)-node lab of real Docker engines and run playbooks/site.yml, verify.yml and topology.yml on it"
	@echo "make test   unit tests, changelog lint, ansible-test sanity, ansible-lint, integration tests on engines $(TEST_ENGINES) side by side, site acceptance (local and SSH) and Molecule on $(LAB_ENGINE)"
	@echo "make lab-up / lab-down / lab-status    the lab alone (LAB_ID=$(LAB_ID), LAB_ENGINE=$(LAB_ENGINE))"
	@echo "make molecule   the Molecule scenarios: site (extensions/molecule/site), one per role and swarm_cluster's ssh (lab $(MOLECULE_LAB_ID))"

deps: host-deps venv collection-link

host-deps:
	@for engine in $(sort $(LAB_ENGINE) $(TEST_ENGINES)); do $(LAB) deps --engine $$engine || exit 1; done
	@# Graphviz renders the topology picture (playbooks/topology.yml) to SVG; the lab does not need it.
	@dpkg-query -W -f='$${Status}' graphviz 2>/dev/null | grep -q 'ok installed' || \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz >/dev/null; }; }

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The checkout itself, seen by Ansible as docknet.fabric.
collection-link:
	@mkdir -p .build/collections/ansible_collections/docknet
	@ln -sfn $(CURDIR) .build/collections/ansible_collections/docknet/fabric

lab-up: host-deps
	$(LAB) up $(LAB_NODES)

lab-down:
	$(LAB) down

lab-status:
	$(LAB) status

# The demo topology is an inventory overlay (playbooks/demo) laid over the lab's inventory.
# site.yml prints the swarm's nodes, each host's networks and the services; verify.yml the
# reachability matrix. playbooks/teardown.yml undoes it; make lab-down removes the lab.
demo: deps lab-up
	$(BIN)/ansible-playbook -i "$$($(LAB) inventory $(LAB_INVENTORY_SSH))" -i playbooks/demo playbooks/site.yml
	$(BIN)/ansible-playbook -i "$$($(LAB) inventory $(LAB_INVENTORY_SSH))" -i playbooks/demo playbooks/verify.yml
	$(BIN)/ansible-playbook -i "$$($(LAB) inventory $(LAB_INVENTORY_SSH))" -i playbooks/demo playbooks/topology.yml
	@echo "Topology picture: $(CURDIR)/.build/topology/topology.md (Mermaid), .dot and .svg (Graphviz)"

# The whole check, as CI runs it (.ci/run). The two engines' module tests run side by side, and so do the
# site acceptance run locally and over SSH: most of their time is spent waiting on dockerd, not on the CPU.
test: deps
	$(MAKE) --no-print-directory unit changelog-lint sanity lint
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory acceptance ACCEPTANCE_WITH_MOLECULE=1

unit:
	$(BIN)/python -m pytest tests/unit -q

changelog-lint:
	$(BIN)/antsibull-changelog lint

# ansible-test installs its pinned linters into the environment it runs in, so
# it gets a venv of its own (its --venv mode would download pip from the internet).
$(SANITY_VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/pip install --quiet --upgrade pip
	$(SANITY_VENV)/bin/pip install --quiet "$$(grep '^ansible-core' requirements-dev.txt)" -r requirements.txt
	touch $@

sanity: $(SANITY_VENV)/.installed
	@version=$$($(SANITY_VENV)/bin/python -c 'import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r)).group(1))'); \
	mkdir -p ~/.ansible/test/cache; cp .ci/offline-get-pip.py ~/.ansible/test/cache/get_pip_$${version//./_}.py
	rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_ROOT)
	git ls-files --cached --others --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C $(SANITY_ROOT)
	@# A repository of its own, or ansible-test would list files from the checkout's
	@# git, where .build/ is ignored, and find nothing to test.
	cd $(SANITY_ROOT) && git init -q && git add -A
	cd $(SANITY_ROOT) && $(CURDIR)/$(SANITY_VENV)/bin/ansible-test sanity --color no --local --requirements \
	    --python "$$($(CURDIR)/$(SANITY_VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

lint:
	$(BIN)/ansible-lint --profile production

# The module integration tests (all but the site acceptance) on each engine of TEST_ENGINES, side by
# side: the Nth engine runs in lab Nth of TEST_LAB_IDS, its test_swarm.py in the Nth of TEST_SWARM_LAB_IDS
# (test_lab.py, lab 9, with the first engine only). Each engine's output goes to .build/integration-E.log
# and is printed when all are done; the labs are brought down afterwards whatever the outcome (KEEP_LAB=1
# keeps them). One engine: make integration TEST_ENGINES=28
TEST_LAB_IDS ?= 1 2
TEST_SWARM_LAB_IDS ?= 5 3
integration: deps
	@mkdir -p .build; labs=($(TEST_LAB_IDS)); swarms=($(TEST_SWARM_LAB_IDS)); i=0; pids=(); engines=(); \
	for engine in $(TEST_ENGINES); do \
	  ignore=$$([ $$i -eq 0 ] || echo --ignore=tests/integration/test_lab.py); \
	  echo "=== module integration tests on engine $$engine: lab $${labs[$$i]}, swarm lab $${swarms[$$i]}, log .build/integration-$$engine.log"; \
	  $(MAKE) --no-print-directory integration-engine LAB_ENGINE=$$engine TEST_LAB_ID=$${labs[$$i]} \
	      DOCKNET_SWARM_LAB_ID=$${swarms[$$i]} PYTEST_EXTRA="$$ignore" >.build/integration-$$engine.log 2>&1 & \
	  pids+=($$!); engines+=($$engine); i=$$((i + 1)); \
	done; \
	rc=0; for k in "$${!pids[@]}"; do \
	  if wait "$${pids[$$k]}"; then result=passed; else result=FAILED; rc=1; fi; \
	  echo; echo "=== engine $${engines[$$k]}: $$result"; cat .build/integration-$${engines[$$k]}.log; \
	done; exit $$rc

integration-engine:
	@echo "=== module integration tests on engine $(LAB_ENGINE) (lab $(TEST_LAB_ID))"
	@# A lab kept (KEEP_LAB) with another engine is not switched by up: start afresh.
	[ "$$(cat /run/docknet-lab/$(TEST_LAB_ID)/engine 2>/dev/null || echo $(LAB_ENGINE))" = "$(LAB_ENGINE)" ] || LAB_ID=$(TEST_LAB_ID) $(LAB) down
	LAB_ID=$(TEST_LAB_ID) $(LAB) up $(LAB_NODES)
	rc=0; DOCKNET_LAB_ID=$(TEST_LAB_ID) $(BIN)/python -m pytest tests/integration -v --durations=15 \
	    --ignore tests/integration/test_site.py $(PYTEST_EXTRA) || rc=$$?; \
	if [ -z "$(KEEP_LAB)" ]; then LAB_ID=$(TEST_LAB_ID) $(LAB) down; fi; exit $$rc

# The site acceptance with the lab's nodes reached locally (lab 8) and over SSH (lab 4), side by side;
# with ACCEPTANCE_WITH_MOLECULE=1 (make test) the Molecule scenarios (lab 7) run beside them too.
acceptance: deps
	@mkdir -p .build; \
	$(MAKE) --no-print-directory integration-ssh >.build/integration-ssh.log 2>&1 & ssh=$$!; \
	mol=''; if [ -n "$(ACCEPTANCE_WITH_MOLECULE)" ]; then \
	  $(MAKE) --no-print-directory molecule >.build/molecule.log 2>&1 & mol=$$!; fi; \
	rc=0; $(MAKE) --no-print-directory integration-site || rc=1; \
	if wait $$ssh; then result=passed; else result=FAILED; rc=1; fi; \
	echo; echo "=== site acceptance over SSH: $$result"; cat .build/integration-ssh.log; \
	if [ -n "$$mol" ]; then \
	  if wait $$mol; then result=passed; else result=FAILED; rc=1; fi; \
	  echo; echo "=== Molecule scenarios: $$result"; cat .build/molecule.log; \
	fi; exit $$rc

# The site acceptance (site.yml, verify.yml, teardown.yml on a lab of its own, 8) on LAB_ENGINE.
integration-site: deps
	$(BIN)/python -m pytest tests/integration/test_site.py -v --durations=5

# The module integration tests again with the oldest ansible-core we support (not part of
# make test, for time): make integration-oldest
OLDEST_ANSIBLE_CORE ?= ansible-core>=2.17,<2.18
integration-oldest: deps
	test -x .build/venv-oldest/bin/python || $(PYTHON) -m venv .build/venv-oldest
	.build/venv-oldest/bin/pip install --quiet "$(OLDEST_ANSIBLE_CORE)" -r requirements.txt pytest
	LAB_ID=$(TEST_LAB_ID) $(LAB) up $(LAB_NODES)
	rc=0; DOCKNET_LAB_ID=$(TEST_LAB_ID) .build/venv-oldest/bin/python -m pytest tests/integration -q \
	    --ignore tests/integration/test_site.py || rc=$$?; \
	if [ -z "$(KEEP_LAB)" ]; then LAB_ID=$(TEST_LAB_ID) $(LAB) down; fi; exit $$rc

# Molecule, delegated driver: each scenario's create/destroy bring lab $(MOLECULE_LAB_ID) up and down.
# make test runs them all: the site scenario, one per role, and swarm_cluster's scenario over SSH.
molecule: molecule-site molecule-roles molecule-ssh

molecule-site: deps
	DOCKNET_MOLECULE_LAB_ID=$(MOLECULE_LAB_ID) $(BIN)/molecule test -s site

molecule-roles: deps
	set -e; for role in $(MOLECULE_ROLES); do \
	  (cd roles/$$role && DOCKNET_MOLECULE_LAB_ID=$(MOLECULE_LAB_ID) $(CURDIR)/$(BIN)/molecule test); \
	done

# Over SSH (issue 14): LAB_SSH=1 make demo runs the demo against the nodes as real machines (lab up --ssh,
# inventory --ssh). integration-ssh: the site acceptance of test_site.py and the swarm_cluster Molecule
# scenario 'ssh', each node reached over SSH with its own /var/run/docker.sock and Debian's python3-docker.
LAB_INVENTORY_SSH = $(if $(filter 1 yes true,$(LAB_SSH)),--ssh)
SSH_SITE_LAB_ID ?= 4
integration-ssh: deps
	DOCKNET_SITE_SSH=1 DOCKNET_SITE_LAB_ID=$(SSH_SITE_LAB_ID) $(BIN)/python -m pytest tests/integration/test_site.py \
	    -m acceptance -v --durations=10

molecule-ssh: deps
	cd roles/swarm_cluster && DOCKNET_MOLECULE_LAB_ID=$(MOLECULE_LAB_ID) $(CURDIR)/$(BIN)/molecule test -s ssh

clean: lab-down
	rm -rf .build
