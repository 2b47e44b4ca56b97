# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_info against real engines: filters, attachments, services, connection errors."""

from __future__ import annotations

import shutil
import subprocess
import time

import docker

import pytest

from harness import assert_failed, assert_ok, unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'


@pytest.fixture(scope='module')
def scene(swarm):
    """Two labelled bridges with containers on node1, an overlay with a service on the swarm."""
    client = swarm.docker('node1')
    prefix = unique('ni')
    made = {'networks': [], 'containers': [], 'services': []}
    ipam = {'Driver': 'default', 'Config': [{'Subnet': '10.77.1.0/24', 'Gateway': '10.77.1.1'}]}
    front = client.api.create_network('%s-front' % prefix, driver='bridge',
                                      labels={'tier': 'front', 'owner': 'ni'}, ipam=ipam)['Id']
    back = client.api.create_network('%s-back' % prefix, driver='bridge', labels={'tier': 'back'})['Id']
    made['networks'] += [front, back]
    web = client.containers.create(IMAGE, ['sleep', '3600'], name='%s-web' % prefix,
                                   network='%s-front' % prefix)
    made['containers'].append(web.id)
    client.api.disconnect_container_from_network(web.id, front)
    client.api.connect_container_to_network(web.id, front, aliases=['www', 'frontdoor'],
                                            ipv4_address='10.77.1.50')
    web.start()
    idle = client.containers.create(IMAGE, ['sleep', '3600'], name='%s-idle' % prefix,
                                    network='%s-back' % prefix)
    made['containers'].append(idle.id)
    overlay = client.api.create_network('%s-ov' % prefix, driver='overlay', attachable=True)['Id']
    made['networks'].append(overlay)
    service = client.services.create(IMAGE, ['sleep', '3600'], name='%s-svc' % prefix,
                                     networks=['%s-ov' % prefix])
    made['services'].append(service.id)
    # A dnsrr service (no virtual IP: its tasks' addresses are the service) whose tasks set a hostname.
    dnsrr = client.services.create(IMAGE, ['sleep', '3600'], name='%s-dns' % prefix, networks=['%s-ov' % prefix],
                                   hostname='dnshost', endpoint_spec=docker.types.EndpointSpec(mode='dnsrr'),
                                   mode=docker.types.ServiceMode('replicated', replicas=2))
    made['services'].append(dnsrr.id)
    try:
        yield {'prefix': prefix, 'front': front, 'back': back, 'overlay': overlay,
               'web': web.id, 'idle': idle.id, 'service': service.id, 'dnsrr': dnsrr.id}
    finally:
        for service_id in made['services']:
            client.api.remove_service(service_id)
        for container_id in made['containers']:
            client.api.remove_container(container_id, force=True)
        for network_id in made['networks']:
            remove_network_when_released(client, network_id)


def remove_network_when_released(client, network_id, seconds=30):
    """A removed service's tasks release its overlay a moment later."""
    deadline = time.time() + seconds
    while True:
        try:
            client.api.remove_network(network_id)
            return
        except docker.errors.APIError:
            if time.time() > deadline:
                raise
            time.sleep(1)


def by_name(result):
    return {n['name']: n for n in result['networks']}


def test_lists_every_network_with_its_settings(ansible, scene):
    result = ansible.module('docknet.fabric.network_info', {})
    assert_ok(result, changed=False)
    networks = by_name(result)
    for builtin in ('bridge', 'host', 'none', 'ingress', 'docker_gwbridge'):
        assert builtin in networks
    front = networks['%s-front' % scene['prefix']]
    assert front['id'] == scene['front']
    assert front['driver'] == 'bridge' and front['scope'] == 'local'
    assert front['labels'] == {'tier': 'front', 'owner': 'ni'}
    assert front['ipam_config'] == [{'subnet': '10.77.1.0/24', 'gateway': '10.77.1.1'}]
    assert front['internal'] is False and front['enable_ipv6'] is False
    assert result['swarm_manager'] is True
    assert result['docker_api_version'].startswith('1.')


def test_reports_attached_containers_with_addresses_and_aliases(ansible, scene):
    networks = by_name(ansible.module('docknet.fabric.network_info', {'name': ['%s-*' % scene['prefix']]}))
    [web] = networks['%s-front' % scene['prefix']]['containers']
    assert web['name'] == '%s-web' % scene['prefix']
    assert web['running'] is True
    assert web['ipv4_address'] == '10.77.1.50'
    assert {'www', 'frontdoor'} <= set(web['aliases'])
    assert web['id'][:12] not in web['aliases']
    [idle] = networks['%s-back' % scene['prefix']]['containers']
    assert idle['running'] is False and idle['ipv4_address'] is None


def test_reports_services_on_a_manager_only(ansible, scene):
    manager = by_name(ansible.module('docknet.fabric.network_info', {'name': ['%s-ov' % scene['prefix']]}))
    [service] = [s for s in manager['%s-ov' % scene['prefix']]['services'] if s['id'] == scene['service']]
    assert service['endpoint_mode'] == 'vip'
    assert service['virtual_ip']
    worker = ansible.module('docknet.fabric.network_info', {'name': ['ingress']}, hosts='node2')
    assert_ok(worker, changed=False)
    assert worker['swarm_manager'] is False
    assert 'services' not in worker['networks'][0]


def running_tasks(client, service_id, count, seconds=60):
    deadline = time.time() + seconds
    while True:
        tasks = client.api.tasks(filters={'service': service_id, 'desired-state': 'running'})
        if len([t for t in tasks if t['Status']['State'] == 'running']) == count:
            return tasks
        assert time.time() < deadline, tasks
        time.sleep(1)


def test_a_dnsrr_service_lists_its_tasks_with_node_and_addresses(ansible, swarm, scene):
    """Issue 17 point 6: from the manager, every task with its node and its address on the network."""
    client = swarm.docker('node1')
    running_tasks(client, scene['dnsrr'], 2)
    overlay = '%s-ov' % scene['prefix']
    result = ansible.module('docknet.fabric.network_info', {'name': [overlay]})
    assert_ok(result, changed=False)
    [service] = [s for s in by_name(result)[overlay]['services'] if s['id'] == scene['dnsrr']]
    assert service['endpoint_mode'] == 'dnsrr' and service['virtual_ip'] is None
    tasks = service['tasks']
    assert [t['slot'] for t in tasks] == [1, 2] and all(t['state'] == 'running' for t in tasks), tasks
    # Each address is the one the task's container really has on that node.
    for entry in tasks:
        node = swarm.docker(entry['node'])
        [container] = node.containers.list(filters={'label': 'com.docker.swarm.task.id=%s' % entry['id']})
        endpoint = container.attrs['NetworkSettings']['Networks'][overlay]
        assert entry['addresses'] == [endpoint['IPAddress']], (entry, endpoint)
        # Docker before API 1.45 puts the hostname among the aliases; newer engines list it in DNSNames only.
        if tuple(int(x) for x in node.version()['ApiVersion'].split('.')) < (1, 45):
            assert 'dnshost' in endpoint['Aliases'], endpoint
    # The task containers of node1: the hostname Docker adds to their aliases is left out, as the short id.
    local = [c for c in by_name(result)[overlay]['containers'] if c['name'].startswith('%s-dns.' % scene['prefix'])]
    assert all('dnshost' not in c['aliases'] and c['id'][:12] not in c['aliases'] for c in local), local


@pytest.mark.parametrize('filters, expected', [
    ({'name': ['{p}-front']}, ['front']),
    ({'name': ['{p}-fr']}, []),                        # exact, unlike docker's substring filter
    ({'name': ['{p}-*']}, ['back', 'front', 'ov']),
    ({'name': ['{p}-*'], 'driver': ['overlay']}, ['ov']),
    ({'name': ['{p}-*'], 'label': ['tier']}, ['back', 'front']),
    ({'name': ['{p}-*'], 'label': ['tier=back']}, ['back']),
    ({'name': ['{p}-*'], 'label': ['tier=front', 'owner=ni']}, ['front']),
    ({'name': ['{p}-*'], 'label': ['tier=front', 'owner=other']}, []),
])
def test_filters(ansible, scene, filters, expected):
    prefix = scene['prefix']
    args = {key: [value.format(p=prefix) for value in values] for key, values in filters.items()}
    result = ansible.module('docknet.fabric.network_info', args)
    assert_ok(result, changed=False)
    assert [n['name'] for n in result['networks']] == ['%s-%s' % (prefix, s) for s in expected]


def test_filter_by_id(ansible, scene):
    result = ansible.module('docknet.fabric.network_info', {'name': [scene['back']]})
    assert [n['id'] for n in result['networks']] == [scene['back']]


def test_check_mode_reads_the_same(ansible, scene):
    normal, checked = ansible.play([
        {'docknet.fabric.network_info': {'name': ['%s-*' % scene['prefix']]}},
        {'docknet.fabric.network_info': {'name': ['%s-*' % scene['prefix']]}, 'check_mode': True},
    ]).results()
    assert_ok(checked, changed=False)
    assert checked['networks'] == normal['networks']


@pytest.mark.parametrize('docker_host, fragments', [
    ('unix:///run/docknet-no-such/docker.sock', ['no socket at that path', 'unix:///run/docknet-no-such/docker.sock']),
    ('tcp://{gateway}:9', ['connection refused', 'tcp://{gateway}:9']),
])
def test_connection_errors_are_one_clear_line(ansible, lab, docker_host, fragments):
    docker_host = docker_host.format(gateway=lab.info['gateway'])
    result = ansible.module('docknet.fabric.network_info', {'docker_host': docker_host})
    assert_failed(result, *[f.format(gateway=lab.info['gateway']) for f in fragments])
    assert '\n' not in result['msg']


def test_unanswered_tcp_address_times_out_clearly(ansible, lab):
    # .250 is inside the lab subnet and has no node: nothing answers, nothing leaves the machine.
    address = lab.info['gateway'].rsplit('.', 1)[0] + '.250'
    result = ansible.module('docknet.fabric.network_info',
                            {'docker_host': 'tcp://%s:2375' % address, 'timeout': 3})
    assert_failed(result, 'tcp://%s:2375' % address)
    assert 'no answer within 3 seconds' in result['msg'] or 'no route' in result['msg']


def test_pinned_api_version_the_daemon_does_not_speak(ansible):
    result = ansible.module('docknet.fabric.network_info', {'api_version': '1.99'})
    assert_failed(result, 'api_version 1.99 is not spoken by the daemon', 'api_version: auto')


def test_pinned_api_version_is_used(ansible):
    result = ansible.module('docknet.fabric.network_info', {'api_version': '1.30', 'name': ['bridge']})
    assert_ok(result, changed=False)
    assert result['docker_api_version'] == '1.30'


def test_bad_api_version_text(ansible):
    assert_failed(ansible.module('docknet.fabric.network_info', {'api_version': 'latest'}),
                  "'latest' is not a Docker API version")


def test_missing_docker_sdk_is_reported_not_a_traceback(ansible):
    python = shutil.which('python3', path='/usr/bin')
    if not python or subprocess.run([python, '-c', 'import docker'], capture_output=True, check=False).returncode == 0:
        pytest.skip('needs a Python without the Docker SDK at /usr/bin/python3')
    result = ansible.play([{'docknet.fabric.network_info': {}, 'vars': {'ansible_python_interpreter': python}}])[0]
    assert_failed(result, 'Failed to import the required Python library (docker')
