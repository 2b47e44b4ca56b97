# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bridge_network against real engines: every option, list form, purge, safe recreation, bad input, traffic."""

from __future__ import annotations


import pytest

from cleanup import cleanup
from harness import assert_failed, assert_ok, unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'
MODULE = 'docknet.fabric.bridge_network'
OWNER = 'docknet.fabric.managed'


def one(ansible, args, **task):
    return ansible.play([dict(task, **{MODULE: args})]).results()[0]


def inspect(client, name):
    return client.api.inspect_network(name)


def test_every_option_lifecycle(ansible, lab):
    client = lab.docker('node1')
    name = unique('br')
    full = {
        'name': name,
        'bridge_name': 'br-' + name[-8:],
        'enable_icc': 'false',            # a string boolean
        'enable_ip_masquerade': False,
        'host_binding_ipv4': '127.0.0.1',
        'mtu': 1400,
        'enable_ipv6': True,
        'internal': False,
        'attachable': False,
        'ipam_driver': 'default',
        'ipam_config': [
            {'subnet': '2001:0db8:0042:0000::/64', 'gateway': '2001:db8:42:0:0:0:0:1'},   # expanded IPv6
            {'subnet': '10.42.0.0/24', 'gateway': '10.42.0.1', 'iprange': '10.42.0.128/25',
             'aux_addresses': {'router': '10.42.0.2'}},
        ],
        'labels': {'tier': 'back', 'team': 'net'},
        'options': {},
    }
    changed = dict(full, labels={'tier': 'back'}, mtu=1450, recreate=True)
    with cleanup(client, name):
        run = ansible.play([
            {'name': 'create', MODULE: full},
            {'name': 'again', MODULE: dict(full, enable_icc=False, ipam_config=list(reversed(full['ipam_config'])))},
            {'name': 'again, check mode', MODULE: full, 'check_mode': True},
            {'name': 'change without consent', MODULE: dict(changed, recreate=False)},
            {'name': 'change, check mode', MODULE: changed, 'check_mode': True},
            {'name': 'change', MODULE: changed},
            {'name': 'changed again', MODULE: changed},
            {'name': 'remove, check mode', MODULE: {'name': name, 'state': 'absent'}, 'check_mode': True},
            {'name': 'remove', MODULE: {'name': name, 'state': 'absent'}},
            {'name': 'remove again', MODULE: {'name': name, 'state': 'absent'}},
        ])
        create, again, again_check, refused, change_check, change, change_again, rm_check, rm, rm_again = run.results()
        assert_ok(create, changed=True)
        assert create['diff']['before'] == {name: None}
        after = create['diff']['after'][name]
        assert after['enable_icc'] is False and after['mtu'] == 1400
        assert after['ipam_config'][1]['subnet'] == '2001:db8:42::/64'
        assert_ok(again, changed=False)
        assert_ok(again_check, changed=False)
        assert again['diff']['before'] == again['diff']['after']
        assert_failed(refused, 'differs in labels, mtu', 'recreate: true')
        assert_ok(change_check, changed=True)
        assert change_check['actions'] == [{'network': name, 'action': 'recreate', 'changes': ['labels', 'mtu']}]
        assert change_check['diff']['before'][name]['labels'] == {'tier': 'back', 'team': 'net'}
        assert change_check['diff']['after'][name]['labels'] == {'tier': 'back'}
        assert_ok(change, changed=True)
        assert change['diff'] == change_check['diff']
        assert_ok(change_again, changed=False)
        assert_ok(rm_check, changed=True)
        assert_ok(rm, changed=True)
        assert rm['diff']['after'] == {name: None}
        assert_ok(rm_again, changed=False)
        # What the real run left, inspected between change and removal, is checked by re-running above;
        # here check what Docker stored at creation (made again by the option row below).
        created = one(ansible, full)
        assert_ok(created, changed=True)
        stored = inspect(client, name)
        assert stored['Options'] == {
            'com.docker.network.bridge.name': full['bridge_name'],
            'com.docker.network.bridge.enable_icc': 'false',
            'com.docker.network.bridge.enable_ip_masquerade': 'false',
            'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1',
            'com.docker.network.driver.mtu': '1400'}
        assert stored['Labels'] == {'tier': 'back', 'team': 'net', OWNER: 'true', 'docknet.fabric.owner': 'default'}
        assert stored['EnableIPv6'] is True


def test_list_form_and_purge_only_owned(ansible, lab):
    client = lab.docker('node1')
    prefix = unique('brl')
    with cleanup(client, prefix):
        client.api.create_network(prefix + '-foreign', driver='bridge')
        declared = [{'name': prefix + '-a', 'internal': True},
                    {'name': prefix + '-b', 'ipam_config': [{'subnet': '10.43.1.0/24'}]},
                    {'name': prefix + '-c'}]
        run = ansible.play([
            {'name': 'three', MODULE: {'networks': declared}},
            {'name': 'three again', MODULE: {'networks': declared, 'purge': True}},
            {'name': 'purge check', MODULE: {'networks': declared[:1], 'purge': True}, 'check_mode': True},
            {'name': 'purge', MODULE: {'networks': declared[:1], 'purge': True}},
            {'name': 'purge again', MODULE: {'networks': declared[:1], 'purge': True}},
        ])
        three, three_again, purge_check, purge, purge_again = run.results()
        assert_ok(three, changed=True)
        assert [a['action'] for a in three['actions']] == ['create'] * 3
        assert_ok(three_again, changed=False)
        assert_ok(purge_check, changed=True)
        assert purge_check['actions'] == [{'network': prefix + '-b', 'action': 'remove', 'purge': True},
                                          {'network': prefix + '-c', 'action': 'remove', 'purge': True}]
        assert_ok(purge, changed=True)
        assert_ok(purge_again, changed=False)
        names = sorted(n.name for n in client.networks.list(names=[prefix]))
        assert names == [prefix + '-a', prefix + '-foreign']
        assert 'bridge' in [n.name for n in client.networks.list()]
        assert inspect(client, prefix + '-a')['Internal'] is True


def test_recreate_keeps_static_addresses_and_aliases(ansible, lab):
    client = lab.docker('node1')
    name = unique('brr')
    spec = {'name': name, 'enable_ipv6': True,
            'ipam_config': [{'subnet': '10.44.0.0/24'}, {'subnet': 'fd00:44::/64'}]}
    with cleanup(client, name):
        assert_ok(one(ansible, spec), changed=True)
        web = client.containers.create(IMAGE, ['sleep', '600'], name=name + '-web')
        client.api.connect_container_to_network(web.id, name, aliases=['www', 'front'], ipv4_address='10.44.0.50',
                                                ipv6_address='fd00:44::50')
        web.start()
        idle = client.containers.create(IMAGE, ['sleep', '600'], name=name + '-idle')   # stopped
        client.api.connect_container_to_network(idle.id, name, aliases=['spare'], ipv4_address='10.44.0.51',
                                                links=[(name + '-web', 'db')])
        wider = dict(spec, ipam_config=[{'subnet': '10.44.0.0/16', 'gateway': '10.44.0.1'}, {'subnet': 'fd00:44::/64'}])
        elsewhere = dict(spec, ipam_config=[{'subnet': '10.45.0.0/24'}, {'subnet': 'fd00:44::/64'}], recreate=True)
        run = ansible.play([
            {'name': 'refused', MODULE: wider},
            {'name': 'would lose an address', MODULE: elsewhere},
            {'name': 'remove refused', MODULE: {'name': name, 'state': 'absent'}},
            {'name': 'recreate, check', MODULE: dict(wider, recreate=True), 'check_mode': True},
            {'name': 'recreate', MODULE: dict(wider, recreate=True)},
            {'name': 'again', MODULE: wider},
        ])
        refused, lose, rm_refused, check, recreate, again = run.results()
        assert_failed(refused, 'network %s differs in ipam_config' % name, name + '-idle', name + '-web',
                      'recreate: true')
        assert refused['containers'] == [name + '-idle', name + '-web']
        assert_failed(lose, 'static address 10.44.0.5', 'outside the new ipam_config')
        assert_failed(rm_refused, 'attached containers', 'force: true')
        assert_ok(check, changed=True)
        assert check['actions'][0]['containers'] == [name + '-idle', name + '-web']
        assert_ok(recreate, changed=True)
        assert_ok(again, changed=False)
        web_endpoint = client.api.inspect_container(web.id)['NetworkSettings']['Networks'][name]
        assert web_endpoint['IPAMConfig'] == {'IPv4Address': '10.44.0.50', 'IPv6Address': 'fd00:44::50'}
        assert {'www', 'front'} <= set(web_endpoint['Aliases'])
        idle_endpoint = client.api.inspect_container(idle.id)['NetworkSettings']['Networks'][name]
        assert idle_endpoint['IPAMConfig']['IPv4Address'] == '10.44.0.51'
        assert 'spare' in idle_endpoint['Aliases']
        assert [link.split(':')[-1].rsplit('/', 1)[-1] for link in idle_endpoint['Links']] == ['db']
        assert inspect(client, name)['IPAM']['Config'][0]['Subnet'] == '10.44.0.0/16'
        # DNS still answers the aliases after the recreation.
        probe = client.containers.run(IMAGE, ['sh', '-c', 'nslookup front 127.0.0.11 && ping -c1 -W2 www'],
                                      network=name, remove=True, name=name + '-probe')
        assert b'10.44.0.50' in probe and b'fd00:44::50' in probe
        forced = one(ansible, {'name': name, 'state': 'absent', 'force': True})
        assert_ok(forced, changed=True)
        assert forced['actions'][0]['containers'] == [name + '-idle', name + '-web']


def test_bad_input_fails_before_any_change(ansible, lab):
    client = lab.docker('node1')
    name = unique('brb')
    with cleanup(client, name):
        client.api.create_network(name + '-mv', driver='macvlan', options={'parent': 'mv0'})
        cases = [
            ({'name': name, 'ipam_config': [{'subnet': '10.46.0.0/33'}]}, 'network %s ipam_config[0]: subnet' % name),
            ({'name': name, 'ipam_config': [{'subnet': '10.46.0.0/24', 'gateway': '10.47.0.1'}]},
             'gateway 10.47.0.1 is outside subnet 10.46.0.0/24'),
            ({'name': name, 'ipam_config': [{'subnet': '10.46.0.0/24', 'ip_range': '10.46.1.0/28'}]},
             'ip_range 10.46.1.0/28 is outside'),
            ({'name': name, 'ipam_config': [{'subnet': '10.46.0.0/24', 'aux_addresses': {'r': '10.9.9.9'}}]},
             'aux_addresses r: 10.9.9.9 is outside'),
            ({'name': name, 'ipam_config': [{'subnet': '10.46.0.0/16'}, {'subnet': '10.46.3.0/24'}]}, 'overlap'),
            ({'name': name, 'ipam_config': [{'subnet': 'fd00:46::/64'}]}, 'enable_ipv6'),
            ({'name': name, 'options': {'encrypted': ''}}, 'option encrypted does not belong to the bridge driver'),
            ({'name': name + '-mv'}, 'exists with driver macvlan, not bridge'),
            ({'name': name, 'purge': True}, 'purge needs the list form'),
            ({'name': 'host', 'state': 'absent'}, 'never removed'),
        ]
        run = ansible.play([{MODULE: args} for args, dummy in cases])
        for result, (args, fragment) in zip(run.results(), cases):
            assert_failed(result, fragment)
        assert client.networks.list(names=[name]) == [] or all(n.name == name + '-mv'
                                                               for n in client.networks.list(names=[name]))


def test_traffic_icc_internal_and_dual_stack(ansible, lab):
    client = lab.docker('node1')
    prefix = unique('brt')
    with cleanup(client, prefix):
        run = ansible.play([{MODULE: {'networks': [
            {'name': prefix + '-noicc', 'enable_icc': False, 'ipam_config': [{'subnet': '10.48.0.0/24'}]},
            {'name': prefix + '-icc', 'ipam_config': [{'subnet': '10.48.1.0/24'}]},
            {'name': prefix + '-int', 'internal': True, 'ipam_config': [{'subnet': '10.48.2.0/24'}]},
            {'name': prefix + '-v6', 'enable_ipv6': True,
             'ipam_config': [{'subnet': '10.48.3.0/24'}, {'subnet': 'fd00:48:3::/64'}]},
        ]}}])
        assert_ok(run.results()[0], changed=True)

        def server(network, suffix, **kwargs):
            return client.containers.run(IMAGE, ['sleep', '600'], name='%s-%s' % (prefix, suffix),
                                         network=network, detach=True, **kwargs)

        def probe(network, command):
            container = client.containers.run(IMAGE, ['sh', '-c', command], network=network, detach=True)
            code = container.wait(timeout=30)['StatusCode']
            output = container.logs().decode()
            container.remove(force=True)
            return code, output

        server(prefix + '-noicc', 'a')
        server(prefix + '-icc', 'b')
        server(prefix + '-v6', 'c')
        code, out = probe(prefix + '-noicc', 'ping -c1 -W2 %s-a' % prefix)
        assert code != 0, 'enable_icc: false let a ping through: %s' % out
        code, out = probe(prefix + '-icc', 'ping -c1 -W2 %s-b' % prefix)
        assert code == 0, out
        # The lab's gateway is reachable from a normal bridge, not from an internal one.
        code, out = probe(prefix + '-icc', 'ping -c1 -W2 %s' % lab.info['gateway'])
        assert code == 0, out
        code, out = probe(prefix + '-int', 'ping -c1 -W2 %s' % lab.info['gateway'])
        assert code != 0, 'an internal network reached the outside: %s' % out
        v6 = client.api.inspect_container(prefix + '-c')['NetworkSettings']['Networks'][prefix + '-v6']
        assert v6['GlobalIPv6Address'].startswith('fd00:48:3:')
        command = 'ping -c1 -W2 %s && ping6 -c1 -W2 %s' % (v6['IPAddress'], v6['GlobalIPv6Address'])
        code, out = probe(prefix + '-v6', command)
        assert code == 0, out
