# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric. The topology picture: a model from network_info results, rendered as Mermaid and Graphviz DOT.

Pure functions (tested by tables in tests/unit/plugins/module_utils/test__topology.py); the
filters in plugins/filter/topology.py expose them to playbooks/topology.yml.
"""

from __future__ import annotations

import re

SKIPPED_NETWORKS = ('none', 'host')


def _ident(*parts):
    return re.sub(r'[^A-Za-z0-9_]', '_', '_'.join(str(p) for p in parts))


def _subnets(network):
    return [c['subnet'] for c in network.get('ipam_config') or [] if c.get('subnet')]


_TASK_NAME = re.compile(r'^(?P<service>.+)\.(?P<slot>[0-9]+|[a-z0-9]{25})\.[a-z0-9]{25}$')


def short_name(container):
    """A swarm task container's name without its ids: web.1.<task id> -> web.1, edge.<node id>.<task id> -> edge."""
    match = _TASK_NAME.match(container)
    if not match:
        return container
    return '%s.%s' % (match.group('service'), match.group('slot')) if match.group('slot').isdigit() else match.group('service')


def build_model(hosts, matrix=None):
    """hosts: {node: [network_info network entries]} -> {nodes, networks, containers, services, edges, matrix}.

    Swarm-scoped networks appear once; local ones once per node. A container is drawn in its
    node with an edge to each network it is on, labelled with its address. Services come from a
    manager's entries (``services``), with an edge to each network they use. ``matrix`` is the
    hook for verify/policy results: [{source, target, ok, label?}], drawn as extra edges.
    """
    model = {'nodes': sorted(hosts), 'networks': {}, 'containers': {}, 'services': {}, 'edges': [], 'matrix': []}
    for node in sorted(hosts):
        for network in sorted(hosts[node] or [], key=lambda n: n['name']):
            if network['name'] in SKIPPED_NETWORKS or network.get('config_only'):
                continue
            swarm = network.get('scope') == 'swarm'
            net_id = _ident('net', network['name']) if swarm else _ident('net', node, network['name'])
            model['networks'].setdefault(net_id, {
                'name': network['name'], 'driver': network.get('driver'), 'subnets': _subnets(network),
                'node': None if swarm else node, 'internal': bool(network.get('internal'))})
            for container in network.get('containers') or []:
                cid = _ident('ctr', node, container['name'])
                model['containers'].setdefault(cid, {'name': short_name(container['name']), 'node': node})
                address = container.get('ipv4_address') or container.get('ipv6_address') or ''
                model['edges'].append({'from': cid, 'to': net_id, 'label': address.split('/')[0], 'style': 'solid'})
            for service in network.get('services') or []:
                sid = _ident('svc', service['name'])
                model['services'].setdefault(sid, {'name': service['name'], 'mode': service.get('endpoint_mode') or 'vip'})
                edge = {'from': sid, 'to': net_id, 'label': (service.get('virtual_ip') or service.get('endpoint_mode') or '').split('/')[0],
                        'style': 'dashed'}
                if edge not in model['edges']:
                    model['edges'].append(edge)
    for index, cell in enumerate(matrix or []):
        model['matrix'].append({'source': str(cell['source']), 'target': str(cell['target']), 'ok': bool(cell.get('ok')),
                                'label': str(cell.get('label') or ('reached' if cell.get('ok') else 'blocked')),
                                'id': 'm%d' % index})
    return model


def _network_label(network):
    details = ' '.join([network['driver'] or '?'] + network['subnets'] + (['internal'] if network['internal'] else []))
    return '%s<br/>%s' % (network['name'], details)


def _quote_mermaid(text):
    return '"%s"' % str(text).replace('"', '#quot;')


def to_mermaid(model):
    """A Mermaid flowchart (inside a fenced block, so Markdown renders it)."""
    lines = ['```mermaid', 'flowchart LR']
    swarm_networks = [(i, n) for i, n in sorted(model['networks'].items()) if n['node'] is None]
    if swarm_networks or model['services']:
        lines.append('  subgraph swarm["swarm"]')
        for sid, service in sorted(model['services'].items()):
            lines.append('    %s([%s])' % (sid, _quote_mermaid('service %s<br/>%s' % (service['name'], service['mode']))))
        for nid, network in swarm_networks:
            lines.append('    %s{{%s}}' % (nid, _quote_mermaid(_network_label(network))))
        lines.append('  end')
    for node in model['nodes']:
        lines.append('  subgraph %s[%s]' % (_ident('node', node), _quote_mermaid(node)))
        for nid, network in sorted(model['networks'].items()):
            if network['node'] == node:
                lines.append('    %s{{%s}}' % (nid, _quote_mermaid(_network_label(network))))
        for cid, container in sorted(model['containers'].items()):
            if container['node'] == node:
                lines.append('    %s[%s]' % (cid, _quote_mermaid(container['name'])))
        lines.append('  end')
    for edge in model['edges']:
        arrow = '-.-' if edge['style'] == 'dashed' else '---'
        label = '|%s|' % _quote_mermaid(edge['label']) if edge['label'] else ''
        lines.append('  %s %s%s %s' % (edge['from'], arrow, label, edge['to']))
    for cell in model['matrix']:
        src, dst = _ident('probe', cell['source']), _ident('probe', cell['target'])
        arrow = '-->' if cell['ok'] else '-.-x'
        lines.append('  %s[%s] %s|%s| %s[%s]' % (
            src, _quote_mermaid(cell['source']), arrow, _quote_mermaid(cell['label']), dst, _quote_mermaid(cell['target'])))
    lines.append('```')
    return '\n'.join(lines) + '\n'


def _quote_dot(text):
    return '"%s"' % str(text).replace('\\', '\\\\').replace('"', '\\"')


def to_dot(model):
    """A Graphviz digraph: one cluster per node, swarm networks and services outside them."""
    lines = ['digraph topology {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9, arrowhead=none];']
    for sid, service in sorted(model['services'].items()):
        lines.append('  %s [shape=component, label=%s];' % (sid, _quote_dot('service %s<br/>%s' % (service['name'], service['mode'])).replace('<br/>', '\\n')))
    for nid, network in sorted(model['networks'].items()):
        if network['node'] is None:
            lines.append('  %s [shape=hexagon, style=filled, fillcolor="#dde8ff", label=%s];'
                         % (nid, _quote_dot(_network_label(network)).replace('<br/>', '\\n')))
    for node in model['nodes']:
        lines.append('  subgraph %s {' % _ident('cluster', node))
        lines.append('    label=%s; style=rounded;' % _quote_dot(node))
        for nid, network in sorted(model['networks'].items()):
            if network['node'] == node:
                lines.append('    %s [shape=hexagon, label=%s];' % (nid, _quote_dot(_network_label(network)).replace('<br/>', '\\n')))
        for cid, container in sorted(model['containers'].items()):
            if container['node'] == node:
                lines.append('    %s [shape=box, label=%s];' % (cid, _quote_dot(container['name'])))
        lines.append('  }')
    for edge in model['edges']:
        style = ', style=dashed' if edge['style'] == 'dashed' else ''
        lines.append('  %s -> %s [label=%s%s];' % (edge['from'], edge['to'], _quote_dot(edge['label']), style))
    for cell in model['matrix']:
        lines.append('  %s -> %s [label=%s, arrowhead=normal, color=%s%s];' % (
            _quote_dot(cell['source']), _quote_dot(cell['target']), _quote_dot(cell['label']),
            'darkgreen' if cell['ok'] else 'red', '' if cell['ok'] else ', style=dotted'))
    lines.append('}')
    return '\n'.join(lines) + '\n'
