# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge K bridge networks per node plus K overlay networks, then re-run with nothing to do.

Once with docknet.fabric (bridge_network / overlay_network, list form: one task per driver),
once with community.docker's docker_network (one task looped over the networks), on the same
lab in the same run. Prints first-run and no-op seconds for both, and the ratios.

Usage (the lab must be up; the script makes it a swarm if it is not one):
    LAB_ID=1 tests/lab/lab up 3
    .build/venv-bench/bin/python bench/network_bench.py --lab-id 1 --k 5 20 50
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import docker
import yaml

REPO = Path(__file__).resolve().parents[1]
PREFIX = 'bench'


def lab_info(lab_id):
    state = Path('/run/docknet-lab') / str(lab_id)
    return json.loads((state / 'lab.json').read_text()), state / 'inventory.yml'


def ensure_swarm(nodes):
    manager = docker.DockerClient(base_url=nodes[0]['docker_host'])
    if manager.info()['Swarm']['LocalNodeState'] != 'active':
        manager.swarm.init(advertise_addr=nodes[0]['address'], listen_addr='%s:2377' % nodes[0]['address'])
    token = manager.swarm.attrs['JoinTokens']['Worker']
    for node in nodes[1:]:
        client = docker.DockerClient(base_url=node['docker_host'])
        if client.info()['Swarm']['LocalNodeState'] != 'active':
            client.swarm.join(remote_addrs=['%s:2377' % nodes[0]['address']], join_token=token,
                              advertise_addr=node['address'], listen_addr='%s:2377' % node['address'])
    return manager


def bridge_subnet(i):
    return '10.%d.%d.0/24' % (150 + i // 250, i % 250)


def overlay_subnet(i):
    return '10.%d.%d.0/24' % (170 + i // 250, i % 250)


def ours(k):
    bridges = [{'name': '%s-br-%03d' % (PREFIX, i), 'ipam_config': [{'subnet': bridge_subnet(i)}]} for i in range(k)]
    overlays = [{'name': '%s-ov-%03d' % (PREFIX, i), 'attachable': True,
                 'ipam_config': [{'subnet': overlay_subnet(i)}]} for i in range(k)]
    return [{
        'hosts': 'all', 'gather_facts': False,
        'module_defaults': {'group/docknet.fabric.docker': {'docker_host': '{{ docker_host }}'}},
        'tasks': [
            {'name': 'bridges', 'docknet.fabric.bridge_network': {'networks': bridges}},
            {'name': 'overlays', 'docknet.fabric.overlay_network': {'networks': overlays},
             'when': "inventory_hostname in groups['managers']"},
        ],
    }]


def community(k):
    bridges = [{'name': '%s-br-%03d' % (PREFIX, i), 'subnet': bridge_subnet(i)} for i in range(k)]
    overlays = [{'name': '%s-ov-%03d' % (PREFIX, i), 'subnet': overlay_subnet(i)} for i in range(k)]
    return [{
        'hosts': 'all', 'gather_facts': False,
        'tasks': [
            {'name': 'bridges', 'community.docker.docker_network': {
                'docker_host': '{{ docker_host }}', 'name': '{{ item.name }}', 'driver': 'bridge',
                'ipam_config': [{'subnet': '{{ item.subnet }}'}]},
             'loop': bridges, 'loop_control': {'label': '{{ item.name }}'}},
            {'name': 'overlays', 'community.docker.docker_network': {
                'docker_host': '{{ docker_host }}', 'name': '{{ item.name }}', 'driver': 'overlay',
                'attachable': True, 'ipam_config': [{'subnet': '{{ item.subnet }}'}]},
             'loop': overlays, 'loop_control': {'label': '{{ item.name }}'},
             'when': "inventory_hostname in groups['managers']"},
        ],
    }]


def run_play(play, inventory, workdir):
    path = Path(tempfile.mkstemp(dir=workdir, suffix='.yml')[1])
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    playbook = Path(sys.executable).parent / 'ansible-playbook'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / '.build' / 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_DEPRECATION_WARNINGS='False',
               ANSIBLE_LOCALHOST_WARNING='False')
    start = time.monotonic()
    done = subprocess.run([str(playbook), '-i', str(inventory), str(path)], capture_output=True, text=True, env=env,
                          check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit('play failed (%s):\n%s\n%s' % (path, done.stdout[-3000:], done.stderr[-2000:]))
    changed = sum(int(part.split('=')[1]) for line in done.stdout.splitlines() if 'changed=' in line
                  for part in line.split() if part.startswith('changed='))
    return seconds, changed


def clean(nodes):
    """Remove every benchmark network (overlays on the manager first, then each node's bridges)."""
    for node in nodes:
        client = docker.DockerClient(base_url=node['docker_host'])
        for network in client.networks.list(names=[PREFIX + '-']):
            if network.name.startswith(PREFIX + '-'):
                try:
                    network.remove()
                except docker.errors.APIError:
                    pass


def first_and_noop(k, sides, clean_up, run):
    """Each side from a clean lab: its play run twice (first, then no-op); a no-op that changes aborts.

    ``sides`` maps a label to a function giving the play, ``run`` runs a play and returns (seconds, changed).
    Shared by the benchmarks so both sides of every benchmark are measured the same way.
    """
    row = {'k': k}
    for label, build in sides.items():
        clean_up()
        first, first_changed = run(build())
        noop, noop_changed = run(build())
        if noop_changed:
            raise SystemExit('%s: the no-op run changed %d task(s) at K=%d' % (label, noop_changed, k))
        row[label] = {'first': round(first, 2), 'noop': round(noop, 2), 'first_changed': first_changed}
        print('K=%d %s: first %.2f s, no-op %.2f s' % (k, label, first, noop), file=sys.stderr)
    return row


def ensure_collection_link():
    link = REPO / '.build' / 'collections' / 'ansible_collections' / 'docknet' / 'fabric'
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO, target_is_directory=True)


def ratio_table(rows, objects, count):
    """The Markdown table of first_and_noop rows: seconds of each side and community.docker's over ours."""
    lines = ['| K | %s | ours first (s) | ours no-op (s) | community.docker first (s) | '
             'community.docker no-op (s) | first: cd/ours | no-op: cd/ours |' % objects,
             '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for row in rows:
        o, c = row['ours'], row['community']
        lines.append('| %d | %s | %.2f | %.2f | %.2f | %.2f | %.1fx | %.1fx |' % (
            row['k'], count(row['k']), o['first'], o['noop'], c['first'], c['noop'],
            c['first'] / o['first'], c['noop'] / o['noop']))
    return '\n'.join(lines)


def lab_ready(lab_id):
    """The lab's nodes and inventory, with our collection linked and a swarm formed: what every benchmark needs."""
    info, inventory = lab_info(lab_id)
    ensure_collection_link()
    ensure_swarm(info['nodes'])
    return info['nodes'], inventory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lab-id', default=os.environ.get('LAB_ID', '0'))
    parser.add_argument('--k', type=int, nargs='+', default=[5, 20, 50])
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results'))
    args = parser.parse_args()
    nodes, inventory = lab_ready(args.lab_id)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for k in args.k:
            rows.append(first_and_noop(k, {'ours': partial(ours, k), 'community': partial(community, k)},
                                       partial(clean, nodes), partial(run_play, inventory=inventory, workdir=workdir)))
        clean(nodes)
    table = ratio_table(rows, 'networks', lambda k: str(k * (len(nodes) + 1)))
    print(table)
    stamp = time.strftime('%Y%m%dT%H%M%S')
    (out / ('network-%s.json' % stamp)).write_text(json.dumps(rows, indent=1))
    (out / ('network-%s.md' % stamp)).write_text(table + '\n')


if __name__ == '__main__':
    main()
