# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm and swarm_node on a lab of their own: init, join, leave, settings, secrets, quorum guard.

The tests build on each other in file order (one swarm, changed step by
step), so the lab is brought up once for the module and torn down after.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from harness import LAB_SCRIPT, Ansible, Lab, assert_failed, assert_ok

pytestmark = pytest.mark.lab

LAB_ID = os.environ.get('DOCKNET_SWARM_LAB_ID', '5')
IMAGE = 'docknet/probe:latest'
SECRET_FREE = "{{ %s | dict2items | rejectattr('key', 'in', ['join_tokens', 'unlock_key']) | items2dict }}"


def lab_cmd(*argv):
    subprocess.run([str(LAB_SCRIPT), *argv], check=True, env=dict(os.environ, LAB_ID=LAB_ID),
                   capture_output=True, text=True)


@pytest.fixture(scope='module')
def slab():
    lab_cmd('up', '3')
    lab = Lab(LAB_ID)
    for node in lab.nodes:  # a reused lab may still hold a swarm
        client = lab.docker(node['name'])
        if client.info()['Swarm']['LocalNodeState'] != 'inactive':
            client.api.leave_swarm(force=True)
    try:
        yield lab
    finally:
        if not os.environ.get('DOCKNET_SWARM_KEEP_LAB'):
            lab_cmd('down')


@pytest.fixture(scope='module')
def sansible(slab, tmp_path_factory):
    return Ansible(slab, tmp_path_factory.mktemp('swarm'))


def host(lab, name):
    return lab.node(name)['docker_host']


def addr(lab, name):
    return lab.node(name)['address']


def swarm_task(lab, node, name, register=None, check=False, **args):
    task = {'name': name, 'docknet.fabric.swarm': dict(args, docker_host=host(lab, node)), 'check_mode': check}
    if register:
        task['register'] = register
    return task


def node_task(lab, name, check=False, **args):
    return {'name': name, 'docknet.fabric.swarm_node': dict(args, docker_host=host(lab, 'node1')),
            'check_mode': check}


def show(var):
    """A task that shows a registered swarm result without its secrets."""
    return {'name': 'show %s' % var, 'ansible.builtin.debug': {'msg': SECRET_FREE % var}}


def by_name(run):
    """Results by task name (the recorder callback marks failed ones)."""
    return {r['task']: r['result'] for r in run.records}


def wait_until(check, seconds=60, what='condition'):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail('timed out waiting for %s' % what)


def reachability(lab, node_id):
    return (lab.docker('node1').api.inspect_node(node_id).get('ManagerStatus') or {}).get('Reachability')


def test_init_join_leave_idempotent_and_secrets_never_shown(slab, sansible, tmp_path):
    lab = slab
    m1 = addr(lab, 'node1')
    join_worker = dict(state='join', role='worker', remote_addrs=[m1], advertise_addr=addr(lab, 'node3'),
                       join_token='{{ init.join_tokens.worker }}')
    join_manager = dict(join_worker)
    join_manager.update(role='manager', join_token='{{ init.join_tokens.manager }}')
    init = dict(advertise_addr=m1, listen_addr='%s:2377' % m1, task_history_limit=3)
    log_file = tmp_path / 'ansible.log'
    run = sansible.play([
        swarm_task(lab, 'node1', 'init check', check=True, **init),
        swarm_task(lab, 'node1', 'init', register='init', **init),
        show('init'),
        swarm_task(lab, 'node1', 'init again', **init),
        swarm_task(lab, 'node1', 'init again check', check=True, **init),
        {'name': 'tokens are usable values', 'ansible.builtin.assert': {'that': [
            "init.join_tokens.worker is match('SWMTKN-')", "init.join_tokens.manager is match('SWMTKN-')",
            'init.unlock_key is none', "init.node_role == 'manager'"]}},
        swarm_task(lab, 'node2', 'join manager check', check=True, state='join', role='manager', remote_addrs=[m1],
                   advertise_addr=addr(lab, 'node2'), join_token='{{ init.join_tokens.manager }}'),
        swarm_task(lab, 'node2', 'join manager', register='j2', state='join', role='manager', remote_addrs=[m1],
                   advertise_addr=addr(lab, 'node2'), join_token='{{ init.join_tokens.manager }}'),
        show('j2'),
        swarm_task(lab, 'node3', 'join worker check', check=True, **join_worker),
        swarm_task(lab, 'node3', 'join worker', register='j3', **join_worker),
        swarm_task(lab, 'node3', 'join worker again', **join_worker),
        swarm_task(lab, 'node3', 'join worker again check', check=True, **join_worker),
        swarm_task(lab, 'node3', 'join as manager while worker', **join_manager),
        swarm_task(lab, 'node3', 'worker leaves', state='absent'),
        swarm_task(lab, 'node3', 'own swarm', advertise_addr=addr(lab, 'node3')),
        swarm_task(lab, 'node3', 'join while in another swarm', **join_worker),
        swarm_task(lab, 'node3', 'last manager leaves check', check=True, state='absent'),
        swarm_task(lab, 'node3', 'last manager leaves', state='absent'),
        swarm_task(lab, 'node3', 'last manager leaves by force', state='absent', force=True),
        swarm_task(lab, 'node3', 'join worker once more', register='j3', **join_worker),
        show('j3'),
    ], extra_args=['-vvv'], env={'ANSIBLE_LOG_PATH': str(log_file)})
    r = by_name(run)
    for text in (run.stdout, run.stderr, log_file.read_text()):
        assert 'SWMTKN-' not in text and 'SWMKEY-' not in text
    assert_ok(r['init check'], changed=True)
    assert r['init check']['actions'] == ['init']
    assert r['init check']['diff'] == {'before': {'state': 'inactive', 'role': None},
                                       'after': {'state': 'active', 'role': 'manager',
                                                 'settings': {'task_history_limit': 3}}}
    assert r['init'].get('changed') is True and 'censored' in r['init']   # it carries the tokens
    shown = r['show init']['msg']
    assert shown['actions'] == ['init'] and shown['node_role'] == 'manager' and shown['swarm_id']
    assert shown['settings']['task_history_limit'] == 3
    assert r['init again']['changed'] is False and r['init again check']['changed'] is False
    assert_ok(r['tokens are usable values'])
    assert_ok(r['join manager check'], changed=True)
    assert r['join manager check']['actions'] == ['join as manager']
    assert r['show j2']['msg']['node_role'] == 'manager'
    assert r['show j2']['msg']['swarm_id'] == shown['swarm_id']
    assert_ok(r['join worker check'], changed=True)
    assert_ok(r['join worker'], changed=True)
    assert r['join worker']['node_role'] == 'worker' and 'join_tokens' not in r['join worker']
    assert_ok(r['join worker again'], changed=False)
    assert_ok(r['join worker again check'], changed=False)
    assert_failed(r['join as manager while worker'], 'worker of this swarm', 'swarm_node')
    assert_ok(r['worker leaves'], changed=True)
    assert_failed(r['join while in another swarm'], 'another swarm', '%s:2377' % addr(lab, 'node3'))
    for name in ('last manager leaves check', 'last manager leaves'):
        assert_failed(r[name], 'Refusing to leave', 'last manager', 'force=true')
    assert_ok(r['last manager leaves by force'], changed=True)
    assert r['show j3']['msg']['node_role'] == 'worker'
    assert_ok(r['join worker once more'], changed=True)
    new_id, old_id = r['show j3']['msg']['node_id'], r['join worker']['node_id']
    states = {n['ID']: n['Status']['State'] for n in lab.docker('node1').api.nodes()}
    assert states[new_id] == 'ready' and old_id in states   # a node that left stays listed until removed
    STALE['node3'] = old_id


STALE = {}


def test_settings_update_rotation_and_fixed_settings(slab, sansible):
    lab = slab
    settings = dict(task_history_limit=4, cert_expiry='30d', dispatcher_heartbeat='2s', snapshot_interval=5000,
                    return_secrets=False)
    run = sansible.play([
        swarm_task(lab, 'node1', 'before', register='before'),
        swarm_task(lab, 'node1', 'update check', check=True, **settings),
        swarm_task(lab, 'node1', 'update', **settings),
        swarm_task(lab, 'node1', 'update again', **settings),
        swarm_task(lab, 'node1', 'update again check', check=True, **settings),
        swarm_task(lab, 'node1', 'fixed at init', data_path_port=4790, subnet_size=26),
        swarm_task(lab, 'node1', 'rotate check', check=True, rotate_worker_token=True),
        swarm_task(lab, 'node1', 'rotate', register='after', rotate_worker_token=True),
        {'name': 'worker token rotated, manager token kept', 'ansible.builtin.assert': {'that': [
            'before.join_tokens.worker != after.join_tokens.worker',
            'before.join_tokens.manager == after.join_tokens.manager']}},
        show('after'),
        swarm_task(lab, 'node1', 'bad duration', cert_expiry='soon'),
        swarm_task(lab, 'node3', 'settings on a worker', task_history_limit=4),
    ])
    r = by_name(run)
    assert_ok(r['update check'], changed=True)
    assert r['update check']['changed_settings'] == ['cert_expiry', 'dispatcher_heartbeat', 'snapshot_interval',
                                                     'task_history_limit']
    diff = r['update check']['diff']
    assert diff['before']['settings']['task_history_limit'] == 3
    assert diff['after']['settings'] == dict(diff['before']['settings'], task_history_limit=4, cert_expiry='30d',
                                             dispatcher_heartbeat='2s', snapshot_interval=5000)
    assert_ok(r['update'], changed=True)
    assert r['update']['diff'] == diff
    assert r['update']['settings']['cert_expiry'] == '30d'
    assert_ok(r['update again'], changed=False)
    assert_ok(r['update again check'], changed=False)
    assert_failed(r['fixed at init'], 'data_path_port is 4789, wanted 4790', 'subnet_size is 24, wanted 26',
                  're-initialisation')
    assert r['rotate check'].get('changed') is True
    assert_ok(r['worker token rotated, manager token kept'])
    assert r['show after']['msg']['actions'] == ['rotate worker join token']
    assert_failed(r['bad duration'], 'cert_expiry', 'not a duration')
    assert_failed(r['settings on a worker'], 'worker', 'against a manager')


@pytest.fixture(scope='module')
def service(slab):
    client = slab.docker('node1')
    svc = client.services.create(IMAGE, ['sleep', '3600'], name='swarmt-svc',
                                 mode={'Replicated': {'Replicas': 3}})
    try:
        yield svc
    finally:
        client.api.remove_service(svc.id)


def running_on(lab, service_id):
    tasks = lab.docker('node1').api.tasks(filters={'service': service_id, 'desired-state': 'running'})
    return sorted(t.get('NodeID') for t in tasks if t['Status']['State'] == 'running')


def test_node_labels_availability_and_role(slab, sansible, service):
    lab = slab
    node3 = addr(lab, 'node3')
    node3_id = lab.docker('node3').info()['Swarm']['NodeID']
    hostname = lab.docker('node3').info()['Name']
    shared = len({lab.docker(n['name']).info()['Name'] for n in lab.nodes}) < len(lab.nodes)
    wait_until(lambda: len(running_on(lab, service.id)) == 3, 60, 'the service to run 3 tasks')
    run = sansible.play([
        node_task(lab, 'labels merge check', check=True, node=node3, labels={'zone': 'a', 'disk': 'ssd'}),
        node_task(lab, 'labels merge', node=node3, labels={'zone': 'a', 'disk': 'ssd'}),
        node_task(lab, 'labels merge again', node=node3_id, labels={'zone': 'a'}),
        node_task(lab, 'labels merge again check', check=True, node=node3, labels={'disk': 'ssd'}),
        # by hostname: the node3 that left earlier is still listed (down) under the same name
        node_task(lab, 'by hostname', check=True, node=hostname, labels={'disk': 'ssd'}),
        node_task(lab, 'labels replace', node=node3_id, labels={'zone': 'b'}, labels_state='replace'),
        node_task(lab, 'labels replace again', node=node3_id, labels={'zone': 'b'}, labels_state='replace'),
        node_task(lab, 'drain check', check=True, node=node3, availability='drain'),
        node_task(lab, 'drain', node=node3, availability='drain'),
        node_task(lab, 'drain again', node=node3, availability='drain'),
        node_task(lab, 'active', node=node3, availability='active'),
        node_task(lab, 'promote check', check=True, node=node3_id, role='manager'),
        node_task(lab, 'promote', node=node3_id, role='manager'),
        node_task(lab, 'promote again', node=node3_id, role='manager'),
        node_task(lab, 'unknown node', node='198.18.99.99', availability='pause'),
    ])
    r = by_name(run)
    assert_ok(r['labels merge check'], changed=True)
    assert r['labels merge check']['diff']['after']['labels'] == {'zone': 'a', 'disk': 'ssd'}
    assert_ok(r['labels merge'], changed=True)
    assert r['labels merge']['node']['labels'] == {'zone': 'a', 'disk': 'ssd'}
    assert_ok(r['labels merge again'], changed=False)
    assert_ok(r['labels merge again check'], changed=False)
    if shared:  # a lab whose nodes share one hostname: selecting by it must ask for id or address
        assert_failed(r['by hostname'], 'hostname is shared', 'by id or by address')
    else:
        assert_ok(r['by hostname'], changed=False)
    assert_ok(r['labels replace'], changed=True)
    assert r['labels replace']['diff'] == {'before': dict(r['labels replace']['diff']['before'],
                                                          labels={'zone': 'a', 'disk': 'ssd'}),
                                           'after': dict(r['labels replace']['diff']['before'], labels={'zone': 'b'})}
    assert_ok(r['labels replace again'], changed=False)
    assert_ok(r['drain check'], changed=True)
    assert r['drain check']['actions'] == ['set availability drain']
    assert_ok(r['drain'], changed=True)
    assert_ok(r['drain again'], changed=False)
    assert_ok(r['active'], changed=True)
    assert_ok(r['promote check'], changed=True)
    assert r['promote check']['actions'] == ['promote']
    assert_ok(r['promote'], changed=True)
    assert r['promote']['node']['role'] == 'manager'
    assert_ok(r['promote again'], changed=False)
    assert_failed(r['unknown node'], 'no such node', node3)
    # drain waited until the tasks had moved; swarm does not move them back when the node is active again
    assert node3_id not in running_on(lab, service.id)


def test_quorum_guard_with_a_manager_stopped(slab, sansible):
    lab = slab
    node2, node3 = addr(lab, 'node2'), addr(lab, 'node3')
    node3_id = lab.docker('node3').info()['Swarm']['NodeID']
    lab_cmd('stop-node', '3')
    try:
        wait_until(lambda: reachability(lab, node3_id) == 'unreachable', 60, 'node3 to be unreachable')
        run = sansible.play([
            node_task(lab, 'demote check', check=True, node=node2, role='worker'),
            node_task(lab, 'demote', node=node2, role='worker'),
            node_task(lab, 'remove', node=node2, state='absent'),
            node_task(lab, 'still writable', node=node2, labels={'written': 'while-node3-down'}),
        ])
    finally:
        lab_cmd('start-node', '3')
    r = by_name(run)
    for name in ('demote check', 'demote', 'remove'):
        assert_failed(r[name], 'Refusing to', 'keep 1 reachable of 2', 'unreachable', node3, 'leader')
    assert_ok(r['still writable'], changed=True)
    wait_until(lambda: reachability(lab, node3_id) == 'reachable', 90, 'node3 to be reachable again')


def lab_step(name, *argv):
    """A play step that drives the lab script (stop or start one node's dockerd)."""
    return {'name': name, 'ansible.builtin.command': {'argv': [str(LAB_SCRIPT), *argv]},
            'environment': {'LAB_ID': LAB_ID}, 'diff': False}


def test_autolock_unlock_and_key_rotation(slab, sansible, tmp_path):
    lab = slab
    log_file = tmp_path / 'ansible.log'
    run = sansible.play([
        swarm_task(lab, 'node1', 'autolock check', check=True, autolock=True),
        swarm_task(lab, 'node1', 'autolock', register='lock', autolock=True),
        show('lock'),
        lab_step('stop node2', 'stop-node', '2'),
        lab_step('start node2', 'start-node', '2'),
        swarm_task(lab, 'node2', 'locked without key'),
        swarm_task(lab, 'node2', 'locked with wrong key', unlock_key='SWMKEY-1-wrong'),
        swarm_task(lab, 'node2', 'unlock check', check=True, unlock_key='{{ lock.unlock_key }}'),
        swarm_task(lab, 'node2', 'unlock', register='unlocked', unlock_key='{{ lock.unlock_key }}'),
        show('unlocked'),
        swarm_task(lab, 'node2', 'unlock again', unlock_key='{{ lock.unlock_key }}'),
        swarm_task(lab, 'node1', 'rotate key', register='rotated', rotate_unlock_key=True),
        {'name': 'key rotated', 'ansible.builtin.assert': {'that': [
            "lock.unlock_key is match('SWMKEY-')", "rotated.unlock_key is match('SWMKEY-')",
            'lock.unlock_key != rotated.unlock_key']}},
        swarm_task(lab, 'node1', 'autolock off', autolock=False, return_secrets=False),
    ], extra_args=['-vvv'], env={'ANSIBLE_LOG_PATH': str(log_file)})
    r = by_name(run)
    for text in (run.stdout, run.stderr, log_file.read_text()):
        assert 'SWMTKN-' not in text and 'SWMKEY-' not in text
    assert_ok(r['autolock check'], changed=True)
    assert r['autolock check']['diff']['after']['settings']['autolock'] is True
    assert r['show lock']['msg']['changed_settings'] == ['autolock']
    assert_failed(r['locked without key'], 'locked', 'unlock_key')
    assert_failed(r['locked with wrong key'], 'unlocking the swarm')
    assert_ok(r['unlock check'], changed=True)
    assert r['unlock check']['actions'] == ['unlock']
    assert r['unlock'].get('changed') is True
    assert r['show unlocked']['msg']['actions'] == ['unlock']
    assert r['show unlocked']['msg']['node_role'] == 'manager'
    assert r['unlock again'].get('changed') is False
    assert r['rotate key'].get('changed') is True
    assert_ok(r['key rotated'])
    assert_ok(r['autolock off'], changed=True)
    assert r['autolock off']['settings']['autolock'] is False


def test_nodes_leave_and_are_removed(slab, sansible):
    lab = slab
    node2, node3 = addr(lab, 'node2'), addr(lab, 'node3')
    node2_id = lab.docker('node2').info()['Swarm']['NodeID']
    node3_id = lab.docker('node3').info()['Swarm']['NodeID']
    run = sansible.play([
        node_task(lab, 'remove stale check', check=True, node=STALE['node3'], state='absent'),
        node_task(lab, 'remove stale', node=STALE['node3'], state='absent'),
        node_task(lab, 'remove stale again', node=STALE['node3'], state='absent'),
        node_task(lab, 'demote node3', node=node3, role='worker'),
        swarm_task(lab, 'node3', 'node3 leaves', state='absent'),
        node_task(lab, 'remove node3', node=node3_id, state='absent', wait_timeout=60),
        swarm_task(lab, 'node2', 'manager node2 leaves check', check=True, state='absent'),
        swarm_task(lab, 'node2', 'manager node2 leaves', state='absent'),
        swarm_task(lab, 'node2', 'manager node2 leaves again', state='absent'),
        node_task(lab, 'remove node2 check', check=True, node=node2_id, state='absent'),
        node_task(lab, 'remove node2', node=node2_id, state='absent', wait_timeout=60),
        swarm_task(lab, 'node1', 'last manager demoted', state='absent'),
        node_task(lab, 'last manager removed', node=addr(lab, 'node1'), state='absent'),
    ])
    r = by_name(run)
    assert_ok(r['remove stale check'], changed=True)
    assert r['remove stale check']['actions'] == ['remove']
    assert_ok(r['remove stale'], changed=True)
    assert_ok(r['remove stale again'], changed=False)
    assert_ok(r['demote node3'], changed=True)
    assert 'even number' in ' '.join(r['demote node3'].get('warnings', []))
    assert_ok(r['node3 leaves'], changed=True)
    assert r['node3 leaves']['actions'] == ['leave']
    assert_ok(r['remove node3'], changed=True)
    # Docker 28's manager marks a node that left down at once (nothing to drain or wait for);
    # 20.10's still sees it ready for a moment.
    assert r['remove node3']['actions'] in (['drain', 'wait until down', 'remove'], ['remove'])
    assert_ok(r['manager node2 leaves check'], changed=True)
    assert r['manager node2 leaves check']['actions'] == ['demote self', 'leave']
    assert_ok(r['manager node2 leaves'], changed=True)
    assert r['manager node2 leaves']['node_role'] is None
    assert_ok(r['manager node2 leaves again'], changed=False)
    assert_ok(r['remove node2 check'], changed=True)
    assert_ok(r['remove node2'], changed=True)
    assert_failed(r['last manager demoted'], 'last manager', 'force=true')
    assert_failed(r['last manager removed'], 'last manager')
    assert [n['Status']['Addr'] for n in lab.docker('node1').api.nodes()] == [addr(lab, 'node1')]
