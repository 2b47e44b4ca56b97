# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_doctor on the lab: clean when healthy; each injected fault named with its fix.

Faults are made in the nodes' network namespaces (iptables, link MTU, routes) or by stopping a
node's dockerd, and always undone in finally.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from harness import LAB_SCRIPT, assert_failed, assert_ok, force_node1_alone, unique

pytestmark = pytest.mark.lab

IMAGE = 'docknet/probe:latest'


def doctor(ansible, check=False, **extra):
    nodes = [{'name': n['name'], 'docker_host': n['docker_host']} for n in ansible.lab.nodes]
    return ansible.module('docknet.fabric.swarm_doctor', dict(nodes=nodes, image=IMAGE, **extra), check=check)


def codes(result):
    return sorted((f['code'], ','.join(f['nodes'])) for f in result['findings'])


def no_leftovers(lab):
    for node in lab.nodes:
        client = lab.docker(node['name'])
        assert client.containers.list(all=True, filters={'label': 'docknet.fabric.doctor'}) == []
    assert lab.docker('node1').networks.list(filters={'label': 'docknet.fabric.doctor'}) == []


def in_ns(lab, node, *argv):
    done = lab.netns_run(node, *argv)
    assert done.returncode == 0, done.stderr


def test_healthy_lab_gives_a_clean_report_and_check_mode_runs_nothing(ansible, swarm):
    result = doctor(ansible)
    assert_ok(result, changed=False)
    assert result['healthy'] is True and result['findings'] == [], result['summary']
    for check in ('nodes', 'control_plane', 'data_path', 'mtu', 'addresses', 'clocks'):
        assert result['checks'][check]['status'] == 'ok', (check, result['summary'])
    reach = result['checks']['data_path']['matrix']['icmp_over_overlay']
    assert all(reach[s][t] == 'ok' for s in reach for t in reach if s != t)
    checked = doctor(ansible, check=True)
    assert_ok(checked, changed=False)
    assert checked['checks']['data_path']['status'] == 'skipped'
    assert checked['checks']['control_plane']['status'] == 'skipped'
    no_leftovers(swarm)


def test_blocked_vxlan_gossip_and_an_overlapping_route_are_named(ansible, swarm):
    """DROP udp/4789 into node2 with a route on node1 inside an overlay's subnet; then DROP tcp/7946 into node3.

    The gossip fault gets a run of its own: without gossip a node may not even join the overlay.
    """
    overlay = swarm.docker('node1').networks.create(unique('doc'), driver='overlay', ipam={
        'Driver': 'default', 'Config': [{'Subnet': '10.231.7.0/24'}]})
    vxlan_and_route = [
        ('node2', ['iptables', '-I', 'INPUT', '-p', 'udp', '--dport', '4789', '-j', 'DROP'],
         ['iptables', '-D', 'INPUT', '-p', 'udp', '--dport', '4789', '-j', 'DROP']),
        ('node1', ['ip', 'route', 'add', '10.231.7.0/25', 'via', swarm.info['gateway'], 'dev', 'eth0'],
         ['ip', 'route', 'del', '10.231.7.0/25'])]
    gossip = [('node3', ['iptables', '-I', 'INPUT', '-p', 'tcp', '--dport', '7946', '-j', 'DROP'],
               ['iptables', '-D', 'INPUT', '-p', 'tcp', '--dport', '7946', '-j', 'DROP'])]
    made = []
    try:
        for node, inject, undo in vxlan_and_route:
            in_ns(swarm, node, *inject)
            made.append((node, undo))
        result = doctor(ansible)
        assert_failed(result, 'swarm_doctor found 2 problem(s)')
        assert codes(result) == [('subnet_overlap', 'node1'), ('vxlan_isolated', 'node2')]
        messages = '\n'.join(result['summary'])
        print(messages)
        assert 'Fix: open 4789/udp inbound and outbound on node2 (%s)' % swarm.node('node2')['address'] in messages
        assert 'node1: overlay %s 10.231.7.0/24 overlaps route 10.231.7.0/25' % overlay.name in messages
        relaxed = doctor(ansible, fail_on_findings=False, checks=['addresses'])
        assert_ok(relaxed, changed=False)
        assert relaxed['healthy'] is False and codes(relaxed) == [('subnet_overlap', 'node1')]
        while made:
            node, undo = made.pop()
            in_ns(swarm, node, *undo)
        for node, inject, undo in gossip:
            in_ns(swarm, node, *inject)
            made.append((node, undo))
        result = doctor(ansible, checks=['control_plane'])
        assert_failed(result, 'node3: accepts no gossip connection on 7946/tcp (from node1, node2)')
        assert codes(result) == [('gossip_blocked_at', 'node3')]
        print('\n'.join(result['summary']))
    finally:
        for node, undo in made:
            in_ns(swarm, node, *undo)
        overlay.remove()
    no_leftovers(swarm)


def test_a_lower_mtu_on_one_link_is_named(ansible, swarm):
    in_ns(swarm, 'node3', 'ip', 'link', 'set', 'eth0', 'mtu', '1400')
    try:
        result = doctor(ansible, checks=['mtu'])
        assert_failed(result, 'node3: overlay ingress')
        assert ('mtu_config', 'node3') in codes(result)
        assert ('mtu_isolated', 'node3') in codes(result)
        carried = result['checks']['mtu']['matrix']['largest_packet_carried']
        # about 1400 - 50: the receiving veth lets a few bytes of slack through
        assert isinstance(carried['node1']['node3'], int) and carried['node1']['node3'] < 1400
        assert carried['node1']['node2'] == 'ok'
        print('\n'.join(result['summary']))
    finally:
        in_ns(swarm, 'node3', 'ip', 'link', 'set', 'eth0', 'mtu', '1500')
    no_leftovers(swarm)


def lab_cmd(lab, *argv):
    subprocess.run([str(LAB_SCRIPT), *argv], check=True, env=dict(os.environ, LAB_ID=lab.lab_id))


def node3_back_as_worker(node3, seconds):
    """Once the swarm has a leader again, demote node3; False when it has none within ``seconds``."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            node3.reload()
            if (node3.attrs.get('ManagerStatus') or {}).get('Reachability') == 'reachable':
                node3.update(dict(node3.attrs['Spec'], Role='worker'))
                return True
        except Exception:   # no leader yet
            pass
        time.sleep(1)
    return False


def test_a_stopped_manager_and_lost_quorum_are_named(ansible, swarm):
    """node3 promoted (2 managers), then stopped: no quorum, node3 unreachable. Put back as a worker."""
    manager = swarm.docker('node1')
    node3 = next(n for n in manager.nodes.list() if n.attrs['Description']['Hostname'] == 'node3')
    spec = dict(node3.attrs['Spec'], Role='manager')
    node3.update(spec)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            node3.reload()
            if (node3.attrs.get('ManagerStatus') or {}).get('Reachability') == 'reachable':
                break
            time.sleep(0.5)
        lab_cmd(swarm, 'stop-node', '3')
        result = doctor(ansible)
        assert_failed(result, 'the managers have no quorum: 1 of 2 reachable, 2 needed')
        assert ('no_quorum', '') in codes(result) and ('node_unreachable', 'node3') in codes(result)
        print('\n'.join(result['summary']))
    finally:
        lab_cmd(swarm, 'start-node', '3')
        if not node3_back_as_worker(node3, seconds=90):
            # Seen once on dockerd 20.10 under load: both managers up again, still no leader after minutes.
            # The later tests need the lab's swarm, so it is rebuilt with node1 as its only manager.
            print('no leader 90 s after node3 came back: node1 forces a new cluster, node3 joins as a worker')
            force_node1_alone(swarm, ['node3'])
        deadline = time.time() + 120
        while manager.info()['Swarm'].get('Managers') != 1 or len(manager.info()['Swarm'].get('RemoteManagers') or []) != 1:
            assert time.time() < deadline, manager.info()['Swarm']
            time.sleep(1)
    no_leftovers(swarm)
