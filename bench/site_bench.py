# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A no-op playbooks/site.yml against Ansible's own floor (ping) over the same hosts, in the same run (issue 16).

Brings lab LAB_ID up with N nodes (idempotent), writes an inventory overlay with O attachable
overlays and S dnsrr services, runs site.yml once (the first run, which builds the swarm), then
R rounds of: the no-op site.yml (must report changed=0) and `ansible all -m ping` over the same
hosts, back to back. Prints the medians and their ratio, and the per-play split of the last no-op
run (from the profile_roles/profile_tasks timer of the run's output), and keeps the raw figures
in bench/results/ (ignored by git).

Usage (run with the project's .venv; see bench/README.md):
    .venv/bin/python bench/site_bench.py --lab-id 6 --nodes 5 --services 30 --overlays 50
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / 'tests' / 'lab' / 'lab'
PREFIX = 'sitebench'
IMAGE = 'docknet/probe:latest'
RECAP = re.compile(r'^\S+\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def ansible_env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / '.build' / 'collections'),
                ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_DEPRECATION_WARNINGS='False',
                ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_FORKS='10')


def lab_up(lab_id, nodes, engine):
    env = dict(os.environ, LAB_ID=str(lab_id))
    argv = [str(LAB), 'up', str(nodes)] + (['--engine', engine] if engine else [])
    subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    state = Path('/run/docknet-lab') / str(lab_id)
    return json.loads((state / 'lab.json').read_text()), state / 'inventory.yml'


def write_overlay(workdir, services, overlays, prefix=PREFIX):
    """An inventory overlay (given after the lab's inventory) with the benchmark's topology.

    service_bench.py's ``--site`` writes its topology here too, under its own name prefix.
    """
    overlay_dir = Path(workdir) / 'site-overlay'
    (overlay_dir / 'group_vars' / 'all').mkdir(parents=True)
    (overlay_dir / 'hosts.yml').write_text('all:\n  hosts: {}\n')
    nets = ['%s-ov-%03d' % (prefix, i) for i in range(overlays)]
    topology = {
        'swarm_networks_overlay': [{'name': n, 'attachable': True} for n in nets],
        'swarm_services_list': [{'name': '%s-svc-%03d' % (prefix, i), 'image': IMAGE,
                                 'command': ['sleep', '86400'], 'replicas': 1, 'endpoint_mode': 'dnsrr',
                                 'stop_grace_period': '1s', 'networks': [nets[i % overlays]]}
                                for i in range(services)],
        'swarm_services_wait_timeout': 600,
    }
    (overlay_dir / 'group_vars' / 'all' / 'bench.yml').write_text(yaml.safe_dump(topology, sort_keys=False))
    return overlay_dir


def timed(argv, env):
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit('failed: %s\n%s\n%s' % (' '.join(argv), done.stdout[-4000:], done.stderr[-2000:]))
    return seconds, done.stdout


# A timer callback (ansible.posix's profile_tasks is not among our dependencies): the start of every
# play and task and the end of the run, as JSON, into the file DOCKNET_SITE_BENCH_TIMES names.
TIMER = '''
import json, os, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'site_bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events = []

    def v2_playbook_on_play_start(self, play):
        self.events.append(['play', play.get_name(), time.monotonic()])

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.events.append(['task', task.get_name(), time.monotonic()])

    def v2_playbook_on_handler_task_start(self, task):
        self.events.append(['task', task.get_name(), time.monotonic()])

    def v2_playbook_on_stats(self, stats):
        self.events.append(['end', '', time.monotonic()])
        with open(os.environ['DOCKNET_SITE_BENCH_TIMES'], 'w') as out:
            json.dump(self.events, out)
'''


def profile_summary(events):
    """Seconds per play and per task (task name within its play), from the timer's events."""
    plays, tasks = [], {}
    play = None
    for index, (kind, name, at) in enumerate(events[:-1]):
        if kind == 'play':
            play = name
            until = next((e[2] for e in events[index + 1:] if e[0] in ('play', 'end')), at)
            plays.append((name, round(until - at, 2)))
        elif kind == 'task':
            key = '%s / %s' % (play, name)
            tasks[key] = round(tasks.get(key, 0.0) + events[index + 1][2] - at, 2)
    return {'plays': plays, 'tasks': sorted(tasks.items(), key=lambda item: -item[1])}


def run_site(inventories, workdir=None):
    env = ansible_env()
    if workdir:
        (Path(workdir) / 'site_bench_timer.py').write_text(TIMER)
        env.update(ANSIBLE_CALLBACK_PLUGINS=str(workdir), ANSIBLE_CALLBACKS_ENABLED='site_bench_timer',
                   DOCKNET_SITE_BENCH_TIMES=str(Path(workdir) / 'times.json'))
    argv = [str(REPO / '.venv' / 'bin' / 'ansible-playbook')]
    for inventory in inventories:
        argv += ['-i', str(inventory)]
    seconds, out = timed(argv + [str(REPO / 'playbooks' / 'site.yml')], env)
    changed = sum(int(m.group(1)) for m in RECAP.finditer(out))
    return seconds, changed, out


def run_ping(inventory):
    argv = [str(REPO / '.venv' / 'bin' / 'ansible'), '-i', str(inventory), 'swarm_managers:swarm_workers',
            '-m', 'ansible.builtin.ping']
    return timed(argv, ansible_env())[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lab-id', default=os.environ.get('DOCKNET_SITE_LAB_ID', os.environ.get('LAB_ID', '6')))
    parser.add_argument('--nodes', type=int, default=5)
    parser.add_argument('--services', type=int, default=30)
    parser.add_argument('--overlays', type=int, default=50)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--engine', default='')
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results'))
    args = parser.parse_args()
    if args.lab_id == '0':
        raise SystemExit('lab 0 is the demo\'s: give --lab-id')
    link = REPO / '.build' / 'collections' / 'ansible_collections' / 'docknet' / 'fabric'
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO, target_is_directory=True)
    info, inventory = lab_up(args.lab_id, args.nodes, args.engine)
    with tempfile.TemporaryDirectory() as workdir:
        overlay = write_overlay(workdir, args.services, args.overlays)
        inventories = [inventory, overlay]
        first, first_changed, dummy = run_site(inventories)
        print('first run: %.2f s (changed=%d)' % (first, first_changed), file=sys.stderr)
        noops, pings = [], []
        for round_no in range(args.rounds):
            noop, changed, out = run_site(inventories)
            if changed:
                raise SystemExit('the no-op site.yml changed %d task(s):\n%s' % (changed, out[-6000:]))
            ping = run_ping(inventory)
            noops.append(noop)
            pings.append(ping)
            print('round %d: no-op site.yml %.2f s, ping %.2f s' % (round_no + 1, noop, ping), file=sys.stderr)
        # One more no-op run with the timer, for the per-play split (not counted in the medians).
        profiled = run_site(inventories, workdir)[0]
        events = json.loads((Path(workdir) / 'times.json').read_text())
    load = os.getloadavg()
    result = {
        'nodes': len(info['nodes']), 'services': args.services, 'overlays': args.overlays, 'first': round(first, 2),
        'noop': [round(n, 2) for n in noops], 'ping': [round(p, 2) for p in pings],
        'noop_median': round(statistics.median(noops), 2), 'ping_median': round(statistics.median(pings), 2),
        'load_average': [round(v, 1) for v in load],
    }
    result['ratio'] = round(result['noop_median'] / result['ping_median'], 2)
    result['profile'] = profile_summary(events)
    print('site.yml no-op (%d nodes, %d services, %d overlays): median %.2f s; ping median %.2f s; ratio %.2fx'
          % (result['nodes'], args.services, args.overlays, result['noop_median'], result['ping_median'],
             result['ratio']))
    print('per play of the profiled no-op run (%.2f s):' % profiled)
    for name, seconds in result['profile']['plays']:
        print('  %6.2f s  %s' % (seconds, name))
    print('slowest tasks:')
    for name, seconds in result['profile']['tasks'][:12]:
        print('  %6.2f s  %s' % (seconds, name))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ('site-%s.json' % time.strftime('%Y%m%dT%H%M%S'))).write_text(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
