# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_doctor's engine: why overlay traffic between swarm nodes fails, and what to do.

The doctor connects to every node's own daemon (``nodes[].docker_host``), reads the swarm from a
manager and runs short-lived probe containers:

- one per node in the node's host network namespace: its links, addresses and routes, and TCP
  connects to each manager's swarm port and each other node's gossip port (the control plane);
- one per node on a temporary attachable overlay: ICMP to every other node's probe, small
  packets first (VXLAN passes at all?), then packets filling the overlay MTU (the data path and
  the MTU actually carried).

Every failure becomes a finding from one catalogue (``CATALOGUE``): the cause and the fix in one
line each. A row or column of a node x node matrix that fails as a whole names the node rather
than each pair. Everything the doctor makes is labelled and named per run, and removed in
``finally``; it never changes the user's objects.

Pure functions (parsing, matrices, diagnosis, overlaps, MTU, clocks, messages) are tested by
tables in tests/unit/plugins/module_utils/test__doctor.py.
"""

from __future__ import annotations

import datetime
import ipaddress
import shlex
import threading
import time
import uuid

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError, connect

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

def parse_links(text):
    """``ip -o link`` -> {interface: mtu}."""
    links = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 4 and parts[0].rstrip(':').isdigit() and 'mtu' in parts:
            name = parts[1].rstrip(':').split('@')[0]
            links[name] = int(parts[parts.index('mtu') + 1])
    return links


def parse_addresses(text):
    """``ip -o addr`` -> {address: interface}."""
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[2] in ('inet', 'inet6'):
            found[parts[3].split('/')[0]] = parts[1].split('@')[0]
    return found


def parse_routes(text):
    """``ip route`` -> [{prefix, dev, line}] for every route with a destination prefix (not default)."""
    routes = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] in ('default', 'broadcast', 'local', 'unreachable', 'blackhole', 'prohibit'):
            continue
        try:
            prefix = ipaddress.ip_network(parts[0], strict=False)
        except ValueError:
            continue
        dev = parts[parts.index('dev') + 1] if 'dev' in parts[:-1] else None
        routes.append({'prefix': str(prefix), 'dev': dev, 'line': ' '.join(parts)})
    return routes


def parse_tagged(text, tag):
    """Lines ``TAG field...`` -> lists of fields."""
    return [line.split()[1:] for line in text.splitlines() if line.split()[:1] == [tag]]


def section(text, name):
    """The lines between ``=== name`` and the next ``===`` marker."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith('=== '):
            inside = line[4:].strip() == name
        elif inside:
            out.append(line)
    return '\n'.join(out)


# --- matrices -----------------------------------------------------------------------------------

def empty_matrix(names):
    return {s: {d: ('-' if s == d else 'skip') for d in names} for s in names}


def diagnose_matrix(matrix, down=()):
    """Which failures a node x node matrix (cells 'ok' / 'FAIL' / other) puts on one node.

    A node whose every cell fails in its column (nobody reaches it), its row (it reaches nobody)
    or both is named once; pairs that no node explains are listed as pairs. Nodes known to be
    down are causes of their own and explain every failure that involves them. A whole row or
    column needs two peers at least: with one, a pair is all we can say.
    Returns {'isolated': [...], 'inbound': [...], 'outbound': [...], 'pairs': [(src, dst)]}.
    """
    names = list(matrix)
    down = set(down)
    failed = {(s, d) for s in names for d in names if matrix[s][d] == 'FAIL'}
    tested = {(s, d) for s in names for d in names if matrix[s][d] in ('ok', 'FAIL') or str(matrix[s][d]).isdigit()}

    def whole(cells):
        cells = [c for c in cells if c in tested and not (set(c) & down)]
        return len(cells) >= 2 and all(c in failed for c in cells)

    isolated, inbound, outbound = [], [], []
    for node in names:
        if node in down:
            continue
        col = whole([(s, node) for s in names if s != node])
        row = whole([(node, d) for d in names if d != node])
        if col and row:
            isolated.append(node)
        elif col:
            inbound.append(node)
        elif row:
            outbound.append(node)
    explained = set(isolated) | down
    pairs = [(s, d) for s in names for d in names if (s, d) in failed
             and not ({s, d} & explained) and d not in inbound and s not in outbound]
    return {'isolated': isolated, 'inbound': inbound, 'outbound': outbound, 'pairs': pairs}


def render_matrix(matrix, title):
    """A node x node matrix as aligned text lines: the title, then rows (sources) by columns (destinations)."""
    names = list(matrix)
    width = max([len(n) for n in names] + [len(str(c)) for row in matrix.values() for c in row.values()] + [4]) + 2
    lines = [title + ' (row -> column)', ''.ljust(width) + ''.join(n.ljust(width) for n in names)]
    for s in names:
        lines.append(s.ljust(width) + ''.join(str(matrix[s][d]).ljust(width) for d in names))
    return [line.rstrip() for line in lines]


def matrix_status(matrix):
    cells = [c for row in matrix.values() for c in row.values()]
    if any(c == 'FAIL' or str(c).isdigit() for c in cells):
        return 'failed'
    if any(c == 'ok' for c in cells):
        return 'ok'
    return 'skipped'


# --- MTU ----------------------------------------------------------------------------------------

def overlay_mtu(network):
    """The MTU of an overlay network: its driver option, or Docker's default."""
    value = (network.get('Options') or {}).get(MTU_OPTION)
    try:
        return int(value) if value else DEFAULT_OVERLAY_MTU
    except ValueError:
        return DEFAULT_OVERLAY_MTU


def mtu_room(underlay_mtu):
    """The largest overlay MTU an underlay link of ``underlay_mtu`` carries without fragments."""
    return underlay_mtu - VXLAN_OVERHEAD


def mtu_config_findings(overlays, underlays):
    """overlays: {name: mtu}; underlays: {node: (interface, mtu)} -> findings where the overlay does not fit."""
    found = []
    for node, (interface, underlay) in sorted(underlays.items()):
        too_big = sorted((mtu, name) for name, mtu in overlays.items() if mtu > mtu_room(underlay))
        if too_big:
            mtu, name = too_big[-1]
            others = len(too_big) - 1
            found.append(finding('mtu_config', node=node, network=name + (' (and %d more)' % others if others else ''),
                                 mtu=mtu, interface=interface, underlay=underlay, overhead=VXLAN_OVERHEAD,
                                 room=mtu_room(underlay), option=MTU_OPTION))
    return found


# --- addresses ----------------------------------------------------------------------------------

def bridge_devices(networks):
    """The Linux bridges behind a node's bridge networks (their routes are the networks themselves)."""
    devices = set()
    for network in networks:
        if network.get('Driver') == 'bridge':
            devices.add((network.get('Options') or {}).get('com.docker.network.bridge.name')
                        or 'br-%s' % network['Id'][:12])
    return devices


def network_subnets(network):
    return [c['Subnet'] for c in ((network.get('IPAM') or {}).get('Config') or []) if c.get('Subnet')]


def find_overlaps(swarm_items, local_items):
    """Overlapping prefixes.

    swarm_items: [(label, prefix)] valid on every node (overlays). local_items: {node: [(label, prefix)]}
    (a node's bridge networks, docker_gwbridge, macvlan networks, its own routes). Overlays are
    compared with each other and with every node's items; a node's items with each other are not
    (Docker refuses overlapping local networks itself; a bridge's route is the bridge).
    Returns [(where, first, second)], first always a swarm item.
    """
    def parsed(items):
        out = []
        for label, prefix in items:
            try:
                out.append((label, ipaddress.ip_network(prefix, strict=False)))
            except ValueError:
                continue
        return out

    overlaps = []
    swarm = parsed(swarm_items)
    for i, (label_a, net_a) in enumerate(swarm):
        for label_b, net_b in swarm[i + 1:]:
            if net_a.version == net_b.version and net_a.overlaps(net_b):
                overlaps.append(('swarm', label_a, label_b))
    for node in sorted(local_items):
        for label_a, net_a in swarm:
            for label_b, net_b in parsed(local_items[node]):
                if net_a.version == net_b.version and net_a.overlaps(net_b):
                    overlaps.append((node, label_a, label_b))
    return overlaps


def overlap_findings(overlaps):
    found = []
    for where, first, second in overlaps:
        movable = first.split(' ')[1] if first.startswith('overlay ') else first
        found.append(finding('subnet_overlap', where=where, first=first, second=second, movable='overlay %s' % movable,
                             node=None if where == 'swarm' else where))
    return found


# --- clocks -------------------------------------------------------------------------------------

def parse_docker_time(text):
    """Docker's SystemTime (RFC 3339 with nanoseconds) -> seconds since the epoch."""
    text = text.strip()
    zone = '+00:00'
    if text.endswith('Z'):
        text = text[:-1]
    elif len(text) > 6 and text[-6] in '+-' and text[-3] == ':':
        text, zone = text[:-6], text[-6:]
    if '.' in text:
        whole, fraction = text.split('.', 1)
        text = '%s.%s' % (whole, (fraction + '000000')[:6])
    else:
        text += '.000000'
    stamp = datetime.datetime.strptime(text + zone.replace(':', ''), '%Y-%m-%dT%H:%M:%S.%f%z')
    return stamp.timestamp()


def clock_findings(offsets, manager, limit):
    """offsets: {node: seconds its clock is ahead of ours}; the manager's is the reference."""
    found = []
    if manager not in offsets:
        return found
    for node, offset in sorted(offsets.items()):
        skew = abs(offset - offsets[manager])
        if node == manager:
            continue
        if skew > limit:
            found.append(finding('clock_skew', node=node, manager=manager, skew=skew, limit=limit))
        elif skew > max(limit / 60.0, 5):
            found.append(finding('clock_drift', node=node, manager=manager, skew=skew))
    return found


# --- quorum -------------------------------------------------------------------------------------

def quorum_finding(managers):
    """managers: {name: reachability} from the node listing -> a no_quorum finding or None."""
    total = len(managers)
    reachable = sum(1 for r in managers.values() if r == 'reachable')
    needed = total // 2 + 1
    if total and reachable < needed:
        return finding('no_quorum', reachable=reachable, total=total, needed=needed, detail='')
    return None


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


# --- the probe scripts --------------------------------------------------------------------------

def host_script(tcp_targets, wait_seconds):
    """Runs in a node's host network namespace: links, addresses, routes, then TCP connects.

    tcp_targets: [(label, address, port)]. ``nc -e true`` exits 0 once connected, 1 otherwise.
    """
    lines = ['echo "=== links"; ip -o link', 'echo "=== addresses"; ip -o addr',
             'echo "=== routes"; ip route; ip -6 route 2>/dev/null', 'echo "=== tcp"']
    for label, address, port in tcp_targets:
        lines.append('( nc -w %d %s %d -e true </dev/null >/dev/null 2>&1 && echo "TCP %s %d 1" || echo "TCP %s %d 0" ) &'
                     % (wait_seconds, shlex.quote(address), port, label, port, label, port))
    lines.append('wait')
    return '\n'.join(lines)


def overlay_script(peers, mtu, deadline_seconds):
    """Runs in a probe on the temporary overlay: per peer, small pings until one passes or the
    deadline (gossip needs a moment to tell every node where a new container lives), then one
    packet filling the overlay MTU and, if that is lost, a search for the largest that passes.
    Prints ``PING <label> <1|0> <largest payload passing or 0>``. busybox ping cannot set DF:
    packets up to the overlay MTU are not fragmented by the probe, and a lost one means the
    underlay dropped the VXLAN packet; an underlay that fragments them passes them (see mtu_config).
    """
    full = mtu - ICMP_OVERHEAD
    lines = ['probe() {', '  label="$1"; addr="$2"; end=$(( $(date +%s) + {0} )); ok=0'.replace('{0}', str(deadline_seconds)),
             '  while [ "$(date +%s)" -lt "$end" ]; do ping -c 1 -W 1 "$addr" >/dev/null 2>&1 && { ok=1; break; }; done',
             '  if [ "$ok" = 0 ]; then echo "PING $label 0 0"; return; fi',
             '  for try in 1 2; do ping -c 1 -W 1 -s %d "$addr" >/dev/null 2>&1 && { echo "PING $label 1 %d"; return; }; done'
             % (full, full),
             '  lo=56; hi=%d' % full,
             '  while [ $((hi - lo)) -gt 1 ]; do mid=$(( (lo + hi) / 2 ));',
             '    if ping -c 1 -W 1 -s "$mid" "$addr" >/dev/null 2>&1 || ping -c 1 -W 1 -s "$mid" "$addr" >/dev/null 2>&1;'
             ' then lo=$mid; else hi=$mid; fi; done',
             '  echo "PING $label 1 $lo"', '}']
    for label, address in peers:
        lines.append('probe %s %s &' % (shlex.quote(label), shlex.quote(address)))
    lines.append('wait')
    return '\n'.join(lines)


# --- the engine ---------------------------------------------------------------------------------

def normalise_nodes(nodes):
    names, seen = [], set()
    for index, node in enumerate(nodes or []):
        name = str(node.get('name') or '').strip()
        if not name or any(c.isspace() for c in name):
            raise FabricError('nodes[%d]: name must be one word (the node\'s hostname as the swarm knows it), got %r.'
                              % (index, node.get('name')))
        if name in seen:
            raise FabricError('nodes[%d]: %s is listed twice; give each node once.' % (index, name))
        if not node.get('docker_host'):
            raise FabricError('nodes[%d] (%s): give docker_host, the address of that node\'s own daemon.' % (index, name))
        seen.add(name)
        names.append(dict(node, name=name))
    if not names:
        raise FabricError('nodes: list the swarm\'s nodes, each with its name and docker_host.')
    return names


class Doctor:
    """One run of the doctor over ``nodes``; ``run()`` returns the result dict."""

    def __init__(self, params, check_mode):
        self.params = params
        self.check_mode = check_mode
        self.nodes = normalise_nodes(params['nodes'])
        self.names = [n['name'] for n in self.nodes]
        self.checks_wanted = set(params.get('checks') or CHECKS)
        self.wait = int(params.get('wait', 2))
        if self.wait < 1:
            raise FabricError('wait: give a whole number of seconds of at least 1, got %s.' % params.get('wait'))
        self.limit = int(params.get('max_clock_skew', CERT_BACKDATE))
        if self.limit < 1:
            raise FabricError('max_clock_skew: give a number of seconds of at least 1, got %s.' % params.get('max_clock_skew'))
        self.image = params['image']
        self.run_id = uuid.uuid4().hex[:10]
        self.findings = []
        self.checks = {}
        self.clients = {}
        self.infos = {}
        self.offsets = {}
        self.swarm_nodes = {}
        self.down = set()
        self.manager = None
        self.host_outputs = {}

    # -- connections and the swarm's view --

    def connect_all(self):
        def one(node):
            params = dict(self.params, docker_host=node['docker_host'])
            if node.get('tls_hostname'):
                params['tls_hostname'] = node['tls_hostname']
            try:
                client = connect(params)
                before = time.time()
                info = client.api.info()
                after = time.time()
                return node['name'], client, info, (before + after) / 2, None
            except FabricError as exc:
                return node['name'], None, None, None, exc.msg
            except (APIError, OSError) as exc:
                return node['name'], None, None, None, str(exc)

        for name, client, info, local_time, error in self.parallel(one, self.nodes):
            node = self.node(name)
            if client is None:
                self.down.add(name)
                self.add('node_unreachable', node=name, docker_host=node['docker_host'], error=error.rstrip('.'))
                continue
            self.clients[name], self.infos[name] = client, info
            try:
                self.offsets[name] = parse_docker_time(info['SystemTime']) - local_time
            except (KeyError, ValueError):
                pass

    def find_manager(self):
        for name in self.names:
            swarm = (self.infos.get(name) or {}).get('Swarm') or {}
            if swarm.get('LocalNodeState') == 'active' and swarm.get('ControlAvailable'):
                self.manager = name
                return
        self.add('no_manager')

    def read_swarm(self):
        client = self.clients[self.manager]
        try:
            listing = client.call('Listing the swarm\'s nodes', client.api.nodes)
        except FabricError as exc:
            if 'leader' in exc.msg or 'quorum' in exc.msg:
                swarm = self.infos[self.manager]['Swarm']
                managers = {m.get('NodeID') for m in swarm.get('RemoteManagers') or []}
                answering = {(i.get('Swarm') or {}).get('NodeID') for i in self.infos.values()}
                total = len(managers) or swarm.get('Managers') or 0
                self.add('no_quorum', reachable=len(managers & answering), total=total, needed=total // 2 + 1,
                         detail=' (the manager %s answers: %s)' % (self.manager, exc.msg.split('answered: ')[-1]))
                return False
            raise
        swarm_info = client.call('Reading the swarm', client.api.inspect_swarm)
        self.data_path_port = swarm_info.get('DataPathPort') or DATA_PATH_PORT
        managers = {}
        for entry in listing:
            hostname = entry['Description']['Hostname']
            status = entry.get('Status') or {}
            manager = entry.get('ManagerStatus')
            self.swarm_nodes[hostname] = {
                'id': entry['ID'], 'role': entry['Spec'].get('Role'), 'availability': entry['Spec'].get('Availability'),
                'state': status.get('State'), 'message': status.get('Message') or '', 'address': status.get('Addr'),
                'reachability': (manager or {}).get('Reachability'), 'leader': bool((manager or {}).get('Leader')),
                'manager_addr': (manager or {}).get('Addr'),
            }
            if manager:
                managers[hostname] = manager.get('Reachability')
        cluster = (self.infos[self.manager]['Swarm'].get('Cluster') or {}).get('ID')
        for name in self.names:
            node = self.node(name)
            info_swarm = (self.infos.get(name) or {}).get('Swarm') or {}
            known = self.swarm_nodes.get(name)
            if name in self.infos and info_swarm.get('LocalNodeState') != 'active':
                self.add('node_not_in_swarm', node=name, state=info_swarm.get('LocalNodeState') or 'unknown')
                self.down.add(name)
                continue
            if name in self.infos and cluster and (info_swarm.get('Cluster') or {}).get('ID') not in (None, cluster):
                self.add('node_other_swarm', node=name, cluster=info_swarm['Cluster']['ID'][:12], manager=self.manager)
                self.down.add(name)
                continue
            if known is None:
                self.add('node_not_in_swarm', node=name, state='not in the manager\'s node list')
                self.down.add(name)
                continue
            node['address'] = node.get('address') or known['address']
        for hostname, known in sorted(self.swarm_nodes.items()):
            if known['state'] != 'ready':
                self.down.add(hostname)
                self.add('node_down', node=hostname, state=known['state'], role=known['role'],
                         message=': %s' % known['message'] if known['message'] else '', swarm_port=SWARM_PORT)
            if known['availability'] != 'active':
                self.add('node_drained', node=hostname, availability=known['availability'])
            if known['reachability'] not in (None, 'reachable') and known['state'] == 'ready':
                self.add('manager_unreachable', node=hostname, reachability=known['reachability'], swarm_port=SWARM_PORT)
        quorum = quorum_finding(managers)
        if quorum:
            self.findings.append(quorum)
        return True

    # -- checks --

    def check_nodes(self):
        rows = []
        for name in sorted(set(self.names) | set(self.swarm_nodes)):
            known = self.swarm_nodes.get(name, {})
            rows.append({'name': name, 'listed': name in self.names, 'answers': name in self.clients,
                         'role': known.get('role'), 'state': known.get('state'), 'availability': known.get('availability'),
                         'reachability': known.get('reachability'), 'leader': known.get('leader', False),
                         'address': known.get('address')})
        errors = [f for f in self.findings if f['check'] == 'nodes' and f['severity'] == 'error']
        self.checks['nodes'] = {'status': 'failed' if errors else 'ok', 'nodes': rows}

    def live(self):
        """Nodes the probes can run on: listed, answering, active in this swarm."""
        return [n for n in self.names if n in self.clients and n not in self.down]

    def run_host_probes(self):
        managers = {n: k for n, k in self.swarm_nodes.items() if k['role'] == 'manager'}
        live = self.live()

        def one(name):
            targets = []
            for manager, known in sorted(managers.items()):
                if manager != name and known.get('manager_addr'):
                    host, _sep, port = known['manager_addr'].rpartition(':')
                    targets.append(('manager:%s' % manager, host, int(port or SWARM_PORT)))
            for other in self.names:
                address = self.node(other).get('address')
                if other != name and address:
                    targets.append(('gossip:%s' % other, address, GOSSIP_PORT))
            return name, self.run_container(name, host_script(targets, self.wait), network_mode='host')

        for name, output in self.parallel(one, live):
            self.host_outputs[name] = output

    def check_control_plane(self):
        names = self.names
        gossip, swarm_port = empty_matrix(names), empty_matrix(names)
        managers = [n for n, k in self.swarm_nodes.items() if k['role'] == 'manager']
        for source, output in self.host_outputs.items():
            for label, _port, ok in parse_tagged(section(output, 'tcp'), 'TCP'):
                kind, _sep, target = label.partition(':')
                matrix = gossip if kind == 'gossip' else swarm_port
                if target in matrix[source]:
                    matrix[source][target] = 'ok' if ok == '1' else 'FAIL'
        for source in names:
            for target in names:
                if source != target and target not in managers:
                    swarm_port[source][target] = '-' if swarm_port[source][target] == 'skip' else swarm_port[source][target]
        self.report_matrix('gossip', gossip, GOSSIP_PORT, ('gossip_isolated', 'gossip_blocked_at', 'gossip_blocked_from', 'gossip_pair'))
        self.report_matrix('swarm_port', swarm_port, SWARM_PORT,
                           (None, 'swarm_port_blocked_at', 'swarm_port_blocked_from', 'swarm_port_pair'))
        status = 'failed' if 'failed' in (matrix_status(gossip), matrix_status(swarm_port)) else matrix_status(gossip)
        self.checks['control_plane'] = {'status': status, 'matrix': {'gossip_%d_tcp' % GOSSIP_PORT: gossip,
                                                                     'manager_%d_tcp' % SWARM_PORT: swarm_port},
                                        'note': '7946/udp is not probed: a TCP probe cannot tell a dropped UDP datagram'}

    def report_matrix(self, _what, matrix, port, codes):
        isolated_code, inbound_code, outbound_code, pair_code = codes
        diagnosis = diagnose_matrix(matrix, down=self.down)
        for node in diagnosis['isolated']:
            if isolated_code:
                self.add(isolated_code, node=node, port=port, address=self.node(node).get('address') if node in self.names else '?')
            else:
                diagnosis['inbound'].append(node)
        for node in diagnosis['inbound']:
            peers = sorted(s for s in matrix if matrix[s][node] == 'FAIL')
            self.add(inbound_code, node=node, port=port, peers=', '.join(peers),
                     address=self.node(node).get('address') if node in self.names else '?')
        for node in diagnosis['outbound']:
            self.add(outbound_code, node=node, port=port)
        for source, target in diagnosis['pairs']:
            self.add(pair_code, source=source, target=target, port=port,
                     address=self.node(target).get('address') if target in self.names else '?')

    def data_path(self):
        """The temporary overlay and a probe per node: reachability and the MTU carried."""
        names = self.names
        reach, carried = empty_matrix(names), empty_matrix(names)
        manager = self.clients[self.manager]
        name = 'docknet-doctor-%s' % self.run_id
        labels = {DOCTOR_LABEL: self.run_id}
        containers = {}
        network = None
        mtu = DEFAULT_OVERLAY_MTU
        try:
            network = manager.call('Creating the temporary overlay %s' % name, manager.api.create_network,
                                   name, driver='overlay', attachable=True, labels=labels)
            mtu = overlay_mtu(manager.api.inspect_network(network['Id']))

            def start(node):
                client = self.clients[node]
                try:
                    container = client.call(
                        'Creating the probe on %s' % name, client.api.create_container, self.image,
                        command=['sleep', '600'], name='%s-%s' % (name, node), labels=labels,
                        host_config=client.api.create_host_config(network_mode=name),
                        networking_config=client.api.create_networking_config({name: client.api.create_endpoint_config()}))
                    containers[node] = container['Id']
                    client.call('Starting the probe on %s' % name, client.api.start, container['Id'])
                    inspected = client.api.inspect_container(container['Id'])
                    return node, inspected['NetworkSettings']['Networks'][name]['IPAddress'], None
                except (FabricError, APIError, KeyError) as exc:
                    return node, None, getattr(exc, 'msg', str(exc))

            addresses = {}
            for node, address, error in self.parallel(start, self.live()):
                if address:
                    addresses[node] = address
                else:
                    self.add('probe_failed', node=node, error=error, image=self.image)

            def probe(node):
                peers = [(other, addr) for other, addr in sorted(addresses.items()) if other != node]
                return node, self.exec_script(node, containers[node], overlay_script(peers, mtu, 10 + 2 * self.wait))

            for node, output in self.parallel(probe, list(addresses)):
                for target, passed, largest in parse_tagged(output, 'PING'):
                    if target not in reach[node]:
                        continue
                    reach[node][target] = 'ok' if passed == '1' else 'FAIL'
                    if passed == '1':
                        size = int(largest) + ICMP_OVERHEAD
                        carried[node][target] = 'ok' if size >= mtu else size
        finally:
            self.cleanup(name, containers, network)
        return reach, carried, mtu

    def cleanup(self, name, containers, network):
        for node, container_id in containers.items():
            try:
                self.clients[node].api.remove_container(container_id, force=True)
            except Exception as exc:  # pylint: disable=broad-except  # cleanup must go on; reported as a finding
                self.add('cleanup_failed', error='container %s-%s: %s' % (name, node, exc), label=DOCTOR_LABEL, run=self.run_id)
        if network is None:
            return
        manager = self.clients[self.manager]
        deadline = time.time() + 30
        while True:
            try:
                manager.api.remove_network(network['Id'])
                return
            except APIError as exc:
                if 'not found' in str(exc).lower():
                    return
                if time.time() > deadline:
                    self.add('cleanup_failed', error='network %s: %s' % (name, exc), label=DOCTOR_LABEL, run=self.run_id)
                    return
                time.sleep(0.5)   # the probes' endpoints leave the network asynchronously

    def check_data_path_and_mtu(self):
        reach, carried, mtu = self.data_path()
        self.report_matrix('vxlan', reach, self.data_path_port,
                           ('vxlan_isolated', 'vxlan_blocked_at', 'vxlan_blocked_from', 'vxlan_pair'))
        self.checks['data_path'] = {'status': matrix_status(reach), 'matrix': {'icmp_over_overlay': reach}}
        if 'mtu' in self.checks_wanted:
            fails = {s: {d: ('FAIL' if isinstance(c, int) else c) for d, c in row.items()} for s, row in carried.items()}
            diagnosis = diagnose_matrix(fails, down=self.down)

            def largest(cells):
                sizes = [c for c in cells if isinstance(c, int)]
                return min(sizes) if sizes else mtu

            for node in diagnosis['isolated'] + diagnosis['inbound'] + diagnosis['outbound']:
                cells = [carried[s][node] for s in carried] + [carried[node][d] for d in carried[node]]
                self.add('mtu_isolated', node=node, largest=largest(cells), mtu=mtu, option=MTU_OPTION)
            for source, target in diagnosis['pairs']:
                self.add('mtu_pair', source=source, target=target, largest=carried[source][target], mtu=mtu, option=MTU_OPTION)
            self.checks['mtu']['matrix'] = {'largest_packet_carried': carried}
            self.checks['mtu']['probe_overlay_mtu'] = mtu
            if matrix_status(carried) == 'failed':
                self.checks['mtu']['status'] = 'failed'

    def check_mtu_config(self):
        """Every swarm overlay's MTU against each node's underlay link (the one with its swarm address)."""
        manager = self.clients[self.manager]
        overlays = {n['Name']: overlay_mtu(n) for n in manager.call('Listing networks', manager.api.networks)
                    if n.get('Driver') == 'overlay' and not (n.get('Labels') or {}).get(DOCTOR_LABEL)}
        underlays = {}
        for node, output in self.host_outputs.items():
            links = parse_links(section(output, 'links'))
            interface = parse_addresses(section(output, 'addresses')).get(self.node(node).get('address') or '')
            if interface in links:
                underlays[node] = (interface, links[interface])
        before = len(self.findings)
        self.findings.extend(mtu_config_findings(overlays, underlays))
        self.checks['mtu'] = {'status': 'failed' if len(self.findings) > before else 'ok',
                              'overlays': overlays, 'underlays': {n: {'interface': i, 'mtu': m} for n, (i, m) in underlays.items()},
                              'note': 'busybox ping cannot set DF; a path that fragments VXLAN packets passes the probe'}

    def check_addresses(self):
        manager = self.clients[self.manager]
        swarm_items = []
        for network in manager.call('Listing networks', manager.api.networks):
            if network.get('Scope') == 'swarm' and network.get('Driver') == 'overlay':
                swarm_items.extend(('overlay %s %s' % (network['Name'], subnet), subnet) for subnet in network_subnets(network))
        local_items = {}
        for node in self.live():
            client = self.clients[node]
            networks = client.call('Listing networks on %s' % node, client.api.networks)
            items = []
            for network in networks:
                if network.get('Scope') == 'local' and network.get('Driver') in ('bridge', 'macvlan', 'ipvlan'):
                    items.extend(('%s network %s %s' % (network['Driver'], network['Name'], subnet), subnet)
                                 for subnet in network_subnets(network))
            own = bridge_devices(networks)
            for route in parse_routes(section(self.host_outputs.get(node, ''), 'routes')):
                if route['dev'] not in own and not (route['dev'] or '').startswith(('veth', 'vx-', 'docker')):
                    items.append(('route %s' % route['line'], route['prefix']))
            local_items[node] = items
        before = len(self.findings)
        self.findings.extend(overlap_findings(find_overlaps(swarm_items, local_items)))
        self.checks['addresses'] = {'status': 'failed' if len(self.findings) > before else 'ok',
                                    'overlay_subnets': [p for _l, p in swarm_items],
                                    'note': None if self.host_outputs else 'routes not read (check mode)'}

    def check_clocks(self):
        before = len(self.findings)
        self.findings.extend(clock_findings(self.offsets, self.manager, self.limit))
        skews = {n: round(o - self.offsets[self.manager], 3) for n, o in self.offsets.items()} if self.manager in self.offsets else {}
        errors = [f for f in self.findings[before:] if f['severity'] == 'error']
        self.checks['clocks'] = {'status': 'failed' if errors else 'ok', 'skew_seconds': skews, 'limit': self.limit}

    # -- the run --

    def run(self):
        self.connect_all()
        if self.clients:
            self.find_manager()
        elif not any(f['code'] == 'no_manager' for f in self.findings):
            self.add('no_manager')
        if self.manager and self.read_swarm():
            self.data_path_port = getattr(self, 'data_path_port', DATA_PATH_PORT)
            self.check_nodes()
            probing = not self.check_mode and self.checks_wanted & {'control_plane', 'mtu', 'addresses'}
            if probing:
                self.run_host_probes()
            if 'control_plane' in self.checks_wanted:
                if self.check_mode:
                    self.checks['control_plane'] = {'status': 'skipped', 'note': 'check mode runs no container'}
                else:
                    self.check_control_plane()
            if 'mtu' in self.checks_wanted:
                self.check_mtu_config()
            if self.checks_wanted & {'data_path', 'mtu'}:
                if self.check_mode:
                    self.checks['data_path'] = {'status': 'skipped', 'note': 'check mode runs no container'}
                elif any(f.get('code') == 'no_quorum' for f in self.findings):
                    # Without a raft leader no overlay can be made: the quorum finding already says why.
                    self.checks['data_path'] = {'status': 'skipped', 'note': 'the managers have no quorum'}
                else:
                    self.check_data_path_and_mtu()
            if 'addresses' in self.checks_wanted:
                self.check_addresses()
            if 'clocks' in self.checks_wanted:
                self.check_clocks()
        else:
            self.checks['nodes'] = {'status': 'failed', 'nodes': []}
        return self.result()

    def result(self):
        errors = [f for f in self.findings if f['severity'] == 'error']
        matrices = {}
        for check, data in self.checks.items():
            for title, matrix in (data.get('matrix') or {}).items():
                matrices['%s %s' % (check, title)] = render_matrix(matrix, title)
        return {
            'changed': False,
            'healthy': not errors,
            'manager': self.manager,
            'run_id': self.run_id,
            'checks': self.checks,
            'findings': self.findings,
            'summary': summarise(self.checks, self.findings),
            'matrices': matrices,
        }

    # -- helpers --

    def node(self, name):
        return next((n for n in self.nodes if n['name'] == name), {'name': name})

    def add(self, code, **fields):
        self.findings.append(finding(code, **fields))

    @staticmethod
    def parallel(work, items):
        """``work(item)`` for every item in threads (each node has its own daemon); results in order."""
        results = [None] * len(items)
        errors = []

        def run(index, item):
            try:
                results[index] = work(item)
            except Exception as exc:  # pylint: disable=broad-except  # re-raised in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(items)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def run_container(self, node, script, network_mode):
        """A short-lived labelled container running ``script``; its output. Always removed."""
        client = self.clients[node]
        container = client.call(
            'Creating a probe container on %s' % node, client.api.create_container, self.image,
            command=['sh', '-c', script], name='docknet-doctor-%s-host-%s' % (self.run_id, node),
            labels={DOCTOR_LABEL: self.run_id}, host_config=client.api.create_host_config(network_mode=network_mode))
        try:
            client.call('Starting a probe container on %s' % node, client.api.start, container['Id'])
            client.call('Waiting for the probe on %s' % node, client.api.wait, container['Id'], timeout=120)
            return client.api.logs(container['Id'], stdout=True, stderr=False).decode('utf-8', 'replace')
        finally:
            try:
                client.api.remove_container(container['Id'], force=True)
            except APIError as exc:
                self.add('cleanup_failed', error='container on %s: %s' % (node, exc), label=DOCTOR_LABEL, run=self.run_id)

    def exec_script(self, node, container_id, script):
        client = self.clients[node]
        created = client.call('Running the overlay probe on %s' % node, client.api.exec_create, container_id, ['sh', '-c', script])
        return client.call('Running the overlay probe on %s' % node, client.api.exec_start, created['Id']).decode('utf-8', 'replace')


def run_doctor(params, check_mode):
    return Doctor(params, check_mode).run()
