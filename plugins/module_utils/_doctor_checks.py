# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm_doctor's checks, each turning what was read or probed into findings.

Each check takes the run's ``Survey`` (what is known so far, and where
findings go): ``read_swarm`` (the manager's node listing against the nodes
given), ``check_nodes``, ``check_control_plane``, ``check_data_path_and_mtu``,
``check_mtu_config``, ``check_addresses`` and ``check_clocks``. The diagnosis
itself is pure, in ``_doctor_diagnosis``.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_catalogue import (
    DATA_PATH_PORT, DOCTOR_LABEL, GOSSIP_PORT, MTU_OPTION, SWARM_PORT)
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_diagnosis import (
    bridge_devices, clock_findings, diagnose_matrix, empty_matrix, find_overlaps, matrix_status, mtu_config_findings,
    network_subnets, overlap_findings, overlay_mtu, parse_addresses, parse_links, parse_routes, parse_tagged,
    quorum_finding, section)
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_probes import OverlayProbe
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_nodes import node_view


# --- the swarm as the manager sees it --------------------------------------------------------------

def _no_quorum(survey, exc):
    swarm = survey.infos[survey.manager]['Swarm']
    managers = {m.get('NodeID') for m in swarm.get('RemoteManagers') or []}
    answering = {(i.get('Swarm') or {}).get('NodeID') for i in survey.infos.values()}
    total = len(managers) or swarm.get('Managers') or 0
    survey.add('no_quorum', reachable=len(managers & answering), total=total, needed=total // 2 + 1,
               detail=' (the manager %s answers: %s)' % (survey.manager, exc.msg.split('answered: ')[-1]))


def _known_node(entry):
    """The doctor's reading of a node listing entry (its address by ``_swarm_nodes.node_view``'s rule)."""
    view = node_view(entry)
    return {'id': view['id'], 'role': view['role'], 'availability': view['availability'], 'state': view['state'],
            'message': (entry.get('Status') or {}).get('Message') or '', 'address': view['addr'],
            'reachability': view['reachability'], 'leader': view['leader'], 'manager_addr': view['manager_addr']}


def _match_nodes(survey):
    """Each node given against the manager's listing: not in a swarm, in another one, or its address."""
    cluster = (survey.infos[survey.manager]['Swarm'].get('Cluster') or {}).get('ID')
    for name in survey.names:
        node = survey.node(name)
        info_swarm = (survey.infos.get(name) or {}).get('Swarm') or {}
        known = survey.swarm_nodes.get(name)
        if name in survey.infos and info_swarm.get('LocalNodeState') != 'active':
            survey.add('node_not_in_swarm', node=name, state=info_swarm.get('LocalNodeState') or 'unknown')
        elif name in survey.infos and cluster and (info_swarm.get('Cluster') or {}).get('ID') not in (None, cluster):
            survey.add('node_other_swarm', node=name, cluster=info_swarm['Cluster']['ID'][:12], manager=survey.manager)
        elif known is None:
            survey.add('node_not_in_swarm', node=name, state='not in the manager\'s node list')
        else:
            node['address'] = node.get('address') or known['address']
            continue
        survey.down.add(name)


def _node_states(survey):
    for hostname, known in sorted(survey.swarm_nodes.items()):
        if known['state'] != 'ready':
            survey.down.add(hostname)
            survey.add('node_down', node=hostname, state=known['state'], role=known['role'],
                       message=': %s' % known['message'] if known['message'] else '', swarm_port=SWARM_PORT)
        if known['availability'] != 'active':
            survey.add('node_drained', node=hostname, availability=known['availability'])
        if known['reachability'] not in (None, 'reachable') and known['state'] == 'ready':
            survey.add('manager_unreachable', node=hostname, reachability=known['reachability'], swarm_port=SWARM_PORT)


def read_swarm(survey):
    """The manager's node listing; False (with a no_quorum finding) when the swarm has no leader."""
    client = survey.clients[survey.manager]
    try:
        listing = client.call('Listing the swarm\'s nodes', client.api.nodes)
    except FabricError as exc:
        if 'leader' in exc.msg or 'quorum' in exc.msg:
            _no_quorum(survey, exc)
            return False
        raise
    swarm_info = client.call('Reading the swarm', client.api.inspect_swarm)
    survey.data_path_port = swarm_info.get('DataPathPort') or DATA_PATH_PORT
    managers = {}
    for entry in listing:
        hostname = entry['Description']['Hostname']
        survey.swarm_nodes[hostname] = _known_node(entry)
        if entry.get('ManagerStatus'):
            managers[hostname] = entry['ManagerStatus'].get('Reachability')
    _match_nodes(survey)
    _node_states(survey)
    quorum = quorum_finding(managers)
    if quorum:
        survey.findings.append(quorum)
    return True


def check_nodes(survey):
    rows = []
    for name in sorted(set(survey.names) | set(survey.swarm_nodes)):
        known = survey.swarm_nodes.get(name, {})
        rows.append({'name': name, 'listed': name in survey.names, 'answers': name in survey.clients,
                     'role': known.get('role'), 'state': known.get('state'), 'availability': known.get('availability'),
                     'reachability': known.get('reachability'), 'leader': known.get('leader', False),
                     'address': known.get('address')})
    errors = [f for f in survey.findings if f['check'] == 'nodes' and f['severity'] == 'error']
    survey.checks['nodes'] = {'status': 'failed' if errors else 'ok', 'nodes': rows}


# --- connectivity matrices -------------------------------------------------------------------------

def report_matrix(survey, matrix, port, codes):
    """Findings for a node x node matrix: a whole row or column names the node, otherwise the pair."""
    isolated_code, inbound_code, outbound_code, pair_code = codes
    diagnosis = diagnose_matrix(matrix, down=survey.down)

    def address(node):
        return survey.node(node).get('address') if node in survey.names else '?'

    for node in diagnosis['isolated']:
        if isolated_code:
            survey.add(isolated_code, node=node, port=port, address=address(node))
        else:
            diagnosis['inbound'].append(node)
    for node in diagnosis['inbound']:
        peers = sorted(s for s in matrix if matrix[s][node] == 'FAIL')
        survey.add(inbound_code, node=node, port=port, peers=', '.join(peers), address=address(node))
    for node in diagnosis['outbound']:
        survey.add(outbound_code, node=node, port=port)
    for source, target in diagnosis['pairs']:
        survey.add(pair_code, source=source, target=target, port=port, address=address(target))


def _tcp_matrices(survey):
    names = survey.names
    gossip, swarm_port = empty_matrix(names), empty_matrix(names)
    managers = [n for n, k in survey.swarm_nodes.items() if k['role'] == 'manager']
    for source, output in survey.host_outputs.items():
        for label, _port, ok in parse_tagged(section(output, 'tcp'), 'TCP'):
            kind, _sep, target = label.partition(':')
            matrix = gossip if kind == 'gossip' else swarm_port
            if target in matrix[source]:
                matrix[source][target] = 'ok' if ok == '1' else 'FAIL'
    for source in names:
        for target in names:
            if source != target and target not in managers and swarm_port[source][target] == 'skip':
                swarm_port[source][target] = '-'  # only managers listen on the swarm port
    return gossip, swarm_port


def check_control_plane(survey):
    gossip, swarm_port = _tcp_matrices(survey)
    report_matrix(survey, gossip, GOSSIP_PORT,
                  ('gossip_isolated', 'gossip_blocked_at', 'gossip_blocked_from', 'gossip_pair'))
    report_matrix(survey, swarm_port, SWARM_PORT,
                  (None, 'swarm_port_blocked_at', 'swarm_port_blocked_from', 'swarm_port_pair'))
    status = 'failed' if 'failed' in (matrix_status(gossip), matrix_status(swarm_port)) else matrix_status(gossip)
    survey.checks['control_plane'] = {'status': status, 'matrix': {'gossip_%d_tcp' % GOSSIP_PORT: gossip,
                                                                   'manager_%d_tcp' % SWARM_PORT: swarm_port},
                                      'note': '7946/udp is not probed: a TCP probe cannot tell a dropped UDP datagram'}


def _mtu_findings(survey, carried, mtu):
    fails = {s: {d: ('FAIL' if isinstance(c, int) else c) for d, c in row.items()} for s, row in carried.items()}
    diagnosis = diagnose_matrix(fails, down=survey.down)

    def largest(cells):
        sizes = [c for c in cells if isinstance(c, int)]
        return min(sizes) if sizes else mtu

    for node in diagnosis['isolated'] + diagnosis['inbound'] + diagnosis['outbound']:
        cells = [carried[s][node] for s in carried] + [carried[node][d] for d in carried[node]]
        survey.add('mtu_isolated', node=node, largest=largest(cells), mtu=mtu, option=MTU_OPTION)
    for source, target in diagnosis['pairs']:
        survey.add('mtu_pair', source=source, target=target, largest=carried[source][target], mtu=mtu,
                   option=MTU_OPTION)


def check_data_path_and_mtu(survey):
    reach, carried, mtu = OverlayProbe(survey).run()
    report_matrix(survey, reach, survey.data_path_port,
                  ('vxlan_isolated', 'vxlan_blocked_at', 'vxlan_blocked_from', 'vxlan_pair'))
    survey.checks['data_path'] = {'status': matrix_status(reach), 'matrix': {'icmp_over_overlay': reach}}
    if 'mtu' in survey.checks_wanted:
        _mtu_findings(survey, carried, mtu)
        survey.checks['mtu']['matrix'] = {'largest_packet_carried': carried}
        survey.checks['mtu']['probe_overlay_mtu'] = mtu
        if matrix_status(carried) == 'failed':
            survey.checks['mtu']['status'] = 'failed'


# --- configuration ---------------------------------------------------------------------------------

def check_mtu_config(survey):
    """Every swarm overlay's MTU against each node's underlay link (the one with its swarm address)."""
    manager = survey.clients[survey.manager]
    overlays = {n['Name']: overlay_mtu(n) for n in manager.call('Listing networks', manager.api.networks)
                if n.get('Driver') == 'overlay' and not (n.get('Labels') or {}).get(DOCTOR_LABEL)}
    underlays = {}
    for node, output in survey.host_outputs.items():
        links = parse_links(section(output, 'links'))
        interface = parse_addresses(section(output, 'addresses')).get(survey.node(node).get('address') or '')
        if interface in links:
            underlays[node] = (interface, links[interface])
    before = len(survey.findings)
    survey.findings.extend(mtu_config_findings(overlays, underlays))
    survey.checks['mtu'] = {'status': 'failed' if len(survey.findings) > before else 'ok', 'overlays': overlays,
                            'underlays': {n: {'interface': i, 'mtu': m} for n, (i, m) in underlays.items()},
                            'note': 'busybox ping cannot set DF; a path that fragments VXLAN packets passes the probe'}


def _local_items(survey, node):
    """A node's own address space: its local bridge/macvlan networks and its routes outside Docker."""
    client = survey.clients[node]
    networks = client.call('Listing networks on %s' % node, client.api.networks)
    items = []
    for network in networks:
        if network.get('Scope') == 'local' and network.get('Driver') in ('bridge', 'macvlan', 'ipvlan'):
            items.extend(('%s network %s %s' % (network['Driver'], network['Name'], subnet), subnet)
                         for subnet in network_subnets(network))
    own = bridge_devices(networks)
    for route in parse_routes(section(survey.host_outputs.get(node, ''), 'routes')):
        if route['dev'] not in own and not (route['dev'] or '').startswith(('veth', 'vx-', 'docker')):
            items.append(('route %s' % route['line'], route['prefix']))
    return items


def check_addresses(survey):
    manager = survey.clients[survey.manager]
    swarm_items = []
    for network in manager.call('Listing networks', manager.api.networks):
        if network.get('Scope') == 'swarm' and network.get('Driver') == 'overlay':
            swarm_items.extend(('overlay %s %s' % (network['Name'], subnet), subnet)
                               for subnet in network_subnets(network))
    local_items = {node: _local_items(survey, node) for node in survey.live()}
    before = len(survey.findings)
    survey.findings.extend(overlap_findings(find_overlaps(swarm_items, local_items)))
    survey.checks['addresses'] = {'status': 'failed' if len(survey.findings) > before else 'ok',
                                  'overlay_subnets': [p for _l, p in swarm_items],
                                  'note': None if survey.host_outputs else 'routes not read (check mode)'}


def check_clocks(survey):
    before = len(survey.findings)
    survey.findings.extend(clock_findings(survey.offsets, survey.manager, survey.limit))
    skews = ({n: round(o - survey.offsets[survey.manager], 3) for n, o in survey.offsets.items()}
             if survey.manager in survey.offsets else {})
    errors = [f for f in survey.findings[before:] if f['severity'] == 'error']
    survey.checks['clocks'] = {'status': 'failed' if errors else 'ok', 'skew_seconds': skews, 'limit': survey.limit}
