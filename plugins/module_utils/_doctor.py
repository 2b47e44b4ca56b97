# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_doctor's engine (the orchestration).

Why overlay traffic between swarm nodes fails, and what to do.

The doctor connects to every node's own daemon (``nodes[].docker_host``), reads the swarm from a
manager and runs short-lived probe containers:

- one per node in the node's host network namespace: its links, addresses and routes, and TCP
  connects to each manager's swarm port and each other node's gossip port (the control plane);
- one per node on a temporary attachable overlay: ICMP to every other node's probe, small
  packets first (VXLAN passes at all?), then packets filling the overlay MTU (the data path and
  the MTU actually carried).

Every failure becomes a finding from one catalogue (``CATALOGUE``): the cause and the fix in one
line each. A row or column of a node x node matrix that fails as a whole names the node rather
than each pair. Everything the doctor makes is labelled and named per run, and removed in
``finally``; it never changes the user's objects.

Where things are: ``_doctor_catalogue`` (messages, ports), ``_doctor_diagnosis`` (pure parsing,
matrices, diagnosis; tested by tables in tests/unit/plugins/module_utils/test__doctor.py),
``_doctor_probes`` (connections and probe containers), ``_doctor_checks`` (each check's findings)
and here the run: a ``Survey`` of what is known, and ``Doctor`` deciding which checks run.
"""

from __future__ import annotations

import uuid

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_catalogue import (
    CERT_BACKDATE, CHECKS, DATA_PATH_PORT, finding, summarise)
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_checks import (
    check_addresses, check_clocks, check_control_plane, check_data_path_and_mtu, check_mtu_config, check_nodes,
    read_swarm)
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_diagnosis import normalise_nodes, render_matrix
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_probes import HostProbes, connect_all

_SKIPPED_IN_CHECK_MODE = {'status': 'skipped', 'note': 'check mode runs no container'}


class Survey:
    """What one doctor run knows so far (nodes, clients, the swarm's view, probe outputs) and its findings."""

    def __init__(self, params):
        self.params = params
        self.nodes = normalise_nodes(params['nodes'])
        self.names = [n['name'] for n in self.nodes]
        self.checks_wanted = set(params.get('checks') or CHECKS)
        self.wait = int(params.get('wait', 2))
        if self.wait < 1:
            raise FabricError('wait: give a whole number of seconds of at least 1, got %s.' % params.get('wait'))
        self.limit = int(params.get('max_clock_skew', CERT_BACKDATE))
        if self.limit < 1:
            raise FabricError('max_clock_skew: give a number of seconds of at least 1, got %s.'
                              % params.get('max_clock_skew'))
        self.image = params['image']
        self.run_id = uuid.uuid4().hex[:10]
        self.findings, self.checks = [], {}
        self.clients, self.infos, self.offsets, self.swarm_nodes, self.host_outputs = {}, {}, {}, {}, {}
        self.down = set()
        self.manager = None
        self.data_path_port = DATA_PATH_PORT

    def node(self, name):
        return next((n for n in self.nodes if n['name'] == name), {'name': name})

    def add(self, code, **fields):
        self.findings.append(finding(code, **fields))

    def live(self):
        """Nodes the probes can run on: listed, answering, active in this swarm."""
        return [n for n in self.names if n in self.clients and n not in self.down]

    def find_manager(self):
        for name in self.names:
            swarm = (self.infos.get(name) or {}).get('Swarm') or {}
            if swarm.get('LocalNodeState') == 'active' and swarm.get('ControlAvailable'):
                self.manager = name
                return
        self.add('no_manager')


class Doctor:
    """One run of the doctor over ``nodes``; ``run()`` returns the result dict."""

    def __init__(self, params, check_mode):
        self.survey = Survey(params)
        self.check_mode = check_mode

    def run(self):
        survey = self.survey
        connect_all(survey)
        if survey.clients:
            survey.find_manager()
        elif not any(f['code'] == 'no_manager' for f in survey.findings):
            survey.add('no_manager')
        if survey.manager and read_swarm(survey):
            self._checks()
        else:
            survey.checks['nodes'] = {'status': 'failed', 'nodes': []}
        return self.result()

    def _checks(self):
        survey, wanted = self.survey, self.survey.checks_wanted
        check_nodes(survey)
        if not self.check_mode and wanted & {'control_plane', 'mtu', 'addresses'}:
            HostProbes(survey).run()
        if 'control_plane' in wanted:
            if self.check_mode:
                survey.checks['control_plane'] = dict(_SKIPPED_IN_CHECK_MODE)
            else:
                check_control_plane(survey)
        if 'mtu' in wanted:
            check_mtu_config(survey)
        if wanted & {'data_path', 'mtu'}:
            self._data_path()
        if 'addresses' in wanted:
            check_addresses(survey)
        if 'clocks' in wanted:
            check_clocks(survey)

    def _data_path(self):
        survey = self.survey
        if self.check_mode:
            survey.checks['data_path'] = dict(_SKIPPED_IN_CHECK_MODE)
        elif any(f.get('code') == 'no_quorum' for f in survey.findings):
            # Without a raft leader no overlay can be made: the quorum finding already says why.
            survey.checks['data_path'] = {'status': 'skipped', 'note': 'the managers have no quorum'}
        else:
            check_data_path_and_mtu(survey)

    def result(self):
        survey = self.survey
        errors = [f for f in survey.findings if f['severity'] == 'error']
        matrices = {}
        for check, data in survey.checks.items():
            for title, matrix in (data.get('matrix') or {}).items():
                matrices['%s %s' % (check, title)] = render_matrix(matrix, title)
        return {
            'changed': False,
            'healthy': not errors,
            'manager': survey.manager,
            'run_id': survey.run_id,
            'checks': survey.checks,
            'findings': survey.findings,
            'summary': summarise(survey.checks, survey.findings),
            'matrices': matrices,
        }


def run_doctor(params, check_mode):
    return Doctor(params, check_mode).run()
