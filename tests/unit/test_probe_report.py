# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reachability matrix playbooks/verify.yml prints (filters probe_matrix_lines, probe_unexpected), by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.filter.probe_report import FilterModule

FILTERS = FilterModule().filters()


def target(name, reachable, as_expected=True, port=None):
    return {'name': name, 'port': port, 'reachable': reachable, 'as_expected': as_expected}


def probe(networks, results=None, **extra):
    """One item of a registered network_probe loop."""
    entry = {'item': {'networks': networks, 'targets': []}, 'changed': False}
    if results is not None:
        entry['results'] = results
    entry.update(extra)
    return entry


@pytest.mark.parametrize('probes_by_host, lines', [
    ({}, []),
    ({'node1': []}, []),
    ({'node1': [probe(['front'], [target('web', True, port=80), target('db', False)])]},
     ['node1    front        web:80=reached  db=blocked']),
    ({'node1': [probe(['front', 'back'], [target('db', True, as_expected=False)])]},
     ['node1    front+back   db=reached (!)']),
    ({'node1': [probe(['front'], [target('db', False, as_expected=False, port=5432)])]},
     ['node1    front        db:5432=blocked (!)']),
    ({'node1': [probe(['front'], [target('web', True, port=0)])]},          # port 0 or null: ICMP, no port shown
     ['node1    front        web=reached']),
    ({'node1': [probe(['front'], failed=True, msg='network front not found')]},   # failed: no cells
     ['node1    front        ']),
    ({'a-very-long-node': [probe(['a-very-long-network'], [target('web', True)])]},
     ['a-very-long-node a-very-long-network web=reached']),
    ({'node2': [probe(['front'], [target('web', True)])],
      'node1': [probe(['back'], [target('db', False)]), probe(['front'], [])]},
     ['node2    front        web=reached', 'node1    back         db=blocked', 'node1    front        ']),
])
def test_matrix_lines(probes_by_host, lines):
    assert FILTERS['probe_matrix_lines'](probes_by_host) == lines


@pytest.mark.parametrize('probes, expected', [
    ([], []),
    ([probe(['front'], [target('web', True)], unexpected=[])], []),
    ([probe(['front'], [], unexpected=['web: reachable, expected unreachable', 'db: did not resolve'])],
     ['node1 front: web: reachable, expected unreachable', 'node1 front: db: did not resolve']),
    ([probe(['front', 'back'], failed=True, msg='network back not found')], ['node1 front+back: probe failed: network back not found']),
    ([probe(['front'], failed=True)], ['node1 front: probe failed: no result']),
    ([probe(['front'], failed=False)], []),                                 # no result, not failed: nothing to say
    ([probe(['front'], failed=True, unexpected=['x'], msg='1 unexpected')], ['node1 front: x']),   # the cells say more
    ([probe(['a'], [], unexpected=['x']), probe(['b'], [], unexpected=['y'])], ['node1 a: x', 'node1 b: y']),
])
def test_unexpected(probes, expected):
    assert FILTERS['probe_unexpected'](probes, 'node1') == expected


# roles/swarm_policy's verify: a network_policy result (matrix and members) and probes named by member.
EXPECTED = {
    'matrix': [{'from': 'web', 'to': 'api', 'allowed': True}, {'from': 'web', 'to': 'db', 'allowed': False},
               {'from': 'db', 'to': 'api', 'allowed': True}, {'from': 'api', 'to': 'web', 'allowed': True}],
    'members': [{'name': 'web', 'networks': ['demo_api_web'], 'services': ['web'], 'containers': []},
                {'name': 'api', 'networks': ['demo_api_web', 'demo_api_db'], 'services': ['api', 'api2'],
                 'containers': [{'name': 'api-c', 'host': 'tcp://a'}, {'name': 'api-c', 'host': 'tcp://b'}]},
                {'name': 'db', 'networks': ['demo_api_db'], 'services': [], 'containers': [{'name': 'db'}]},
                {'name': 'ext', 'networks': [], 'services': ['ext'], 'containers': []}],
}


@pytest.mark.parametrize('member, port, targets', [
    ('web', 80, [{'name': 'api', 'expect': 'reachable', 'port': 80}, {'name': 'api2', 'expect': 'reachable', 'port': 80},
                 {'name': 'api-c', 'expect': 'reachable', 'port': 80}, {'name': 'db', 'expect': 'unreachable', 'port': 80}]),
    ('db', 0, [{'name': 'api', 'expect': 'reachable'}, {'name': 'api2', 'expect': 'reachable'},
               {'name': 'api-c', 'expect': 'reachable'}]),                 # port 0: ICMP
    ('db', '0', [{'name': 'api', 'expect': 'reachable'}, {'name': 'api2', 'expect': 'reachable'},
                 {'name': 'api-c', 'expect': 'reachable'}]),
    ('api', '8080', [{'name': 'web', 'expect': 'reachable', 'port': 8080}]),   # a port given as text
    ('api', 'x', [{'name': 'web', 'expect': 'reachable'}]),                    # not a number: as Jinja's int, 0
    ('ext', 80, []),
])
def test_policy_targets(member, port, targets):
    assert FILTERS['swarm_policy_targets'](EXPECTED, member, port) == targets


def policy_probe(member, results=None, **extra):
    entry = {'item': {'name': member, 'networks': ['n']}}
    if results is not None:
        entry['results'] = results
    entry.update(extra)
    return entry


HEADER = ('policy demo, 4 members; allowed pairs reach both ways; members without a policy network are not probed '
          'from: ext')


@pytest.mark.parametrize('probes_by_host, lines', [
    ({}, [HEADER]),
    ({'node1': [policy_probe('web', [target('api', True), target('api-c', True), target('db', False)])]},
     [HEADER, 'node1    web        -> api=allowed  api(api-c)=allowed  db=denied']),
    ({'node3': [policy_probe('db', [target('api', False, as_expected=False), target('other', True)])]},
     [HEADER, 'node3    db         -> api=denied (!)  other(other)=allowed']),   # a name of no member: twice
    ({'node1': [policy_probe('web', failed=True, msg='network demo_api_web not found')], 'node2': [policy_probe('db', [])]},
     [HEADER, 'node1    web        -> probe failed: network demo_api_web not found', 'node2    db         -> probe failed: ?']),
    ({'node1': [], 'node2': [policy_probe('api', [target('web', True)])]},
     [HEADER, 'node2    api        -> web=allowed']),
])
def test_policy_matrix_lines(probes_by_host, lines):
    assert FILTERS['swarm_policy_matrix_lines'](probes_by_host, EXPECTED, 'demo') == lines


def test_policy_matrix_header_without_unprobed_members():
    expected = {'matrix': [], 'members': [m for m in EXPECTED['members'] if m['networks']]}
    assert FILTERS['swarm_policy_matrix_lines']({}, expected, 'p') == [
        'policy p, 3 members; allowed pairs reach both ways; members without a policy network are not probed from: none']


@pytest.mark.parametrize('probes, expected', [
    ([], []),
    ([policy_probe('web', [], unexpected=['db:80 reachable, expected unreachable'])],
     ['node1 from web: db:80 reachable, expected unreachable']),
    ([policy_probe('db', failed=True, msg='boom'), policy_probe('api', failed=True)],
     ['node1 from db: probe failed: boom', 'node1 from api: probe failed: no result']),
    ([policy_probe('web', [target('api', True)], unexpected=[])], []),
])
def test_policy_unexpected(probes, expected):
    assert FILTERS['swarm_policy_unexpected'](probes, 'node1') == expected
