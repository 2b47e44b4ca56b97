# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for integration tests: the lab (brought up once a session) and an Ansible runner."""

from __future__ import annotations

import os
import time

import pytest

from harness import Ansible, Lab

# Never lab 0, the one `make demo` builds: the tests' networks and purges must not meet the demo's.
LAB_ID = os.environ.get('DOCKNET_LAB_ID', '1')
LAB_NODES = 3


@pytest.fixture(scope='session')
def lab():
    """The shared 3-node lab. `lab up` is idempotent, so a running lab is reused as it is."""
    from harness import LAB_SCRIPT
    import subprocess
    subprocess.run([str(LAB_SCRIPT), 'up', str(LAB_NODES)], check=True,
                   env=dict(os.environ, LAB_ID=LAB_ID))
    return Lab(LAB_ID)


@pytest.fixture(scope='session')
def ansible(lab, tmp_path_factory):
    return Ansible(lab, tmp_path_factory.mktemp('ansible'))


@pytest.fixture(scope='session')
def swarm(lab):
    """node1 manager, the other nodes workers, formed with the Docker SDK (test set-up only).

    Tests of the swarm modules themselves use labs of their own; this one is
    for the modules that need a swarm to exist (overlay networks, services).
    """
    manager = lab.docker('node1')
    if manager.info()['Swarm']['LocalNodeState'] != 'active':
        node = lab.node('node1')
        manager.swarm.init(advertise_addr=node['address'], listen_addr='%s:2377' % node['address'])
    tokens = manager.swarm.attrs['JoinTokens']
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
