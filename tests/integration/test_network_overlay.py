# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""overlay_network on the lab swarm: every option, manager only, services block recreation, cross-node traffic."""

from __future__ import annotations


import docker
import pytest

from cleanup import cleanup_nodes
from harness import assert_failed, assert_ok, unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'
MODULE = 'docknet.fabric.overlay_network'


def cleanup(lab, prefix):
    manager = lab.docker('node1')
    return cleanup_nodes(prefix, [lab.docker(node) for node in ('node1', 'node2')], network_nodes=[manager],
                         seconds=20, manager=manager)


def test_every_option_lifecycle(ansible, swarm):
    manager = swarm.docker('node1')
    name = unique('ov')
    full = {
        'name': name,
        'attachable': True,
        'encrypted': 'true',
        'mtu': 1400,
        'vxlan_ids': [4242],
        'ipam_config': [{'subnet': '10.60.0.0/24', 'gateway': '10.60.0.1', 'ip_range': '10.60.0.0/25'}],
        'labels': {'app': 'demo'},
        'internal': False,
        'enable_ipv6': False,
    }
    changed = dict(full, encrypted=False, vxlan_ids=[4243], recreate=True)
    with cleanup(swarm, name):
        run = ansible.play([
            {'name': 'create', MODULE: full},
            {'name': 'again', MODULE: dict(full, encrypted=True)},
            {'name': 'again, check mode', MODULE: full, 'check_mode': True},
            {'name': 'change, check mode', MODULE: changed, 'check_mode': True},
            {'name': 'change', MODULE: changed},
            {'name': 'changed again', MODULE: changed},
            {'name': 'on a worker', MODULE: {'name': name, 'docker_host': "{{ hostvars['node2'].docker_host }}"}},
            {'name': 'remove', MODULE: {'name': name, 'state': 'absent'}},
            {'name': 'remove again', MODULE: {'name': name, 'state': 'absent'}},
        ])
        create, again, again_check, change_check, change, change_again, worker, rm, rm_again = run.results()
        assert_ok(create, changed=True)
        assert create['diff']['after'][name]['encrypted'] is True
        assert any('IPsec' in w and name in w for w in create.get('warnings', [])), create
        assert_ok(again, changed=False)
        assert_ok(again_check, changed=False)
        assert_ok(change_check, changed=True)
        assert change_check['actions'] == [{'network': name, 'action': 'recreate',
                                            'changes': ['encrypted', 'vxlan_ids']}]
        assert_ok(change, changed=True)
        assert not change.get('warnings')
        assert_ok(change_again, changed=False)
        assert_failed(worker, 'must run against a swarm manager', 'swarm worker')
        assert_ok(rm, changed=True)
        assert_ok(rm_again, changed=False)


def test_options_as_docker_stores_them(ansible, swarm):
    manager = swarm.docker('node1')
    name = unique('ovs')
    with cleanup(swarm, name):
        spec = {'name': name, 'encrypted': True, 'mtu': 1400, 'vxlan_ids': [4250], 'attachable': True,
                'ipam_config': [{'subnet': '10.61.0.0/24'}]}
        assert_ok(ansible.play([{MODULE: spec}]).results()[0], changed=True)
        stored = manager.api.inspect_network(name)
        assert stored['Scope'] == 'swarm' and stored['Attachable'] is True
        assert 'encrypted' in stored['Options']
        assert stored['Options']['com.docker.network.driver.mtu'] == '1400'
        assert stored['Options']['com.docker.network.driver.overlay.vxlanid_list'] == '4250'


def test_services_block_recreation_force_takes_them_off(ansible, swarm):
    manager = swarm.docker('node1')
    name = unique('ovsv')
    with cleanup(swarm, name):
        spec = {'name': name, 'ipam_config': [{'subnet': '10.62.0.0/24'}]}
        assert_ok(ansible.play([{MODULE: spec}]).results()[0], changed=True)
        manager.services.create(IMAGE, ['sleep', '600'], name=name + '-svc', networks=[name],
                                mode=docker.types.ServiceMode('replicated', replicas=0))
        run = ansible.play([
            {MODULE: dict(spec, ipam_config=[{'subnet': '10.62.0.0/16'}], recreate=True, force=True)},
            {MODULE: {'name': name, 'state': 'absent'}},
            {MODULE: {'name': name, 'state': 'absent', 'force': True}, 'check_mode': True},
            {MODULE: {'name': name, 'state': 'absent', 'force': True}},
        ])
        recreate, remove, forced_check, forced = run.results()
        assert_failed(recreate, 'swarm services use it: %s-svc' % name)
        assert recreate['services'] == [name + '-svc']
        assert_failed(remove, 'is in use (swarm services: %s-svc)' % name, 'force: true')
        assert_ok(forced_check, changed=True)
        assert forced_check['actions'] == [{'network': name, 'action': 'remove', 'services': [name + '-svc']}]
        assert_ok(forced, changed=True)
        assert manager.networks.list(names=[name]) == []
        left = manager.services.get(name + '-svc').attrs['Spec']['TaskTemplate'].get('Networks') or []
        assert left == []


def test_containers_on_two_nodes_reach_each_other_by_name(ansible, swarm):
    name = unique('ovt')
    with cleanup(swarm, name):
        result = ansible.play([{MODULE: {'networks': [
            {'name': name, 'attachable': True, 'ipam_config': [{'subnet': '10.63.0.0/24'}]}]}}]).results()[0]
        assert_ok(result, changed=True)
        swarm.docker('node1').containers.run(IMAGE, ['sleep', '600'], name=name + '-a', network=name, detach=True)
        probe = swarm.docker('node2').containers.run(IMAGE, ['sh', '-c', 'ping -c2 -W3 %s-a' % name],
                                                     name=name + '-b', network=name, detach=True)
        code = probe.wait(timeout=60)['StatusCode']
        assert code == 0, probe.logs().decode()


def test_dual_stack_overlay_by_engine_version(ansible, swarm):
    """Issue 17 point 3: Docker before 26 accepts enable_ipv6 on an overlay but cannot serve it (refused before
    any change, check mode too, with the reason); one that exists already is warned about."""
    manager = swarm.docker('node1')
    name = unique('ov6')
    dual = {'name': name, 'attachable': True, 'enable_ipv6': True,
            'ipam_config': [{'subnet': '10.62.0.0/24'}, {'subnet': 'fd00:62::/64'}]}
    engine = manager.version()
    old = tuple(int(part) for part in engine['ApiVersion'].split('.')) < (1, 45)
    with cleanup(swarm, name):
        run = ansible.play([{MODULE: dual, 'check_mode': True}, {MODULE: dual}])
        if not old:
            assert_ok(run.results()[1], changed=True)
            return
        for result in run.results():
            assert_failed(result, 'network %s: Docker %s (API %s) accepts enable_ipv6 on an overlay network but '
                          'cannot serve it' % (name, engine['Version'], engine['ApiVersion']),
                          'Dual-stack overlays need Docker 26 (API 1.45) or newer on every node')
        assert manager.networks.list(names=[name]) == []
        # One made behind the module's back: a warning on every run, no failure.
        manager.networks.create(name, driver='overlay', attachable=True, enable_ipv6=True, ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet='10.62.0.0/24'), docker.types.IPAMPool(subnet='fd00:62::/64')]))
        result = ansible.play([{MODULE: dual}]).results()[0]
        assert_ok(result, changed=False)
        assert any(w.startswith('network %s exists with enable_ipv6: Docker %s' % (name, engine['Version']))
                   for w in result.get('warnings', [])), result
