# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recreation record kept on the Docker host, by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.module_utils import _recreation as rec


def entry(name, **settings):
    return {'id': name * 8, 'name': name, 'settings': dict({'aliases': [], 'ipv4_address': None,
                                                           'ipv6_address': None}, **settings)}


def test_a_record_round_trips_through_volume_labels():
    containers = [entry('a', aliases=['x'], ipv4_address='10.0.0.5', links=['db:db'], driver_opts={'k': 'v'})]
    labels = rec.make_record('web net', 'bridge', {'Name': 'web net'}, containers)
    assert all(isinstance(value, str) for value in labels.values())
    parsed = rec.parse_record({'Name': rec.volume_name('web net'), 'Labels': labels})
    assert parsed['network'] == 'web net' and parsed['driver'] == 'bridge' and parsed['old'] == {'Name': 'web net'}
    assert parsed['containers'] == containers
    assert parsed['volume'] == rec.volume_name('web net')


@pytest.mark.parametrize('labels', [
    {},
    {rec.RECORD_LABEL: 'n'},
    {rec.RECORD_LABEL: 'n', rec.DATA_LABEL: 'not json'},
    {rec.RECORD_LABEL: 'n', rec.DATA_LABEL: '{"format": 99}'},
])
def test_unreadable_records_are_ignored(labels):
    assert rec.parse_record({'Name': 'v', 'Labels': labels}) is None


def test_volume_names_are_valid_and_distinct():
    names = [rec.volume_name(n) for n in ('a', 'A', 'web/net', 'x' * 200)]
    assert len(set(names)) == 4
    assert all(n.startswith(rec.VOLUME_PREFIX) and n.replace('-', '').isalnum() for n in names)


def test_static_addresses_are_reconnected_first():
    order = rec.static_first([entry('a'), entry('b', ipv6_address='fd00::5'), entry('c', ipv4_address='10.0.0.9'),
                              entry('d')])
    assert [c['name'] for c in order] == ['b', 'c', 'a', 'd']
