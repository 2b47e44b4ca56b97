# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Acceptance scenarios of the roles and playbooks (issue 7), on a lab of their own.

The lab (LAB_ID 8 unless DOCKNET_SITE_LAB_ID says otherwise) is brought down first so the
scenarios start from fresh engines, and down again at the end. The tests build on each
other in file order: fresh check mode -> site.yml -> idempotence -> verify.yml -> add a node ->
promote -> first manager stopped -> prune -> teardown.

DOCKNET_SITE_SSH=1 runs the same scenarios over SSH (issue 14): the lab comes up with --ssh and
the playbooks get its ssh inventory — ansible_host, user, key, no docker_host — so every module
is shipped to its node and talks to that node's /var/run/docker.sock with the node's
/usr/bin/python3 and Debian's python3-docker; a few SSH-only checks run after verify.yml.
`-m acceptance` selects the site acceptance: check mode, site, idempotence, verify (and the
SSH-only checks).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
import yaml

from harness import ANSIBLE_PLAYBOOK, LAB_SCRIPT, REPO, Ansible, Lab

pytestmark = pytest.mark.lab

LAB_ID = os.environ.get('DOCKNET_SITE_LAB_ID', '8')
SSH = os.environ.get('DOCKNET_SITE_SSH', '') not in ('', '0')
ssh_only = pytest.mark.skipif(not SSH, reason='over SSH only (DOCKNET_SITE_SSH=1)')
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
    lab_cmd('up', '3', '--managers', '1', *(['--ssh'] if SSH else []))
    try:
        yield Lab(LAB_ID, ssh=SSH)
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
        where = {'ansible_host': node['address']} if lab.ssh else {'docker_host': node['docker_host']}
        return dict(where, advertise_addr=node['address'], lab_macvlan_parent='mv0')
    inventory = {'all': {
        'vars': lab.connection_vars(),
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


@pytest.mark.acceptance
def test_check_mode_on_a_fresh_lab_plans_changes_and_makes_none(site_lab, runner):
    run = runner.playbook(SITE, check=True, extra_args=DEMO)
    changed = changed_per_host(run)
    assert all(changed[n] > 0 for n in ('node1', 'node2', 'node3')), changed
    for node in ('node1', 'node2', 'node3'):
        assert swarm_state(site_lab, node)['LocalNodeState'] == 'inactive'
        assert not site_lab.docker(node).networks.list(names=['localnet'])


@pytest.mark.acceptance
def test_site_converges_and_is_idempotent(site_lab, runner):
    first_run = runner.playbook(SITE, extra_args=DEMO)
    first = changed_per_host(first_run)
    assert all(first[n] > 0 for n in ('node1', 'node2', 'node3')), first
    assert 'SWMTKN' not in first_run.stdout + first_run.stderr   # join tokens never shown
    # Again; with swarm_cluster_install_sdk the SDK is checked for (it is there: no change).
    again = changed_per_host(runner.playbook(SITE, extra_args=DEMO + ['-e', 'swarm_cluster_install_sdk=true']))
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


@pytest.mark.acceptance
def test_verify_prints_the_matrix_and_passes(runner):
    run = runner.playbook(VERIFY, extra_args=DEMO)
    changed_per_host(run)
    assert 'node3    db         -> api=allowed  web=denied' in run.stdout, run.stdout[-4000:]
    assert 'node2    web        -> api=allowed  db=denied' in run.stdout, run.stdout[-4000:]
    assert 'Every cell of the policy\'s matrix is as expected.' in run.stdout


def test_the_installed_collection_runs_its_playbooks_by_name(runner, tmp_path):
    """What a user of the built tarball does (issue 17): ansible-playbook docknet.fabric.verify / site / teardown."""
    built, installed = tmp_path / 'built', tmp_path / 'installed'
    galaxy = str(Path(ANSIBLE_PLAYBOOK).with_name('ansible-galaxy'))
    build = [galaxy, 'collection', 'build', '--output-path', str(built), str(REPO)]

    def install():   # the tarball exists only once built
        return [galaxy, 'collection', 'install', '--force', '-p', str(installed), *map(str, built.glob('*.tar.gz'))]
    for step in (lambda: build, install):
        done = subprocess.run(step(), capture_output=True, text=True, check=False, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    root = installed / 'ansible_collections' / 'docknet' / 'fabric'
    env = {'ANSIBLE_COLLECTIONS_PATH': str(installed)}
    demo = ['-i', str(root / 'playbooks' / 'demo')]
    run = runner.playbook('docknet.fabric.verify', extra_args=demo, env=env)
    changed_per_host(run)
    assert 'Every cell of the matrix is as expected.' in run.stdout
    for name in ('site', 'teardown'):
        run = runner.playbook('docknet.fabric.%s' % name, extra_args=demo + ['--syntax-check'], env=env)
        # Found in the installed copy, not in the checkout.
        assert run.returncode == 0, run.stdout + run.stderr
        assert 'playbook: %s' % (root / 'playbooks' / ('%s.yml' % name)) in run.stdout, run.stdout


def ad_hoc_play(workdir, tasks, hosts='swarm_managers:swarm_workers'):
    path = Path(workdir) / 'play.yml'
    path.write_text(yaml.safe_dump([{'name': 'Over SSH', 'hosts': hosts, 'gather_facts': False, 'tasks': tasks}]))
    return path


def recorded(run, task):
    """{host: result} of the task named ``task``."""
    return {r['host']: r['result'] for r in run.records if r.get('task') == task}


@pytest.mark.acceptance
@ssh_only
def test_ssh_modules_run_on_each_host_with_its_socket_and_debian_sdk(runner, tmp_path):
    """No docker_host: each node's module talks to its own /var/run/docker.sock, with python3-docker."""
    play = ad_hoc_play(tmp_path, [
        {'name': 'sdk', 'ansible.builtin.command': {
            'argv': ['/usr/bin/python3', '-c', 'import docker; print(docker.__version__)']},
         'changed_when': False},
        {'name': 'info', 'docknet.fabric.swarm_info': {}},
        # become (su: the lab has no sudo) changes nothing for the modules.
        {'name': 'become', 'docknet.fabric.network_info': {'names': ['localnet']},
         'become': True, 'become_method': 'ansible.builtin.su'},
    ])
    run = runner.playbook(play)
    changed_per_host(run)
    for host, result in recorded(run, 'sdk').items():
        assert result['stdout'] == '5.0.3', (host, result)
    info = recorded(run, 'info')
    assert {h: r['hostname'] for h, r in info.items()} == {n: n for n in ('node1', 'node2', 'node3')}, info
    assert info['node1']['is_manager'] and not info['node2']['is_manager'], info
    assert all(len(r['networks']) == 1 for r in recorded(run, 'become').values())


@pytest.mark.acceptance
@ssh_only
def test_ssh_with_the_pypi_sdk_and_pip_the_cluster_is_unchanged(site_lab, runner, tmp_path):
    """The target's Python may also be a virtualenv with the SDK from PyPI (here: the project's .venv)."""
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1'], ['node2', 'node3'])
    run = runner.playbook(cluster_playbook(tmp_path), inventory=inventory, extra_args=[
        '-e', 'ansible_python_interpreter=%s' % sys.executable,
        '-e', 'swarm_cluster_install_sdk=true', '-e', 'swarm_cluster_sdk_method=pip'])
    assert set(changed_per_host(run).values()) == {0}


@pytest.mark.acceptance
@ssh_only
def test_ssh_an_old_sdk_on_the_target_fails_with_one_line(runner, tmp_path):
    """A Docker SDK older than 5.0.3 in the target's Python: the module says so, naming the interpreter."""
    fake = tmp_path / 'old-sdk' / 'docker'
    fake.mkdir(parents=True)
    (fake / '__init__.py').write_text("__version__ = '4.1.0'\nAPIClient = None\n")
    (fake / 'constants.py').write_text("MINIMUM_DOCKER_API_VERSION = '1.21'\n")
    (fake / 'errors.py').write_text('class DockerException(Exception):\n    pass\n\n\n'
                                    'class APIError(DockerException):\n    pass\n')
    (fake / 'tls.py').write_text('class TLSConfig:\n    pass\n')
    play = ad_hoc_play(tmp_path, [{'name': 'old', 'docknet.fabric.swarm_info': {}, 'ignore_errors': True,
                                   'environment': {'PYTHONPATH': str(fake.parent)}}], hosts='node2')
    result = recorded(runner.playbook(play), 'old')['node2']
    assert result.get('failed'), result
    assert result['msg'].startswith('The Docker SDK for Python of /usr/bin/python3 is 4.1.0; docknet.fabric '
                                    'needs 5.0.3 or newer.'), result['msg']
    assert 'Traceback' not in str(result)


def test_a_new_node_joins_alone(site_lab, runner, tmp_path):
    site_lab.up(4)
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1'], ['node2', 'node3', 'node4'])
    changed = changed_per_host(runner.playbook(cluster_playbook(tmp_path), inventory=inventory))
    assert changed == {'node1': 0, 'node2': 0, 'node3': 0, 'node4': 1}, changed
    assert swarm_state(site_lab, 'node4')['LocalNodeState'] == 'active'
    assert len(nodes_by_addr(site_lab, 'node1')) == 4


def test_a_bad_setting_on_one_host_stops_every_host_before_any_change(site_lab, runner, tmp_path):
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1'], ['node2', 'node3', 'node4'])
    hosts = yaml.safe_load(Path(inventory).read_text())
    workers = hosts['all']['children']['swarm_workers']['hosts']
    workers['node4']['advertise_addr'] = workers['node3']['advertise_addr']
    workers['node2']['swarm_cluster_node_labels'] = {'bad-run': 'must-not-land'}
    Path(inventory).write_text(yaml.safe_dump(hosts))
    before = {addr: n['Version']['Index'] for addr, n in nodes_by_addr(site_lab, 'node1').items()}
    run = runner.playbook(cluster_playbook(tmp_path), inventory=inventory)
    assert run.returncode != 0, run.stdout[-3000:]
    assert 'node3, node4: the same advertise address %s.' % workers['node3']['advertise_addr'] in run.stdout, run.stdout[-3000:]
    assert 'Traceback' not in run.stdout + run.stderr
    assert 'Read the swarm' not in run.stdout   # stopped at the check, on every host
    after = {addr: n['Version']['Index'] for addr, n in nodes_by_addr(site_lab, 'node1').items()}
    assert after == before


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


@pytest.fixture
def three_managers(site_lab, runner, tmp_path):
    """site.yml converged on node1..3, all managers (after prune they already are: the run is a check)."""
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1', 'node2', 'node3'], [])
    changed_per_host(runner.playbook(SITE, inventory=inventory, extra_args=DEMO))
    return inventory


def wait_for_a_leader(lab, managers, seconds=90):
    """Poll until every manager's dockerd answers and lists the nodes (only a swarm with a leader does)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if all(len(lab.docker(m).nodes.list()) >= len(managers) for m in managers):
                return
        except Exception:   # dockerd not back yet, or no leader elected yet
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def wait_for_no_leader(lab, manager, seconds=60):
    """Poll until the manager says its swarm has no leader.

    A manager notices lost quorum only after raft's election timeout: read before that, it still lists the
    nodes (the play then saw a healthy swarm that lost its leader under it a moment later: a CI failure), or
    its request to the stopped leader runs into "context deadline exceeded".
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            lab.docker(manager).nodes.list()
            seen = 'a node listing'
        except docker.errors.APIError as error:
            if 'does not have a leader' in str(error):
                return
            seen = str(error)
        if time.monotonic() > deadline:
            raise AssertionError(f'{manager} does not say "no leader" {seconds} s after quorum was lost: {seen}')
        time.sleep(0.5)


def test_limit_with_the_first_manager_dead_works_and_never_makes_a_second_swarm(site_lab, runner, three_managers):
    """Issue 11 point 11: site.yml --limit 'all:!node1' with node1's dockerd stopped."""
    cluster_id = swarm_state(site_lab, 'node2')['Cluster']['ID']
    lab_cmd('stop-node', '1')
    try:
        run = runner.playbook(SITE, inventory=three_managers, extra_args=DEMO + ['--limit', 'all:!node1'])
        changed = changed_per_host(run)
        assert set(changed) == {'node2', 'node3'}, changed
        assert 'Left out of the play (--limit), not changed and not guessed about: node1' in run.stdout, \
            run.stdout[-4000:]
        for node in ('node2', 'node3'):
            assert swarm_state(site_lab, node)['Cluster']['ID'] == cluster_id
    finally:
        lab_cmd('start-node', '1')
    wait_for_a_leader(site_lab, ['node1', 'node2', 'node3'])
    changed_per_host(runner.playbook(SITE, inventory=three_managers, extra_args=DEMO))
    again = changed_per_host(runner.playbook(SITE, inventory=three_managers, extra_args=DEMO))
    assert set(again.values()) == {0}, again
    assert {swarm_state(site_lab, n)['Cluster']['ID'] for n in ('node1', 'node2', 'node3')} == {cluster_id}


def test_lost_quorum_is_reported_as_no_leader_and_changes_nothing(site_lab, runner, three_managers):
    """Issue 11 point 7: node2 and node3 stopped, node1 answers without a leader: named as such, nothing done."""
    cluster_id, node_id = swarm_state(site_lab, 'node1')['Cluster']['ID'], swarm_state(site_lab, 'node1')['NodeID']
    lab_cmd('stop-node', '2')
    try:
        lab_cmd('stop-node', '3')
        wait_for_no_leader(site_lab, 'node1')
        run = runner.playbook(SITE, inventory=three_managers, extra_args=DEMO)
        state = swarm_state(site_lab, 'node1')
    finally:
        lab_cmd('start-node', '2')
        lab_cmd('start-node', '3')
    assert run.returncode != 0, run.stdout[-4000:]
    assert 'their swarm has no leader (quorum lost): node1' in run.stdout, run.stdout[-4000:]
    assert 'Managers node1 answer, but their swarm has no leader: quorum is lost' in run.stdout, run.stdout[-4000:]
    unreachable = re.search(r'Skipped, their dockerd does not answer: ([^(]*)', run.stdout)
    assert unreachable and unreachable.group(1).split() == ['node2,', 'node3'], run.stdout[-4000:]
    changed = {m.group(1): int(m.group(2)) for m in RECAP.finditer(run.stdout)}
    assert set(changed.values()) == {0}, changed
    assert state['LocalNodeState'] == 'active' and state['NodeID'] == node_id, state   # still in its swarm
    wait_for_a_leader(site_lab, ['node1', 'node2', 'node3'])
    changed_per_host(runner.playbook(SITE, inventory=three_managers, extra_args=DEMO))
    assert {swarm_state(site_lab, n)['Cluster']['ID'] for n in ('node1', 'node2', 'node3')} == {cluster_id}


def test_teardown_removes_what_site_made(site_lab, runner, tmp_path):
    inventory = write_inventory(site_lab, tmp_path / 'inv.yml', ['node1', 'node2', 'node3'], [])
    changed_per_host(runner.playbook(TEARDOWN, inventory=inventory, extra_args=DEMO))
    for node in ('node1', 'node2', 'node3'):
        assert swarm_state(site_lab, node)['LocalNodeState'] == 'inactive'
        names = {n.name for n in site_lab.docker(node).networks.list()}
        assert not names & {'localnet', 'lan', 'lan-config', 'demo_api_web', 'demo_api_db', 'demo_egress_web'}, names
        assert {'bridge', 'host', 'none'} <= names
