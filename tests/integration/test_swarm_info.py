# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_info against the lab swarm: a manager, a worker."""

from __future__ import annotations

import json

import pytest

from harness import assert_ok

pytestmark = pytest.mark.lab


def test_manager_and_worker_views(ansible, swarm):
    run = ansible.play([
        {'docknet.fabric.swarm_info': {}},
        {'docknet.fabric.swarm_info': {}, 'check_mode': True},
    ], hosts='node1:node2')
    manager, manager_checked = run.results('node1')
    worker, _worker_checked = run.results('node2')
    for result in (manager, worker, manager_checked):
        assert_ok(result, changed=False)
        assert result['local_node_state'] == 'active'
    assert manager['is_manager'] is True and manager['cluster_id']
    assert manager['node_addr'] == swarm.node('node1')['address']
    addrs = {n['addr']: n for n in manager['nodes']}
    assert set(addrs) == {n['address'] for n in swarm.nodes}
    leader = addrs[swarm.node('node1')['address']]
    assert leader['leader'] is True and leader['role'] == 'manager' and leader['reachability'] == 'reachable'
    assert addrs[swarm.node('node2')['address']]['role'] == 'worker'
    assert worker['is_manager'] is False and worker['cluster_id'] is None and 'nodes' not in worker
    assert [m['addr'] for m in worker['remote_managers']] == ['%s:2377' % swarm.node('node1')['address']]
    assert 'SWMTKN' not in json.dumps(run.records)
