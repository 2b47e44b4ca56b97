# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_doctor's pure parts, by tables: parsing, matrices, diagnosis, MTU, overlaps, clocks, messages."""

from __future__ import annotations

import string

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import _doctor as d
from ansible_collections.docknet.fabric.plugins.module_utils import _doctor_catalogue as cat
from ansible_collections.docknet.fabric.plugins.module_utils import _doctor_diagnosis as diag
from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

LINKS = '''1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000\\    link/loopback 00:00:00:00:00:00
2: eth0@if41: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1400 qdisc noqueue qlen 1000\\    link/ether 1a:2b
5: docker_gwbridge: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue\\    link/ether 02:42
'''
ADDRS = '''1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.18.1.12/24 brd 198.18.1.255 scope global eth0\\       valid_lft forever
2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever
'''
ROUTES = '''default via 198.18.1.1 dev eth0
198.18.1.0/24 dev eth0 scope link  src 198.18.1.12
10.0.9.0/25 via 198.18.1.1 dev eth0
172.18.0.0/16 dev docker_gwbridge scope link  src 172.18.0.1
fe80::/64 dev eth0 metric 256
unreachable 10.66.0.0/16
'''


def test_parse_links_addresses_routes():
    assert diag.parse_links(LINKS) == {'lo': 65536, 'eth0': 1400, 'docker_gwbridge': 1500}
    assert diag.parse_addresses(ADDRS) == {'127.0.0.1': 'lo', '198.18.1.12': 'eth0', 'fe80::1': 'eth0'}
    assert [(r['prefix'], r['dev']) for r in diag.parse_routes(ROUTES)] == [
        ('198.18.1.0/24', 'eth0'), ('10.0.9.0/25', 'eth0'), ('172.18.0.0/16', 'docker_gwbridge'), ('fe80::/64', 'eth0')]


def test_sections_and_tags():
    output = '=== links\nA\n=== tcp\nTCP gossip:node2 7946 1\nTCP manager:node1 2377 0\nnoise\n'
    assert diag.section(output, 'links') == 'A'
    assert diag.parse_tagged(diag.section(output, 'tcp'), 'TCP') == [['gossip:node2', '7946', '1'], ['manager:node1', '2377', '0']]


def matrix(spec, names=('n1', 'n2', 'n3')):
    """'n1>n2' style failures -> a matrix where every other pair is ok."""
    m = {s: {t: '-' if s == t else 'ok' for t in names} for s in names}
    for pair in spec:
        s, t = pair.split('>')
        m[s][t] = 'FAIL'
    return m


@pytest.mark.parametrize('failures, down, expected', [
    ([], (), {'isolated': [], 'inbound': [], 'outbound': [], 'pairs': []}),
    # DROP udp/4789 on n2: nothing passes to or from it
    (['n1>n2', 'n3>n2', 'n2>n1', 'n2>n3'], (), {'isolated': ['n2'], 'inbound': [], 'outbound': [], 'pairs': []}),
    # DROP tcp/7946 inbound on n3: only its column fails
    (['n1>n3', 'n2>n3'], (), {'isolated': [], 'inbound': ['n3'], 'outbound': [], 'pairs': []}),
    # n1 reaches nobody
    (['n1>n2', 'n1>n3'], (), {'isolated': [], 'inbound': [], 'outbound': ['n1'], 'pairs': []}),
    # one pair only
    (['n1>n2'], (), {'isolated': [], 'inbound': [], 'outbound': [], 'pairs': [('n1', 'n2')]}),
    # a down node explains every failure that involves it
    (['n1>n3', 'n2>n3', 'n3>n1', 'n3>n2'], ('n3',), {'isolated': [], 'inbound': [], 'outbound': [], 'pairs': []}),
])
def test_diagnose_matrix(failures, down, expected):
    assert diag.diagnose_matrix(matrix(failures), down=down) == expected


def test_diagnose_needs_two_peers_to_blame_a_node():
    assert diag.diagnose_matrix(matrix(['a>b'], names=('a', 'b')))['pairs'] == [('a', 'b')]


def test_diagnose_ignores_cells_not_tested():
    m = matrix(['n1>n3'])
    m['n2']['n3'] = 'skip'      # n2 could not probe: one failing source is not a whole column
    assert diag.diagnose_matrix(m) == {'isolated': [], 'inbound': [], 'outbound': [], 'pairs': [('n1', 'n3')]}


def test_render_matrix_and_status():
    m = matrix(['n1>n2'])
    assert diag.render_matrix(m, 'gossip') == [
        'gossip (row -> column)', '      n1    n2    n3', 'n1    -     FAIL  ok', 'n2    ok    -     ok', 'n3    ok    ok    -']
    assert diag.matrix_status(m) == 'failed'
    assert diag.matrix_status(matrix([])) == 'ok'
    assert diag.matrix_status(diag.empty_matrix(['a', 'b'])) == 'skipped'
    sized = matrix([])
    sized['n1']['n2'] = 1378
    assert diag.matrix_status(sized) == 'failed'


@pytest.mark.parametrize('options, mtu', [
    ({}, 1450), (None, 1450), ({'com.docker.network.driver.mtu': '1400'}, 1400), ({'com.docker.network.driver.mtu': 'x'}, 1450),
])
def test_overlay_mtu(options, mtu):
    assert diag.overlay_mtu({'Options': options}) == mtu


@pytest.mark.parametrize('overlays, underlays, expected', [
    ({'web': 1450}, {'n1': ('eth0', 1500)}, []),                       # 1450 fits exactly
    ({'web': 1450}, {'n1': ('eth0', 1499)}, [('n1', 1449)]),
    ({'web': 1450, 'db': 1300, 'x': 1420}, {'n1': ('eth0', 1400), 'n2': ('ens3', 1500)}, [('n1', 1350)]),
    ({'jumbo': 8950}, {'n1': ('eth0', 9000), 'n2': ('eth0', 1500)}, [('n2', 1450)]),
])
def test_mtu_config_findings(overlays, underlays, expected):
    found = diag.mtu_config_findings(overlays, underlays)
    assert [(f['nodes'][0], int(f['fix'].split('at most ')[1].split(' ')[0])) for f in found] == expected
    for f in found:
        assert 'VXLAN' in f['cause'] and 'com.docker.network.driver.mtu' in f['fix']


def test_mtu_config_names_the_largest_overlay_and_counts_the_rest():
    found = diag.mtu_config_findings({'web': 1450, 'x': 1420}, {'n1': ('eth0', 1400)})
    assert found[0]['cause'] == 'n1: overlay web (and 1 more) has MTU 1450, but eth0 carries 1400 - 50 VXLAN bytes = 1350'


def test_bridge_devices():
    networks = [{'Driver': 'bridge', 'Id': 'abcdef1234567890', 'Options': {}},
                {'Driver': 'bridge', 'Id': 'x', 'Options': {'com.docker.network.bridge.name': 'docker0'}},
                {'Driver': 'overlay', 'Id': 'y'}]
    assert diag.bridge_devices(networks) == {'br-abcdef123456', 'docker0'}


@pytest.mark.parametrize('swarm, local, expected', [
    ([('overlay a 10.0.1.0/24', '10.0.1.0/24')], {'n1': [('route x', '10.0.9.0/25')]}, []),
    # a node's route inside an overlay's subnet
    ([('overlay a 10.0.9.0/24', '10.0.9.0/24')], {'n1': [('route 10.0.9.0/25 via gw', '10.0.9.0/25')], 'n2': []},
     [('n1', 'overlay a 10.0.9.0/24', 'route 10.0.9.0/25 via gw')]),
    # two overlays
    ([('overlay a', '10.0.0.0/16'), ('overlay b', '10.0.5.0/24')], {}, [('swarm', 'overlay a', 'overlay b')]),
    # docker_gwbridge against an overlay; IPv4 never against IPv6
    ([('overlay a', '172.18.0.0/24'), ('overlay v6', 'fd00::/64')],
     {'n2': [('bridge network docker_gwbridge', '172.18.0.0/16'), ('route fe80', 'fe80::/64')]},
     [('n2', 'overlay a', 'bridge network docker_gwbridge')]),
    # garbage is skipped
    ([('overlay a', 'not-a-prefix')], {'n1': [('route', '10.0.0.0/8')]}, []),
])
def test_find_overlaps(swarm, local, expected):
    assert diag.find_overlaps(swarm, local) == expected


def test_overlap_finding_says_which_overlay_to_move():
    found = diag.overlap_findings([('node2', 'overlay web 10.0.9.0/24', 'route 10.0.9.0/25 via 198.18.1.1 dev eth0')])[0]
    assert found['message'] == ('node2: overlay web 10.0.9.0/24 overlaps route 10.0.9.0/25 via 198.18.1.1 dev eth0. '
                                'Fix: give overlay web a subnet that overlaps nothing on any node.')
    assert found['nodes'] == ['node2']


@pytest.mark.parametrize('text, seconds', [
    ('2026-11-28T11:10:00.123456789Z', 1795864200.123456),
    ('2026-11-28T11:10:00Z', 1795864200.0),
    ('2026-11-28T12:10:00.5+01:00', 1795864200.5),
])
def test_parse_docker_time(text, seconds):
    assert diag.parse_docker_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize('offsets, codes', [
    ({'m': 0.2, 'a': 0.3, 'b': -0.1}, []),
    ({'m': 0.0, 'a': 4000.0}, ['clock_skew']),
    ({'m': 10.0, 'a': -3600.5}, ['clock_skew']),
    ({'m': 0.0, 'a': 90.0}, ['clock_drift']),
    ({'a': 9999.0}, []),                 # no reference
])
def test_clock_findings(offsets, codes):
    assert [f['code'] for f in diag.clock_findings(offsets, 'm', 3600)] == codes


@pytest.mark.parametrize('managers, broken', [
    ({'a': 'reachable'}, False),
    ({'a': 'reachable', 'b': 'reachable', 'c': 'unreachable'}, False),
    ({'a': 'reachable', 'b': 'unreachable', 'c': 'unreachable'}, True),
    ({'a': 'reachable', 'b': 'unreachable'}, True),
    ({}, False),
])
def test_quorum(managers, broken):
    found = diag.quorum_finding(managers)
    assert (found is not None) == broken
    if found:
        assert found['code'] == 'no_quorum' and 'force-new-cluster' in found['fix']


SAMPLE_FIELDS = dict(node='node2', source='node1', target='node3', docker_host='unix:///x', error='refused', state='down',
                     role='manager', message='', swarm_port=2377, cluster='abc', manager='node1', availability='drain',
                     reachability='unreachable', reachable=1, total=3, needed=2, detail='', port=7946, peers='node1, node3',
                     address='198.18.1.12', image='docknet/probe:latest', network='web', mtu=1450, interface='eth0',
                     underlay=1400, overhead=50, room=1350, option=cat.MTU_OPTION, largest=1372, where='node2',
                     first='overlay a', second='route b', movable='overlay a', skew=4000.0, limit=3600,
                     label=cat.DOCTOR_LABEL, run='r1')


@pytest.mark.parametrize('code', sorted(cat.CATALOGUE))
def test_every_message_has_a_cause_and_a_fix_in_one_line(code):
    check, severity, cause, fix = cat.CATALOGUE[code]
    assert check in cat.CHECKS and severity in ('error', 'warning')
    used = {name for _t, name, _f, _c in string.Formatter().parse(cause + fix) if name}
    assert used <= set(SAMPLE_FIELDS), used - set(SAMPLE_FIELDS)
    found = cat.finding(code, **SAMPLE_FIELDS)
    assert '\n' not in found['message'] and found['message'].endswith('.')
    assert found['message'].startswith(found['cause'])
    assert not found['fix'].endswith('.') and not found['cause'].endswith('.')


def test_summary_puts_checks_first_then_findings():
    checks = {'nodes': {'status': 'ok'}, 'data_path': {'status': 'failed'}, 'control_plane': {'status': 'failed'},
              'clocks': {'status': 'ok', 'note': 'n'}}
    findings = [cat.finding('vxlan_isolated', node='n2', port=4789, address='a'),
                cat.finding('clock_drift', node='n3', manager='n1', skew=90.0)]
    assert cat.summarise(checks, findings) == [
        'nodes         ok',
        'control_plane ok (the failing cells involve nodes that are down)',
        'data_path     FAILED',
        'clocks        warning (n)',
        'ERROR data_path: ' + findings[0]['message'],
        'WARN  clocks: ' + findings[1]['message'],
    ]


@pytest.mark.parametrize('nodes, message', [
    ([], 'nodes: list the swarm'),
    ([{'name': 'a b', 'docker_host': 'x'}], "nodes[0]: name must be one word"),
    ([{'name': 'a', 'docker_host': 'x'}, {'name': 'a', 'docker_host': 'y'}], 'nodes[1]: a is listed twice'),
    ([{'name': 'a'}], 'nodes[0] (a): give docker_host'),
])
def test_normalise_nodes_rejects(nodes, message):
    with pytest.raises(FabricError) as caught:
        diag.normalise_nodes(nodes)
    assert caught.value.msg.startswith(message)


@pytest.mark.parametrize('params, message', [
    ({'wait': -1}, 'wait: give a whole number of seconds of at least 1, got -1'),
    ({'max_clock_skew': -5}, 'max_clock_skew: give a number of seconds of at least 1'),
])
def test_bad_durations_fail_before_any_connection(params, message):
    base = {'nodes': [{'name': 'a', 'docker_host': 'unix:///nowhere'}], 'image': 'i', 'wait': 2, 'max_clock_skew': 3600}
    with pytest.raises(FabricError) as caught:
        d.Doctor(dict(base, **params), check_mode=False)
    assert caught.value.msg.startswith(message)


def test_scripts_quote_and_tag():
    host = diag.host_script([('gossip:n2', '198.18.1.12', 7946)], 2)
    assert 'nc -w 2 198.18.1.12 7946 -e true' in host and 'echo "TCP gossip:n2 7946 1"' in host
    overlay = diag.overlay_script([('n2', '10.0.0.3')], 1450, 14)
    assert '-s 1422' in overlay and 'probe n2 10.0.0.3 &' in overlay and '+ 14 ))' in overlay
