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
    ({'node2': [probe(['front'], [target('web', True)])], 'node1': [probe(['back'], [target('db', False)]),
                                                                     probe(['front'], [])]},
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
