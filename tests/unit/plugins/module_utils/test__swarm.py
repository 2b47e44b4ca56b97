# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swarm engine: durations, planning, node selection, the quorum guard, check mode writes nothing."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import (
    _swarm, _swarm_node, _swarm_nodes, _swarm_settings, _values,
)
from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError


@pytest.mark.parametrize('value, nanos', [
    ('5s', 5 * 10 ** 9), ('90d', 90 * 86400 * 10 ** 9), ('2160h', 2160 * 3600 * 10 ** 9),
    ('1h30m', 5400 * 10 ** 9), ('500ms', 5 * 10 ** 8), ('10', 10 ** 10), (3, 3 * 10 ** 9),
    ('2160h0m0s', 2160 * 3600 * 10 ** 9),
])
def test_parse_duration(value, nanos):
    assert _values.parse_duration(value, 'cert_expiry', positive=True) == nanos


@pytest.mark.parametrize('value', ['soon', '5x', '', '0s', '-5s', True, 'h'])
def test_parse_duration_rejects(value):
    with pytest.raises(FabricError, match='cert_expiry'):
        _values.parse_duration(value, 'cert_expiry', positive=True)


@pytest.mark.parametrize('nanos, text', [
    (5 * 10 ** 9, '5s'), (90 * 86400 * 10 ** 9, '90d'), (5400 * 10 ** 9, '1h30m'), (None, None), (0, '0s'),
])
def test_format_duration(nanos, text):
    assert _values.format_duration(nanos) == text


@pytest.mark.parametrize('addr, expected', [
    ('10.0.0.1', ('10.0.0.1', 2377)), ('10.0.0.1:4000', ('10.0.0.1', 4000)),
    ('[fe80::1]:2377', ('fe80::1', 2377)), ('fe80::1', ('fe80::1', 2377)), ('eth0', ('eth0', 2377)),
])
def test_split_host_port(addr, expected):
    assert _values.split_host_port(addr, 2377) == expected


@pytest.mark.parametrize('remote_addrs, known, same', [
    (['198.18.6.11'], [{'Addr': '198.18.6.11:2377'}], True),
    (['198.18.6.11:2377', '198.18.6.12'], [{'Addr': '198.18.6.12:2377'}], True),
    (['198.18.6.11'], [{'Addr': '198.18.7.11:2377'}], False),
    (['198.18.6.11:4000'], [{'Addr': '198.18.6.11:2377'}], False),
    (['198.18.6.11'], [], False),
])
def test_same_swarm(remote_addrs, known, same):
    assert _swarm.same_swarm(remote_addrs, known) is same


def params(**kw):
    base = dict(state='present', role='worker', remote_addrs=None, join_token=None, advertise_addr=None,
                listen_addr=None, data_path_addr=None, data_path_port=None, default_addr_pool=None,
                subnet_size=None, autolock=None, cert_expiry=None, task_history_limit=None,
                dispatcher_heartbeat=None, snapshot_interval=None, keep_old_snapshots=None,
                log_entries_for_slow_followers=None, rotate_worker_token=False, rotate_manager_token=False,
                rotate_unlock_key=False, unlock_key=None, force=False, return_secrets=True, wait_timeout=5)
    base.update(kw)
    return base


INACTIVE = {'LocalNodeState': 'inactive', 'NodeID': '', 'RemoteManagers': None}
MANAGER = {'LocalNodeState': 'active', 'ControlAvailable': True, 'NodeID': 'n1', 'NodeAddr': '198.18.6.11',
           'Cluster': {'ID': 'sw1'}, 'RemoteManagers': [{'NodeID': 'n1', 'Addr': '198.18.6.11:2377'}]}
WORKER = {'LocalNodeState': 'active', 'ControlAvailable': False, 'NodeID': 'n2', 'NodeAddr': '198.18.6.12',
          'RemoteManagers': [{'NodeID': 'n1', 'Addr': '198.18.6.11:2377'}]}
LOCKED = {'LocalNodeState': 'locked', 'NodeID': 'n1'}
SWARM = {'ID': 'sw1', 'Version': {'Index': 7}, 'DataPathPort': 4789, 'DefaultAddrPool': ['10.0.0.0/8'],
         'SubnetSize': 24, 'JoinTokens': {'Worker': 'SWMTKN-1-w', 'Manager': 'SWMTKN-1-m'},
         'Spec': {'Orchestration': {'TaskHistoryRetentionLimit': 5},
                  'Raft': {'SnapshotInterval': 10000, 'KeepOldSnapshots': 0, 'LogEntriesForSlowFollowers': 500},
                  'Dispatcher': {'HeartbeatPeriod': 5 * 10 ** 9},
                  'CAConfig': {'NodeCertExpiry': 90 * 86400 * 10 ** 9},
                  'EncryptionConfig': {'AutoLockManagers': False}}}

JOIN = dict(state='join', remote_addrs=['198.18.6.11'], join_token='SWMTKN-1-x')
JOIN_MANAGER = dict(JOIN, role='manager')
JOIN_ELSEWHERE = dict(state='join', remote_addrs=['198.18.7.11'], join_token='SWMTKN-1-x')


@pytest.mark.parametrize('desired, info, swarm, actions, changes', [
    (params(), INACTIVE, None, ['init'], {}),
    (params(task_history_limit=5), MANAGER, SWARM, [], {}),
    (params(task_history_limit=3), MANAGER, SWARM, ['update settings: task_history_limit'],
     {'task_history_limit': (5, 3)}),
    (params(dispatcher_heartbeat='5s', cert_expiry='2160h'), MANAGER, SWARM, [], {}),
    (params(autolock=True, rotate_worker_token=True), MANAGER, SWARM,
     ['update settings: autolock', 'rotate worker join token'], {'autolock': (False, True)}),
    (params(rotate_manager_token=True), MANAGER, SWARM, ['rotate manager join token'], {}),
    (params(data_path_port=4789, subnet_size=24, default_addr_pool=['10.0.0.0/8'], advertise_addr='198.18.6.11'),
     MANAGER, SWARM, [], {}),
    (params(), WORKER, None, [], {}),
    (params(**JOIN), INACTIVE, None, ['join as worker'], {}),
    (params(**JOIN), WORKER, None, [], {}),
    (params(**JOIN_MANAGER), MANAGER, None, [], {}),
    (params(state='absent'), INACTIVE, None, [], {}),
    (params(state='absent'), WORKER, None, ['leave'], {}),
    (params(state='absent'), MANAGER, None, ['demote self', 'leave'], {}),
    (params(state='absent', force=True), MANAGER, None, ['leave (force)'], {}),
    (params(unlock_key='SWMKEY-1-x'), LOCKED, None, ['unlock'], {}),
    (params(state='absent', force=True), LOCKED, None, ['leave (force)'], {}),
])
def test_plan_swarm(desired, info, swarm, actions, changes):
    assert _swarm.plan_swarm(desired, info, swarm) == (actions, changes)


@pytest.mark.parametrize('desired, info, swarm, fragments', [
    (params(data_path_port=4790), MANAGER, SWARM, ['data_path_port is 4789, wanted 4790', 're-initialisation']),
    (params(default_addr_pool=['10.20.0.0/16'], subnet_size=26), MANAGER, SWARM,
     ['default_addr_pool is', 'subnet_size is 24, wanted 26']),
    (params(advertise_addr='198.18.6.99'), MANAGER, SWARM, ['advertise_addr is 198.18.6.11']),
    (params(**JOIN_ELSEWHERE), WORKER, None, ['another swarm', '198.18.6.11:2377']),
    (params(**JOIN_MANAGER), WORKER, None, ['worker of this swarm', 'swarm_node']),
    (params(**JOIN), MANAGER, None, ['manager of this swarm', 'swarm_node']),
    (params(), LOCKED, None, ['locked', 'unlock_key']),
    (params(task_history_limit=1), WORKER, None, ['worker', 'against a manager']),
    (params(), {'LocalNodeState': 'pending'}, None, ['pending']),
])
def test_plan_swarm_refuses(desired, info, swarm, fragments):
    with pytest.raises(FabricError) as caught:
        _swarm.plan_swarm(desired, info, swarm)
    for fragment in fragments:
        assert fragment in caught.value.msg
    assert 'SWMTKN' not in caught.value.msg


def manager(ident, reach='reachable', leader=False, host='node'):
    return {'id': ident, 'hostname': host, 'addr': '198.18.6.%s' % ident[-1], 'role': 'manager',
            'manager_addr': '198.18.6.%s:2377' % ident[-1], 'reachability': reach, 'leader': leader,
            'availability': 'active', 'labels': {}, 'state': 'ready'}


def worker(ident, host='node', state='ready'):
    return {'id': ident, 'hostname': host, 'addr': '198.18.6.%s' % ident[-1], 'role': 'worker',
            'manager_addr': None, 'reachability': None, 'leader': False, 'availability': 'active',
            'labels': {'a': '1'}, 'state': state}


THREE = [manager('m1', leader=True), manager('m2'), manager('m3')]
THREE_ONE_DOWN = [manager('m1', leader=True), manager('m2'), manager('m3', reach='unreachable')]
FIVE = THREE + [manager('m4'), manager('m5')]


@pytest.mark.parametrize('managers, target, change, warns', [
    (THREE, 'm2', 'demote', 'even number'),
    (THREE_ONE_DOWN, 'm3', 'demote', 'even number'),      # the unreachable one may go
    (FIVE, 'm2', 'demote', 'even number'),
    (FIVE[:4], 'm2', 'demote', None),
    ([manager('m1', leader=True)], 'w2', 'promote', 'even number'),
    (THREE, 'w4', 'promote', 'even number'),
    (THREE, 'w4', 'demote', None),                       # not a manager: nothing to guard
    (THREE, 'm2', 'promote', None),
])
def test_quorum_guard_allows(managers, target, change, warns):
    warning = _swarm_nodes.quorum_guard(managers, target, change)
    assert (warning is None) if warns is None else (warns in warning)


@pytest.mark.parametrize('managers, target, change, fragments', [
    (THREE_ONE_DOWN, 'm2', 'demote', ['keep 1 reachable of 2', 'm3', 'unreachable', 'leader']),
    (THREE_ONE_DOWN, 'm1', 'remove', ['fewer than the 2']),
    ([manager('m1', leader=True)], 'm1', 'demote', ['last manager']),
    ([manager('m1', leader=True)], 'm1', 'leave', ['last manager']),
    (FIVE[:3] + [manager('m4', reach='unreachable'), manager('m5', reach='unreachable')], 'm2', 'demote',
     ['keep 2 reachable of 4', 'fewer than the 3']),
])
def test_quorum_guard_refuses(managers, target, change, fragments):
    with pytest.raises(FabricError) as caught:
        _swarm_nodes.quorum_guard(managers, target, change)
    for fragment in fragments:
        assert fragment in caught.value.msg


NODES = [manager('m1', leader=True), worker('w2'), worker('w3', host='other')]


@pytest.mark.parametrize('wanted, ident', [
    ('m1', 'm1'), ('198.18.6.2', 'w2'), ('198.18.6.1:2377', 'm1'), ('other', 'w3'), ('nobody', None),
])
def test_select_node(wanted, ident):
    found = _swarm_nodes.select_node(NODES, wanted)
    assert (found and found['id']) == ident


def test_select_node_shared_hostname_asks_for_id_or_address():
    with pytest.raises(FabricError, match='hostname is shared by 2 nodes.*by id or by address'):
        _swarm_nodes.select_node(NODES, 'node')


def test_select_node_prefers_the_live_one_of_a_reused_address():
    nodes = NODES + [worker('x2', state='down'), worker('y3', host='other', state='down')]
    nodes[-2]['addr'] = nodes[1]['addr']
    assert _swarm_nodes.select_node(nodes, '198.18.6.2')['id'] == 'w2'
    assert _swarm_nodes.select_node(nodes, 'other')['id'] == 'w3'
    assert _swarm_nodes.select_node(nodes, 'x2')['id'] == 'x2'


def test_select_node_by_id_prefix():
    nodes = [dict(worker('w2'), id='abcdef123'), dict(worker('w3'), id='abcxyz456')]
    assert _swarm_nodes.select_node(nodes, 'abcdef')['id'] == 'abcdef123'
    assert _swarm_nodes.select_node(nodes, 'abc') is None


@pytest.mark.parametrize('desired, node, actions, update', [
    (dict(availability='drain'), worker('w2'), ['set availability drain'], {'Availability': 'drain'}),
    (dict(availability='active'), worker('w2'), [], {}),
    (dict(labels={'b': 2}), worker('w2'), ['set labels'], {'Labels': {'a': '1', 'b': '2'}}),
    (dict(labels={'a': '1'}), worker('w2'), [], {}),
    (dict(labels={'b': None}, labels_state='replace'), worker('w2'), ['set labels'], {'Labels': {'b': ''}}),
    (dict(labels={'a': 1}, labels_state='replace'), worker('w2'), [], {}),
    (dict(role='manager'), worker('w4'), ['promote'], {'Role': 'manager'}),
    (dict(role='worker'), manager('m2'), ['demote'], {'Role': 'worker'}),
    (dict(role='manager', availability='pause', labels={}), worker('w4'),
     ['set availability pause', 'promote'], {'Availability': 'pause', 'Role': 'manager'}),
])
def test_plan_node(desired, node, actions, update):
    got_actions, got_update, _warnings = _swarm_nodes.plan_node(desired, node, THREE)
    assert (got_actions, got_update) == (actions, update)


def test_plan_node_refuses_demotion_without_majority():
    with pytest.raises(FabricError, match='Refusing to demote'):
        _swarm_nodes.plan_node(dict(role='worker'), manager('m2'), THREE_ONE_DOWN)


@pytest.mark.parametrize('node, force, actions', [
    (None, False, []),
    (worker('w2'), False, ['drain', 'wait until down', 'remove']),
    (worker('w2'), True, ['drain', 'remove (force)']),
    (worker('w2', state='down'), False, ['remove']),
    (manager('m2'), False, ['drain', 'demote', 'wait until down', 'remove']),
])
def test_plan_node_absent(node, force, actions):
    assert _swarm_nodes.plan_node_absent({'force': force}, node, THREE)[0] == actions


def test_spec_with_keeps_what_was_not_declared():
    spec = _swarm_settings.spec_with(SWARM['Spec'], {'task_history_limit': 2, 'autolock': True})
    assert spec['Orchestration']['TaskHistoryRetentionLimit'] == 2
    assert spec['EncryptionConfig']['AutoLockManagers'] is True
    assert spec['Raft'] == SWARM['Spec']['Raft']
    assert SWARM['Spec']['Orchestration']['TaskHistoryRetentionLimit'] == 5


# --- check mode makes no writes ---------------------------------------------

class ReadOnlyAPI:
    """A Docker API double: reads answer from fixtures, any write fails the test."""

    WRITES = ('init_swarm', 'join_swarm', 'leave_swarm', 'update_swarm', 'unlock_swarm', 'update_node',
              'remove_node')

    def __init__(self, info_swarm, swarm=None, nodes=()):
        self._info = info_swarm
        self._swarm = swarm
        self._nodes = list(nodes)

    def info(self):
        return {'Swarm': copy.deepcopy(self._info)}

    def inspect_swarm(self):
        return copy.deepcopy(self._swarm)

    def get_unlock_key(self):
        return {'UnlockKey': 'SWMKEY-1-k'}

    def nodes(self, filters=None):
        return copy.deepcopy(self._nodes)

    def inspect_node(self, node_id):
        return copy.deepcopy(next(n for n in self._nodes if n['ID'] == node_id))

    def tasks(self, filters=None):
        return []

    def __getattr__(self, name):
        if name in self.WRITES:
            def refuse(*args, **kwargs):
                raise AssertionError('check mode wrote: %s' % name)
            return refuse
        raise AttributeError(name)


class FakeClient:
    docker_host = 'unix:///fake.sock'

    def __init__(self, api):
        self.api = api

    def call(self, doing, method, *args, **kwargs):
        return method(*args, **kwargs)

    def require(self, feature, who):
        return None


def api_node(ident, role='worker', reach=None, leader=False, addr='198.18.6.12', availability='active'):
    node = {'ID': ident, 'Version': {'Index': 3},
            'Spec': {'Role': role, 'Availability': availability, 'Labels': {'keep': 'me'}},
            'Description': {'Hostname': 'node'}, 'Status': {'State': 'ready', 'Addr': addr}}
    if reach:
        node['ManagerStatus'] = {'Addr': '%s:2377' % addr, 'Reachability': reach, 'Leader': leader}
    return node


API_NODES = [api_node('n1', 'manager', 'reachable', True, '198.18.6.11'),
             api_node('n2', 'manager', 'reachable', False, '198.18.6.12'),
             api_node('n3', 'manager', 'unreachable', False, '198.18.6.13'),
             api_node('n4', 'worker', None, False, '198.18.6.14')]


@pytest.mark.parametrize('desired, info, swarm, actions', [
    (params(), INACTIVE, None, ['init']),
    (params(**JOIN), INACTIVE, None, ['join as worker']),
    (params(task_history_limit=2, rotate_worker_token=True, rotate_unlock_key=True), MANAGER, SWARM,
     ['update settings: task_history_limit', 'rotate worker join token', 'rotate unlock key']),
    (params(state='absent'), WORKER, None, ['leave']),
    (params(state='absent', force=True), MANAGER, SWARM, ['leave (force)']),
    (params(unlock_key='SWMKEY-1-x'), LOCKED, None, ['unlock']),
])
def test_swarm_check_mode_writes_nothing(desired, info, swarm, actions):
    result = _swarm.run_swarm(FakeClient(ReadOnlyAPI(info, swarm, API_NODES)), desired, check_mode=True)
    assert result['changed'] is True
    assert result['actions'] == actions
    assert 'SWMTKN' not in repr(result['diff']) and 'SWMKEY' not in repr(result['diff'])


def test_swarm_manager_leave_check_mode_runs_the_guard():
    info = dict(MANAGER, NodeID='n2')
    result = _swarm.run_swarm(FakeClient(ReadOnlyAPI(info, SWARM, API_NODES[:2] + API_NODES[3:])),
                              params(state='absent'), check_mode=True)
    assert result['actions'] == ['demote self', 'leave']
    with pytest.raises(FabricError, match='fewer than the 2.*force=true'):
        _swarm.run_swarm(FakeClient(ReadOnlyAPI(info, SWARM, API_NODES)), params(state='absent'), check_mode=True)


def test_swarm_unchanged_manager_returns_secrets_outside_the_diff():
    result = _swarm.run_swarm(FakeClient(ReadOnlyAPI(MANAGER, SWARM)), params(task_history_limit=5),
                              check_mode=False)
    assert result['changed'] is False
    assert result['join_tokens'] == {'worker': 'SWMTKN-1-w', 'manager': 'SWMTKN-1-m'}
    assert 'SWMTKN' not in repr(result['diff'])
    hidden = _swarm.run_swarm(FakeClient(ReadOnlyAPI(MANAGER, SWARM)), params(return_secrets=False),
                              check_mode=False)
    assert 'join_tokens' not in hidden and 'unlock_key' not in hidden


def node_params(**kw):
    base = dict(node=None, state='present', availability=None, role=None, labels=None, labels_state='merge',
                force=False, wait_timeout=5)
    base.update(kw)
    return base


@pytest.mark.parametrize('desired, actions', [
    (node_params(node='198.18.6.14', availability='drain', labels={'x': 'y'}), ['set availability drain', 'set labels']),
    (node_params(node='n4', role='manager'), ['promote']),
    (node_params(node='n3', role='worker'), ['demote']),
    (node_params(node='198.18.6.14', state='absent'), ['drain', 'wait until down', 'remove']),
])
def test_swarm_node_check_mode_writes_nothing(desired, actions):
    result = _swarm_node.run_swarm_node(FakeClient(ReadOnlyAPI(MANAGER, SWARM, API_NODES)), desired, check_mode=True)
    assert result['changed'] is True
    assert result['actions'] == actions


def test_swarm_node_refuses_demotion_in_check_mode_too():
    with pytest.raises(FabricError, match='Refusing to demote.*unreachable'):
        _swarm_node.run_swarm_node(FakeClient(ReadOnlyAPI(MANAGER, SWARM, API_NODES)),
                                   node_params(node='n2', role='worker'), check_mode=True)


def test_swarm_node_on_a_worker_says_where_to_run():
    with pytest.raises(FabricError, match='runs against a swarm manager'):
        _swarm_node.run_swarm_node(FakeClient(ReadOnlyAPI(WORKER)), node_params(node='n1'), check_mode=True)


@pytest.mark.parametrize('timeout, ok', [(120, True), (1, True), (0, False), (-5, False), (None, True)])
def test_wait_timeout_must_be_positive(timeout, ok):
    if ok:
        _swarm.check_wait_timeout({'wait_timeout': timeout})
        return
    with pytest.raises(FabricError, match='wait_timeout %s: give a positive number of seconds' % timeout):
        _swarm.check_wait_timeout({'wait_timeout': timeout})


@pytest.mark.parametrize('labels, ok', [({'zone': 'a', 'com.example.rack': ''}, True), ({'': 'a'}, False),
                                        ({' ': 'a'}, False), ({'my zone': 'a'}, False), (None, True)])
def test_node_label_keys(labels, ok):
    if ok:
        _swarm_nodes.check_node_labels(labels)
        return
    with pytest.raises(FabricError, match='is not a usable label key'):
        _swarm_nodes.check_node_labels(labels)


def test_a_swarm_write_that_fails_reports_the_writes_before_it():
    class Client:
        def call(self, doing, method, *args, **kwargs):
            return method(*args, **kwargs)

    def refuse():
        raise FabricError('no')
    writer = _swarm.Writer(Client(), False)
    with pytest.raises(FabricError) as info:
        with writer.reporting():
            writer.write_as('promote', 'promoting', lambda: None)
            writer.write_as('set labels', 'updating', refuse)
    assert {k: info.value.details[k] for k in ('changed', 'done')} == {'changed': True, 'done': ['promote']}


@pytest.mark.parametrize('status_addr, manager_addr, expected', [
    ('198.18.1.12', '198.18.1.12:2377', '198.18.1.12'),   # the usual case
    ('0.0.0.0', '198.18.1.11:2377', '198.18.1.11'),       # Docker's placeholder on a manager
    ('0.0.0.0', '[fd00::11]:2377', 'fd00::11'),
    ('', None, None),
    (None, None, None),
])
def test_one_node_address_rule_for_every_view(status_addr, manager_addr, expected):
    from ansible_collections.docknet.fabric.plugins.module_utils._doctor_checks import _known_node
    from ansible_collections.docknet.fabric.plugins.module_utils._swarm_info import describe_node
    node = {'ID': 'n1', 'Status': {'Addr': status_addr}, 'Spec': {'Role': 'manager' if manager_addr else 'worker'}}
    if manager_addr:
        node['ManagerStatus'] = {'Addr': manager_addr, 'Reachability': 'reachable'}
    assert _swarm_nodes.node_addr(status_addr, manager_addr) == expected
    assert _swarm_nodes.node_view(node)['addr'] == describe_node(node)['addr'] == expected
    assert _known_node(node)['address'] == expected  # swarm_doctor reads nodes by the same view
