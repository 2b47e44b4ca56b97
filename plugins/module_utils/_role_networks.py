# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: how swarm_networks splits its macvlan networks, behind plugins/filter/network_roles.py.

A swarm-wide macvlan network (``swarm: true``) is two networks: a configuration-only network on every
host and the swarm-scoped network made from it (``config_from``) on a manager. Which option goes to
which part is Docker's rule, not a list kept by hand (moby libnetwork ``Network.validateConfiguration``):
a configuration-only network refuses the operator fields (ingress, internal, attachable, scope), and a
config_from network refuses everything else. So every other key of an entry, including an option the
macvlan module gains later, goes to the configuration-only part; tests/unit/roles/test_role_networks.py
checks this against the module's argument spec.
"""

from __future__ import annotations

# The fields Docker lets only the network made with config_from set (its "network operator fields").
OPERATOR_FIELDS = ('ingress', 'internal', 'attachable', 'scope')
# Options of the module's own behaviour that each part needs: removing either part (state absent, or
# purge) must be able to disconnect what uses it.
BOTH_PARTS = ('force',)
# Keys the split itself sets on the parts (their names, their state and how they refer to each other).
SET_BY_SPLIT = ('name', 'state', 'config_only', 'config_from')
# Keys of the role only, never given to the module: a swarm-wide network, the name of its configuration.
ROLE_KEYS = ('swarm', 'config_name')


def config_name(network):
    """The configuration-only network's name: ``config_name``, by default ``<name>-config``."""
    return network['config_name'] if 'config_name' in network else '%s-config' % network.get('name')


def part_of(key):
    """Where a key of a swarm-wide entry goes: a tuple of 'config_only', 'config_from' (empty: neither)."""
    if key in BOTH_PARTS:
        return ('config_only', 'config_from')
    if key in ROLE_KEYS or key in SET_BY_SPLIT:
        return ()
    if key in OPERATOR_FIELDS:
        return ('config_from',)
    return ('config_only',)


def split_macvlan(networks):
    """Split the role's macvlan entries: ``local`` networks, and for the swarm-wide ones (``swarm`` true)
    the per-host ``config_only`` networks and the swarm-scoped ``config_from`` networks, in input order.

    A local entry is passed on whole, without the role's keys. Each part of a swarm-wide entry gets the
    keys ``part_of`` routes to it (only the ones given) and ``state`` (default ``present``).
    """
    local, config_only, config_from = [], [], []
    for network in networks or []:
        if not isinstance(network, dict):
            raise ValueError('swarm_networks_macvlan: each network is a dict (name, parent, ...), got %r.' % (network,))
        if not network.get('swarm'):
            local.append({k: v for k, v in network.items() if k not in ROLE_KEYS})
            continue
        state = network.get('state', 'present')
        parts = {
            'config_only': {'name': config_name(network), 'config_only': True, 'state': state},
            'config_from': {'name': network.get('name'), 'config_from': config_name(network), 'state': state},
        }
        for key, value in network.items():
            for part in part_of(key):
                parts[part][key] = value
        config_only.append(parts['config_only'])
        config_from.append(parts['config_from'])
    return {'local': local, 'config_only': config_only, 'config_from': config_from}


def declared_problems(bridge, macvlan, attachments):
    """What is wrong with swarm_networks' per-host lists, as sentences naming the entries ([] when nothing is).

    Types are the argument spec's to refuse (lists of dicts); this checks what it cannot: every network
    has a name, every swarm-wide macvlan network a parent (its configuration-only part needs one on every
    host), every attachment a network. The overlay networks are overlay_network's to check (one task, on
    a manager, before anything else of the role changes).
    """
    problems = []
    for variable, networks in (('swarm_networks_bridge', bridge), ('swarm_networks_macvlan', macvlan)):
        unnamed = [str(index) for index, network in enumerate(networks or [])
                   if not isinstance(network, dict) or not network.get('name')]
        if unnamed:
            problems.append('%s: the network at index %s has no name.' % (variable, ', '.join(unnamed)))
    without_parent = [str(network.get('name')) for network in macvlan or []
                      if isinstance(network, dict) and network.get('swarm') and not network.get('parent')]
    if without_parent:
        problems.append('swarm_networks_macvlan: the swarm-wide network %s needs a parent (swarm: true makes a '
                        'configuration-only network on every host).' % ', '.join(without_parent))
    no_network = [str(index) for index, attachment in enumerate(attachments or [])
                  if not isinstance(attachment, dict) or not attachment.get('network')]
    if no_network:
        problems.append('swarm_networks_attachments: the attachment at index %s has no network.' % ', '.join(no_network))
    return problems
