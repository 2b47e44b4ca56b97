# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_info's flattening of Docker's answers, by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._swarm_info import describe_membership, describe_node


@pytest.mark.parametrize('info, expected', [
    ({}, {'local_node_state': 'inactive', 'node_id': None, 'node_addr': None, 'is_manager': False,
          'cluster_id': None, 'remote_managers': [], 'error': None, 'hostname': None}),
    ({'Name': 'node2', 'Swarm': {'LocalNodeState': 'active', 'NodeID': 'w1', 'NodeAddr': '10.0.0.2',
                                 'ControlAvailable': False, 'Error': '',
                                 'RemoteManagers': [{'NodeID': 'm2', 'Addr': '10.0.0.3:2377'},
                                                    {'NodeID': 'm1', 'Addr': '10.0.0.1:2377'}]}},
     {'local_node_state': 'active', 'node_id': 'w1', 'node_addr': '10.0.0.2', 'is_manager': False,
      'cluster_id': None, 'error': None, 'hostname': 'node2',
      'remote_managers': [{'node_id': 'm1', 'addr': '10.0.0.1:2377'}, {'node_id': 'm2', 'addr': '10.0.0.3:2377'}]}),
    ({'Swarm': {'LocalNodeState': 'locked', 'NodeID': '', 'ControlAvailable': False}},
     {'local_node_state': 'locked', 'node_id': None, 'node_addr': None, 'is_manager': False,
      'cluster_id': None, 'remote_managers': [], 'error': None, 'hostname': None}),
])
def test_describe_membership(info, expected):
    assert describe_membership(info) == expected


@pytest.mark.parametrize('node, expected_addr, leader', [
    ({'ID': 'a', 'Status': {'State': 'ready', 'Addr': '10.0.0.1'}}, '10.0.0.1', False),
    # A manager may report 0.0.0.0 as its status address; its raft address is the real one.
    ({'ID': 'b', 'Status': {'State': 'ready', 'Addr': '0.0.0.0'},
      'ManagerStatus': {'Leader': True, 'Reachability': 'reachable', 'Addr': '10.0.0.2:2377'}}, '10.0.0.2', True),
    ({'ID': 'c', 'Status': {'State': 'down'}}, None, False),
])
def test_describe_node(node, expected_addr, leader):
    described = describe_node(node)
    assert described['addr'] == expected_addr and described['leader'] is leader and described['id'] == node['ID']
    assert described['labels'] == {}


def test_a_manager_without_leader_is_reported_as_such():
    from ansible_collections.docknet.fabric.plugins.module_utils import _swarm_info
    from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

    class Api:
        def info(self):
            return {'Swarm': {'LocalNodeState': 'active', 'ControlAvailable': True, 'Cluster': {'ID': 'c1'}}}

        def nodes(self):
            raise FabricError('Listing the swarm\'s nodes: the Docker daemon answered: rpc error: code = Unknown '
                              'desc = The swarm does not have a leader. It\'s possible that too few managers are online.')

    class Client:
        api = Api()

        def call(self, doing, method, *args, **kwargs):
            return method(*args, **kwargs)

    found = _swarm_info.gather(Client())
    assert found['is_manager'] is True and found['leader_available'] is False and found['nodes'] == []
    assert 'does not have a leader' in found['error']
