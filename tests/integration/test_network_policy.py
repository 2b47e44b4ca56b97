# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_policy and the swarm_policy role on the lab swarm: services on three nodes and plain containers.

One scene, in file order: check mode predicts -> apply -> the role proves the full matrix by traffic
from every node (and re-runs with no change) -> change the policy (a pair removed, a member added) ->
proven again -> a leak refused with strict, warned without -> state absent removes the policy's networks.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from harness import unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'
MODULE = 'docknet.fabric.network_policy'
# dnsrr: the lab has no IPVS, so VIPs pass no traffic.
SERVICE = dict(image=IMAGE, command=['httpd', '-f', '-p', '80'], endpoint_mode='dnsrr', stop_grace_period='1s',
               update_config={'parallelism': 3, 'monitor': '1s', 'order': 'start-first'}, wait_timeout=90)


@pytest.fixture(scope='module')
def scene(swarm, ansible):
    p = unique('pol').replace('-', '')
    lab = swarm
    manager = lab.docker('node1')
    services = {'web': 3, 'api': 2, 'db': 1}
    containers = [('node2', '%s-tools-a' % p), ('node3', '%s-tools-b' % p), ('node2', '%s-batch' % p)]
    made = []
    try:
        run = ansible.play([{'docknet.fabric.swarm_service': dict(SERVICE, name='%s-%s' % (p, name), replicas=n)}
                            for name, n in services.items()])
        assert all(not r.get('failed') for r in run.results()), run
        for node, name in containers:
            client = lab.docker(node)
            client.containers.run(IMAGE, ['httpd', '-f', '-p', '80'], name=name, detach=True)
            made.append((client, name))
        yield {'p': p, 'lab': lab, 'manager': manager,
               'hosts': {n['name']: n['docker_host'] for n in lab.nodes}}
    finally:
        for client, name in made:
            try:
                client.containers.get(name).remove(force=True)
            except Exception:  # pylint: disable=broad-except
                pass
        for name in services:
            try:
                manager.services.get('%s-%s' % (p, name)).remove()
            except Exception:  # pylint: disable=broad-except
                pass
        ansible.play([{MODULE: {'name': p, 'state': 'absent', 'members': []}}])
        for network in manager.networks.list(filters={'label': 'docknet.fabric.policy=%s' % p}):
            try:
                network.remove()
            except Exception:  # pylint: disable=broad-except
                pass


def policy(scene, allow, members=('web', 'api', 'db'), egress=('web',), **extra):
    p = scene['p']
    entries = [{'name': m, 'services': ['%s-%s' % (p, m)]} for m in members if m in ('web', 'api', 'db')]
    if 'tools' in members:
        entries.append({'name': 'tools', 'containers': ['%s-tools-*' % p],
                        'hosts': [scene['hosts']['node2'], scene['hosts']['node3']]})
    if 'batch' in members:
        entries.append({'name': 'batch', 'containers': ['%s-batch' % p], 'hosts': [scene['hosts']['node2']]})
    args = {'name': p, 'members': entries, 'allow': [{'from': a, 'to': b} for a, b in allow], 'egress': list(egress)}
    args.update(extra)
    return args


def role_play(scene, args, workdir, check=False):
    """A playbook running the swarm_policy role with ``args`` on the three nodes (hosts: inventory names)."""
    hosts_by_addr = {v: k for k, v in scene['hosts'].items()}
    members = []
    for member in args['members']:
        member = dict(member)
        if 'hosts' in member:
            member['hosts'] = [hosts_by_addr[h] for h in member['hosts']]
        members.append(member)
    path = Path(workdir) / ('policy-%s.yml' % unique('r'))
    path.write_text(yaml.safe_dump([{
        'name': 'swarm_policy', 'hosts': 'all', 'gather_facts': False,
        'vars': {'swarm_policy_name': args['name'], 'swarm_policy_members': members,
                 'swarm_policy_allow': args['allow'], 'swarm_policy_egress': args['egress'],
                 'swarm_policy_strict': args.get('strict', True), 'swarm_policy_probe_port': 80,
                 'swarm_policy_managers_group': 'managers',
                 'swarm_policy_diagram_path': str(Path(workdir) / ('%s.mmd' % args['name']))},
        'roles': ['docknet.fabric.swarm_policy']}]))
    return path


def matrix_of(result):
    return {(row['from'], row['to']): row['allowed'] for row in result['matrix']}


def test_check_mode_predicts_then_apply_then_no_change(ansible, scene):
    args = policy(scene, [('web', 'api'), ('api', 'db')])
    run = ansible.play([
        {'name': 'check', MODULE: args, 'check_mode': True},
        {'name': 'apply', MODULE: args},
        {'name': 'again', MODULE: args},
        {'name': 'again in check mode', MODULE: args, 'check_mode': True},
    ])
    planned, applied, again, again_check = run.results()
    for result in (planned, applied, again, again_check):
        assert not result.get('failed'), result
    p = scene['p']
    assert planned['changed'] and applied['changed'] and not again['changed'] and not again_check['changed']
    assert planned['actions'] == applied['actions'], (planned['actions'], applied['actions'])
    assert planned['diff'] == applied['diff']
    assert again['actions'] == [] and again_check['actions'] == []
    names = sorted(n['name'] for n in applied['networks'])
    assert names == ['%s_api_db' % p, '%s_api_web' % p, '%s_egress_web' % p]
    assert 'create network %s_api_web' % p in applied['actions']
    assert 'service %s-web joins %s_api_web' % (p, p) in applied['actions']
    matrix = matrix_of(applied)
    assert matrix[('web', 'api')] and matrix[('api', 'web')] and matrix[('db', 'api')]
    assert not matrix[('db', 'web')] and not matrix[('web', 'db')]
    assert applied['symmetric'] is True and 'host firewall' in applied['note']
    assert '<-->|%s_api_web|' % p in applied['mermaid']
    live = {n.name: n.attrs for n in scene['manager'].networks.list(filters={'label': 'docknet.fabric.policy=%s' % p})}
    assert sorted(live) == names
    assert live['%s_api_web' % p]['Internal'] and not live['%s_egress_web' % p]['Internal']
    assert all(n['Attachable'] and n['Driver'] == 'overlay' for n in live.values())
    web = scene['manager'].services.get('%s-web' % p).attrs['Spec']
    assert web['TaskTemplate']['ContainerSpec']['Command'] == ['httpd', '-f', '-p', '80']   # untouched
    assert len(web['TaskTemplate']['Networks']) == 2


def test_the_role_proves_the_matrix_from_every_node(ansible, scene, tmp_path):
    args = policy(scene, [('web', 'api'), ('api', 'db')])
    run = ansible.playbook(role_play(scene, args, tmp_path))
    assert run.returncode == 0, run.stdout[-6000:]
    assert 'Every cell of the policy\'s matrix is as expected.' in run.stdout
    task = 'Apply the policy (networks, then joins, then leaves, then removals)'
    applied = [r['result'] for r in run.records if r['task'].endswith(task)]
    assert applied and applied[0]['changed'] is False, applied   # the module test applied it already
    p = scene['p']
    assert 'web(%s-web)=denied' % p in run.stdout and 'api(%s-api)=allowed' % p in run.stdout
    assert (tmp_path / ('%s.mmd' % scene['p'])).read_text().startswith('flowchart LR')


def test_change_the_policy_remove_a_pair_add_a_member(ansible, scene, tmp_path):
    p = scene['p']
    args = policy(scene, [('web', 'api'), ('tools', ['api', 'db'])], members=('web', 'api', 'db', 'tools'))
    checked = ansible.module(MODULE, args, check=True)
    run = ansible.playbook(role_play(scene, args, tmp_path))
    assert run.returncode == 0, run.stdout[-6000:]
    assert 'Every cell of the policy\'s matrix is as expected.' in run.stdout
    applied = next(r for r in run.results() if r.get('matrix') and r.get('changed'))
    assert checked['actions'] == applied['actions']
    matrix = matrix_of(applied)
    assert not matrix[('api', 'db')] and matrix[('tools', 'db')] and matrix[('db', 'tools')]
    # api, db and tools all talk to each other except api-db: api_tools and db_tools, the old api_db removed.
    assert '%s_api_db' % p in applied['removed_networks']
    assert 'service %s-db leaves %s_api_db' % (p, p) in applied['actions']
    joined = [a for a in applied['actions'] if 'container %s-tools-a' % p in a]
    assert joined and all(' joins ' in a for a in joined)
    again = ansible.module(MODULE, args)
    assert not again.get('failed') and again['changed'] is False, again


def test_a_leak_is_refused_with_strict_and_warned_without(ansible, scene):
    p = scene['p']
    node2 = scene['lab'].docker('node2')
    shared = node2.networks.create('%s-shared' % p, driver='bridge')
    try:
        shared.connect('%s-tools-a' % p)
        shared.connect('%s-batch' % p)
        args = policy(scene, [('web', 'api'), ('tools', ['api', 'db'])], members=('web', 'api', 'db', 'tools', 'batch'))
        refused = ansible.module(MODULE, args)
        assert refused.get('failed'), refused
        assert 'batch and tools share %s-shared' % p in refused['msg'] and 'Nothing was changed' in refused['msg']
        # Both containers also sit on node2's default bridge, where they can talk by address: a leak too.
        assert refused['leaks'] == [{'members': ['batch', 'tools'], 'network': 'bridge'},
                                    {'members': ['batch', 'tools'], 'network': '%s-shared' % p}]
        warned = ansible.module(MODULE, dict(args, strict=False), check=True)
        assert not warned.get('failed') and warned['leaks'], warned
        assert any('%s-shared' % p in w for w in warned.get('warnings', [])), warned
    finally:
        shared.disconnect('%s-tools-a' % p, force=True)
        shared.disconnect('%s-batch' % p, force=True)
        shared.remove()


def test_bad_input_and_absent(ansible, scene):
    p = scene['p']
    bad = ansible.module(MODULE, {'name': p, 'members': [{'name': 'web', 'services': ['%s-web' % p]}],
                                  'allow': [{'from': 'web', 'to': 'nobody'}]})
    assert bad.get('failed') and 'nobody is not a member' in bad['msg'], bad
    missing = ansible.module(MODULE, {'name': p, 'members': [{'name': 'ghost', 'services': ['%s-ghost' % p]}]})
    assert missing.get('failed') and 'nothing matches service %s-ghost' % p in missing['msg'], missing
    args = {'name': p, 'state': 'absent', 'members': policy(scene, [], members=('web', 'api', 'db', 'tools'))['members']}
    gone = ansible.module(MODULE, args)
    assert not gone.get('failed') and gone['changed'], gone
    # Docker 26+ frees a removed swarm network in the background: it may stay listed a moment.
    deadline = time.monotonic() + 30
    while scene['manager'].networks.list(filters={'label': 'docknet.fabric.policy=%s' % p}):
        assert time.monotonic() < deadline, 'the policy networks are still listed 30 s after state: absent'
        time.sleep(0.5)
    assert ansible.module(MODULE, args)['changed'] is False
