# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for integration tests: the lab (brought up once a session) and an Ansible runner."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from harness import LAB_SCRIPT, Ansible, Lab, force_node1_alone

# Never lab 0, the one `make demo` builds: the tests' networks and purges must not meet the demo's.
LAB_ID = os.environ.get('DOCKNET_LAB_ID', '1')
LAB_NODES = 3


@pytest.fixture(scope='session')
def lab():
    """The shared 3-node lab. `lab up` is idempotent, so a running lab is reused as it is."""
    subprocess.run([str(LAB_SCRIPT), 'up', str(LAB_NODES)], check=True,
                   env=dict(os.environ, LAB_ID=LAB_ID))
    return Lab(LAB_ID)


@pytest.fixture(scope='session')
def ansible(lab, tmp_path_factory):
    return Ansible(lab, tmp_path_factory.mktemp('ansible'))


def leader_tokens(lab, seconds=60):
    """The join tokens; a lab left without a leader (by an earlier session) is forced back to node1 alone."""
    deadline = time.time() + seconds
    while True:
        try:
            return lab.docker('node1').api.inspect_swarm()['JoinTokens']
        except Exception as exc:
            if 'does not have a leader' not in str(exc):
                raise
            if time.time() > deadline:
                force_node1_alone(lab)
                deadline = time.time() + seconds
        time.sleep(1)


@pytest.fixture(scope='session')
def swarm(lab):
    """node1 manager, the other nodes workers, formed with the Docker SDK (test set-up only).

    Tests of the swarm modules themselves use labs of their own; this one is
    for the modules that need a swarm to exist (overlay networks, services).
    """
    manager = lab.docker('node1')
    if manager.info()['Swarm']['LocalNodeState'] == 'inactive':
        node = lab.node('node1')
        manager.swarm.init(advertise_addr=node['address'], listen_addr='%s:2377' % node['address'])
    tokens = leader_tokens(lab)
    manager_addr = '%s:2377' % lab.node('node1')['address']
    for node in lab.nodes[1:]:
        client = lab.docker(node['name'])
        if client.info()['Swarm']['LocalNodeState'] != 'active':
            client.swarm.join(remote_addrs=[manager_addr], join_token=tokens['Worker'],
                              advertise_addr=node['address'], listen_addr='%s:2377' % node['address'])
    deadline = time.time() + 60
    while time.time() < deadline:
        ready = [n for n in manager.nodes.list() if n.attrs['Status']['State'] == 'ready']
        if len(ready) >= len(lab.nodes):
            break
        time.sleep(1)
    else:
        pytest.fail('the lab swarm did not get all nodes ready within 60 s')
    return lab


def swarm_problem(lab):
    """What keeps the shared swarm from its set-up layout ('' when none), and the nodes concerned.

    The layout: node1 the only manager, every node ready in its listing, every worker active and
    knowing node1 alone as its manager.
    """
    manager = lab.docker('node1')
    try:
        listed = {n.attrs['Description']['Hostname']: n.attrs for n in manager.nodes.list()}
    except Exception as exc:   # no leader (yet)
        return 'node1 lists no nodes: %s' % exc, ['node1']
    expected_managers = ['%s:2377' % lab.node('node1')['address']]
    for node in lab.nodes:
        name = node['name']
        state = (listed.get(name) or {}).get('Status', {}).get('State')
        if state != 'ready':
            return '%s is %s in node1\'s listing' % (name, state or 'missing'), [name]
        if name != 'node1':
            try:
                swarm = lab.docker(name).info()['Swarm']
            except Exception as exc:   # dockerd down or starting
                return '%s does not answer: %s' % (name, exc), [name]
            managers = sorted(m['Addr'] for m in swarm.get('RemoteManagers') or [])
            if swarm.get('LocalNodeState') != 'active' or managers != expected_managers:
                return '%s is %s with managers %s' % (name, swarm.get('LocalNodeState'), managers), [name]
    return '', []


def wait_for_swarm(lab, seconds):
    deadline = time.time() + seconds
    while True:
        problem, nodes = swarm_problem(lab)
        if not problem or time.time() > deadline:
            return problem, nodes
        time.sleep(1)


@pytest.fixture(autouse=True)
def swarm_as_set_up(request):
    """Before each test on the shared swarm: its layout back, after a test that crashed or promoted a node.

    The fault tests SIGKILL node3's dockerd and the doctor's tests stop and promote it; they restore the
    lab in their clean-up, but on a loaded machine the swarm can lag behind: once (Docker 28) the manager
    kept a restarted worker "down: heartbeat failure" for minutes, once (20.10) a worker still listed a
    demoted manager, once (28) node1's raft still counted a demoted node3 and lost its leader. Still wrong
    after 60 s: a worker gets its dockerd restarted, a swarm without a leader is forced back to node1 alone
    (force-new-cluster keeps its networks and services). A lab still wrong 90 s later fails the test here,
    naming the node, instead of in a later test's assertion.
    """
    if 'swarm' not in request.fixturenames:
        return
    lab = request.getfixturevalue('swarm')
    problem, nodes = wait_for_swarm(lab, 60)
    if not problem:
        return
    print('the shared swarm is not as set up (%s): repairing %s' % (problem, ', '.join(nodes)))
    if nodes == ['node1']:   # no leader: node1's raft still counts a manager that is gone or demoted
        force_node1_alone(lab)
    else:   # a worker the manager sees down, or one that lists a manager no longer there
        for name in nodes:
            lab.restart_node(name)
    problem, _nodes = wait_for_swarm(lab, 90)
    if problem:
        pytest.fail('the shared lab swarm is not as set up 90 s after a repair: %s' % problem)
