# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_probe's pure parts, by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils import _probe as probe
from ansible_collections.docknet.fabric.plugins.module_utils._wait import Clock
from ansible_collections.docknet.fabric.plugins.module_utils._probe import (
    build_script,
    count_spread,
    describe_unexpected,
    normalise_spread,
    normalise_targets,
    normalise_wait,
    parse_output,
)


@pytest.mark.parametrize('given, expected', [
    ([{'name': 'web'}], [{'name': 'web', 'port': None, 'expect': 'reachable', 'match': 'all'}]),
    ([{'name': ' db ', 'port': '5432', 'expect': 'unreachable'}],
     [{'name': 'db', 'port': 5432, 'expect': 'unreachable', 'match': 'all'}]),
    ([{'name': 'fd00::1', 'expect': 'any', 'match': 'any'}],
     [{'name': 'fd00::1', 'port': None, 'expect': 'any', 'match': 'any'}]),
    (None, []),
])
def test_normalise_targets(given, expected):
    assert normalise_targets(given) == expected


@pytest.mark.parametrize('given, message', [
    ([{'name': ''}], "targets[0]: name must be one DNS name or IP address, got ''"),
    ([{'name': 'a b'}], 'targets[0]: name must be one DNS name'),
    ([{'name': 'ok'}, {'name': 'x', 'port': 0}], 'targets[1] (x): port must be between 1 and 65535, got 0'),
    ([{'name': 'x', 'expect': 'maybe'}], 'targets[0] (x): expect must be one of reachable, unreachable, any'),
    ([{'name': 'x', 'match': 'most'}], 'targets[0] (x): match must be one of all, any'),
])
def test_normalise_targets_rejects(given, message):
    with pytest.raises(FabricError) as caught:
        normalise_targets(given)
    assert caught.value.msg.startswith(message)


def test_script_quotes_names_numbers_targets_and_marks_missing_ports():
    script = build_script([{'name': "we'b", 'port': None}, {'name': 'db', 'port': 5432}], 3)
    assert "probe 0 'we'\"'\"'b' - 3" in script
    assert 'probe 1 db 5432 3' in script
    assert 'spread ' not in script.rsplit('}', maxsplit=1)[-1]


def test_script_adds_the_spread_last():
    spread = normalise_spread({'name': 'web', 'requests': 5})
    assert build_script([], 2, spread).splitlines()[-1] == 'spread web 80 / 5 2'


T = {'port': None, 'expect': 'reachable', 'match': 'all'}


def target(name, **changes):
    return dict(T, name=name, **changes)


@pytest.mark.parametrize('tgt, lines, reachable, as_expected, failure', [
    # every address answers
    (target('web'), ['ANSWER 0 10.0.0.2 1', 'ANSWER 0 10.0.0.3 1'], True, True, None),
    # one replica of three is dead: all fails, any passes
    (target('web'), ['ANSWER 0 10.0.0.2 1', 'ANSWER 0 10.0.0.4 0', 'ANSWER 0 10.0.0.3 1'],
     False, False, 'no answer from 10.0.0.4'),
    (target('web', match='any'), ['ANSWER 0 10.0.0.2 1', 'ANSWER 0 10.0.0.4 0'], True, True, None),
    # isolation: all addresses must be silent, or any one
    (target('db', expect='unreachable'), ['ANSWER 0 10.0.0.5 1', 'ANSWER 0 10.0.0.6 0'],
     False, False, 'answered from 10.0.0.5'),
    (target('db', expect='unreachable', match='any'), ['ANSWER 0 10.0.0.5 1', 'ANSWER 0 10.0.0.6 0'],
     True, True, None),
    # did not resolve, and said so
    (target('gone'), ['UNRESOLVED 0'], False, False, 'the name did not resolve'),
    (target('gone', expect='unreachable'), ['UNRESOLVED 0'], False, True, None),
    (target('gone', expect='any'), ['UNRESOLVED 0'], False, True, None),
    # no line at all (the probe was cut short): not resolved, not reached
    (target('lost'), [], False, False, 'the name did not resolve'),
])
def test_expect_applies_to_all_or_any_address(tgt, lines, reachable, as_expected, failure):
    result = parse_output('\n'.join(['noise'] + lines), [tgt])[0]
    assert (result['reachable'], result['as_expected'], result['failure']) == (reachable, as_expected, failure)


def test_repeated_targets_do_not_collapse_and_order_is_kept():
    targets = [target('web'), target('web'), target('db', port=5432)]
    output = 'ANSWER 2 10.0.0.9 0\nANSWER 1 10.0.0.3 1\nANSWER 0 10.0.0.10 0\nANSWER 0 10.0.0.3 1\n'
    results = parse_output(output, targets)
    assert [(r['name'], r['addresses'], r['reachable']) for r in results] == [
        ('web', ['10.0.0.3', '10.0.0.10'], False),     # numeric order, not text order
        ('web', ['10.0.0.3'], True),
        ('db', ['10.0.0.9'], False),
    ]
    assert results[0]['per_address'] == [{'address': '10.0.0.3', 'reachable': True},
                                         {'address': '10.0.0.10', 'reachable': False}]


@pytest.mark.parametrize('result, line', [
    (dict(name='web', port=80, addresses=['a', 'b', 'c'], match='all', expect='reachable', failure='no answer from b'),
     'web:80 (expected reachable on every one of 3 addresses): no answer from b'),
    (dict(name='db', port=None, addresses=[], match='all', expect='reachable', failure='the name did not resolve'),
     'db (expected reachable): the name did not resolve'),
    (dict(name='db', port=None, addresses=['a', 'b'], match='any', expect='unreachable', failure='answered from a, b'),
     'db (expected unreachable on any of the addresses): answered from a, b'),
])
def test_describe_unexpected(result, line):
    assert describe_unexpected(result) == line


@pytest.mark.parametrize('value', [-1, 0, '-3', 'soon', None, '1.5'])
def test_wait_refuses_what_is_not_a_positive_whole_second(value):
    with pytest.raises(FabricError) as caught:
        normalise_wait(value)
    assert caught.value.msg.startswith('wait: give a whole number of seconds of at least 1')


def test_wait_accepts_positive_seconds():
    assert normalise_wait(3) == 3 and normalise_wait('7') == 7


@pytest.mark.parametrize('given, message', [
    ({'name': 'a b'}, 'spread.name: give one DNS name'),
    ({'name': 'http://web'}, 'spread.name: give one DNS name'),
    ({'name': 'web', 'port': 0}, None),    # 0 means the default, 80
    ({'name': 'web', 'port': 70000}, 'spread.port: must be between 1 and 65535'),
    ({'name': 'web', 'path': 'index.html'}, 'spread.path: give a URL path starting with /'),
    ({'name': 'web', 'path': '/$(reboot)'}, 'spread.path: give a URL path starting with /'),
    ({'name': 'web', 'requests': 0}, 'spread.requests: give 1 to 10000 requests, got 0'),
    ({'name': 'web', 'requests': -5}, 'spread.requests: give 1 to 10000 requests'),
])
def test_normalise_spread(given, message):
    if message is None:
        assert normalise_spread(given)['port'] == 80
        return
    with pytest.raises(FabricError) as caught:
        normalise_spread(given)
    assert caught.value.msg.startswith(message)


@pytest.mark.parametrize('hits, min_backends, backends, failed, as_expected', [
    (['a', 'b', 'c', 'a', 'b', 'c'], 3, {'a': 2, 'b': 2, 'c': 2}, 0, True),
    (['a', 'a', 'a'], 3, {'a': 3}, 0, False),                 # one backend takes everything
    (['a', '-', 'b'], 2, {'a': 1, 'b': 1}, 1, False),          # a request without an answer
    (['-', '-'], 1, {}, 2, False),
])
def test_count_spread(hits, min_backends, backends, failed, as_expected):
    spread = normalise_spread({'name': 'web', 'requests': len(hits), 'min_backends': min_backends})
    counted = count_spread(hits, spread)
    assert (counted['backends'], counted['failed'], counted['as_expected']) == (backends, failed, as_expected)
    assert counted['answered'] + counted['failed'] == len(hits)
    assert counted['distinct_backends'] == len(backends)


def test_parse_output_with_spread_returns_both():
    spread = normalise_spread({'name': 'web', 'requests': 3})
    results, counted = parse_output('ANSWER 0 10.0.0.2 1\nHIT host-a\nHIT host-b\nHIT host-a\n', [target('web')], spread)
    assert results[0]['reachable'] and counted['backends'] == {'host-a': 2, 'host-b': 1}


class _StartingClient:
    """A client double whose start fails with ``errors`` (in order) before it succeeds."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.starts = 0
        self.api = self

    def start(self, container_id):
        self.starts += 1

    def call(self, doing, method, *args):
        if self.errors:
            raise FabricError('%s: the Docker daemon answered: %s' % (doing, self.errors.pop(0)))
        return method(*args)


NO_SLEEP = Clock(sleep=lambda seconds: None)


def test_a_start_waits_for_the_node_to_learn_of_a_new_overlay():
    client = _StartingClient(['could not find a network matching network mode ov: network ov not found'] * 2)
    probe._start_when_networks_known(client, 'c1', ['ov'], clock=NO_SLEEP)
    assert client.starts == 1 and client.errors == []


def test_other_start_failures_are_not_retried():
    client = _StartingClient(['No such image: docknet/probe:latest'])
    with pytest.raises(FabricError, match='No such image'):
        probe._start_when_networks_known(client, 'c1', ['ov'], clock=NO_SLEEP)
    assert client.starts == 0


class _SettleClock(Clock):
    def __init__(self):
        super().__init__(now=lambda: self.time, sleep=self.advance)
        self.time = 0.0

    def advance(self, seconds):
        self.time += seconds


def _attempts(*unexpected_per_attempt):
    """An attempt double: each call returns (its number, the next list of unexpected results)."""
    seen = list(unexpected_per_attempt)
    calls = []

    def attempt():
        calls.append(len(calls) + 1)
        return len(calls), seen.pop(0)
    return attempt, calls


@pytest.mark.parametrize('unexpected, settle, attempts, last', [
    ([[]], 0, 1, []),                                     # as expected at once: one probe
    ([['db']], 0, 1, ['db']),                             # settle 0: one probe, the difference reported
    ([['db'], ['db'], []], 30, 3, []),                    # gossip caught up on the third probe
    ([['db']] * 20, 10, 5, ['db']),                       # probes at 0, 3, 6, 9 and, the last, 10 s
    ([['db'], ['web'], []], 3, 2, ['web']),               # the last attempt's findings, not the first's
])
def test_probe_until_expected(unexpected, settle, attempts, last):
    attempt, calls = _attempts(*unexpected)
    outcome, found, count = probe.probe_until_expected(attempt, settle, clock=_SettleClock())
    assert (count, found, outcome) == (attempts, last, attempts) and len(calls) == attempts


@pytest.mark.parametrize('value, seconds', [(0, 0), ('0', 0), (30, 30), ('5', 5)])
def test_settle_accepts_zero_or_whole_seconds(value, seconds):
    assert probe.normalise_settle(value) == seconds


@pytest.mark.parametrize('value', [-1, '1.5', 'soon', None])
def test_settle_refuses_the_rest(value):
    with pytest.raises(FabricError, match='settle: give a whole number of seconds'):
        probe.normalise_settle(value)
