# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_info's pure helpers, by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._network_info import (
    attachments_by_network,
    ipam_pools,
    label_matches,
    network_selected,
    services_by_network,
    tasks_by_service,
)


@pytest.mark.parametrize('ipam, expected', [
    (None, []),
    ({'Config': None}, []),
    ({'Config': [{'Subnet': '10.0.0.0/24'}]}, [{'subnet': '10.0.0.0/24'}]),
    ({'Config': [{'Subnet': '10.0.0.0/24', 'Gateway': '10.0.0.1', 'IPRange': '10.0.0.128/25',
                  'AuxiliaryAddresses': {'router': '10.0.0.2'}}]},
     [{'subnet': '10.0.0.0/24', 'gateway': '10.0.0.1', 'ip_range': '10.0.0.128/25',
       'aux_addresses': {'router': '10.0.0.2'}}]),
    ({'Config': [{'Subnet': 'fd00::/64', 'Gateway': ''}]}, [{'subnet': 'fd00::/64'}]),
])
def test_ipam_pools(ipam, expected):
    assert ipam_pools(ipam) == expected


@pytest.mark.parametrize('labels, wanted, expected', [
    ({'a': '1'}, 'a', True), ({'a': '1'}, 'a=1', True), ({'a': '1'}, 'a=2', False),
    ({'a': ''}, 'a=', True), ({}, 'a', False), ({'a': 'x=y'}, 'a=x=y', True),
])
def test_label_matches(labels, wanted, expected):
    assert label_matches(labels, wanted) is expected


NET = {'Name': 'web-front', 'Id': 'abc123', 'Driver': 'bridge', 'Labels': {'tier': 'front'}}


@pytest.mark.parametrize('names, drivers, labels, expected', [
    (None, None, None, True),
    (['web-front'], None, None, True),
    (['web'], None, None, False),
    (['web-*'], None, None, True),
    (['abc123'], None, None, True),
    (None, ['overlay'], None, False),
    (None, ['overlay', 'bridge'], None, True),
    (None, None, ['tier=front'], True),
    (None, None, ['tier=front', 'x'], False),
    (['web-*'], ['bridge'], ['tier'], True),
])
def test_network_selected(names, drivers, labels, expected):
    assert network_selected(NET, names, drivers, labels) is expected


def test_attachments_are_joined_by_network_id_and_drop_short_id_alias():
    containers = [
        {'Id': 'c' * 64, 'Names': ['/web'], 'State': 'running',
         'NetworkSettings': {'Networks': {'front': {
             'NetworkID': 'n1', 'IPAddress': '10.0.0.5', 'GlobalIPv6Address': '',
             'MacAddress': '02:42:0a:00:00:05', 'Aliases': ['cccccccccccc', 'www']}}}},
        {'Id': 'd' * 64, 'Names': ['/idle'], 'State': 'exited',
         'NetworkSettings': {'Networks': {'front': {'NetworkID': '', 'IPAddress': '', 'Aliases': None},
                                          'gone': {'NetworkID': ''}}}},
    ]
    # idle was connected while stopped: no NetworkID, only the network's name.
    attached = attachments_by_network(containers, {'front': 'n1'})
    assert list(attached) == ['n1']
    assert [c['name'] for c in attached['n1']] == ['idle', 'web']
    idle, web = attached['n1']
    assert web['aliases'] == ['www'] and web['ipv4_address'] == '10.0.0.5' and web['ipv6_address'] is None
    assert idle['running'] is False and idle['ipv4_address'] is None and idle['aliases'] == []


def test_aliases_come_from_the_reader_when_given():
    containers = [{'Id': 'e' * 64, 'Names': ['/api'], 'State': 'running',
                   'NetworkSettings': {'Networks': {'back': {'NetworkID': 'n2', 'Aliases': None}}}}]
    attached = attachments_by_network(containers, {}, lambda cid, nid: ['eeeeeeeeeeee', 'api-' + nid])
    assert attached['n2'][0]['aliases'] == ['api-n2']


def test_services_map_targets_given_by_name_or_id():
    services = [
        {'ID': 's1', 'Spec': {'Name': 'api', 'TaskTemplate': {'Networks': [{'Target': 'n1', 'Aliases': ['a']}]},
                              'EndpointSpec': {'Mode': 'dnsrr'}},
         'Endpoint': {}},
        {'ID': 's2', 'Spec': {'Name': 'web', 'TaskTemplate': {'Networks': [{'Target': 'front'}]}},
         'Endpoint': {'VirtualIPs': [{'NetworkID': 'n1', 'Addr': '10.0.0.9/24'}]}},
    ]
    attached = services_by_network(services, {'front': 'n1'})
    assert attached == {'n1': [
        {'name': 'api', 'id': 's1', 'aliases': ['a'], 'virtual_ip': None, 'endpoint_mode': 'dnsrr'},
        {'name': 'web', 'id': 's2', 'aliases': [], 'virtual_ip': '10.0.0.9/24', 'endpoint_mode': 'vip'},
    ]}


def task(task_id, service, node, desired='running', state='running', slot=None, attachments=(), err=None):
    return {'ID': task_id, 'ServiceID': service, 'NodeID': node, 'Slot': slot, 'DesiredState': desired,
            'Status': {'State': state, 'Err': err},
            'NetworksAttachments': [{'Network': {'ID': net}, 'Addresses': list(addresses)} for net, addresses in attachments]}


NODES = [{'ID': 'node-a', 'Description': {'Hostname': 'node1'}}, {'ID': 'node-b', 'Description': {}}]


@pytest.mark.parametrize('tasks, expected', [
    # Current tasks only, ordered by slot; the node by hostname (by id when the node has none).
    ([task('t2', 's1', 'node-b', slot=2, attachments=[('n1', ['10.0.1.3/24', 'fd00::3/64'])]),
      task('t1', 's1', 'node-a', slot=1, attachments=[('n1', ['10.0.1.2/24']), ('n2', ['10.0.2.2/24'])]),
      task('t0', 's1', 'node-a', slot=1, desired='shutdown', state='failed', err='task: non-zero exit (1)')],
     {'s1': [{'id': 't1', 'slot': 1, 'node': 'node1', 'node_id': 'node-a', 'state': 'running', 'desired_state': 'running',
              'error': None, 'addresses': {'n1': ['10.0.1.2'], 'n2': ['10.0.2.2']}},
             {'id': 't2', 'slot': 2, 'node': 'node-b', 'node_id': 'node-b', 'state': 'running', 'desired_state': 'running',
              'error': None, 'addresses': {'n1': ['10.0.1.3', 'fd00::3']}}]}),
    # A global service's task has no slot; a task not yet placed has no node; a rejected one says why.
    ([task('g1', 's2', 'node-a'), task('p1', 's3', '', state='pending'),
      task('r1', 's4', 'node-b', state='rejected', err='no such image')],
     {'s2': [{'id': 'g1', 'slot': None, 'node': 'node1', 'node_id': 'node-a', 'state': 'running',
              'desired_state': 'running', 'error': None, 'addresses': {}}],
      's3': [{'id': 'p1', 'slot': None, 'node': None, 'node_id': None, 'state': 'pending', 'desired_state': 'running',
              'error': None, 'addresses': {}}],
      's4': [{'id': 'r1', 'slot': None, 'node': 'node-b', 'node_id': 'node-b', 'state': 'rejected',
              'desired_state': 'running', 'error': 'no such image', 'addresses': {}}]}),
    ([], {}),
])
def test_tasks_by_service(tasks, expected):
    assert tasks_by_service(tasks, NODES) == expected


def test_services_list_their_tasks_with_the_addresses_on_each_network():
    services = [{'ID': 's1', 'Spec': {'Name': 'api', 'EndpointSpec': {'Mode': 'dnsrr'},
                                      'TaskTemplate': {'Networks': [{'Target': 'n1'}, {'Target': 'n2'}]}}}]
    attachments = [('n1', ['10.0.1.2/24']), ('n2', ['10.0.2.2/24'])]
    tasks = tasks_by_service([task('t1', 's1', 'node-a', slot=1, attachments=attachments)], NODES)
    attached = services_by_network(services, {}, tasks)
    assert [t['addresses'] for t in attached['n1'][0]['tasks']] == [['10.0.1.2']]
    assert [t['addresses'] for t in attached['n2'][0]['tasks']] == [['10.0.2.2']]
    assert 'tasks' not in services_by_network(services, {})['n1'][0]
