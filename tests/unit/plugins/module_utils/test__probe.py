# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_probe's pure parts, by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._probe import (
    build_script,
    normalise_targets,
    parse_output,
)


@pytest.mark.parametrize('given, expected', [
    ([{'name': 'web'}], [{'name': 'web', 'port': None, 'expect': 'reachable'}]),
    ([{'name': ' db ', 'port': '5432', 'expect': 'unreachable'}], [{'name': 'db', 'port': 5432, 'expect': 'unreachable'}]),
    ([{'name': 'fd00::1', 'expect': 'any'}], [{'name': 'fd00::1', 'port': None, 'expect': 'any'}]),
    (None, []),
])
def test_normalise_targets(given, expected):
    assert normalise_targets(given) == expected


@pytest.mark.parametrize('given, message', [
    ([{'name': ''}], "targets[0]: name must be one DNS name or IP address, got ''"),
    ([{'name': 'a b'}], 'targets[0]: name must be one DNS name'),
    ([{'name': 'ok'}, {'name': 'x', 'port': 0}], 'targets[1] (x): port must be between 1 and 65535, got 0'),
    ([{'name': 'x', 'expect': 'maybe'}], 'targets[0] (x): expect must be one of reachable, unreachable, any'),
])
def test_normalise_targets_rejects(given, message):
    with pytest.raises(FabricError) as caught:
        normalise_targets(given)
    assert caught.value.msg.startswith(message)


def test_script_quotes_names_and_marks_missing_ports():
    script = build_script([{'name': "we'b", 'port': None}, {'name': 'db', 'port': 5432}], 3)
    assert "probe 'we'\"'\"'b' - 3" in script
    assert 'probe db 5432 3' in script


TARGETS = [
    {'name': 'web', 'port': None, 'expect': 'reachable'},
    {'name': 'db', 'port': 5432, 'expect': 'unreachable'},
    {'name': 'gone', 'port': None, 'expect': 'any'},
    {'name': 'lost', 'port': None, 'expect': 'reachable'},
]


def test_parse_output_keeps_the_order_asked_and_judges_expectations():
    output = ('noise\nRESULT db 5432 10.0.0.3 1\nRESULT web - 10.0.0.2,10.0.0.4 1\n'
              'RESULT gone - - 0\n')
    results = parse_output(output, TARGETS)
    assert [(r['name'], r['addresses'], r['reachable'], r['as_expected']) for r in results] == [
        ('web', ['10.0.0.2', '10.0.0.4'], True, True),
        ('db', ['10.0.0.3'], True, False),
        ('gone', [], False, True),
        ('lost', [], False, False),   # no line at all: not reached
    ]
