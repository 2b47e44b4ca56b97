# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters the roles decide and check with (plugins/filter/swarm_roles.py), by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.filter.swarm_roles import FilterModule
from ansible_collections.docknet.fabric.plugins.module_utils._role_logic import live_manager, nodes_to_set

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
