# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The networking options of Docker 28 against real engines, with traffic; their clear refusal on older ones.

On an engine whose API has the option: create -> re-run -> check-mode re-run
(-> change) -> remove, and the traffic the option changes. On an older engine
(20.10, 26 in the lab): the one-line refusal before any change.
"""

from __future__ import annotations

import subprocess

import docker
import pytest

from cleanup import cleanup
from harness import assert_failed, assert_ok, unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'
BRIDGE = 'docknet.fabric.bridge_network'
MACVLAN = 'docknet.fabric.macvlan_network'
ATTACH = 'docknet.fabric.network_attachment'
INFO = 'docknet.fabric.network_info'


def api_at_least(client, version):
    have = tuple(int(part) for part in client.version()['ApiVersion'].split('.'))
    return have >= tuple(int(part) for part in version.split('.'))


def run_box(client, name, network, command=('sleep', '300')):
    return client.containers.run(IMAGE, list(command), name=name, network=network, detach=True)


def sh(container, command):
    code, out = container.exec_run(['sh', '-c', command])
    return code, out.decode(errors='replace')


def test_ipv6_only_bridge_and_macvlan(ansible, lab):
    client = lab.docker('node1')
    prefix = unique('v6only')
    bridge = {'name': prefix + '-br', 'enable_ipv4': False, 'enable_ipv6': True,
              'ipam_config': [{'subnet': 'fd28:b::/64'}]}
    macvlan = {'name': prefix + '-mv', 'enable_ipv4': False, 'enable_ipv6': True, 'parent': 'mv0',
               'ipam_config': [{'subnet': 'fd28:c::/64'}]}
    with cleanup(client, prefix):
        if not api_at_least(client, '1.48'):
            refused = ansible.play([{BRIDGE: bridge}, {MACVLAN: macvlan}]).results()
            for result in refused:
                assert_failed(result, 'option enable_ipv4: false (an IPv6-only network) needs Docker API >= 1.48')
            assert not client.networks.list(names=[prefix])
            return
        for module, spec in ((BRIDGE, bridge), (MACVLAN, macvlan)):
            create, again, check = ansible.lifecycle(module, spec)
            assert_ok(create, changed=True)
            assert_ok(again, changed=False)
            assert_ok(check, changed=False)
            assert client.api.inspect_network(spec['name'])['EnableIPv4'] is False
            a = run_box(client, prefix + '-a', spec['name'])
            b = run_box(client, prefix + '-b', spec['name'])
            try:
                code, out = sh(a, 'ip -4 addr show eth0 | grep inet || echo none')
                assert out.strip() == 'none', out                 # no IPv4 address at all
                code, out = sh(a, 'ip -6 addr show eth0 scope global')
                assert 'fd28:' in out, out
                code, out = sh(a, 'ping -6 -c 1 -W 3 %s' % b.name)        # the peer, by name, over IPv6
                assert code == 0 and ' 0% packet loss' in out, out
            finally:
                a.remove(force=True)
                b.remove(force=True)
            wrong = ansible.module(module, dict(spec, ipam_config=[{'subnet': '10.228.9.0/24'}]))
            assert_failed(wrong, 'ipam_config has the IPv4 subnet 10.228.9.0/24 but enable_ipv4 is false')
            removed = ansible.module(module, {'name': spec['name'], 'state': 'absent'})
            assert_ok(removed, changed=True)


def test_bridge_gateway_modes_change_what_reaches_a_container(ansible, lab):
    """routed: ICMP from another node reaches the container, an unpublished port does not; nat: neither;
    nat-unprotected: both. node2 gets a route to the bridge's subnet via node1 (inside the lab)."""
    client = lab.docker('node1')
    name = unique('gwmode')
    subnet = '10.228.%d.0/24' % (20 + int(lab.lab_id))
    spec = {'name': name, 'gateway_mode_ipv4': 'routed', 'gateway_mode_ipv6': 'nat',
            'ipam_config': [{'subnet': subnet}]}
    with cleanup(client, name):
        if not api_at_least(client, '1.46'):
            refused = ansible.module(BRIDGE, spec)
            assert_failed(refused, 'option gateway_mode_ipv4 / gateway_mode_ipv6 needs Docker API >= 1.46')
            assert not client.networks.list(names=[name])
            return
        create, again, check = ansible.lifecycle(BRIDGE, spec)
        assert_ok(create, changed=True)
        assert_ok(again, changed=False)
        assert_ok(check, changed=False)
        options = client.api.inspect_network(name)['Options']
        assert options['com.docker.network.bridge.gateway_mode_ipv4'] == 'routed'
        isolated = ansible.module(BRIDGE, dict(spec, gateway_mode_ipv4='isolated', recreate=True))
        assert_failed(isolated, 'gateway_mode_ipv4 isolated needs internal: true')
        node1, node2 = lab.node('node1'), lab.node('node2')
        netns = ['nsenter', '--net=' + node2['netns']]
        subprocess.run(netns + ['ip', 'route', 'replace', subnet, 'via', node1['address']], check=True)
        try:
            seen = {}
            for mode in ('routed', 'nat', 'nat-unprotected'):
                if mode != 'routed':
                    result = ansible.module(BRIDGE, dict(spec, gateway_mode_ipv4=mode, recreate=True))
                    assert_ok(result, changed=True)
                box = run_box(client, name + '-web', name, ('httpd', '-f', '-p', '8080'))
                try:
                    box.reload()
                    address = box.attrs['NetworkSettings']['Networks'][name]['IPAddress']
                    ping = subprocess.run(netns + ['/bin/busybox', 'ping', '-c', '1', '-W', '2', address],
                                          capture_output=True, check=False).returncode == 0
                    tcp = subprocess.run(netns + ['timeout', '3', '/bin/busybox', 'nc', address, '8080'],
                                         input=b'', capture_output=True, check=False).returncode == 0
                    seen[mode] = (ping, tcp)
                finally:
                    box.remove(force=True)
            assert seen == {'routed': (True, False), 'nat': (False, False), 'nat-unprotected': (True, True)}, seen
        finally:
            subprocess.run(netns + ['ip', 'route', 'del', subnet], check=False)
        if api_at_least(client, '1.48'):
            internal = {'name': name + '-iso', 'internal': True, 'gateway_mode_ipv4': 'isolated'}
            create, again, check = ansible.lifecycle(BRIDGE, internal)
            assert_ok(create, changed=True)
            assert_ok(again, changed=False)
            assert_ok(check, changed=False)


def test_gw_priority_picks_the_default_route(ansible, lab):
    client = lab.docker('node1')
    prefix = unique('gwprio')
    low, high = prefix + '-low', prefix + '-high'
    with cleanup(client, prefix):
        for net, third in ((low, 30), (high, 31)):
            client.networks.create(net, ipam=docker.types.IPAMConfig(pool_configs=[
                docker.types.IPAMPool(subnet='10.228.%d.0/24' % third, gateway='10.228.%d.1' % third)]))
        box = run_box(client, prefix + '-app', low)
        attach = {'network': high, 'containers': [box.name], 'gw_priority': 10}
        if not api_at_least(client, '1.48'):
            assert_failed(ansible.module(ATTACH, attach), 'option gw_priority needs Docker API >= 1.48')
            box.reload()
            assert high not in box.attrs['NetworkSettings']['Networks']
            return
        create, again, check = ansible.lifecycle(ATTACH, attach)
        assert_ok(create, changed=True)
        assert_ok(again, changed=False)
        assert_ok(check, changed=False)
        assert create['containers'][0]['settings']['gw_priority'] == 10
        code, out = sh(box, 'ip route show default')
        assert 'via 10.228.31.1' in out, out                # the high-priority network's gateway
        lower = ansible.module(ATTACH, dict(attach, gw_priority=-10))
        assert_ok(lower, changed=True)
        assert lower['actions'] == [{'action': 'reconnect', 'container': box.name, 'changes': ['gw_priority']}]
        code, out = sh(box, 'ip route show default')
        assert 'via 10.228.30.1' in out, out


def test_mac_address_and_dns_names(ansible, lab):
    """Docker ignores a MAC address on connect (moby/moby#48192): the module refuses to (re)connect with one,
    and accepts a container created with it; network_info lists the endpoint's DNS names (API 1.44+)."""
    client = lab.docker('node1')
    prefix = unique('mac')
    net = prefix + '-net'
    mac = '02:42:0a:e4:28:09'
    with cleanup(client, prefix):
        client.networks.create(net)
        loose = client.containers.run(IMAGE, ['sleep', '300'], name=prefix + '-loose', detach=True)
        attach = {'network': net, 'containers': [loose.name], 'mac_address': mac.upper()}
        if not api_at_least(client, '1.44'):
            assert_failed(ansible.module(ATTACH, attach), 'option mac_address needs Docker API >= 1.44')
            client.api.connect_container_to_network(loose.id, net, aliases=['api'])
            info = ansible.module(INFO, {'name': [net]})
            assert_ok(info, changed=False)
            assert info['networks'][0]['containers'][0]['dns_names'] is None
            return
        assert_failed(ansible.module(ATTACH, attach), 'ignores a MAC address given when connecting', 'moby/moby#48192')
        loose.reload()
        assert net not in loose.attrs['NetworkSettings']['Networks']
        created = client.api.create_container(
            IMAGE, ['sleep', '300'], name=prefix + '-made',
            host_config=client.api.create_host_config(network_mode=net),
            networking_config=client.api.create_networking_config(
                {net: client.api.create_endpoint_config(aliases=['api'], mac_address=mac)}))
        client.api.start(created['Id'])
        made = client.containers.get(created['Id'])
        keep = {'network': net, 'containers': [made.name], 'mac_address': mac.upper(), 'aliases': ['api']}
        first, again, check = ansible.lifecycle(ATTACH, keep)
        for result in (first, again, check):
            assert_ok(result, changed=False)
        assert first['containers'][0]['settings']['mac_address'] == mac
        code, out = sh(made, 'cat /sys/class/net/eth0/address')
        assert out.strip() == mac, out
        assert_failed(ansible.module(ATTACH, dict(keep, aliases=['api', 'www'])), 'moby/moby#48192')
        info = ansible.module(INFO, {'name': [net]})
        assert_ok(info, changed=False)
        entry = info['networks'][0]['containers'][0]
        assert made.name in entry['dns_names'] and 'api' in entry['dns_names'], entry
