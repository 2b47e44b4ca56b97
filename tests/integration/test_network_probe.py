# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_probe against real engines: DNS, reachability, isolation, internal networks, overlays."""

from __future__ import annotations

import threading
import time

import pytest

from harness import assert_failed, assert_ok, unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'


@pytest.fixture(scope='module')
def scene(swarm):
    node1, node2 = swarm.docker('node1'), swarm.docker('node2')
    p = unique('pr')
    made = []
    try:
        for name, internal in (('%s-a' % p, False), ('%s-b' % p, False), ('%s-int' % p, True)):
            made.append((node1, 'network', node1.networks.create(name, driver='bridge', internal=internal)))
        overlay = node1.networks.create('%s-ov' % p, driver='overlay', attachable=True)
        members = ((node1, 'web', '%s-a' % p, ['www']), (node1, 'db', '%s-b' % p, []),
                   (node1, 'vault', '%s-int' % p, []), (node2, 'far', '%s-ov' % p, []))
        for client, name, network, aliases in members:
            container = client.containers.create(IMAGE, ['sleep', '600'], name='%s-%s' % (p, name))
            made.insert(0, (client, 'container', container))
            client.api.disconnect_container_from_network(container.id, 'bridge')
            client.api.connect_container_to_network(container.id, network, aliases=aliases)
            container.start()
        made.append((node1, 'network', overlay))
        yield {'p': p, 'gateway': swarm.info['gateway']}
    finally:
        for _client, kind, obj in made:
            obj.remove(force=True) if kind == 'container' else obj.remove()


def probe(ansible, networks, targets, **extra):
    return ansible.module('docknet.fabric.network_probe',
                          dict(networks=networks, image=IMAGE, targets=targets, **extra))


def by_name(result):
    return {(r['name'], r['port']): r for r in result['results']}


def test_resolves_and_reaches_on_its_network_and_not_across(ansible, scene):
    p = scene['p']
    result = probe(ansible, ['%s-a' % p], [
        {'name': '%s-web' % p}, {'name': 'www'}, {'name': '%s-db' % p, 'expect': 'unreachable'},
        {'name': scene['gateway']},
    ])
    assert_ok(result, changed=False)
    seen = by_name(result)
    assert seen[('www', None)]['reachable'] and seen[('www', None)]['addresses']
    assert seen[('%s-db' % p, None)]['resolved'] is False and seen[('%s-db' % p, None)]['reachable'] is False
    assert seen[(scene['gateway'], None)]['reachable'] is True
    assert result['unexpected'] == []


def test_internal_network_has_no_way_out(ansible, scene):
    p = scene['p']
    result = probe(ansible, ['%s-int' % p], [
        {'name': '%s-vault' % p}, {'name': scene['gateway'], 'expect': 'unreachable'}])
    assert_ok(result, changed=False)
    assert [r['as_expected'] for r in result['results']] == [True, True]


def test_tcp_port_and_overlay_across_nodes(ansible, scene):
    p = scene['p']
    result = probe(ansible, ['%s-ov' % p, '%s-a' % p], [
        {'name': '%s-far' % p}, {'name': '%s-web' % p, 'port': 9, 'expect': 'unreachable'}])
    assert_ok(result, changed=False)
    far, closed = result['results']
    assert far['reachable'] is True and far['addresses'][0].startswith('10.')
    assert closed['resolved'] is True and closed['reachable'] is False


def test_unexpected_result_fails_with_the_matrix(ansible, scene):
    p = scene['p']
    result = probe(ansible, ['%s-a' % p], [{'name': '%s-db' % p}])
    assert_failed(result, 'not as expected', '%s-db (expected reachable)' % p)
    assert result['results'][0]['reachable'] is False
    relaxed = probe(ansible, ['%s-a' % p], [{'name': '%s-db' % p}], fail_on_unexpected=False)
    assert_ok(relaxed, changed=False)
    assert relaxed['unexpected'] == ['%s-db (expected reachable): the name did not resolve' % p]


def start_after_the_first_probe(client, container, seconds=60):
    """Start ``container`` once the first probe container has come and gone (it has looked, and missed it)."""
    deadline, seen = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        probes = {c.id for c in client.containers.list(all=True, filters={'label': 'docknet.fabric.probe'})}
        if seen is None and probes:
            seen = probes.pop()
        elif seen is not None and seen not in probes:
            break
        time.sleep(0.1)
    container.start()


def test_settle_probes_again_until_a_late_name_answers_and_reports_a_real_difference(ansible, swarm, scene):
    """A member started while the probe runs is found by a later attempt; one that never comes fails after settle."""
    p, node1 = scene['p'], swarm.docker('node1')
    late = node1.containers.create(IMAGE, ['sleep', '600'], name='%s-late' % p)
    try:
        node1.api.disconnect_container_from_network(late.id, 'bridge')
        node1.api.connect_container_to_network(late.id, '%s-a' % p)
        starter = threading.Thread(target=start_after_the_first_probe, args=(node1, late), daemon=True)
        starter.start()
        began = time.monotonic()
        result = probe(ansible, ['%s-a' % p], [{'name': '%s-late' % p}], settle=40)
        starter.join()
        assert_ok(result, changed=False)
        assert result['attempts'] >= 2 and result['unexpected'] == [], result
        assert time.monotonic() - began < 40
    finally:
        late.remove(force=True)
    once = probe(ansible, ['%s-a' % p], [{'name': '%s-web' % p}])
    assert_ok(once, changed=False)
    assert once['attempts'] == 1
    began = time.monotonic()
    never = probe(ansible, ['%s-a' % p], [{'name': '%s-db' % p}], settle=8)
    assert time.monotonic() - began >= 8   # the last probe starts when the 8 s are over
    assert_failed(never, 'probes over 8 s', '%s-db (expected reachable)' % p)
    assert never['attempts'] >= 2 and 'not as expected after %d probes' % never['attempts'] in never['msg']


def test_check_mode_runs_nothing_and_bad_input_fails_first(ansible, scene):
    p = scene['p']
    run = ansible.play([
        {'docknet.fabric.network_probe': {'networks': ['%s-a' % p], 'image': IMAGE,
                                          'targets': [{'name': 'www'}]}, 'check_mode': True},
        {'docknet.fabric.network_probe': {'networks': ['%s-a' % p], 'image': IMAGE,
                                          'targets': [{'name': 'two words'}]}},
        {'docknet.fabric.network_probe': {'networks': ['%s-a' % p], 'image': IMAGE,
                                          'targets': [{'name': 'www', 'port': 70000}]}},
        {'docknet.fabric.network_probe': {'networks': ['%s-a' % p], 'image': IMAGE,
                                          'targets': [{'name': 'www'}], 'settle': -1}},
    ])
    assert_ok(run[0], changed=False)
    assert run[0]['results'] == []
    assert_failed(run[1], "targets[0]: name must be one DNS name or IP address, got 'two words'")
    assert_failed(run[2], 'targets[0] (www): port must be between 1 and 65535')
    assert_failed(run[3], 'settle: give a whole number of seconds, 0 (probe once) or more')
    leftovers = ansible.lab.docker('node1').containers.list(all=True, filters={'label': 'docknet.fabric.probe'})
    assert leftovers == []


# --- every address of a name, repeated targets, the load-balancing spread -------------------------

SERVE_HOSTNAME = ['sh', '-c', 'hostname > /tmp/index.html && exec httpd -f -p 80 -h /tmp']


@pytest.fixture(scope='module')
def pool(swarm):
    """Three containers answering to one alias 'pool' on an attachable overlay; the third serves nothing."""
    node1 = swarm.docker('node1')
    p = unique('pool')
    overlay = node1.networks.create(p, driver='overlay', attachable=True)
    made = []
    try:
        for index, client in enumerate((swarm.docker('node1'), swarm.docker('node2'), swarm.docker('node3'))):
            command = SERVE_HOSTNAME if index < 2 else ['sleep', '600']
            container = client.containers.create(IMAGE, command, name='%s-%d' % (p, index))
            made.append(container)
            client.api.disconnect_container_from_network(container.id, 'bridge')
            client.api.connect_container_to_network(container.id, p, aliases=['pool'])
            container.start()
        addresses = []
        for container in made:
            container.reload()
            addresses.append(container.attrs['NetworkSettings']['Networks'][p]['IPAddress'])
        yield {'network': p, 'addresses': addresses}
    finally:
        for container in made:
            container.remove(force=True)
        overlay.remove()


def test_every_address_of_a_name_is_probed_and_named_in_the_failure(ansible, pool):
    net, (live1, live2, dead) = pool['network'], pool['addresses']
    run = ansible.play([
        {'docknet.fabric.network_probe': {'networks': [net], 'image': IMAGE, 'targets': [
            {'name': 'pool', 'port': 80}]}},
        {'docknet.fabric.network_probe': {'networks': [net], 'image': IMAGE, 'targets': [
            {'name': 'pool', 'port': 80, 'match': 'any'},
            {'name': 'pool', 'port': 80, 'expect': 'any'},
            {'name': 'pool'},
            {'name': 'nobody-%s' % net, 'expect': 'any'}]}},
        {'docknet.fabric.network_probe': {'networks': [net], 'image': IMAGE, 'targets': [
            {'name': 'nobody-%s' % net}]}},
        {'docknet.fabric.network_probe': {'networks': [net], 'image': IMAGE, 'wait': -1,
                                          'targets': [{'name': 'pool'}]}},
    ])
    assert_failed(run[0], 'pool:80 (expected reachable on every one of 3 addresses): no answer from %s' % dead)
    per_address = {a['address']: a['reachable'] for a in run[0]['results'][0]['per_address']}
    assert per_address == {live1: True, live2: True, dead: False}
    assert_ok(run[1], changed=False)
    any_port, repeated, icmp, unknown = run[1]['results']
    assert any_port['reachable'] is True and repeated['reachable'] is False      # all (default) vs any
    assert len(run[1]['results']) == 4                                            # repeated target kept
    assert icmp['reachable'] is True and sorted(icmp['addresses']) == sorted(pool['addresses'])
    assert unknown['resolved'] is False
    assert_failed(run[2], 'nobody-%s (expected reachable): the name did not resolve' % net)
    assert_failed(run[3], 'wait: give a whole number of seconds of at least 1, got -1')
    leftovers = ansible.lab.docker('node1').containers.list(all=True, filters={'label': 'docknet.fabric.probe'})
    assert leftovers == []


@pytest.fixture(scope='module')
def services(swarm):
    """A dnsrr service and a VIP service of 3 replicas, one per node, each serving its hostname."""
    from docker.types import EndpointSpec, ServiceMode
    manager = swarm.docker('node1')
    p = unique('lb')
    overlay = manager.networks.create(p, driver='overlay', attachable=True)
    made = []
    try:
        for mode in ('dnsrr', 'vip'):
            made.append(manager.services.create(
                IMAGE, SERVE_HOSTNAME, name='%s-%s' % (p, mode), networks=[p], maxreplicas=1,
                mode=ServiceMode('replicated', replicas=3), endpoint_spec=EndpointSpec(mode=mode)))
        deadline = time.time() + 90
        while time.time() < deadline:
            running = [t for s in made for t in s.tasks() if t['Status']['State'] == 'running']
            if len(running) == 6:
                break
            time.sleep(0.5)
        else:
            pytest.fail('the services did not get 3 running tasks each within 90 s')
        yield {'network': p, 'dnsrr': '%s-dnsrr' % p, 'vip': '%s-vip' % p}
    finally:
        for service in made:
            service.remove()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                overlay.remove()
                break
            except Exception:   # tasks still leaving the network
                time.sleep(0.5)


def test_dnsrr_spread_hits_every_replica(ansible, services):
    result = probe(ansible, [services['network']], [{'name': services['dnsrr'], 'port': 80}],
                   spread={'name': services['dnsrr'], 'requests': 60, 'min_backends': 3})
    assert_ok(result, changed=False)
    spread = result['spread']
    print('dnsrr spread of 60 requests over 3 replicas:', sorted(spread['backends'].values(), reverse=True))
    assert spread['answered'] == 60 and spread['failed'] == 0
    assert spread['distinct_backends'] == 3 and min(spread['backends'].values()) > 0
    assert len(result['results'][0]['addresses']) == 3 and result['results'][0]['reachable']


def test_vip_service_resolves_to_one_vip_and_its_tasks_answer(ansible, services):
    """Without IPVS the VIP passes no traffic here: check its configuration, and each task by its address."""
    vip = ansible.lab.docker('node1').services.get(services['vip']).attrs['Endpoint']['VirtualIPs']
    network_id = ansible.lab.docker('node1').networks.get(services['network']).id
    vip_address = next(v['Addr'] for v in vip if v['NetworkID'] == network_id).split('/')[0]
    result = probe(ansible, [services['network']], [
        {'name': services['vip'], 'expect': 'any'},
        {'name': 'tasks.%s' % services['vip'], 'port': 80}])
    assert_ok(result, changed=False)
    by_vip, tasks = result['results']
    assert by_vip['addresses'] == [vip_address]
    assert len(tasks['addresses']) == 3 and tasks['reachable'] and vip_address not in tasks['addresses']
