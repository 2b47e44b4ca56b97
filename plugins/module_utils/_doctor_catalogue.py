# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_doctor's message catalogue and the ports and sizes it reasons with.

Every failure the doctor finds is a ``finding`` from one catalogue
(``CATALOGUE``): the check it belongs to, its severity, the cause and the fix
in one line each. ``summarise`` makes the one-line-per-check summary.
"""

from __future__ import annotations

DOCTOR_LABEL = 'docknet.fabric.doctor'
CHECKS = ('nodes', 'control_plane', 'data_path', 'mtu', 'addresses', 'clocks')
VXLAN_OVERHEAD = 50            # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
ICMP_OVERHEAD = 28             # IPv4 20 + ICMP 8: ping -s N sends N + 28 bytes
DEFAULT_OVERLAY_MTU = 1450     # Docker's overlay driver: 1500 - VXLAN_OVERHEAD unless the network sets one
GOSSIP_PORT = 7946
SWARM_PORT = 2377
DATA_PATH_PORT = 4789
CERT_BACKDATE = 3600           # swarmkit backdates node certificates by one hour
MTU_OPTION = 'com.docker.network.driver.mtu'

# code -> (check, severity, cause, fix). Fields in braces come from the finding.
CATALOGUE = {
    'node_unreachable': (
        'nodes', 'error',
        '{node}: the Docker daemon does not answer at {docker_host}: {error}',
        'start dockerd on {node}, or correct nodes[].docker_host'),
    'node_not_in_swarm': (
        'nodes', 'error',
        '{node}: not part of a swarm (state {state})',
        'join it to the swarm (docknet.fabric.swarm with state: join)'),
    'node_other_swarm': (
        'nodes', 'error',
        '{node}: belongs to another swarm ({cluster}) than the manager {manager}',
        'make it leave that swarm, then join this one'),
    'node_down': (
        'nodes', 'error',
        '{node}: the managers see this {role} {state}{message}',
        'start dockerd on {node} and check that it reaches a manager on {swarm_port}/tcp; if it is gone for good, '
        'remove it (docknet.fabric.swarm_node state: absent)'),
    'node_drained': (
        'nodes', 'warning',
        '{node}: availability {availability}, so no new tasks are placed on it',
        'set it active when it should run tasks again (docknet.fabric.swarm_node availability: active)'),
    'manager_unreachable': (
        'nodes', 'error',
        '{node}: manager marked {reachability} by the raft leader',
        'start dockerd on {node} and open {swarm_port}/tcp between the managers'),
    'no_quorum': (
        'nodes', 'error',
        'the managers have no quorum: {reachable} of {total} reachable, {needed} needed{detail}',
        'start the stopped managers; if they are lost for good, run docker swarm init --force-new-cluster '
        'on one survivor and add managers again'),
    'no_manager': (
        'nodes', 'error',
        'no node of nodes[] is a swarm manager that answers',
        'list at least one manager in nodes[] and start its dockerd'),
    'swarm_port_blocked_at': (
        'control_plane', 'error',
        '{node}: manager accepts no connection on {port}/tcp (from {peers})',
        'open {port}/tcp inbound on {node} ({address}) in its firewall and security groups'),
    'swarm_port_blocked_from': (
        'control_plane', 'error',
        '{node}: reaches no manager on {port}/tcp',
        'open {port}/tcp outbound from {node} to the managers'),
    'swarm_port_pair': (
        'control_plane', 'error',
        '{source} cannot connect to manager {target} on {port}/tcp',
        'open {port}/tcp from {source} to {target} ({address})'),
    'gossip_blocked_at': (
        'control_plane', 'error',
        '{node}: accepts no gossip connection on {port}/tcp (from {peers})',
        'open {port}/tcp and {port}/udp inbound on {node} ({address})'),
    'gossip_blocked_from': (
        'control_plane', 'error',
        '{node}: reaches no other node on {port}/tcp',
        'open {port}/tcp and {port}/udp outbound from {node}'),
    'gossip_isolated': (
        'control_plane', 'error',
        '{node}: gossip on {port}/tcp passes neither to nor from it',
        'open {port}/tcp and {port}/udp between {node} and every other node'),
    'gossip_pair': (
        'control_plane', 'error',
        '{source} cannot connect to {target} on {port}/tcp',
        'open {port}/tcp and {port}/udp from {source} to {target} ({address})'),
    'vxlan_isolated': (
        'data_path', 'error',
        '{node}: overlay (VXLAN) traffic passes neither to nor from it, although its control plane works',
        'open {port}/udp inbound and outbound on {node} ({address}) in its firewall and security groups'),
    'vxlan_blocked_at': (
        'data_path', 'error',
        '{node}: overlay traffic to it is lost (from {peers})',
        'open {port}/udp inbound on {node} ({address})'),
    'vxlan_blocked_from': (
        'data_path', 'error',
        '{node}: overlay traffic from it is lost',
        'open {port}/udp outbound from {node}'),
    'vxlan_pair': (
        'data_path', 'error',
        '{source} -> {target}: overlay traffic is lost',
        'open {port}/udp from {source} to {target} ({address})'),
    'probe_failed': (
        'data_path', 'error',
        '{node}: no probe container could run on the overlay: {error}',
        'check that the image {image} is on {node}; "attaching to network failed" means {node} cannot talk to the '
        'managers and the other nodes: fix its control plane findings first'),
    'mtu_config': (
        'mtu', 'error',
        '{node}: overlay {network} has MTU {mtu}, but {interface} carries {underlay} - {overhead} VXLAN bytes = {room}',
        'give the overlays an MTU of at most {room} (driver_options {option}: "{room}") or raise the MTU of '
        '{interface} on {node}'),
    'mtu_isolated': (
        'mtu', 'error',
        '{node}: overlay packets above {largest} bytes are lost to and from it (overlay MTU {mtu})',
        'lower the overlay MTU to {largest} (driver_options {option}) or raise the underlay MTU of {node}'),
    'mtu_pair': (
        'mtu', 'error',
        '{source} -> {target}: overlay packets above {largest} bytes are lost (overlay MTU {mtu})',
        'lower the overlay MTU to {largest} (driver_options {option}) or raise the underlay MTU on the path'),
    'subnet_overlap': (
        'addresses', 'error',
        '{where}: {first} overlaps {second}',
        'give {movable} a subnet that overlaps nothing on any node'),
    'clock_skew': (
        'clocks', 'error',
        '{node}: clock differs from the manager {manager} by {skew:.0f} s (more than {limit} s)',
        'run time synchronisation (chrony or systemd-timesyncd) on every node'),
    'clock_drift': (
        'clocks', 'warning',
        '{node}: clock differs from the manager {manager} by {skew:.0f} s',
        'run time synchronisation (chrony or systemd-timesyncd) on every node'),
    'cleanup_failed': (
        'data_path', 'warning',
        'a temporary object was left behind: {error}',
        'remove objects labelled {label}={run} by hand'),
}


def finding(code, **fields):
    """One finding from the catalogue: its check, severity, cause, fix and the line both make."""
    check, severity, cause, fix = CATALOGUE[code]
    cause, fix = cause.format(**fields), fix.format(**fields)
    nodes = [fields[k] for k in ('node', 'source', 'target') if fields.get(k)]
    return {'code': code, 'check': check, 'severity': severity, 'nodes': nodes,
            'cause': cause, 'fix': fix, 'message': '%s. Fix: %s.' % (cause, fix)}


# --- parsing what the host-network probe prints ------------------------------------------------


# --- summary ------------------------------------------------------------------------------------

def summarise(checks, findings):
    """One line per check and one per finding."""
    lines = []
    for name in CHECKS:
        if name not in checks:
            continue
        status = checks[name]['status']
        errors = [f for f in findings if f['check'] == name and f['severity'] == 'error']
        warnings = [f for f in findings if f['check'] == name and f['severity'] == 'warning']
        if errors:
            status = 'FAILED'
        elif warnings and status in ('ok', 'failed'):
            status = 'warning'
        elif status == 'failed':
            status = 'ok (the failing cells involve nodes that are down)'
        note = checks[name].get('note')
        lines.append('%-13s %s%s' % (name, status, ' (%s)' % note if note else ''))
    for f in findings:
        lines.append('%s %s: %s' % ('ERROR' if f['severity'] == 'error' else 'WARN ', f['check'], f['message']))
    return lines
