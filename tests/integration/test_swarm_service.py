# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_service against a real 3-node swarm: create, partial update, wait, rollback, remove.

This kernel has no IPVS: VIP load balancing and the ingress routing mesh pass
no traffic here. VIP and ingress specs are checked by inspection; traffic is
checked with endpoint_mode dnsrr and host-mode ports.
"""

from __future__ import annotations

import sys
import time

import docker
import pytest

from harness import unique
from service_records import failed, ok

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'
MODULE = 'docknet.fabric.swarm_service'
HTTP = "echo ok > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"
HOST_PORT = 18080
INGRESS_PORT = 18081


@pytest.fixture(scope='module')
def scene(swarm):
    """An attachable overlay, a secret and a config; everything named with this run's prefix."""
    client = swarm.docker('node1')
    prefix = unique('svc')
    net = client.api.create_network('%s-ov' % prefix, driver='overlay', attachable=True)['Id']
    secret = client.secrets.create(name='%s-secret' % prefix, data=b'hush')
    config = client.configs.create(name='%s-config' % prefix, data=b'key=value')
    try:
        yield {'prefix': prefix, 'net': '%s-ov' % prefix, 'client': client, 'lab': swarm,
               'secret': '%s-secret' % prefix, 'config': '%s-config' % prefix}
    finally:
        for service in client.api.services():
            if service['Spec']['Name'].startswith(prefix):
                client.api.remove_service(service['ID'])
        deadline = time.time() + 30
        while True:
            try:
                client.api.remove_network(net)
                break
            except docker.errors.APIError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        secret.remove()
        config.remove()


def running_tasks(client, name):
    # Matched by the service's id here: Docker's own service filter is not exact on every engine.
    service_id = client.api.inspect_service(name)['ID']
    return [t for t in client.api.tasks(filters={'service': name, 'desired-state': 'running'})
            if t['Status']['State'] == 'running' and t['ServiceID'] == service_id]


def node_names(client):
    return {n['ID']: n['Description']['Hostname'] for n in client.api.nodes()}


def web_args(scene, **extra):
    args = {
        'name': '%s-web' % scene['prefix'],
        'image': IMAGE,
        'command': ['sh', '-c', HTTP],
        'replicas': 2,
        'max_replicas_per_node': 1,
        'networks': [{'name': scene['net'], 'aliases': ['web']}],
        'endpoint_mode': 'dnsrr',
        'ports': [{'published': HOST_PORT, 'target': 8080, 'mode': 'host'}],
        'env': {'A': '1', 'B': '2'},
        'labels': {'tier': 'web'},
        'stop_grace_period': '1s',
        'update_config': {'parallelism': 2, 'monitor': '2s'},
        'rollback_config': {'parallelism': 2, 'monitor': '1s'},
        'wait_timeout': 60,
    }
    args.update(extra)
    return args


def lookup_until(container, name, addresses, seconds=30):
    """nslookup ``name`` in ``container`` until every address is in the answer (or ``seconds`` pass)."""
    deadline = time.time() + seconds
    while True:
        code, out = container.exec_run(['nslookup', name])
        if (code == 0 and all(a.encode() in out for a in addresses)) or time.time() > deadline:
            return code, out
        time.sleep(1)


def test_replicated_dnsrr_service_lifecycle(ansible, scene):
    """create (check first), re-run, re-run in check mode; tasks on two nodes reach each other by name."""
    args = web_args(scene)
    run = ansible.play([
        {'name': 'create in check mode', MODULE: args, 'check_mode': True},
        {'name': 'create', MODULE: args},
        {'name': 'again', MODULE: args},
        {'name': 'again in check mode', MODULE: args, 'check_mode': True},
    ])
    planned, created = ok(run, 0, changed=True), ok(run, 1, changed=True)
    again, again_check = ok(run, 2, changed=False), ok(run, 3, changed=False)
    assert planned['actions'] == created['actions'] == ['create']
    assert planned['diff']['after'] == created['diff']['after']
    assert created['converged'] is True
    assert created['diff']['before'] == {}
    assert created['spec']['TaskTemplate']['Networks'] == [{'Target': scene['net'], 'Aliases': ['web']}]
    assert again['actions'] == again_check['actions'] == []

    client, lab = scene['client'], scene['lab']
    tasks = running_tasks(client, args['name'])
    assert len(tasks) == 2
    names = node_names(client)
    nodes = sorted(names[t['NodeID']] for t in tasks)
    assert len(set(nodes)) == 2, nodes
    addresses = {}
    for t in tasks:
        attachment = next(a for a in t['NetworksAttachments'] if a['Network']['Spec']['Name'] == scene['net'])
        addresses[t['ID']] = attachment['Addresses'][0].split('/')[0]
    for t in tasks:
        container = lab.docker(names[t['NodeID']]).containers.get(t['Status']['ContainerStatus']['ContainerID'])
        # The other node's task reaches this node's DNS by gossip, a moment after the service converged.
        code, out = lookup_until(container, 'tasks.%s' % args['name'], addresses.values())
        assert code == 0, out
        for address in addresses.values():
            assert address.encode() in out, out
        other = next(a for i, a in addresses.items() if i != t['ID'])
        code, out = container.exec_run(['ping', '-c', '1', '-W', '2', other])
        assert code == 0, out
        code, out = container.exec_run(['nslookup', 'web'])   # the alias
        assert code == 0 and other.encode() in out, out
    # Host-mode port: served on the nodes that run a task, reached from a node that does not.
    idle = next(n['name'] for n in lab.nodes if n['name'] not in nodes)
    for node in nodes:
        url = 'http://%s:%d/' % (lab.node(node)['address'], HOST_PORT)
        done = lab.netns_run(idle, sys.executable, '-c',
                             'import sys, urllib.request; sys.stdout.write('
                             'urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())', url)
        assert done.returncode == 0 and done.stdout.strip() == 'ok', (node, done.stderr)


def test_partial_update_of_one_env_var(ansible, scene):
    name = '%s-web' % scene['prefix']
    change = {'name': name, 'env': {'A': '1', 'B': '3'}, 'wait_timeout': 60}
    run = ansible.play([
        {'name': 'update in check mode', MODULE: change, 'check_mode': True},
        {'name': 'update', MODULE: change},
        {'name': 'again', MODULE: change},
        {'name': 'again in check mode', MODULE: change, 'check_mode': True},
    ])
    planned, updated = ok(run, 0, changed=True), ok(run, 1, changed=True)
    ok(run, 2, changed=False)
    ok(run, 3, changed=False)
    assert planned['actions'] == updated['actions'] == ['update']
    assert planned['changes'] == updated['changes'] == ['env']
    assert updated['diff']['before']['TaskTemplate']['ContainerSpec']['Env'] == ['A=1', 'B=2']
    assert updated['diff']['after']['TaskTemplate']['ContainerSpec']['Env'] == ['A=1', 'B=3']
    assert updated['converged'] is True
    spec = scene['client'].api.inspect_service(name)['Spec']
    assert spec['Mode'] == {'Replicated': {'Replicas': 2}}
    assert spec['EndpointSpec']['Mode'] == 'dnsrr'
    assert spec['Labels'] == {'tier': 'web'}
    assert spec['TaskTemplate']['ContainerSpec']['Command'] == ['sh', '-c', HTTP]
    assert len(spec['TaskTemplate']['Networks']) == 1
    assert spec['UpdateConfig']['Monitor'] == 2 * 10 ** 9
    tasks = running_tasks(scene['client'], name)
    assert len(tasks) == 2
    assert all('B=3' in t['Spec']['ContainerSpec']['Env'] for t in tasks)


def test_failed_update_reports_task_errors_and_rolls_back(ansible, scene):
    name = '%s-web' % scene['prefix']
    broken = {'name': name, 'command': ['sh', '-c', 'exit 3'], 'wait_timeout': 60}
    good = {'name': name, 'command': ['sh', '-c', HTTP], 'wait_timeout': 60}
    run = ansible.play([
        {'name': 'broken update', MODULE: broken},
        {'name': 'broken update again: nothing to change, but the paused update is reported', MODULE: broken},
        {'name': 'repair', MODULE: good},
        {'name': 'broken update with rollback', MODULE: dict(broken, rollback_on_failure=True)},
        {'name': 'after the rollback the good spec is in place', MODULE: good},
    ])
    broke = failed(run, 0, 'update did not converge', 'non-zero exit (3)', 'rollback_on_failure')
    assert broke['rolled_back'] is False and broke['changed'] is True
    assert broke['failed_tasks'] and broke['failed_tasks'][0]['error'] == 'task: non-zero exit (3)'
    again = failed(run, 1, 'update paused due to failure')
    assert again['changed'] is False and again['actions'] == []
    assert ok(run, 2, changed=True)['converged'] is True
    rolled = failed(run, 3, 'the update failed', 'non-zero exit (3)', 'Rolled back to the previous spec')
    assert rolled['rolled_back'] is True and rolled['changed'] is True
    ok(run, 4, changed=False)
    service = scene['client'].api.inspect_service(name)
    assert service['Spec']['TaskTemplate']['ContainerSpec']['Command'] == ['sh', '-c', HTTP]
    assert service['UpdateStatus']['State'] == 'rollback_completed'
    assert len(running_tasks(scene['client'], name)) == 2


def test_every_option_is_idempotent_and_vip_ingress_by_inspection(ansible, scene):
    prefix, client = scene['prefix'], scene['client']
    args = {
        'name': '%s-all' % prefix, 'image': IMAGE, 'command': 'sleep', 'args': ['3600'], 'replicas': 2,
        'networks': [scene['net']],    # a plain name is the short form of {'name': ...}
        'ports': [{'published': INGRESS_PORT, 'target': 80}],
        'labels': {'a': 'b'}, 'container_labels': {'c': 'd'}, 'hostname': 'allhost',
        'user': '65534:65534', 'workdir': '/tmp', 'init': True, 'stop_signal': 'SIGKILL', 'stop_grace_period': '1s',
        'constraints': ['node.role == worker'], 'preferences': ['node.hostname'],
        'resources': {'limits': {'cpus': 0.5, 'memory': '64M'}, 'reservations': {'memory': '8M'}},
        'restart_policy': {'condition': 'on-failure', 'max_attempts': 3},
        'update_config': {'order': 'start-first', 'monitor': '1s'},
        'rollback_config': {'failure_action': 'continue'},
        'healthcheck': {'test': 'true', 'interval': '1s', 'retries': 3},
        'mounts': [{'target': '/scratch', 'type': 'tmpfs'},
                   {'source': '/etc', 'target': '/hostetc', 'type': 'bind', 'readonly': True}],
        'secrets': [{'name': scene['secret']}],
        'configs': [{'name': scene['config'], 'target': '/app.conf', 'mode': 0o440}],
        'dns': ['198.18.0.1'], 'dns_search': ['lab.test'], 'dns_options': ['ndots:2', 'timeout:1'],
        'wait_timeout': 60,
    }
    job = {'name': '%s-job' % prefix, 'image': IMAGE, 'mode': 'replicated-job', 'replicas': 2,
           'command': ['true'], 'networks': [{'name': scene['net']}]}
    glob = {'name': '%s-glob' % prefix, 'image': IMAGE, 'mode': 'global', 'command': ['sleep', '3600'],
            'stop_grace_period': '1s', 'networks': [{'name': scene['net']}]}
    run = ansible.play([
        {'name': 'create', MODULE: args},
        {'name': 'again', MODULE: args},
        {'name': 'again in check mode', MODULE: args, 'check_mode': True},
        {'name': 'job', MODULE: job},
        {'name': 'job again', MODULE: job},
        {'name': 'global', MODULE: glob},
        {'name': 'global again', MODULE: glob},
    ])
    for index, changed in enumerate([True, False, False, True, False, True, False]):
        ok(run, index, changed=changed)
    assert run[0]['converged'] and run[3]['converged'] and run[5]['converged']
    service = client.api.inspect_service(args['name'])
    assert service['Spec']['EndpointSpec']['Mode'] == 'vip'
    assert service['Endpoint']['Ports'] == [{'Protocol': 'tcp', 'TargetPort': 80, 'PublishedPort': INGRESS_PORT,
                                             'PublishMode': 'ingress'}]
    net_id = client.api.inspect_network(scene['net'])['Id']
    assert [v for v in service['Endpoint']['VirtualIPs'] if v['NetworkID'] == net_id]
    names = node_names(client)
    assert {names[t['NodeID']] for t in running_tasks(client, args['name'])} <= {'node2', 'node3'}
    # The job's two tasks complete. Under load, Docker 28 was once seen starting further tasks of the same job
    # by itself (26 complete in one CI run) while 'job again' sent nothing (changed false, no forced update).
    job_tasks = client.api.tasks(filters={'service': job['name']})
    assert len([t for t in job_tasks if t['Status']['State'] == 'complete']) >= 2
    assert client.api.inspect_service(job['name'])['Spec']['TaskTemplate'].get('ForceUpdate', 0) == 0
    glob_nodes = [names[t['NodeID']] for t in running_tasks(client, glob['name'])]
    assert sorted(glob_nodes) == ['node1', 'node2', 'node3']


def test_bad_input_fails_before_any_change(ansible, scene):
    prefix, client = scene['prefix'], scene['client']
    web = '%s-web' % prefix
    before = client.api.inspect_service(web)['Version']['Index']
    new = {'name': '%s-bad' % prefix, 'image': IMAGE}
    run = ansible.play([
        {'name': 'missing network', MODULE: dict(new, networks=[{'name': '%s-nope' % prefix}])},
        {'name': 'local network', MODULE: dict(new, networks=[{'name': 'bridge'}])},
        {'name': 'port taken', MODULE: dict(new, ports=[{'published': INGRESS_PORT, 'target': 80}])},
        {'name': 'replicas with global', MODULE: dict(new, mode='global', replicas=2)},
        {'name': 'mode change', MODULE: {'name': web, 'mode': 'global'}},
        {'name': 'dnsrr with ingress port', MODULE: {'name': web, 'ports': [{'published': 18090, 'target': 80}]}},
        {'name': 'missing secret', MODULE: dict(new, secrets=[{'name': '%s-nope' % prefix}])},
        {'name': 'bad duration', MODULE: {'name': web, 'stop_grace_period': 'soon'}},
    ])
    failed(run, 0, 'network %s-nope does not exist' % prefix)
    failed(run, 1, 'network bridge is local-scoped', 'overlay')
    failed(run, 2, 'published port %d/tcp (service %s-all) already taken' % (INGRESS_PORT, prefix))
    failed(run, 3, 'replicas does not go with mode global')
    failed(run, 4, 'cannot change the mode', 'state: absent')
    failed(run, 5, 'endpoint_mode dnsrr cannot publish ports through the ingress routing mesh')
    failed(run, 6, 'secret %s-nope does not exist' % prefix)
    failed(run, 7, "stop_grace_period: 'soon' is not a duration")
    assert not [s for s in client.api.services() if s['Spec']['Name'] == new['name']]
    assert client.api.inspect_service(web)['Version']['Index'] == before


def test_removal(ansible, scene):
    prefix, client = scene['prefix'], scene['client']
    names = ['%s-%s' % (prefix, n) for n in ('web', 'all', 'job', 'glob')]
    tasks = []
    for name in names:
        tasks += [{'name': 'remove %s in check mode' % name, MODULE: {'name': name, 'state': 'absent'},
                   'check_mode': True},
                  {'name': 'remove %s' % name, MODULE: {'name': name, 'state': 'absent'}}]
    tasks.append({'name': 'remove again', MODULE: {'name': names[0], 'state': 'absent'}})
    tasks.append({'name': 'remove again in check mode', MODULE: {'name': names[0], 'state': 'absent'},
                  'check_mode': True})
    run = ansible.play(tasks)
    for index in range(len(names) * 2):
        assert ok(run, index, changed=True)['actions'] == ['remove']
    ok(run, len(names) * 2, changed=False)
    ok(run, len(names) * 2 + 1, changed=False)
    left = [s['Spec']['Name'] for s in client.api.services() if s['Spec']['Name'].startswith(prefix)]
    assert left == []
