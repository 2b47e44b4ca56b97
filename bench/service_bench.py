# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge K dnsrr services on K overlay networks, then re-run with nothing to do; and site.yml against ping.

Services: once with docknet.fabric (overlay_network and swarm_service, list form: two tasks), once
with community.docker (docker_network and docker_swarm_service, one task looped per object), on the
same lab in the same run. Prints first-run and no-op seconds for both, and the ratios.

Site (--site S N): playbooks/site.yml with S services and N overlays on every node of the lab, first
run and no-op run, and Ansible's own floor over the same hosts (a play with one ping task), in the
same run.

Usage (the lab must be up; the script makes it a swarm if it is not one):
    LAB_ID=5 tests/lab/lab up 5
    .build/venv-bench/bin/python bench/service_bench.py --lab-id 5 --k 10 30 --site 30 50
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
PREFIX = 'sbench'
IMAGE = 'docknet/probe:latest'
sys.path.insert(0, str(Path(__file__).resolve().parent))

from network_bench import first_and_noop, lab_ready, ratio_table  # noqa: E402
from site_bench import write_overlay  # noqa: E402


def names(k):
    return [('%s-ov-%03d' % (PREFIX, i), '%s-svc-%03d' % (PREFIX, i)) for i in range(k)]


def ours(k, manager):
    overlays = [{'name': net, 'attachable': True} for net, dummy in names(k)]
    services = [{'name': svc, 'image': IMAGE, 'command': ['sleep', '86400'], 'replicas': 1, 'endpoint_mode': 'dnsrr',
                 'networks': [net], 'stop_grace_period': '1s'} for net, svc in names(k)]
    return [{
        'hosts': manager, 'gather_facts': False,
        'module_defaults': {'group/docknet.fabric.docker': {'docker_host': '{{ docker_host }}'}},
        'tasks': [
            {'name': 'overlays', 'docknet.fabric.overlay_network': {'networks': overlays}},
            {'name': 'services', 'docknet.fabric.swarm_service': {'services': services, 'wait_timeout': 600}},
        ],
    }]


def community(k, manager):
    items = [{'net': net, 'svc': svc} for net, svc in names(k)]
    return [{
        'hosts': manager, 'gather_facts': False,
        'tasks': [
            {'name': 'overlays', 'community.docker.docker_network': {
                'docker_host': '{{ docker_host }}', 'name': '{{ item.net }}', 'driver': 'overlay', 'attachable': True},
             'loop': items, 'loop_control': {'label': '{{ item.net }}'}},
            {'name': 'services', 'community.docker.docker_swarm_service': {
                'docker_host': '{{ docker_host }}', 'name': '{{ item.svc }}', 'image': IMAGE,
                'command': ['sleep', '86400'], 'replicas': 1, 'endpoint_mode': 'dnsrr', 'networks': ['{{ item.net }}'],
                'stop_grace_period': '1s'},
             'loop': items, 'loop_control': {'label': '{{ item.svc }}'}},
        ],
    }]


def run_playbook(path, inventories, playbook=None):
    playbook = playbook or str(Path(sys.executable).parent / 'ansible-playbook')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / '.build' / 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_DEPRECATION_WARNINGS='False',
               ANSIBLE_LOCALHOST_WARNING='False')
    argv = [playbook]
    for inventory in inventories:
        argv += ['-i', str(inventory)]
    start = time.monotonic()
    done = subprocess.run(argv + [str(path)], capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit('play failed (%s):\n%s\n%s' % (path, done.stdout[-4000:], done.stderr[-2000:]))
    changed = sum(int(part.split('=')[1]) for line in done.stdout.splitlines() if 'changed=' in line
                  for part in line.split() if part.startswith('changed='))
    return seconds, changed


def run_play(play, inventory, workdir):
    path = Path(tempfile.mkstemp(dir=workdir, suffix='.yml')[1])
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return run_playbook(path, [inventory])


def clean(nodes, prefix=PREFIX):
    """Remove the benchmark's services, then (once their tasks are gone) its overlays."""
    manager = docker.DockerClient(base_url=nodes[0]['docker_host'], timeout=120)
    for service in manager.api.services():
        if service['Spec']['Name'].startswith(prefix + '-'):
            manager.api.remove_service(service['ID'])
    deadline = time.time() + 180
    while time.time() < deadline:
        left = [n for n in manager.api.networks() if n['Name'].startswith(prefix + '-')]
        if not left:
            return
        for network in left:
            try:
                manager.api.remove_network(network['Id'])
            except docker.errors.APIError:
                pass
        time.sleep(1)
    raise SystemExit('could not remove the benchmark networks within 180 s')


def bench_services(ks, nodes, inventory, workdir):
    manager = nodes[0]['name']
    rows = []
    for k in ks:
        rows.append(first_and_noop(k, {'ours': partial(ours, k, manager), 'community': partial(community, k, manager)},
                                   partial(clean, nodes), partial(run_play, inventory=inventory, workdir=workdir)))
    clean(nodes)
    return rows, ratio_table(rows, 'objects', lambda k: '%d services + %d overlays' % (k, k))


def bench_site(services, overlays, nodes, inventory, workdir):
    """site.yml with ``services`` dnsrr services on ``overlays`` overlays: first run, no-op run, and the ping floor."""
    overlay_dir = write_overlay(workdir, services, overlays, prefix='%s-site' % PREFIX)
    ping = Path(workdir) / 'ping.yml'
    ping.write_text(yaml.safe_dump([{'hosts': 'swarm_managers:swarm_workers', 'gather_facts': False,
                                     'tasks': [{'name': 'ping', 'ansible.builtin.ping': {}}]}], sort_keys=False))
    site = REPO / 'playbooks' / 'site.yml'
    # The project's own ansible-playbook: the one site.yml is made for.
    playbook = str(REPO / '.venv' / 'bin' / 'ansible-playbook')
    first, dummy = run_playbook(site, [inventory, overlay_dir], playbook)
    noop, noop_changed = run_playbook(site, [inventory, overlay_dir], playbook)
    floor = min(run_playbook(ping, [inventory], playbook)[0] for dummy in range(3))
    result = {'services': services, 'overlays': overlays, 'nodes': len(nodes), 'first': round(first, 2),
              'noop': round(noop, 2), 'noop_changed': noop_changed, 'ping_floor': round(floor, 2),
              'ratio': round(noop / floor, 2)}
    figures = (services, overlays, len(nodes), first, noop, noop_changed, floor, noop / floor)
    print('site.yml (%d services, %d overlays, %d nodes): first %.2f s, no-op %.2f s (changed=%d); ping floor '
          '%.2f s; no-op / floor = %.2fx' % figures, file=sys.stderr)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lab-id', default=os.environ.get('LAB_ID', '0'))
    parser.add_argument('--k', type=int, nargs='*', default=[10, 30])
    parser.add_argument('--site', type=int, nargs=2, metavar=('SERVICES', 'OVERLAYS'))
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results'))
    args = parser.parse_args()
    nodes, inventory = lab_ready(args.lab_id)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime('%Y%m%dT%H%M%S')
    with tempfile.TemporaryDirectory() as workdir:
        if args.k:
            rows, table = bench_services(args.k, nodes, inventory, workdir)
            print(table)
            (out / ('service-%s.json' % stamp)).write_text(json.dumps(rows, indent=1))
            (out / ('service-%s.md' % stamp)).write_text(table + '\n')
        if args.site:
            site = bench_site(args.site[0], args.site[1], nodes, inventory, workdir)
            (out / ('site-%s.json' % stamp)).write_text(json.dumps(site, indent=1))


if __name__ == '__main__':
    main()
