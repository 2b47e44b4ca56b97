# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""macvlan_network against real engines: options, parents Docker cannot use, traffic, swarm-wide macvlan."""

from __future__ import annotations


import pytest

from cleanup import cleanup_nodes
from harness import assert_failed, assert_ok, unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'
MODULE = 'docknet.fabric.macvlan_network'


def cleanup(lab, prefix, nodes=('node1',)):
    return cleanup_nodes(prefix, [lab.docker(node) for node in nodes])


def test_every_option_lifecycle(ansible, lab):
    client = lab.docker('node1')
    name = unique('mv')
    full = {
        'name': name,
        'parent': "{{ lab_macvlan_parent }}",
        'macvlan_mode': 'bridge',
        'internal': False,
        'ipam_config': [{'subnet': '10.70.0.0/24', 'gateway': '10.70.0.1', 'ip_range': '10.70.0.64/26',
                         'aux_addresses': {'host': '10.70.0.2'}}],
        'labels': {'lan': 'a'},
    }
    changed = dict(full, macvlan_mode='private', recreate=True)
    with cleanup(lab, name):
        run = ansible.play([
            {'name': 'create', MODULE: full},
            {'name': 'again', MODULE: full},
            {'name': 'again, check mode', MODULE: full, 'check_mode': True},
            {'name': 'change, check mode', MODULE: changed, 'check_mode': True},
            {'name': 'change', MODULE: changed},
            {'name': 'changed again', MODULE: changed},
            {'name': 'remove', MODULE: {'name': name, 'state': 'absent'}},
            {'name': 'remove again', MODULE: {'name': name, 'state': 'absent'}},
        ])
        create, again, again_check, change_check, change, change_again, rm, rm_again = run.results()
        assert_ok(create, changed=True)
        assert create['diff']['after'][name]['parent'] == 'mv0'
        assert_ok(again, changed=False)
        assert_ok(again_check, changed=False)
        assert_ok(change_check, changed=True)
        assert change_check['actions'] == [{'network': name, 'action': 'recreate', 'changes': ['macvlan_mode']}]
        assert change_check['diff']['before'][name]['macvlan_mode'] == 'bridge'
        assert change_check['diff']['after'][name]['macvlan_mode'] == 'private'
        assert_ok(change, changed=True)
        assert_ok(change_again, changed=False)
        assert_ok(rm, changed=True)
        assert_ok(rm_again, changed=False)
        assert client.networks.list(names=[name]) == []


def test_parents_docker_cannot_use(ansible, lab):
    client = lab.docker('node1')
    name = unique('mvp')
    with cleanup(lab, name):
        run = ansible.play([
            {MODULE: {'name': name, 'parent': 'nope0'}},
            {MODULE: {'name': name, 'parent': 'mv0.50'}},
            {MODULE: {'name': name, 'parent': 'mv0', 'options': {'com.docker.network.bridge.name': 'x'}}},
            {MODULE: {'name': name, 'parent': 'mv0', 'macvlan_mode': 'bridge'}, 'check_mode': True},
        ])
        missing, vlan, foreign, ok = run.results()
        assert_failed(missing, 'network %s: parent interface nope0 does not exist on the Docker host' % name)
        assert_failed(vlan, 'parent mv0.50 needs an 802.1q VLAN link, which this host cannot make')
        assert_failed(foreign, 'does not belong to the macvlan driver')
        assert_ok(ok)
        assert client.networks.list(names=[name]) == []


def test_a_parent_another_macvlan_network_uses(ansible, lab):
    """Issue 17 point 4 / issue 11 point 7: caught from the listing before anything is created, naming the other."""
    client = lab.docker('node1')
    name = unique('mvu')
    with cleanup(lab, name):
        run = ansible.play([
            {MODULE: {'name': name + '-lan', 'parent': 'mv0'}},                                  # 0
            {MODULE: {'name': name + '-two', 'parent': 'mv0'}},                                  # 1
            {MODULE: {'name': name + '-cfg', 'parent': 'mv0', 'config_only': True}},            # 2
            {MODULE: {'networks': [{'name': name + '-lan', 'state': 'absent'},                  # 3: freed, then taken
                                   {'name': name + '-cfg', 'parent': 'mv0', 'config_only': True}]}},
            {MODULE: {'name': name + '-lan', 'parent': 'mv0'}},                                  # 4
        ])
        first, two, config, swap, back = run.results()
        assert_ok(first, changed=True)
        assert_failed(two, 'network %s-two: parent mv0 is already used by macvlan network %s-lan on this Docker host'
                      % (name, name), 'Use another parent')
        assert_failed(config, 'network %s-cfg: parent mv0 is already used by macvlan network %s-lan' % (name, name))
        assert_ok(swap, changed=True)
        assert_failed(back, 'network %s-lan: parent mv0 is already used by the config-only network %s-cfg'
                      % (name, name))
        assert sorted(n.name for n in client.networks.list(names=[name])) == [name + '-cfg']


def test_two_containers_on_one_node_reach_each_other(ansible, lab):
    client = lab.docker('node1')
    name = unique('mvt')
    with cleanup(lab, name):
        result = ansible.play([{MODULE: {'name': name, 'parent': 'mv0',
                                         'ipam_config': [{'subnet': '10.71.0.0/24'}]}}]).results()[0]
        assert_ok(result, changed=True)
        client.containers.run(IMAGE, ['sleep', '600'], name=name + '-a', network=name, detach=True)
        probe = client.containers.run(IMAGE, ['sh', '-c', 'ping -c1 -W2 %s-a' % name], name=name + '-b',
                                      network=name, detach=True)
        assert probe.wait(timeout=30)['StatusCode'] == 0, probe.logs().decode()


def test_swarm_scoped_macvlan_through_config_only(ansible, swarm):
    name = unique('mvs')
    nodes = [n['name'] for n in swarm.nodes]
    config = {
        'name': name + '-cfg',
        'config_only': True,
        'parent': '{{ lab_macvlan_parent }}',
        # Each node hands out its own part of the subnet.
        'ipam_config': [{'subnet': '10.72.0.0/24',
                         'ip_range': "10.72.0.{{ 32 * (1 + groups['all'].index(inventory_hostname)) }}/27"}],
    }
    scoped = {'name': name, 'config_from': name + '-cfg', 'attachable': True}
    with cleanup(swarm, name, nodes=nodes):
        run = ansible.play([
            {'name': 'config', MODULE: config},
            {'name': 'config again', MODULE: config},
            {'name': 'swarm network', MODULE: scoped, 'when': "inventory_hostname == 'node1'"},
            {'name': 'swarm network again', MODULE: scoped, 'when': "inventory_hostname == 'node1'"},
            {'name': 'swarm network, check mode', MODULE: scoped, 'check_mode': True,
             'when': "inventory_hostname == 'node1'"},
        ], hosts='all')
        for node in nodes:
            config_first, config_again = run.results(node)[:2]
            assert_ok(config_first, changed=True)
            assert_ok(config_again, changed=False)
            stored = swarm.docker(node).api.inspect_network(name + '-cfg')
            assert stored['ConfigOnly'] is True and stored['Options'] == {'parent': 'mv0'}
        first, again, again_check = run.results('node1')[2:]
        assert_ok(first, changed=True)
        assert_ok(again, changed=False)
        assert_ok(again_check, changed=False)
        manager = swarm.docker('node1')
        stored = manager.api.inspect_network(name)
        assert stored['Scope'] == 'swarm' and stored['ConfigFrom']['Network'] == name + '-cfg'
        manager.containers.run(IMAGE, ['sleep', '600'], name=name + '-a', network=name, detach=True)
        address = manager.api.inspect_container(name + '-a')['NetworkSettings']['Networks'][name]['IPAddress']
        assert address.startswith('10.72.0.') and 32 <= int(address.rsplit('.', 1)[1]) < 64
        probe = manager.containers.run(IMAGE, ['sh', '-c', 'ping -c1 -W2 %s-a' % name], name=name + '-b',
                                       network=name, detach=True)
        assert probe.wait(timeout=30)['StatusCode'] == 0, probe.logs().decode()
