# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared value helpers: one grammar for durations, booleans and addresses."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import _values as values
from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

S = values.SECOND


@pytest.mark.parametrize('value, nanos', [
    ('10s', 10 * S), ('1m30s', 90 * S), ('1m 30s', 90 * S), ('500ms', S // 2), ('250us', 250000),
    ('1h', 3600 * S), ('90d', 90 * 86400 * S), ('2160h0m0s', 2160 * 3600 * S), ('10', 10 * S),
    (2, 2 * S), (1.5, int(1.5 * S)), ('1.5s', int(1.5 * S)), ('0', 0), (0, 0), ('7ns', 7),
])
def test_parse_duration(value, nanos):
    assert values.parse_duration(value, 'delay') == nanos


@pytest.mark.parametrize('value', ['10x', 'soon', '', '1s2', True, '-1s', -1, None, 'h', '5 x'])
def test_parse_duration_rejects(value):
    with pytest.raises(FabricError, match='delay: .* is not a duration'):
        values.parse_duration(value, 'delay')


@pytest.mark.parametrize('value', ['0s', 0, '0'])
def test_parse_duration_positive_refuses_zero(value):
    with pytest.raises(FabricError, match='cert_expiry: the duration must be longer than zero'):
        values.parse_duration(value, 'cert_expiry', positive=True)


@pytest.mark.parametrize('nanos, text', [
    (5 * S, '5s'), (90 * 86400 * S, '90d'), (5400 * S, '1h30m'), (None, None), (0, '0s'), (1500000, '1ms500us'),
])
def test_format_duration(nanos, text):
    assert values.format_duration(nanos) == text
    if text:
        assert values.parse_duration(text, 'x') == nanos   # the two are inverses


@pytest.mark.parametrize('value, empty, expected', [
    (True, False, True), ('true', False, True), ('1', False, True), (' Yes ', False, True),
    ('false', False, False), ('0', False, False), (None, True, False), ('', True, True), ('', False, False),
])
def test_to_bool(value, empty, expected):
    assert values.to_bool(value, empty) is expected


def test_to_bool_rejects():
    with pytest.raises(ValueError):
        values.to_bool('maybe')


@pytest.mark.parametrize('function, text, expected', [
    (values.normalise_ip, ' 2001:DB8:0:0::1 ', '2001:db8::1'),
    (values.normalise_ip, '10.0.0.1', '10.0.0.1'),
    (values.normalise_cidr, '2001:0db8::/64', '2001:db8::/64'),
    (values.ip_or_none, '10.0.0.1/24', '10.0.0.1'),
    (values.ip_or_none, 'fd00:0::1', 'fd00::1'),
    (values.ip_or_none, 'gateway', None),
    (values.lenient_ip, 'gateway', 'gateway'),
    (values.lenient_ip, 'FD00::1/64', 'fd00::1'),
    (values.lenient_cidr, '10.0.0.5/24', '10.0.0.0/24'),
    (values.lenient_cidr, 'nonsense', 'nonsense'),
    (values.is_ip, 'fe80::1', True),
    (values.is_ip, '10.0.0.1/24', False),
    (values.is_ip, 'node1', False),
])
def test_addresses(function, text, expected):
    assert function(text) == expected


@pytest.mark.parametrize('function, text, match', [
    (values.normalise_ip, '10.0.0.1/24', 'does not appear to be'),
    (values.normalise_cidr, '10.0.0.1', 'not in CIDR form'),
    (values.normalise_cidr, '10.0.0.1/24', 'host bits set; the network is 10.0.0.0/24'),
])
def test_addresses_reject(function, text, match):
    with pytest.raises(ValueError, match=match):
        function(text)


@pytest.mark.parametrize('text, version, expected', [
    ('10.0.0.5', 4, '10.0.0.5'), (' fd00:0::5', 6, 'fd00::5'),
])
def test_address_of_family(text, version, expected):
    assert values.address_of_family(text, version, 'ipv4_address') == expected


@pytest.mark.parametrize('text, version', [('fd00::5', 4), ('10.0.0.5', 6), ('10.0.0.5/24', 4), ('x', 4)])
def test_address_of_family_rejects(text, version):
    with pytest.raises(FabricError, match='ipv4_address: .* is not an IPv%d address. Give a plain address' % version):
        values.address_of_family(text, version, 'ipv4_address')


@pytest.mark.parametrize('addr, expected', [
    ('10.0.0.1', ('10.0.0.1', 2377)), ('10.0.0.1:4000', ('10.0.0.1', 4000)),
    ('[fe80::1]:2377', ('fe80::1', 2377)), ('[fe80::1]', ('fe80::1', 2377)), ('fe80::1', ('fe80::1', 2377)),
    ('eth0', ('eth0', 2377)),
])
def test_split_host_port(addr, expected):
    assert values.split_host_port(addr, 2377) == expected
