# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_doctor's pure diagnosis, tested by tables.

Parsing what the probes print (links, addresses, routes, tagged lines), the
node x node matrices and their diagnosis (a whole row or column names the
node), overlay MTU against the underlay, subnet overlaps, clock skew, the
quorum, the probe scripts themselves and the check of the ``nodes`` option.
Nothing here calls Docker.
"""

from __future__ import annotations

import datetime
import ipaddress
import shlex

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_catalogue import (
    DEFAULT_OVERLAY_MTU, ICMP_OVERHEAD, MTU_OPTION, VXLAN_OVERHEAD, finding)


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


# --- the nodes option ---------------------------------------------------------------------------

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
