# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters the roles decide and check with (plugins/filter/swarm_roles.py), by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.filter.swarm_roles import FilterModule
from ansible_collections.docknet.fabric.plugins.module_utils._role_logic import live_manager, memberships_from_listing, nodes_to_set

FILTERS = FilterModule().filters()

MANAGER = {'is_manager': True}
WORKER = {'is_manager': False}
DOWN = {'failed': True, 'msg': 'cannot connect'}


@pytest.mark.parametrize('hosts, infos, preferred, expected', [
    (['a', 'b'], {'a': MANAGER, 'b': MANAGER}, [], 'a'),
    (['a', 'b'], {'a': MANAGER, 'b': MANAGER}, ['b'], 'b'),
    (['a', 'b'], {'a': WORKER, 'b': MANAGER}, ['a'], 'b'),   # the group's host is no manager now: the other one
    (['a', 'b'], {'a': DOWN, 'b': WORKER}, ['a'], ''),
    (['a', 'b'], {}, ['a'], ''),
    ([], {'a': MANAGER}, [], ''),                           # only hosts of the play are picked
    (['a'], {'a': None}, [], ''),
])
def test_live_manager(hosts, infos, preferred, expected):
    assert live_manager(hosts, infos, preferred) == expected


def want(addr, role, labels=None, state='merge'):
    return {'addr': addr, 'role': role, 'labels': labels or {}, 'labels_state': state}


def node(addr, role, labels=None, state='ready'):
    return {'addr': addr, 'role': role, 'labels': labels or {}, 'state': state}


@pytest.mark.parametrize('wanted, nodes, expected', [
    ({'a': want('1', 'manager')}, [node('1', 'manager')], []),
    ({'a': want('1', 'manager')}, [node('1', 'worker')], ['a']),
    ({'a': want('1', 'manager')}, [], ['a']),                                   # a new joiner
    ({'a': want('1', 'worker', {'x': 1})}, [node('1', 'worker', {'x': '1', 'y': '2'})], []),  # merge
    ({'a': want('1', 'worker', {'x': '1'}, 'replace')}, [node('1', 'worker', {'x': '1', 'y': '2'})], ['a']),
    ({'a': want('1', 'worker', {'x': '2'})}, [node('1', 'worker', {'x': '1'})], ['a']),
    ({'a': want('1', 'worker')}, [node('1', 'worker', state='down'), node('1', 'worker')], []),  # rejoined
    ({'a': want('1', 'worker')}, [node('1', 'worker'), node('1', 'worker')], ['a']),  # ambiguous: set it
    ({'a': want('1', 'worker'), 'b': want('2', 'manager')}, [node('1', 'worker')], ['b']),
])
def test_nodes_to_set(wanted, nodes, expected):
    assert nodes_to_set(wanted, nodes) == expected


def listed(addr, role='worker', state='ready', reachability=None, node_id=None):
    node = {'id': node_id or 'id-' + addr, 'addr': addr, 'role': role, 'state': state, 'hostname': 'h-' + addr}
    if role == 'manager':
        node['reachability'] = reachability or 'reachable'
    return node


FIRST = {'local_node_state': 'active', 'is_manager': True, 'leader_available': True, 'cluster_id': 'c1',
         'error': None, 'nodes': [listed('10.0.0.1', 'manager'), listed('10.0.0.2', 'manager'), listed('10.0.0.3')]}
WANTED = {'n1': '10.0.0.1', 'n2': '10.0.0.2', 'n3': '10.0.0.3'}


def first_with(**changes):
    return dict(FIRST, **changes)


def nodes_with(index, node):
    nodes = list(FIRST['nodes'])
    nodes[index] = node
    return nodes


@pytest.mark.parametrize('wanted, first, why', [
    (WANTED, {'failed': True, 'msg': 'cannot connect'}, 'the first manager does not answer'),
    (WANTED, {'skipped': True}, 'not read'),
    (WANTED, first_with(is_manager=False, nodes=[]), 'no manager now'),
    (WANTED, first_with(local_node_state='inactive', is_manager=False), 'in no swarm'),
    (WANTED, first_with(leader_available=False, nodes=[]), 'quorum lost'),
    (WANTED, first_with(error='something'), 'a swarm error'),
    (dict(WANTED, n4='10.0.0.4'), FIRST, 'a host the listing does not hold (a joiner)'),
    (WANTED, first_with(nodes=nodes_with(2, listed('10.0.0.3', state='down'))), 'a node down'),
    (WANTED, first_with(nodes=nodes_with(1, listed('10.0.0.2', 'manager', reachability='unreachable'))),
     'a manager unreachable'),
    (WANTED, first_with(nodes=FIRST['nodes'] + [listed('10.0.0.3', node_id='twin')]), 'two live nodes at one address'),
])
def test_memberships_from_listing_gives_up_on_any_doubt(wanted, first, why):
    assert memberships_from_listing(wanted, 'n1', first) == {}, why


def test_memberships_from_listing_stands_for_every_host():
    nodes = FIRST['nodes'] + [listed('10.0.0.3', state='down', node_id='old')]   # left and joined again
    first = first_with(nodes=nodes)
    got = memberships_from_listing(WANTED, 'n1', first)
    assert got['n1'] is first
    assert got['n2'] == {'local_node_state': 'active', 'is_manager': True, 'node_id': 'id-10.0.0.2',
                         'node_addr': '10.0.0.2', 'hostname': 'h-10.0.0.2', 'cluster_id': 'c1',
                         'leader_available': True}
    assert got['n3'] == {'local_node_state': 'active', 'is_manager': False, 'node_id': 'id-10.0.0.3',
                         'node_addr': '10.0.0.3', 'hostname': 'h-10.0.0.3', 'cluster_id': None}
    assert memberships_from_listing({'n2': '10.0.0.2'}, 'n1', first) == {}, 'the first host must be among them'


@pytest.mark.parametrize('wanted, nodes, expected', [
    ({'a': want('1', 'manager')}, [node('1', 'manager')], []),
    ({'a': want('1', 'manager')}, [node('1', 'worker')], ['a']),                  # in the swarm, not as manager
    ({'a': want('1', 'manager')}, [node('1', 'manager', state='down')], ['a']),   # only a node that is down
    ({'a': want('1', 'worker')}, [node('1', 'worker', state='down'), node('1', 'worker')], []),   # rejoined
    ({'a': want('1', 'worker')}, [{'addr': '1', 'role': 'worker'}], []),         # no state: not down
    ({'a': want('1', 'worker'), 'b': want('2', 'manager'), 'c': want('3', 'worker')}, [node('2', 'manager')], ['a', 'c']),
    ({'a': want('1', 'worker')}, [], ['a']),
    ({}, [node('1', 'worker')], []),
])
def test_nodes_missing(wanted, nodes, expected):
    assert FILTERS['swarm_nodes_missing'](wanted, nodes) == expected


@pytest.mark.parametrize('nodes, expected', [
    ([], []),
    ([dict(node('198.18.7.2', 'manager'), hostname='node1', availability='active', leader=True),
      dict(node('198.18.7.3', 'worker', state='down'), hostname='node2', availability='drain', leader=False),
      dict(node('198.18.7.4', 'worker'), hostname='node3', availability='active')],
     ['node1 198.18.7.2 manager active ready leader', 'node2 198.18.7.3 worker drain down',
      'node3 198.18.7.4 worker active ready']),
])
def test_node_lines(nodes, expected):
    assert FILTERS['swarm_node_lines'](nodes) == expected


@pytest.mark.parametrize('declared, outcomes, expected', [
    ([], [], []),
    ([{'name': 'web', 'replicas': 3, 'networks': ['front', {'name': 'back', 'aliases': ['w']}]}],
     [{'name': 'web', 'action': 'update', 'converged': True}],
     ['web: replicated x3, networks front, back, update, converged']),
    ([{'name': 'agent', 'mode': 'global'}], [{'name': 'agent', 'action': 'none'}],
     ['agent: global, networks none, no change']),
    ([{'name': 'old', 'state': 'absent'}], [{'name': 'old', 'action': 'remove'}],
     ['old: replicated (removed), networks none, remove']),
    ([{'name': 'slow', 'replicas': 1}], [{'name': 'slow', 'action': 'create', 'converged': False}],
     ['slow: replicated x1, networks none, create, NOT converged']),
    ([{'name': 'unlisted'}], None, ['unlisted: replicated, networks none, no change']),   # no result for it
])
def test_service_lines(declared, outcomes, expected):
    assert FILTERS['swarm_service_lines'](declared, outcomes) == expected


def me(addr, docker_host='unix:///s.sock', shared=True):
    return {'addr': addr, 'docker_host': docker_host, 'shared_controller': shared}


@pytest.mark.parametrize('hosts, selves, managers, workers, expected', [
    (['a', 'b'], {'a': me('10.0.0.1'), 'b': me('10.0.0.2')}, ['a'], ['b'], []),
    (['a', 'b'], {'a': me('fd00::1'), 'b': me('10.0.0.2', docker_host='', shared=False)}, ['a'], ['b'], []),  # over SSH
    (['b'], {'b': me('10.0.0.2')}, ['a'], ['b'],
     ["swarm_cluster needs at least one host of the group 'swarm_managers' in the play (hosts left out with --limit "
      "are not changed; a manager that answers must be in the play)."]),
    (['a', 'c'], {'a': me('10.0.0.1'), 'c': me('10.0.0.3')}, ['a'], [],
     ["c: not in exactly one of the groups 'swarm_managers' and 'swarm_workers'."]),
    (['a'], {'a': me('10.0.0.1')}, ['a'], ['a'],
     ["a: in both groups; a host must be in exactly one of the groups 'swarm_managers' and 'swarm_workers'."]),
    (['a', 'b'], {'a': me('10.0.0.1', docker_host=''), 'b': me('10.0.0.2')}, ['a'], ['b'],
     ["a: swarm_cluster_docker_host (or docker_host) must be set when the hosts share the controller "
      "(ansible_connection local; over SSH the default is the host's own socket)."]),
    (['a', 'b'], {'a': me('node1'), 'b': me('999.0.0.1')}, ['a'], ['b'],
     ["a ('node1'), b ('999.0.0.1'): swarm_cluster_advertise_addr (or advertise_addr) must be an IP address."]),
    (['a', 'b', 'c'], {'a': me('10.0.0.1'), 'b': me('10.0.0.2'), 'c': me('10.0.0.2')}, ['a'], ['b', 'c'],
     ['b, c: the same advertise address 10.0.0.2.']),
    (['a'], {'a': me('')}, ['a'], [], ["a (''): swarm_cluster_advertise_addr (or advertise_addr) must be an IP address."]),
])
def test_host_problems(hosts, selves, managers, workers, expected):
    assert FILTERS['swarm_host_problems'](hosts, selves, managers, workers) == expected
