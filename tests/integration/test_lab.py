# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab itself (tests/lab/lab), for real: a 2-node lab of its own (LAB_ID=9).

Brings the lab up (with the engine LAB_ENGINE names, default 20.10), checks
both engines answer, run that engine with its own docker-proxy and docker-init,
and nothing can route off the machine, forms a swarm and pings across an overlay between the two nodes,
checks a second `up` changes nothing, then `down` and checks that nothing of
the lab is left: namespaces, links, mounts, processes, cgroups, iptables
rules, directories.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO / 'tests' / 'lab' / 'lab'
LAB_ID = '9'                      # reserved for this test; the shared test lab is 0
STATE = Path('/run/docknet-lab') / LAB_ID
DATA = Path('/var/lib/docknet-lab') / LAB_ID
IMAGE = 'docknet/probe:latest'
ENGINE = os.environ.get('LAB_ENGINE') or '20.10'


def lab(*args):
    """Run tests/lab/lab for LAB_ID 9; fail with its output if it fails."""
    proc = subprocess.run([str(LAB_SCRIPT), *args], env=dict(os.environ, LAB_ID=LAB_ID),
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, 'lab %s failed (%d):\n%s%s' % (
        ' '.join(args), proc.returncode, proc.stdout, proc.stderr)
    return proc


def client(node):
    import docker
    return docker.DockerClient(base_url=node['docker_host'], timeout=60)


def pids(nodes):
    return {n['name']: Path(n['pidfile']).read_text().strip() for n in nodes}


@pytest.fixture(scope='module')
def lab9():
    if os.geteuid() != 0:
        pytest.skip('the lab needs root')
    lab('down')                   # a crashed earlier run must not count as "up"
    try:
        lab('up', '2')
        yield json.loads((STATE / 'lab.json').read_text())
    finally:
        lab('down')


def test_up_two_nodes(lab9):
    assert lab9['id'] == 9 and lab9['bridge'] == 'dnlab9'
    assert lab9['engine'] == ENGINE
    assert lab9['subnet'] == '198.18.9.0/24' and lab9['gateway'] == '198.18.9.1'
    assert [n['name'] for n in lab9['nodes']] == ['node1', 'node2']
    assert [n['role'] for n in lab9['nodes']] == ['manager', 'worker']
    for k, node in enumerate(lab9['nodes'], start=1):
        assert node['address'] == '198.18.9.%d' % (10 + k)
        assert node['docker_host'] == 'unix:///run/docknet-lab/9/node%d/docker.sock' % k
        docker = client(node)
        assert docker.ping()
        assert docker.info()['Name'] == node['name']      # own UTS namespace
        assert docker.version()['Version'].startswith(ENGINE + '.')
        docker.images.get(IMAGE)
    inventory = (STATE / 'inventory.yml').read_text()
    assert 'docker_host: unix:///run/docknet-lab/9/node2/docker.sock' in inventory
    assert lab('inventory').stdout.strip() == str(STATE / 'inventory.yml')


def test_no_default_route(lab9):
    for node in lab9['nodes']:
        for family in ('-4', '-6'):
            routes = subprocess.run(['nsenter', '--net=' + node['netns'], 'ip', family, 'route'],
                                    capture_output=True, text=True, check=True).stdout
            assert 'default' not in routes, (node['name'], routes)
        links = subprocess.run(['nsenter', '--net=' + node['netns'], 'ip', '-o', 'link'],
                               capture_output=True, text=True, check=True).stdout
        assert ' mv0@mv0peer:' in links and ' mv0peer@mv0:' in links
    status = lab('status').stdout
    assert status.count(' none ') == 2, status             # ROUTE column
    rows = [line.split() for line in status.splitlines()[2:]]
    assert [row[5] for row in rows] == [ENGINE, ENGINE], status     # ENGINE column


def test_engine_helpers_on_path(lab9):
    """A published port's docker-proxy and `--init`'s docker-init are the engine's own."""
    node = lab9['nodes'][1]
    dockerd = Path(lab9['dockerd']).resolve()
    root = dockerd.parents[2]                 # <root>/usr/sbin/dockerd
    docker = client(node)
    box = docker.containers.run(IMAGE, ['sleep', '600'], name='helpers', init=True,
                                ports={'80/tcp': ('198.18.9.12', 8089)}, detach=True)
    try:
        proxies = subprocess.run(['ip', 'netns', 'pids', node['netns'].rsplit('/', 1)[1]],
                                 capture_output=True, text=True, check=True).stdout.split()
        exes = {os.readlink('/proc/%s/exe' % pid) for pid in proxies
                if Path('/proc/%s/comm' % pid).read_text().strip() == 'docker-proxy'}
        assert exes == {str(root / 'usr' / 'sbin' / 'docker-proxy')}, exes
        code, out = box.exec_run(['cat', '/proc/1/cmdline'])
        assert code == 0 and out.startswith(b'/sbin/docker-init'), out
    finally:
        box.remove(force=True)


def test_other_engine_is_refused_while_up(lab9):
    other = '28' if ENGINE != '28' else '20.10'
    proc = subprocess.run([str(LAB_SCRIPT), 'up', '2', '--engine', other],
                          env=dict(os.environ, LAB_ID=LAB_ID), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1
    assert 'lab 9 runs engine %s, not %s' % (ENGINE, other) in proc.stderr


def test_overlay_ping_across_nodes(lab9):
    node1, node2 = lab9['nodes']
    manager, worker = client(node1), client(node2)
    manager.swarm.init(advertise_addr=node1['address'], listen_addr=node1['address'] + ':2377')
    worker.swarm.join(remote_addrs=[node1['address'] + ':2377'],
                      join_token=manager.swarm.attrs['JoinTokens']['Worker'],
                      advertise_addr=node2['address'], listen_addr=node2['address'] + ':2377')
    manager.networks.create('labnet', driver='overlay', attachable=True)
    manager.containers.run(IMAGE, ['sleep', '600'], name='ping-a', network='labnet', detach=True)
    b = worker.containers.run(IMAGE, ['sleep', '600'], name='ping-b', network='labnet', detach=True)
    # Name resolution of a container on the other node arrives by gossip.
    deadline = time.time() + 30
    while True:
        code, out = b.exec_run(['ping', '-c', '2', '-W', '2', 'ping-a'])
        if code == 0 or time.time() > deadline:
            break
        time.sleep(1)
    assert code == 0, out.decode()
    assert b' 0% packet loss' in out


def test_up_again_is_harmless(lab9):
    before = pids(lab9['nodes'])
    lab('up', '2')
    assert pids(lab9['nodes']) == before
    assert json.loads((STATE / 'lab.json').read_text()) == lab9
    for node in lab9['nodes']:
        assert client(node).ping()


def test_down_removes_everything(lab9):
    lab('down')
    lab('down')                   # idempotent

    netns = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout
    assert 'dnlab9-' not in netns

    links = subprocess.run(['ip', '-o', 'link', 'show'], capture_output=True, text=True, check=True).stdout
    names = [line.split(':')[1].strip().split('@')[0] for line in links.splitlines()]
    assert not [n for n in names if n == 'dnlab9' or n.startswith('dnl9n')], names

    mounts = [line.split()[1] for line in Path('/proc/mounts').read_text().splitlines()]
    assert not [m for m in mounts if m.startswith((str(STATE), str(DATA)))]

    left = []
    for proc in Path('/proc').iterdir():
        if not proc.name.isdigit():
            continue
        try:
            state = (proc / 'stat').read_text().rsplit(')', 1)[1].split()[0]
            cmdline = (proc / 'cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace')
        except OSError:
            continue              # ended meanwhile
        if state != 'Z' and 'docknet-lab/9' in cmdline:
            left.append((proc.name, cmdline))
    assert not left

    assert not list(Path('/sys/fs/cgroup').glob('docknet-lab9-*'))
    assert not list(Path('/sys/fs/cgroup').glob('*/docknet-lab9-*'))
    assert not STATE.exists() and not DATA.exists()
    rules = subprocess.run(['iptables-save'], capture_output=True, text=True, check=True).stdout
    assert 'dnlab9' not in rules
