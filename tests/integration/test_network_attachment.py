# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_attachment against real engines: scaled instances, aliases by DNS, static addresses,
exclusive, stopped containers, bad input, and a swarm worker joining an attachable overlay."""

from __future__ import annotations

import json

import docker

import pytest

from cleanup import remove_network
from harness import unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'
MODULE = 'docknet.fabric.network_attachment'
SERVICE_LABEL = 'com.docker.compose.service'


def ok(run, index, changed):
    record = run.records[index]
    assert record['status'] == 'ok', (index, record)
    assert record['result'].get('changed') is changed, (index, record)
    return record['result']


def failed(run, index, *fragments):
    record = run.records[index]
    assert record['status'] == 'failed', (index, record)
    message = record['result'].get('msg', '')
    for fragment in fragments:
        assert fragment in message, (index, fragment, message)
    assert 'Traceback' not in json.dumps(record['result']) and '\n' not in message, record
    return message


def same_prediction(checked, real):
    """Check mode predicts exactly the real run: the same actions and the same diff."""
    assert checked['actions'] == real['actions']
    assert checked['diff'] == real['diff']


def endpoint(client, container, network):
    return client.api.inspect_container(container)['NetworkSettings']['Networks'].get(network)


def sh(client, container, command):
    code, output = client.containers.get(container).exec_run(['sh', '-c', command])
    return code, output.decode(errors='replace')


def remove_network_when_released(client, network_id, seconds=20):
    remove_network(client.networks.prepare_model({'Id': network_id}), seconds)


@pytest.fixture(scope='module')
def scene(lab):
    """A bridge with a pool on node1; three instances of 'web' (one stopped), a db, a probe, a bystander."""
    client = lab.docker('node1')
    prefix = unique('na')
    net = '%s-net' % prefix
    ipam = {'Driver': 'default', 'Config': [{'Subnet': '10.93.%d.0/24' % lab.info['id'], 'Gateway': '10.93.%d.1' % lab.info['id']}]}
    network_id = client.api.create_network(net, driver='bridge', ipam=ipam)['Id']
    made = []
    names = {}
    for role, labels, running in (('web_1', {SERVICE_LABEL: 'web'}, True), ('web_2', {SERVICE_LABEL: 'web'}, True),
                                  ('web_3', {SERVICE_LABEL: 'web'}, False), ('db', {}, True),
                                  ('probe', {}, True), ('bystander', {}, True)):
        name = '%s-%s' % (prefix, role)
        container = client.containers.create(IMAGE, ['sleep', '3600'], name=name, labels=labels)
        made.append(container.id)
        names[role] = name
        if running:
            container.start()
    # The probe and the bystander are on the network already, attached by hand.
    client.api.connect_container_to_network(names['probe'], network_id)
    client.api.connect_container_to_network(names['bystander'], network_id, aliases=['by'])
    try:
        yield {'prefix': prefix, 'net': net, 'net_id': network_id, 'names': names, 'client': client,
               'subnet': '10.93.%d' % lab.info['id']}
    finally:
        for container_id in made:
            client.api.remove_container(container_id, force=True)
        remove_network_when_released(client, network_id)


def test_scaled_instances_aliases_static_address_exclusive(ansible, scene):
    net, names, client, subnet = scene['net'], scene['names'], scene['client'], scene['subnet']
    by_label = {'network': net, 'container_labels': {SERVICE_LABEL: 'web'}, 'aliases': ['web']}
    more_aliases = dict(by_label, aliases=['web', 'www'])
    db = {'network': scene['net_id'], 'containers': [names['db']], 'ipv4_address': '%s.50' % subnet,
          'aliases': ['database']}
    run = ansible.play([
        {MODULE: by_label, 'check_mode': True},                      # 0
        {MODULE: by_label},                                          # 1
        {MODULE: by_label},                                          # 2
        {MODULE: by_label, 'check_mode': True},                      # 3
        {MODULE: more_aliases, 'check_mode': True},                  # 4
        {MODULE: more_aliases},                                      # 5
        {MODULE: more_aliases},                                      # 6
        {MODULE: db, 'check_mode': True},                            # 7
        {MODULE: db},                                                # 8
        {MODULE: db},                                                # 9
        {MODULE: db, 'check_mode': True},                            # 10
    ])
    checked, real = ok(run, 0, True), ok(run, 1, True)
    same_prediction(checked, real)
    web = [names['web_1'], names['web_2'], names['web_3']]
    assert real['actions'] == [{'action': 'connect', 'container': n, 'changes': []} for n in web]
    assert real['diff']['before']['containers'].keys() == {names['probe'], names['bystander']}
    assert real['diff']['after']['containers'][names['web_3']]['aliases'] == ['web']
    assert [c['name'] for c in real['containers']] == web and all(c['attached'] for c in real['containers'])
    assert ok(run, 2, False)['actions'] == [] and ok(run, 3, False)['actions'] == []
    checked, real = ok(run, 4, True), ok(run, 5, True)
    same_prediction(checked, real)
    assert real['actions'] == [{'action': 'reconnect', 'container': n, 'changes': ['aliases']} for n in web]
    ok(run, 6, False)
    checked, real = ok(run, 7, True), ok(run, 8, True)
    same_prediction(checked, real)
    assert real['diff']['after']['containers'][names['db']]['ipv4_address'] == '%s.50' % subnet
    ok(run, 9, False)
    ok(run, 10, False)

    # What Docker did: aliases on every instance (the stopped one too), the exact static address.
    for name in web:
        assert {'web', 'www'} <= set(endpoint(client, name, net)['Aliases'])
    # Docker leaves NetworkID empty on a container connected while stopped, until it starts:
    # the module finds such endpoints by the network's name (the re-runs above changed nothing).
    assert endpoint(client, names['web_3'], net)['NetworkID'] == ''
    db_endpoint = endpoint(client, names['db'], net)
    assert db_endpoint['IPAMConfig']['IPv4Address'] == db_endpoint['IPAddress'] == '%s.50' % subnet
    # Another container on the network resolves the aliases and reaches the containers.
    code, output = sh(client, names['probe'], 'nslookup database; ping -c1 -W2 database && ping -c1 -W2 www')
    assert code == 0, output
    assert '%s.50' % subnet in output
    running_web = {endpoint(client, n, net)['IPAddress'] for n in web[:2]}
    code, output = sh(client, names['probe'], 'nslookup web')
    assert code == 0 and all(address in output for address in running_web), output

    # exclusive by pattern: the bystander and the probe go, the web instances and db stay.
    exclusive = {'network': net, 'containers': ['%s-web_*' % scene['prefix'], names['db']], 'exclusive': True}
    absent = {'network': net, 'containers': [names['web_2']], 'state': 'absent'}
    run = ansible.play([
        {MODULE: exclusive, 'check_mode': True},                     # 0
        {MODULE: exclusive},                                         # 1
        {MODULE: exclusive},                                         # 2
        {MODULE: absent, 'check_mode': True},                        # 3
        {MODULE: absent},                                            # 4
        {MODULE: absent},                                            # 5
        {MODULE: absent, 'check_mode': True},                        # 6
    ])
    checked, real = ok(run, 0, True), ok(run, 1, True)
    same_prediction(checked, real)
    assert real['actions'] == [{'action': 'disconnect', 'container': names['bystander'], 'changes': []},
                               {'action': 'disconnect', 'container': names['probe'], 'changes': []}]
    assert sorted(real['diff']['after']['containers']) == sorted(web + [names['db']])
    # Settings nobody declared this time are kept: db keeps its address, web its aliases.
    assert real['diff']['after']['containers'][names['db']]['ipv4_address'] == '%s.50' % subnet
    ok(run, 2, False)
    checked, real = ok(run, 3, True), ok(run, 4, True)
    same_prediction(checked, real)
    assert real['actions'] == [{'action': 'disconnect', 'container': names['web_2'], 'changes': []}]
    ok(run, 5, False)
    ok(run, 6, False)
    attached = set(client.api.inspect_network(scene['net_id'])['Containers'][i]['Name']
                   for i in client.api.inspect_network(scene['net_id'])['Containers'])
    assert attached == {names['web_1'], names['db']}          # web_3 is attached but stopped
    assert endpoint(client, names['web_3'], net) is not None
    assert endpoint(client, names['probe'], net) is None and endpoint(client, names['web_2'], net) is None


def test_bad_input_fails_before_any_change(ansible, scene):
    net, names, client, subnet = scene['net'], scene['names'], scene['client'], scene['subnet']
    before = {name: client.api.inspect_container(name)['NetworkSettings']['Networks'] for name in names.values()}
    pattern = '%s-*' % scene['prefix']
    run = ansible.play([
        {MODULE: {'network': '%s-nope' % scene['prefix'], 'containers': [names['db']]}},                # 0
        {MODULE: {'network': net, 'containers': [pattern], 'ipv4_address': '%s.60' % subnet}},        # 1
        {MODULE: {'network': net, 'containers': [names['probe']], 'ipv4_address': '10.250.0.5'}},      # 2
        {MODULE: {'network': net, 'containers': [names['probe']], 'ipv4_address': '%s.50' % subnet}},  # 3
        {MODULE: {'network': net, 'containers': [names['probe']], 'ipv4_address': '%s.1' % subnet}},   # 4
        {MODULE: {'network': net, 'containers': [names['probe'], '%s-ghost' % scene['prefix']]}},      # 5
        {MODULE: {'network': net, 'container_labels': {SERVICE_LABEL: '%s-none' % scene['prefix']}}},  # 6
        {MODULE: {'network': net, 'containers': ['%s-ghost_*' % scene['prefix']], 'missing': 'ignore'}},  # 7
        {MODULE: {'network': net, 'containers': [names['probe']], 'mac_address': '02:42:0a:00:00:09'}},  # 8
        {MODULE: {'network': net, 'containers': [names['probe']], 'ipv4_address': '%s.300' % subnet}},  # 9
        {MODULE: {'network': net, 'containers': [names['probe']], 'state': 'absent', 'aliases': ['x']}},  # 10
        {MODULE: {'network': 'bridge', 'containers': [names['probe']], 'aliases': ['x']}},            # 11
        {MODULE: {'network': 'host', 'containers': [names['probe']]}},                                # 12
    ])
    failed(run, 0, 'Network %s-nope does not exist' % scene['prefix'])
    failed(run, 1, 'ipv4_address can be given only when exactly one container is selected', names['web_1'])
    failed(run, 2, 'ipv4_address 10.250.0.5 is outside the pools of network %s (%s.0/24)' % (net, subnet))
    failed(run, 3, 'ipv4_address %s.50 is already used on network %s by container %s' % (subnet, net, names['db']))
    failed(run, 4, 'already used', 'by the gateway')
    failed(run, 5, 'matches container %s-ghost' % scene['prefix'], 'missing: ignore')
    failed(run, 6, 'matches container_labels %s=%s-none' % (SERVICE_LABEL, scene['prefix']))
    assert ok(run, 7, False)['missing'] == ['containers %s-ghost_*' % scene['prefix']]
    if tuple(int(x) for x in client.version()['ApiVersion'].split('.')) < (1, 44):
        failed(run, 8, 'option mac_address needs Docker API >= 1.44', 'speaks 1.41')
    else:   # Docker 25+ would take the option but ignore the MAC address (moby/moby#48192)
        failed(run, 8, 'ignores a MAC address given when connecting')
    failed(run, 9, "ipv4_address: '%s.300' is not an IPv4 address" % subnet)
    failed(run, 10, 'aliases only apply to state=present')
    failed(run, 11, 'default bridge', 'aliases')
    failed(run, 12, 'driver host')
    after = {name: client.api.inspect_container(name)['NetworkSettings']['Networks'] for name in names.values()}
    assert after == before


def test_worker_joins_an_attachable_overlay_defined_on_a_manager(ansible, swarm):
    manager, worker = swarm.docker('node1'), swarm.docker('node2')
    prefix = unique('nao')
    overlay = manager.api.create_network('%s-ov' % prefix, driver='overlay', attachable=True)['Id']
    closed = manager.api.create_network('%s-closed' % prefix, driver='overlay')['Id']
    made = []
    try:
        for host, client in (('node1', manager), ('node2', worker)):
            made.append((client, client.containers.run(IMAGE, ['sleep', '3600'], name='%s-%s' % (prefix, host),
                                                       detach=True).id))
        # The worker does not know the overlay yet (the trap of community.docker #968).
        with pytest.raises(docker.errors.NotFound):
            worker.api.inspect_network('%s-ov' % prefix)
        args = {'network': '%s-ov' % prefix, 'containers': ['%s-{{ inventory_hostname }}' % prefix],
                'aliases': ['member-{{ inventory_hostname }}']}
        run = ansible.play([
            {MODULE: args, 'check_mode': True},
            {MODULE: args},
            {MODULE: args},
            {MODULE: args, 'check_mode': True},
            {MODULE: {'network': '%s-closed' % prefix, 'containers': ['%s-{{ inventory_hostname }}' % prefix]}},
        ], hosts='node1:node2')
        by_host = {}
        for record in run.records:
            by_host.setdefault(record['host'], []).append(record)
        for host in ('node1', 'node2'):
            records = by_host[host]
            assert [r['status'] for r in records[:4]] == ['ok'] * 4, records
            assert [r['result']['changed'] for r in records[:4]] == [True, True, False, False], records
            assert records[0]['result']['actions'] == records[1]['result']['actions'] == [
                {'action': 'connect', 'container': '%s-%s' % (prefix, host), 'changes': []}]
            assert records[1]['result']['network']['id'] == overlay
            assert records[4]['status'] == 'failed'
        assert 'not attachable' in by_host['node1'][4]['result']['msg']
        assert 'not manually attachable' in by_host['node2'][4]['result']['msg']
        # Across the overlay, each container reaches the other by name and by alias.
        code, output = sh(worker, '%s-node2' % prefix, 'ping -c1 -W3 %s-node1 && ping -c1 -W3 member-node1' % prefix)
        assert code == 0, output
        code, output = sh(manager, '%s-node1' % prefix, 'ping -c1 -W3 %s-node2' % prefix)
        assert code == 0, output
    finally:
        for client, container_id in made:
            client.api.remove_container(container_id, force=True)
        for network_id in (overlay, closed):
            remove_network_when_released(manager, network_id)


def test_links_driver_opts_and_a_refused_change_is_rolled_back(ansible, scene):
    net, names, client = scene['net'], scene['names'], scene['client']
    base = {'network': net, 'containers': [names['db']]}
    linked = dict(base, links=['%s:w1' % names['web_1']], driver_opts={'com.example.tier': 'data'})
    relinked = dict(base, links=['%s:w2' % names['web_1']])
    unlinked = dict(base, links=[], driver_opts={})
    # A network without a pool of its own: Docker shows the pool it picked, yet refuses static
    # addresses there, which only the connect itself reveals.
    auto = '%s-auto' % scene['prefix']
    auto_id = client.api.create_network(auto, driver='bridge')['Id']
    pool = client.api.inspect_network(auto_id)['IPAM']['Config'][0]['Subnet']
    static = pool.split('/')[0].rsplit('.', 1)[0] + '.77'
    try:
        run = ansible.play([
            {MODULE: linked, 'check_mode': True},     # 0
            {MODULE: linked},                         # 1
            {MODULE: linked},                         # 2
            {MODULE: linked, 'check_mode': True},     # 3
            {MODULE: relinked},                       # 4
            {MODULE: unlinked},                       # 5
            {MODULE: unlinked},                       # 6
            {MODULE: {'network': auto, 'containers': [names['db']], 'aliases': ['keep']}},                      # 7
            {MODULE: {'network': auto, 'containers': [names['db']], 'aliases': ['keep'], 'ipv4_address': static}},  # 8
            {MODULE: {'network': auto, 'containers': [names['db']], 'aliases': ['keep']}},                      # 9
        ])
        checked, real = ok(run, 0, True), ok(run, 1, True)
        same_prediction(checked, real)
        assert real['diff']['after']['containers'][names['db']]['links'] == ['%s:w1' % names['web_1']]
        assert real['diff']['after']['containers'][names['db']]['driver_opts'] == {'com.example.tier': 'data'}
        ok(run, 2, False)
        ok(run, 3, False)
        assert ok(run, 4, True)['actions'] == [{'action': 'reconnect', 'container': names['db'], 'changes': ['links']}]
        assert ok(run, 5, True)['diff']['after']['containers'][names['db']]['links'] == []
        ok(run, 6, False)
        db_endpoint = endpoint(client, names['db'], net)
        assert not db_endpoint['Links'] and not db_endpoint['DriverOpts']
        if real['diff']['before']['containers'].get(names['db']):
            # Attached by the first test with a static address, which nobody re-declared: still there.
            assert db_endpoint['IPAMConfig']['IPv4Address'] == '%s.50' % scene['subnet']
        ok(run, 7, True)
        failed(run, 8, 'user configured subnets', 'was put back on network', names['db'])
        ok(run, 9, False)                             # the refused change left the previous settings in place
        assert 'keep' in endpoint(client, names['db'], auto)['Aliases']
    finally:
        try:
            client.api.disconnect_container_from_network(names['db'], auto_id, force=True)
        except docker.errors.APIError:
            pass
        remove_network_when_released(client, auto_id)


def test_hostname_aliases_and_the_gateway_docker_chose(ansible, lab):
    """Issue 17 point 1, issue 11 point 6: Docker 20.10 adds the hostname to the aliases (no reconnect on
    re-runs, the endpoint stays the same), and the gateway Docker chose itself is no free static address."""
    client = lab.docker('node1')
    prefix = unique('nh')
    net, subnet = '%s-net' % prefix, '10.94.%d' % lab.info['id']
    # A pool without a gateway: Docker takes the first address of the ip_range and does not show it.
    ipam = {'Driver': 'default', 'Config': [{'Subnet': '%s.0/24' % subnet, 'IPRange': '%s.128/25' % subnet}]}
    network_id = client.api.create_network(net, driver='bridge', ipam=ipam)['Id']
    made = {}
    try:
        for role, hostname, running in (('web', 'webhost', True), ('plain', None, True), ('stopped', None, False)):
            container = client.containers.create(IMAGE, ['sleep', '3600'], name='%s-%s' % (prefix, role),
                                                 hostname=hostname)
            made[role] = container.name
            if running:
                container.start()
        attach = {'network': net, 'containers': [made['web']], 'aliases': ['web']}
        with_hostname = dict(attach, aliases=['web', 'webhost'])
        run = ansible.play([
            {MODULE: attach},                                                     # 0
            {MODULE: attach},                                                     # 1
            {MODULE: attach, 'check_mode': True},                                 # 2
            {MODULE: with_hostname},                                              # 3: declaring it is no change
            {MODULE: {'network': net, 'containers': [made['plain']], 'ipv4_address': '%s.128' % subnet}},  # 4
            {MODULE: {'network': net, 'containers': [made['stopped']], 'ipv4_address': '%s.128' % subnet}},  # 5
        ])
        assert ok(run, 0, True)['actions'] == [{'action': 'connect', 'container': made['web'], 'changes': []}]
        first = endpoint(client, made['web'], net)
        if tuple(int(x) for x in client.version()['ApiVersion'].split('.')) < (1, 45):
            assert {'web', 'webhost'} <= set(first['Aliases'])               # what Docker 20.10 does
        else:                                                                 # newer: in DNSNames only
            assert 'web' in first['Aliases'] and 'webhost' not in first['Aliases'], first
        for index in (1, 2, 3):
            result = ok(run, index, False)
            assert result['actions'] == [], (index, result)
            assert result['containers'][0]['settings']['aliases'] == ['web']
        assert endpoint(client, made['web'], net)['EndpointID'] == first['EndpointID']   # never reconnected
        # The gateway Docker chose (the first address of the ip_range) is refused before any change,
        # for a running container and a stopped one (which would no longer start).
        gateway = client.api.inspect_container(made['web'])['NetworkSettings']['Networks'][net]['Gateway']
        assert gateway == '%s.128' % subnet
        failed(run, 4, 'ipv4_address %s.128 is already used on network %s by the gateway' % (subnet, net))
        message = failed(run, 5, 'ipv4_address %s.128 is already used on network %s by the gateway' % (subnet, net))
        assert 'Pick a free address' in message
        assert endpoint(client, made['plain'], net) is None
        assert endpoint(client, made['stopped'], net) is None
        run = ansible.play([{MODULE: {'network': net, 'containers': [made['stopped']],
                                      'ipv4_address': '%s.200' % subnet}}])
        ok(run, 0, True)
        client.api.start(made['stopped'])                                    # a free static address starts
        assert endpoint(client, made['stopped'], net)['IPAddress'] == '%s.200' % subnet
    finally:
        for name in made.values():
            client.api.remove_container(name, force=True)
        remove_network_when_released(client, network_id)
