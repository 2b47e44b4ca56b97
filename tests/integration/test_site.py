# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Acceptance scenarios of the roles and playbooks (issue 7), on a lab of their own.

The lab (LAB_ID 8 unless DOCKNET_SITE_LAB_ID says otherwise) is brought down first so the
scenarios start from fresh engines, and down again at the end. The tests build on each
other in file order: fresh check mode -> site.yml -> idempotence -> verify.yml -> add a node ->
promote -> first manager stopped -> prune -> teardown.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import LAB_SCRIPT, REPO, Ansible, Lab

pytestmark = pytest.mark.lab

LAB_ID = os.environ.get('DOCKNET_SITE_LAB_ID', '8')
SITE = REPO / 'playbooks' / 'site.yml'
VERIFY = REPO / 'playbooks' / 'verify.yml'
TEARDOWN = REPO / 'playbooks' / 'teardown.yml'
# The demo topology: an inventory overlay given after the inventory, as make demo does.
DEMO = ['-i', str(REPO / 'playbooks' / 'demo')]
RECAP = re.compile(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def lab_cmd(*args):
    done = subprocess.run([str(LAB_SCRIPT), *args], env=dict(os.environ, LAB_ID=LAB_ID),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope='module')
def site_lab():
    lab_cmd('down')
    lab_cmd('up', '3', '--managers', '1')
    try:
        yield Lab(LAB_ID)
    finally:
        lab_cmd('down')


@pytest.fixture(scope='module')
def runner(site_lab, tmp_path_factory):
    return Ansible(site_lab, tmp_path_factory.mktemp('site'))


def changed_per_host(run):
    """{host: changed count} from the PLAY RECAP; asserts nothing failed or was unreachable."""
    found = {m.group(1): int(m.group(2)) for m in RECAP.finditer(run.stdout)}
    failed = {m.group(1) for m in RECAP.finditer(run.stdout) if m.group(3) != '0' or m.group(4) != '0'}
    assert found and not failed and run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    return found


def write_inventory(lab, path, managers, workers, retired=()):
    """An inventory like the lab's, with the groups we choose (retired hosts: outside the swarm groups)."""
    def host(name):
        node = lab.node(name)
        return {'docker_host': node['docker_host'], 'advertise_addr': node['address'],
                'lab_macvlan_parent': 'mv0'}
    inventory = {'all': {
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'},
        'children': {
            'swarm_managers': {'hosts': {n: host(n) for n in managers}},
            'swarm_workers': {'hosts': {n: host(n) for n in workers}},
            'retired': {'hosts': {n: host(n) for n in retired}},
        }}}
    Path(path).write_text(yaml.safe_dump(inventory))
    return path


def cluster_playbook(workdir):
    path = Path(workdir) / 'cluster.yml'
    path.write_text(yaml.safe_dump([{
        'name': 'The swarm_cluster role alone', 'hosts': 'swarm_managers:swarm_workers', 'gather_facts': False,
        'roles': ['docknet.fabric.swarm_cluster']}]))
    return path


def swarm_state(lab, name):
    return lab.docker(name).info()['Swarm']


def nodes_by_addr(lab, manager):
    return {n.attrs['Status']['Addr']: n.attrs for n in lab.docker(manager).nodes.list()}


def test_check_mode_on_a_fresh_lab_plans_changes_and_makes_none(site_lab, runner):
    run = runner.playbook(SITE, check=True, extra_args=DEMO)
    changed = changed_per_host(run)
    assert all(changed[n] > 0 for n in ('node1', 'node2', 'node3')), changed
    for node in ('node1', 'node2', 'node3'):
        assert swarm_state(site_lab, node)['LocalNodeState'] == 'inactive'
        assert not site_lab.docker(node).networks.list(names=['localnet'])


def test_site_converges_and_is_idempotent(site_lab, runner):
    first = changed_per_host(runner.playbook(SITE, extra_args=DEMO))
    assert all(first[n] > 0 for n in ('node1', 'node2', 'node3')), first
    again = changed_per_host(runner.playbook(SITE, extra_args=DEMO))
    assert set(again.values()) == {0}, again
    check = changed_per_host(runner.playbook(SITE, check=True, diff=True, extra_args=DEMO))
    assert set(check.values()) == {0}, check
    nodes = nodes_by_addr(site_lab, 'node1')
    assert sorted(n['Spec']['Role'] for n in nodes.values()) == ['manager', 'worker', 'worker']
    services = {s.name: s for s in site_lab.docker('node1').services.list()}
    assert set(services) == {'web', 'api', 'db', 'edge'}
    # The demo's network policy: web <-> api, api <-> db, web with egress, compiled into three networks.
    policy = {n.name: n.attrs for n in site_lab.docker('node1').networks.list(filters={'label': 'docknet.fabric.policy=demo'})}
    assert sorted(policy) == ['demo_api_db', 'demo_api_web', 'demo_egress_web'], sorted(policy)
    assert policy['demo_api_db']['Internal'] and not policy['demo_egress_web']['Internal']
    web_networks = {t['Target'] for t in services['web'].attrs['Spec']['TaskTemplate']['Networks']}
    assert web_networks == {policy['demo_api_web']['Id'], policy['demo_egress_web']['Id']}


def test_verify_prints_the_matrix_and_passes(runner):
    run = runner.playbook(VERIFY, extra_args=DEMO)
    changed_per_host(run)
    assert 'node3    db         -> api=allowed  web=denied' in run.stdout, run.stdout[-4000:]
    assert 'node2    web        -> api=allowed  db=denied' in run.stdout, run.stdout[-4000:]
    assert 'Every cell of the policy\'s matrix is as expected.' in run.stdout


def test_a_new_node_joins_alone(site_lab, runner, tmp_path):
    site_lab.up(4)
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1'], ['node2', 'node3', 'node4'])
    changed = changed_per_host(runner.playbook(cluster_playbook(tmp_path), inventory=inventory))
    assert changed == {'node1': 0, 'node2': 0, 'node3': 0, 'node4': 1}, changed
    assert swarm_state(site_lab, 'node4')['LocalNodeState'] == 'active'
    assert len(nodes_by_addr(site_lab, 'node1')) == 4


def test_workers_moved_to_the_managers_are_promoted(site_lab, runner, tmp_path):
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1', 'node2', 'node3'], ['node4'])
    run = runner.playbook(cluster_playbook(tmp_path), inventory=inventory)
    changed = changed_per_host(run)
    assert changed['node1'] == 1 and changed['node4'] == 0, changed   # the promotions run once, from node1
    roles = {addr: n['Spec']['Role'] for addr, n in nodes_by_addr(site_lab, 'node1').items()}
    assert sorted(roles.values()) == ['manager', 'manager', 'manager', 'worker'], roles
    again = changed_per_host(runner.playbook(cluster_playbook(tmp_path), inventory=inventory))
    assert set(again.values()) == {0}, again


def test_a_stopped_first_manager_never_makes_a_second_swarm(site_lab, runner, tmp_path):
    cluster_id = swarm_state(site_lab, 'node2')['Cluster']['ID']
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1', 'node2', 'node3'], ['node4'])
    lab_cmd('stop-node', '1')
    try:
        run = runner.playbook(cluster_playbook(tmp_path), inventory=inventory)
        assert 'Skipped, their dockerd does not answer: node1' in run.stdout, run.stdout[-4000:]
        changed = changed_per_host(run)
        assert set(changed.values()) == {0}, changed
        for node in ('node2', 'node3', 'node4'):
            state = swarm_state(site_lab, node)
            assert state['LocalNodeState'] == 'active'
        assert swarm_state(site_lab, 'node3')['Cluster']['ID'] == cluster_id
    finally:
        lab_cmd('start-node', '1')
    run = runner.playbook(cluster_playbook(tmp_path), inventory=inventory)
    changed_per_host(run)
    assert swarm_state(site_lab, 'node1')['Cluster']['ID'] == cluster_id


def test_prune_removes_a_node_no_longer_listed(site_lab, runner, tmp_path):
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1', 'node2', 'node3'], [], retired=['node4'])
    run = runner.playbook(cluster_playbook(tmp_path), inventory=inventory, extra_args=['-e', 'swarm_cluster_prune=true'])
    changed = changed_per_host(run)
    assert changed['node2'] == 0 and changed['node3'] == 0, changed
    assert swarm_state(site_lab, 'node4')['LocalNodeState'] == 'inactive'
    nodes = nodes_by_addr(site_lab, 'node1')
    assert site_lab.node('node4')['address'] not in nodes, nodes.keys()
    assert sorted(n['Spec']['Role'] for n in nodes.values()) == ['manager'] * 3
    again = changed_per_host(runner.playbook(cluster_playbook(tmp_path), inventory=inventory,
                                             extra_args=['-e', 'swarm_cluster_prune=true']))
    assert set(again.values()) == {0}, again


def test_teardown_removes_what_site_made(site_lab, runner, tmp_path):
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1', 'node2', 'node3'], [])
    changed_per_host(runner.playbook(TEARDOWN, inventory=inventory, extra_args=DEMO))
    for node in ('node1', 'node2', 'node3'):
        assert swarm_state(site_lab, node)['LocalNodeState'] == 'inactive'
        names = {n.name for n in site_lab.docker(node).networks.list()}
        assert not names & {'localnet', 'lan', 'lan-config', 'demo_api_web', 'demo_api_db', 'demo_egress_web'}, names
        assert {'bridge', 'host', 'none'} <= names
