# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The split of swarm_networks' macvlan networks (plugins/filter/network_roles.py), by tables."""

from __future__ import annotations

import pytest

from ansible_collections.docknet.fabric.plugins.filter.network_roles import FilterModule, swarm_macvlan_split
from ansible_collections.docknet.fabric.plugins.module_utils._network_spec import network_spec
from ansible_collections.docknet.fabric.plugins.module_utils._role_networks import part_of, split_macvlan

FILTERS = FilterModule().filters()

ONLY = ('config_only',)
FROM = ('config_from',)
BOTH = ('config_only', 'config_from')
NEITHER = ()

# Every option of docknet.fabric.macvlan_network's entries (and its aliases), where the split sends it
# for a swarm-wide network, and why. An option the module gains fails test_every_macvlan_option_is_routed
# until it has a row here: then check that Docker's rule in _role_networks.py routes it right.
ROUTES = {
    'name': (NEITHER, 'set by the split: the swarm network keeps it, the configuration is config_name'),
    'state': (NEITHER, 'set by the split on both parts (default present), never dropped'),
    'config_only': (NEITHER, 'set by the split: true on the per-host part'),
    'config_from': (NEITHER, 'set by the split: the swarm network is made from config_name'),
    'parent': (ONLY, 'the host interface is per-host configuration'),
    'macvlan_mode': (ONLY, 'a driver option: Docker refuses driver options with config_from'),
    'ipam_config': (ONLY, "the addresses are per-host (each host's own ip_range); refused with config_from"),
    'ipam_driver': (ONLY, 'IPAM is configuration; refused with config_from'),
    'ipam_options': (ONLY, 'IPAM is configuration; refused with config_from'),
    'enable_ipv6': (ONLY, 'Docker copies it from the configuration-only network, refuses it with config_from'),
    'enable_ipv4': (ONLY, 'Docker copies it from the configuration-only network, refuses false with config_from'),
    'options': (ONLY, 'driver options: refused with config_from'),
    'driver_options': (ONLY, 'the alias of options'),
    'labels': (ONLY, 'Docker refuses labels with config_from; the configuration carries the ownership'),
    'recreate': (ONLY, 'what can differ is the configuration; the swarm network is never recreated by the role'),
    'force': (BOTH, 'removing either part must be able to disconnect what uses it'),
    'internal': (FROM, 'an operator field: Docker refuses it on a configuration-only network'),
    'attachable': (FROM, 'an operator field: Docker refuses it on a configuration-only network'),
}


def macvlan_options():
    spec = network_spec('macvlan')
    return set(spec) | {alias for option in spec.values() for alias in option.get('aliases', [])}


def test_every_macvlan_option_is_routed():
    assert macvlan_options() == set(ROUTES), 'add a row to ROUTES for %s, remove %s' % (
        sorted(macvlan_options() - set(ROUTES)), sorted(set(ROUTES) - macvlan_options()))


@pytest.mark.parametrize('option', sorted(ROUTES))
def test_each_option_goes_where_docker_takes_it(option):
    assert part_of(option) == ROUTES[option][0], ROUTES[option][1]


@pytest.mark.parametrize('key, parts', [
    ('swarm', NEITHER), ('config_name', NEITHER),     # the role's own keys
    ('mtu', ONLY),                                    # a future driver option: configuration, and the module says if unknown
    ('ingress', FROM), ('scope', FROM),               # Docker's other operator fields
])
def test_keys_outside_the_module(key, parts):
    assert part_of(key) == parts


POOL = [{'subnet': '192.168.60.0/24', 'ip_range': '192.168.60.16/28'}]


@pytest.mark.parametrize('networks, expected', [
    ([], {'local': [], 'config_only': [], 'config_from': []}),
    (None, {'local': [], 'config_only': [], 'config_from': []}),
    # Local: passed whole, without the role's keys (swarm false counts as local).
    ([{'name': 'lan', 'parent': 'eth0', 'swarm': False, 'config_name': 'x', 'internal': True}],
     {'local': [{'name': 'lan', 'parent': 'eth0', 'internal': True}], 'config_only': [], 'config_from': []}),
    # Swarm-wide, defaults: <name>-config, state present.
    ([{'name': 'lan', 'swarm': True, 'parent': 'eth0'}],
     {'local': [],
      'config_only': [{'name': 'lan-config', 'config_only': True, 'state': 'present', 'parent': 'eth0'}],
      'config_from': [{'name': 'lan', 'config_from': 'lan-config', 'state': 'present'}]}),
    # Every option of the module given: each part gets its own.
    ([{'name': 'lan', 'swarm': True, 'config_name': 'lan-cfg', 'state': 'absent', 'parent': 'eth0',
       'macvlan_mode': 'bridge', 'ipam_config': POOL, 'ipam_driver': 'default', 'ipam_options': {'a': 'b'},
       'enable_ipv6': False, 'enable_ipv4': True, 'options': {'o': '1'}, 'labels': {'l': '1'}, 'recreate': True,
       'force': True, 'internal': False, 'attachable': True}],
     {'local': [],
      'config_only': [{'name': 'lan-cfg', 'config_only': True, 'state': 'absent', 'parent': 'eth0',
                       'macvlan_mode': 'bridge', 'ipam_config': POOL, 'ipam_driver': 'default',
                       'ipam_options': {'a': 'b'}, 'enable_ipv6': False, 'enable_ipv4': True, 'options': {'o': '1'},
                       'labels': {'l': '1'}, 'recreate': True, 'force': True}],
      'config_from': [{'name': 'lan', 'config_from': 'lan-cfg', 'state': 'absent', 'force': True,
                       'internal': False, 'attachable': True}]}),
    # Given keys only, even null ones (as Jinja's "is defined" did); a given config_only/config_from is the split's.
    ([{'name': 'lan', 'swarm': True, 'parent': 'eth0', 'labels': None, 'config_only': False, 'config_from': 'z'}],
     {'local': [],
      'config_only': [{'name': 'lan-config', 'config_only': True, 'state': 'present', 'parent': 'eth0', 'labels': None}],
      'config_from': [{'name': 'lan', 'config_from': 'lan-config', 'state': 'present'}]}),
    # Order kept; local and swarm-wide mixed.
    ([{'name': 'a', 'swarm': True, 'parent': 'p'}, {'name': 'b', 'parent': 'p'}, {'name': 'c', 'swarm': 1, 'parent': 'q'}],
     {'local': [{'name': 'b', 'parent': 'p'}],
      'config_only': [{'name': 'a-config', 'config_only': True, 'state': 'present', 'parent': 'p'},
                      {'name': 'c-config', 'config_only': True, 'state': 'present', 'parent': 'q'}],
      'config_from': [{'name': 'a', 'config_from': 'a-config', 'state': 'present'},
                      {'name': 'c', 'config_from': 'c-config', 'state': 'present'}]}),
])
def test_split_macvlan(networks, expected):
    assert split_macvlan(networks) == expected


def test_the_input_is_not_changed():
    networks = [{'name': 'lan', 'swarm': True, 'parent': 'eth0', 'config_name': 'c'}]
    split_macvlan(networks)
    assert networks == [{'name': 'lan', 'swarm': True, 'parent': 'eth0', 'config_name': 'c'}]


def test_a_bad_entry_is_one_clear_line():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match='each network is a dict'):
        swarm_macvlan_split(['lan'])


@pytest.mark.parametrize('bridge, macvlan, attachments, expected', [
    ([{'name': 'b'}], [{'name': 'c', 'parent': 'eth0', 'swarm': True}], [{'network': 'a'}], []),
    ([], [], [], []),
    ([{'name': 'b'}, {'driver_options': {}}], [{'name': ''}], [],
     ['swarm_networks_bridge: the network at index 1 has no name.',
      'swarm_networks_macvlan: the network at index 0 has no name.']),
    ([], [{'name': 'm', 'swarm': True}, {'name': 'local'}], [],   # a local macvlan network: macvlan_network checks it
     ['swarm_networks_macvlan: the swarm-wide network m needs a parent (swarm: true makes a configuration-only '
      'network on every host).']),
    ([], [], [{'network': 'a'}, {'container': 'x'}, 'web'],
     ['swarm_networks_attachments: the attachment at index 1, 2 has no network.']),
])
def test_declared_problems(bridge, macvlan, attachments, expected):
    assert FILTERS['swarm_networks_problems'](bridge, macvlan, attachments) == expected
