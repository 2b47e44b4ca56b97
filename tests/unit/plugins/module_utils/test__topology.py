# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology model and its Mermaid and DOT renderings, by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._topology import build_model, short_name, to_dot, to_mermaid

FRONTEND = {'name': 'frontend', 'driver': 'overlay', 'scope': 'swarm', 'ipam_config': [{'subnet': '10.0.1.0/24'}],
            'containers': [], 'services': [{'name': 'web', 'endpoint_mode': 'dnsrr', 'virtual_ip': None}]}
HOSTS = {
    'node1': [
        dict(FRONTEND, containers=[{'name': 'web.1.abc', 'ipv4_address': '10.0.1.5'}]),
        {'name': 'localnet', 'driver': 'bridge', 'scope': 'local', 'ipam_config': [{'subnet': '172.20.0.0/16'}],
         'containers': [{'name': 'edge.x', 'ipv4_address': '172.20.0.2'}]},
        {'name': 'host', 'driver': 'host', 'scope': 'local'},
        {'name': 'lan-node1', 'driver': 'null', 'scope': 'local', 'config_only': True},
    ],
    'node2': [dict(FRONTEND, services=[], containers=[{'name': 'web.2.def', 'ipv4_address': '10.0.1.6'}]),
              {'name': 'localnet', 'driver': 'bridge', 'scope': 'local', 'internal': True, 'containers': []}],
}


def test_model_shares_swarm_networks_and_keeps_local_ones_per_node():
    model = build_model(HOSTS)
    assert model['nodes'] == ['node1', 'node2']
    assert sorted(model['networks']) == ['net_frontend', 'net_node1_localnet', 'net_node2_localnet']
    assert model['networks']['net_frontend'] == {'name': 'frontend', 'driver': 'overlay', 'subnets': ['10.0.1.0/24'],
                                                 'node': None, 'internal': False}
    assert model['services'] == {'svc_web': {'name': 'web', 'mode': 'dnsrr'}}
    assert {'from': 'ctr_node2_web_2_def', 'to': 'net_frontend', 'label': '10.0.1.6', 'style': 'solid'} in model['edges']
    assert {'from': 'svc_web', 'to': 'net_frontend', 'label': 'dnsrr', 'style': 'dashed'} in model['edges']
    assert model['matrix'] == []


@pytest.mark.parametrize('cell, expected', [
    ({'source': 'node1 frontend', 'target': 'db:80', 'ok': False}, {'label': 'blocked', 'ok': False}),
    ({'source': 'node1 frontend', 'target': 'web:80', 'ok': True, 'label': 'reached'}, {'label': 'reached', 'ok': True}),
])
def test_matrix_hook(cell, expected):
    drawn = build_model(HOSTS, [cell])['matrix'][0]
    assert {k: drawn[k] for k in expected} == expected


def test_mermaid():
    text = to_mermaid(build_model(HOSTS, [{'source': 'node1', 'target': 'db', 'ok': False}]))
    lines = text.splitlines()
    assert lines[:2] == ['```mermaid', 'flowchart LR'] and lines[-1] == '```'
    assert '    net_frontend{{"frontend<br/>overlay 10.0.1.0/24"}}' in lines
    assert '    net_node2_localnet{{"localnet<br/>bridge internal"}}' in lines
    assert '    svc_web(["service web<br/>dnsrr"])' in lines
    assert '  ctr_node1_web_1_abc ---|"10.0.1.5"| net_frontend' in lines
    assert '  svc_web -.-|"dnsrr"| net_frontend' in lines
    assert '  probe_node1["node1"] -.-x|"blocked"| probe_db["db"]' in lines
    assert text.count('subgraph') == 3


def test_dot():
    text = to_dot(build_model(HOSTS, [{'source': 'a"b', 'target': 'c', 'ok': True}]))
    assert text.startswith('digraph topology {') and text.rstrip().endswith('}')
    assert 'subgraph cluster_node1 {' in text and 'subgraph cluster_node2 {' in text
    assert 'net_frontend [shape=hexagon, style=filled, fillcolor="#dde8ff", label="frontend\\noverlay 10.0.1.0/24"];' in text
    assert 'ctr_node1_edge_x -> net_node1_localnet [label="172.20.0.2"];' in text
    assert 'svc_web -> net_frontend [label="dnsrr", style=dashed];' in text
    assert '"a\\"b" -> "c" [label="reached", arrowhead=normal, color=darkgreen];' in text
    assert text.count('{') == text.count('}')


@pytest.mark.parametrize('name, short', [
    ('web.1.s4184gdhj8nciqwqgg2koo8na', 'web.1'),
    ('edge.cn7mw254xpum5y457y3dedpba.nlliv3l0aj6rjapnn05997ia2', 'edge'),
    ('my.app.12.s4184gdhj8nciqwqgg2koo8na', 'my.app.12'),
    ('plain', 'plain'),
    ('web.1', 'web.1'),
])
def test_short_name(name, short):
    assert short_name(name) == short
