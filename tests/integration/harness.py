# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drive real docknet.fabric modules and playbooks against the lab.

Tests describe tasks as plain dicts; ``Ansible.play`` writes them into a
playbook, runs ``ansible-playbook`` against the lab inventory and returns what
the recorder callback saw. Several steps of one scenario (create, re-run,
check-mode re-run, change, remove) go into one playbook run, which keeps the
suite fast: starting ansible-playbook costs more than most tasks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO / 'tests' / 'lab' / 'lab'
COLLECTIONS_ROOT = REPO / '.build' / 'collections'
# The ansible-playbook of the interpreter running pytest (the project's .venv), whatever PATH says.
_NEXT_TO_PYTHON = Path(sys.executable).parent / 'ansible-playbook'
ANSIBLE_PLAYBOOK = str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else 'ansible-playbook'


def ensure_collection_link():
    """Make the checkout importable as ansible_collections.docknet.fabric."""
    link = COLLECTIONS_ROOT / 'ansible_collections' / 'docknet' / 'fabric'
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO, target_is_directory=True)
    return COLLECTIONS_ROOT


def unique(prefix='t'):
    """A per-run object name, so reruns and parallel labs never collide."""
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class Lab:
    """The lab's description (lab.json) plus Docker SDK clients for setup and assertions.

    With ``ssh=True`` (a lab brought up with ``--ssh``) playbooks reach the nodes over SSH
    through the lab's ssh inventory, as a user's inventory of real machines would.
    """

    def __init__(self, lab_id, ssh=False):
        self.lab_id = str(lab_id)
        self.ssh = ssh
        self.state_dir = Path('/run/docknet-lab') / self.lab_id
        self.info = json.loads((self.state_dir / 'lab.json').read_text())
        self.inventory = self.state_dir / ('inventory-ssh.yml' if ssh else 'inventory.yml')
        self._clients = {}

    def connection_vars(self):
        """The inventory's ``all.vars`` that say how Ansible reaches the nodes (local or SSH)."""
        inventory = yaml.safe_load(self.inventory.read_text())
        return {k: v for k, v in inventory['all']['vars'].items() if k.startswith('ansible_')}

    def up(self, nodes):
        env = dict(os.environ, LAB_ID=self.lab_id)
        subprocess.run([str(LAB_SCRIPT), 'up', str(nodes)], check=True, env=env)
        self.info = json.loads((self.state_dir / 'lab.json').read_text())

    @property
    def nodes(self):
        return self.info['nodes']

    def node(self, name):
        return next(n for n in self.nodes if n['name'] == name)

    def docker(self, name):
        import docker
        if name not in self._clients:
            self._clients[name] = docker.DockerClient(base_url=self.node(name)['docker_host'], timeout=60)
        return self._clients[name]

    def restart_node(self, name, kill=False):
        """Stop a node's dockerd (SIGTERM, or SIGKILL: a crash) and start it again; fresh SDK clients afterwards."""
        env = dict(os.environ, LAB_ID=self.lab_id)
        number = name.replace('node', '')
        for argv in (['stop-node', number] + (['--kill'] if kill else []), ['start-node', number]):
            done = subprocess.run([str(LAB_SCRIPT), *argv], env=env, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
        self._clients.pop(name, None)

    def netns_run(self, name, *argv):
        """Run a command inside a node's network namespace (root namespace's filesystem)."""
        return subprocess.run(['nsenter', '--net=' + self.node(name)['netns'], *argv],
                              capture_output=True, text=True, check=False)


class PlayRun:
    """The outcome of one ansible-playbook run."""

    def __init__(self, records, returncode, stdout, stderr):
        self.records = records
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __getitem__(self, index):
        return self.records[index]['result']

    def __len__(self):
        return len(self.records)

    def results(self, host=None):
        return [r['result'] for r in self.records if host is None or r['host'] == host]

    def __repr__(self):
        return 'PlayRun(rc=%s, records=%s)' % (self.returncode, json.dumps(self.records, indent=1)[:6000])


class Ansible:
    """Runs plays against the lab inventory with the checkout as docknet.fabric."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.workdir = Path(workdir)
        self.collections = ensure_collection_link()

    def env(self, extra=None):
        env = dict(os.environ)
        env.update({
            'ANSIBLE_COLLECTIONS_PATH': str(self.collections),
            'ANSIBLE_CALLBACK_PLUGINS': str(Path(__file__).parent / 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'recorder',
            # Over SSH the lab's known_hosts has every node's key: check them, as a user would.
            'ANSIBLE_HOST_KEY_CHECKING': str(getattr(self.lab, 'ssh', False)),
            'ANSIBLE_RETRY_FILES_ENABLED': 'False',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_DEPRECATION_WARNINGS': 'False',
            'ANSIBLE_LOCALHOST_WARNING': 'False',
        })
        env.update(extra or {})
        return env

    def playbook(self, path, extra_args=(), check=False, diff=False, env=None, inventory=None):
        """Run a playbook file (site.yml and friends) against the lab inventory."""
        record = Path(tempfile.mkstemp(dir=self.workdir, suffix='.json')[1])
        argv = [ANSIBLE_PLAYBOOK, '-i', str(inventory or self.lab.inventory), str(path), *extra_args]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              env=self.env(dict(env or {}, DOCKNET_RECORD_FILE=str(record))))
        records = json.loads(record.read_text()) if record.stat().st_size else []
        return PlayRun(records, done.returncode, done.stdout, done.stderr)

    def play(self, tasks, hosts='node1', extra_args=(), env=None, gather_facts=False):
        """Run ``tasks`` (dicts, as in a playbook) on ``hosts``; every task's failure is recorded, not fatal.

        Each task may carry ``check_mode`` and ``diff`` like in a playbook; ``diff``
        defaults to true so every test sees the diff.
        """
        prepared = []
        for task in tasks:
            task = dict(task)
            task.setdefault('diff', True)
            task.setdefault('ignore_errors', True)
            prepared.append(task)
        play = [{
            'hosts': hosts,
            'gather_facts': gather_facts,
            'module_defaults': {'group/docknet.fabric.docker': {'docker_host': '{{ docker_host }}'}},
            'tasks': prepared,
        }]
        path = Path(tempfile.mkstemp(dir=self.workdir, suffix='.yml')[1])
        path.write_text(yaml.safe_dump(play, sort_keys=False))
        return self.playbook(path, extra_args=extra_args, env=env)

    def start(self, tasks, hosts='node1'):
        """Start ``tasks`` like ``play`` but without waiting: for faults injected while a task runs.

        Returns a handle whose ``wait()`` gives the PlayRun.
        """
        prepared = [dict(dict(task), diff=task.get('diff', True), ignore_errors=task.get('ignore_errors', True))
                    for task in tasks]
        play = [{'hosts': hosts, 'gather_facts': False,
                 'module_defaults': {'group/docknet.fabric.docker': {'docker_host': '{{ docker_host }}'}},
                 'tasks': prepared}]
        path = Path(tempfile.mkstemp(dir=self.workdir, suffix='.yml')[1])
        path.write_text(yaml.safe_dump(play, sort_keys=False))
        record = Path(tempfile.mkstemp(dir=self.workdir, suffix='.json')[1])
        proc = subprocess.Popen([ANSIBLE_PLAYBOOK, '-i', str(self.lab.inventory), str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env(dict(DOCKNET_RECORD_FILE=str(record))))
        return _Running(proc, record)

    def module(self, name, args, hosts='node1', check=False):
        """Run one module once and return its result."""
        run = self.play([{name: args, 'check_mode': check}], hosts=hosts)
        assert len(run) == 1, run
        return run[0]

    def lifecycle(self, name, args, hosts='node1'):
        """create, re-run, check-mode re-run of the same args: returns the three results."""
        run = self.play([
            {'name': 'first', name: args},
            {'name': 'again', name: args},
            {'name': 'again in check mode', name: args, 'check_mode': True},
        ], hosts=hosts)
        assert len(run) == 3, run
        return run[0], run[1], run[2]


class _Running:
    """An ansible-playbook run in progress (``Ansible.start``)."""

    def __init__(self, proc, record):
        self.proc = proc
        self.record = record

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout=600):
        stdout, stderr = self.proc.communicate(timeout=timeout)
        records = json.loads(self.record.read_text()) if self.record.stat().st_size else []
        return PlayRun(records, self.proc.returncode, stdout, stderr)


def assert_ok(result, changed=None):
    assert not result.get('failed'), result
    if changed is not None:
        assert result.get('changed') is changed, result


def assert_failed(result, *fragments):
    assert result.get('failed'), result
    for fragment in fragments:
        assert fragment in result.get('msg', ''), (fragment, result.get('msg'))
    assert 'Traceback' not in json.dumps(result), result


def force_node1_alone(lab, others=None):
    """A lab swarm's last resort: node1 forces a one-manager cluster; ``others`` (default: every other node)
    leave and join back as workers.

    For a swarm left without a leader (a demoted manager still counted by node1's raft, seen on a loaded
    machine): force-new-cluster keeps the cluster's networks and services.
    """
    others = [n['name'] for n in lab.nodes if n['name'] != 'node1'] if others is None else others
    manager = lab.docker('node1')
    address = lab.node('node1')['address']
    manager.api.init_swarm(advertise_addr=address, listen_addr='%s:2377' % address, force_new_cluster=True)
    for name in others:
        lab.docker(name).api.leave_swarm(force=True)
    deadline = time.time() + 120
    while True:
        try:
            tokens = manager.api.inspect_swarm()['JoinTokens']   # fails until the new cluster has its leader
            # Their old entries are removed as they are (a demotion would be refused).
            for node in [n for n in manager.nodes.list() if n.attrs['Description']['Hostname'] in others]:
                node.remove(force=True)
            break
        except Exception:   # the new cluster is still electing itself
            assert time.time() < deadline, 'node1 could not remove the old nodes after forcing a new cluster'
            time.sleep(1)
    for name in others:
        node = lab.node(name)
        lab.docker(name).api.join_swarm(remote_addrs=['%s:2377' % address], join_token=tokens['Worker'],
                                        advertise_addr=node['address'], listen_addr='%s:2377' % node['address'])
