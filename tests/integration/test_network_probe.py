# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_probe against real engines: DNS, reachability, isolation, internal networks, overlays."""

from __future__ import annotations

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
    assert relaxed['unexpected'] == ['%s-db (expected reachable)' % p]


def test_check_mode_runs_nothing_and_bad_input_fails_first(ansible, scene):
    p = scene['p']
    run = ansible.play([
        {'docknet.fabric.network_probe': {'networks': ['%s-a' % p], 'image': IMAGE,
                                          'targets': [{'name': 'www'}]}, 'check_mode': True},
        {'docknet.fabric.network_probe': {'networks': ['%s-a' % p], 'image': IMAGE,
                                          'targets': [{'name': 'two words'}]}},
        {'docknet.fabric.network_probe': {'networks': ['%s-a' % p], 'image': IMAGE,
                                          'targets': [{'name': 'www', 'port': 70000}]}},
    ])
    assert_ok(run[0], changed=False)
    assert run[0]['results'] == []
    assert_failed(run[1], "targets[0]: name must be one DNS name or IP address, got 'two words'")
    assert_failed(run[2], 'targets[0] (www): port must be between 1 and 65535')
    leftovers = ansible.lab.docker('node1').containers.list(all=True, filters={'label': 'docknet.fabric.probe'})
    assert leftovers == []
