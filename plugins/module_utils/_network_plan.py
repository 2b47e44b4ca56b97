# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: what the network engine will do, decided before the first write (pure).

``plan_network`` turns one declared network and the network of that name into
a typed plan: ``Keep``, ``Create``, ``Recreate`` or ``Remove``. The checks
here refuse, before anything is changed, what Docker would refuse half-way or
what would lose something: a subnet or VXLAN id another network uses, a
macvlan parent already taken, a dual-stack overlay the engine cannot serve,
removing a network still in use without ``force``, recreating without
``recreate``. ``purge_candidates`` says which owned networks a list no longer
declares. The API gates a declaration needs are listed by ``gates_needed``.

Nothing here talks to Docker; tested by tables.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.docknet.fabric.plugins.module_utils._api_gates import version_at_least
from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._network_model import (
    DEFAULT_OWNER,
    DRIVER_OPTIONS,
    GATEWAY_MODES_28,
    RESERVED_NAMES,
    own_subnets,
)
from ansible_collections.docknet.fabric.plugins.module_utils._network_view import (
    actual_view,
    desired_view,
    differences,
    driver_matches,
    is_owned,
    owner_of,
    public_view,
)
from ansible_collections.docknet.fabric.plugins.module_utils._recreation import check_recreation


# ---------------------------------------------------------------- typed plans

class Plan:
    """One network's plan: the declaration, the network as it is (or None), and what the engine reads on the way.

    A subclass per action; ``apply(steps)`` calls the one step of ``steps``
    that carries it out, so nothing dispatches on the action's name.
    """

    action = 'none'
    makes = False       # creates a network (Create, Recreate)
    removes = False     # removes the current network (Remove, Recreate)

    def __init__(self, desired, current=None, found=(), purge=False):
        self.desired = desired
        self.current = current
        self.network = desired['name']
        self.id = current['Id'] if current else None
        self.differences = list(found)
        self.purge = purge
        self.containers = []    # this host's endpoints on the current network (read for Remove, Recreate)
        self.services = []      # swarm services using it
        self.body = None        # a recreation's create body
        self.new_id = None

    @property
    def acts(self):
        """Does the plan change the daemon (create, recreate, remove)?"""
        return self.action != 'none'

    def refuse_losses(self, driver):
        """Raise when carrying the plan out would lose an endpoint, a service's network or an address."""

    def apply(self, steps):
        """Carry the plan out with the engine's ``steps`` (create, recreate, remove)."""

    def after(self, view):
        """The network as the diff shows it after the plan, from its view now."""
        return public_view(view)

    def public(self):
        """The plan as the module's ``actions`` list shows it."""
        out = {'network': self.network, 'action': self.action}
        # ``changes`` holds option names, as network_attachment's and swarm_service's ``changes`` do.
        for shown, values in (('changes', self.differences), ('containers', [c['name'] for c in self.containers]),
                              ('services', self.services)):
            if values:
                out[shown] = list(values)
        if self.purge:
            out['purge'] = True
        return out

    def summary(self):
        """The plan as the module's ``networks`` list shows it."""
        return dict(name=self.network, action=self.action, id=self.new_id or self.id)


class Keep(Plan):
    """The network is as declared (or absent, as declared)."""


class Create(Plan):
    action = 'create'
    makes = True

    def apply(self, steps):
        steps.create(self)

    def after(self, view):
        return public_view(desired_view(self.desired, view))

    def taken_as_made(self, existing):
        """Another run made the network meanwhile, as declared: nothing is left to do."""
        self.action = 'none'
        self.makes = False
        self.id = existing['Id']


class Recreate(Create):
    action = 'recreate'
    removes = True

    def refuse_losses(self, driver):
        self.body = check_recreation(self, driver)

    def apply(self, steps):
        steps.recreate(self)


class Remove(Plan):
    action = 'remove'
    removes = True

    def refuse_losses(self, driver):
        names = [c['name'] for c in self.containers]
        if (names or self.services) and not self.desired['force']:
            what = '; '.join(part for part in (
                ('attached containers: %s' % ', '.join(names)) if names else '',
                ('swarm services: %s' % ', '.join(self.services)) if self.services else '') if part)
            raise FabricError('network %s is in use (%s). Set force: true to disconnect them (services are updated '
                              'to leave the network) and remove it.' % (self.network, what),
                              network=self.network, containers=names, services=self.services)

    def apply(self, steps):
        steps.remove(self)

    def after(self, view):
        return None


def plan_network(desired, network):
    """One network's plan: Keep, Create, Recreate or Remove (pure; attachment checks come later)."""
    driver = desired['driver']
    if desired['state'] == 'absent':
        if network is None:
            return Keep(desired)
        if network['Name'] in RESERVED_NAMES:
            raise FabricError('network %s: Docker manages it itself; it is never removed.' % network['Name'])
        if not driver_matches(desired, network):
            raise FabricError('network %s: it exists with driver %s, not %s; remove it with the module of that '
                              'driver.' % (desired['name'], network.get('Driver'), driver))
        return Remove(desired, network)
    if network is None:
        return Create(desired)
    if not driver_matches(desired, network):
        raise FabricError('network %s: a network of that name exists with driver %s, not %s. Remove it or choose '
                          'another name.' % (desired['name'], network.get('Driver'), driver))
    found = differences(desired, actual_view(network, driver))
    if not found:
        return Keep(desired, network)
    return Recreate(desired, network, found)


def purge_plan(network, driver, force):
    """The plan that removes a network the list no longer declares."""
    desired = {'name': network['Name'], 'driver': driver, 'state': 'absent', 'force': bool(force),
               'recreate': False, 'fields': {}}
    return Remove(desired, network, purge=True)


# ---------------------------------------------------------------- what the daemon would refuse

def _existing_subnets(network):
    if network.get('ConfigOnly'):
        return []
    return [net for net in (_family_net(p.get('Subnet')) for p in (network.get('IPAM') or {}).get('Config') or [])
            if net is not None]


def _family_net(text):
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def check_subnets(desired, listing, driver):
    """Declared subnets against the networks that exist in the same address space (overlays: swarm-wide)."""
    declared = set(d['name'] for d in desired)
    swarm_wide = driver == 'overlay'
    for entry in desired:
        for subnet in own_subnets(entry):
            for network in listing:
                if network.get('Name') in declared or (network.get('Scope') == 'swarm') != swarm_wide:
                    continue
                for other in _existing_subnets(network):
                    if other.version == subnet.version and other.overlaps(subnet):
                        raise FabricError('network %s: subnet %s overlaps subnet %s of the existing network %s '
                                          '(driver %s). Pick a subnet that is free.'
                                          % (entry['name'], subnet, other, network['Name'], network.get('Driver')))
        if driver == 'overlay':
            for vxlan_id in entry['fields'].get('vxlan_ids') or []:
                for network in listing:
                    if network.get('Name') in declared or network.get('Driver') != 'overlay':
                        continue
                    raw = (network.get('Options') or {}).get(DRIVER_OPTIONS['overlay']['vxlan_ids'][0]) or ''
                    if str(vxlan_id) in [v.strip() for v in raw.split(',')]:
                        raise FabricError('network %s: VXLAN id %d is already used by network %s. Pick another id.'
                                          % (entry['name'], vxlan_id, network['Name']))


def purge_candidates(listing, driver, declared_names, owner=DEFAULT_OWNER):
    """Owned networks of this driver and this owner that the list no longer declares."""
    found = []
    for network in listing:
        if not is_owned(network, listing) or network['Name'] in RESERVED_NAMES:
            continue
        if owner_of(network, listing) != owner:
            continue
        if network['Name'] in declared_names or network.get('Ingress'):
            continue
        if network.get('Driver') == driver or (
                driver == 'macvlan' and network.get('ConfigOnly') and network.get('Driver') == 'null'):
            found.append(network)
    # A config-only network can only go once the networks made from it are gone.
    return sorted(found, key=lambda n: (bool(n.get('ConfigOnly')), n['Name']))


def _parent_of(network, listing):
    """The parent interface a macvlan network of the listing uses: its own, or its config-only network's."""
    parent = (network.get('Options') or {}).get('parent')
    source = (network.get('ConfigFrom') or {}).get('Network')
    if not parent and source:
        parent = next(((n.get('Options') or {}).get('parent') for n in listing
                       if n.get('Name') == source and n.get('ConfigOnly')), None)
    return parent


def _declared_parent(desired, declared_by_name, listing):
    fields = desired['fields']
    if fields.get('parent'):
        return fields['parent']
    source = fields.get('config_from')
    if source in declared_by_name:
        return declared_by_name[source]['fields'].get('parent')
    return _parent_of({'ConfigFrom': {'Network': source}}, listing) if source else None


def _describe_parent_user(network):
    if network.get('ConfigOnly'):
        return 'the config-only network %s (the swarm networks made from it use it on this host)' % network['Name']
    return 'macvlan network %s' % network['Name']


def check_parents(plans, listing):
    """Refuse a macvlan network whose parent interface another macvlan network of this host uses.

    Docker's macvlan driver takes one network per parent interface. A second
    one fails on create naming the other by a dummy id ("dm-..."), and for a
    config-only network, or one made from it, only when swarm tasks are
    placed on the host. The listing (and the other networks of the task) tell
    it before anything is created. A network made from a config-only network
    shares that network's parent; a network being removed frees its parent.
    """
    declared_by_name = dict((p.desired['name'], p.desired) for p in plans if p.desired['state'] == 'present')
    going = set(p.network for p in plans if p.removes)
    users = {}  # parent -> [(name, description, config-only source of it)]
    for network in listing:
        if network['Name'] in going or not (network.get('Driver') == 'macvlan' or network.get('ConfigOnly')):
            continue
        parent = (network.get('Options') or {}).get('parent')
        if parent:
            users.setdefault(parent, []).append((network['Name'], _describe_parent_user(network)))
    for plan in plans:
        desired = plan.desired
        if desired['state'] != 'present' or not plan.makes:
            continue
        parent = _declared_parent(desired, declared_by_name, listing)
        if not parent:
            continue   # Docker gives a network without a parent a dummy interface of its own
        own = (desired['name'], desired['fields'].get('config_from'))
        others = [(name, text) for name, text in users.get(parent, []) if name not in own]
        if others:
            raise FabricError('network %s: parent %s is already used by %s on this Docker host, and Docker allows one '
                              'macvlan network per parent interface. Use another parent (a VLAN sub-interface such as '
                              '%s.10, or another interface), or remove %s first.'
                              % (desired['name'], parent, others[0][1], parent, others[0][0]),
                              network=desired['name'], parent=parent, used_by=[name for name, _text in others])
        if not desired['fields'].get('config_from'):
            users.setdefault(parent, []).append((desired['name'], _describe_parent_user(
                {'Name': desired['name'], 'ConfigOnly': desired['fields'].get('config_only')})))


# Docker 26 (API 1.45) is the first engine whose swarm overlays gave containers IPv6 addresses that work;
# Docker 20.10's allocator hands out addresses its overlay driver then rejects (checked in the lab).
DUAL_STACK_OVERLAY_API = '1.45'


def dual_stack_overlay_problem(engine):
    """Why the engine (its /version answer) cannot serve an overlay with enable_ipv6, or None."""
    try:
        if version_at_least(engine.get('ApiVersion') or '0.0', DUAL_STACK_OVERLAY_API):
            return None
    except ValueError:
        return None
    return ('Docker %s (API %s) accepts enable_ipv6 on an overlay network but cannot serve it: its swarm allocator '
            'hands out IPv6 addresses that its overlay driver then rejects ("Invalid address ...: It does not belong '
            'to any of this network\'s subnets", or "context deadline exceeded" when no IPv6 subnet is given), so '
            'containers and service tasks fail to attach and the network is unusable. Dual-stack overlays need '
            'Docker 26 (API %s) or newer on every node. Leave enable_ipv6 out (IPv4 only), or upgrade the engines'
            % (engine.get('Version') or 'unknown', engine.get('ApiVersion') or 'unknown', DUAL_STACK_OVERLAY_API))


def gates_needed(fields):
    """The API gates (``_api_gates``) a network's declared fields need, in a stable order."""
    gates = [gate for key, gate in (('config_only', 'network.config_only'), ('config_from', 'network.config_from'),
                                    ('ingress', 'network.ingress')) if fields.get(key)]
    if fields.get('enable_ipv4') is False:
        gates.append('network.enable_ipv4')
    modes = [fields[key] for key in ('gateway_mode_ipv4', 'gateway_mode_ipv6') if fields.get(key) is not None]
    if modes:
        gates.append('network.gateway_mode')
    if any(mode in GATEWAY_MODES_28 for mode in modes):
        gates.append('network.gateway_mode_28')
    return gates


def dual_stack_plans(plans):
    """The plans that keep or make a network with enable_ipv6 (an overlay's engine must serve it)."""
    return [p for p in plans if p.desired['state'] == 'present' and p.desired['fields'].get('enable_ipv6')]


def check_dual_stack(dual, engine):
    """Refuse to make a dual-stack overlay the engine cannot serve; the warnings for those that exist."""
    problem = dual_stack_overlay_problem(engine or {})
    if not problem:
        return []
    for plan in dual:
        if plan.makes:
            raise FabricError('network %s: %s.' % (plan.network, problem), network=plan.network)
    return ['network %s exists with enable_ipv6: %s.' % (plan.network, problem) for plan in dual]
