# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: a Docker network seen as the declaration sees it, compared, and made again (pure).

- ``network_view``: the fields every reader shows (network_info too);
  ``actual_view``: the fields of one driver in the declared form (the diff);
- ``differences``: the declared fields a network does not have;
- ``create_body`` / ``body_from_network``: the /networks/create body of a
  declaration, and of an existing network as it is (to put it back);
- who owns a network (``is_owned``, ``owner_of``), which of several of one
  name is kept (``oldest_first``).

Nothing here talks to Docker; tested by tables.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._network_model import (
    DEFAULT_OWNER,
    DOCKER_FILLED_OPTIONS,
    DRIVER_OPTIONS,
    OWN_LABELS,
    OWNER_LABEL,
    OWNER_SCOPE_LABEL,
    OWNER_VALUE,
    normalise_option_value,
    option_to_docker,
    pool_key,
)
from ansible_collections.docknet.fabric.plugins.module_utils._values import lenient_cidr, lenient_ip

# Top-level fields that mean nothing for a driver (left out of its diff).
_NOT_OF_DRIVER = {
    'bridge': ('ingress', 'config_only', 'config_from'),
    'overlay': ('config_only', 'config_from', 'enable_ipv4'),   # Docker: swarm networks always have IPv4
    'macvlan': ('ingress',),
}
# Fields of the engine's view that are not shown to the user (diff, results).
_PRIVATE_FIELDS = ('owned', 'scope')


# ---------------------------------------------------------------- pools

def actual_pools(network):
    """Docker's IPAM.Config in the normalised form (lenient: Docker's own data)."""
    pools = []
    for pool in ((network.get('IPAM') or {}).get('Config') or []):
        if not pool.get('Subnet'):
            continue
        entry = {'subnet': lenient_cidr(pool['Subnet'])}
        if pool.get('Gateway'):
            entry['gateway'] = lenient_ip(pool['Gateway'])
        if pool.get('IPRange'):
            entry['ip_range'] = lenient_cidr(pool['IPRange'])
        if pool.get('AuxiliaryAddresses'):
            entry['aux_addresses'] = {k: lenient_ip(v) for k, v in pool['AuxiliaryAddresses'].items()}
        pools.append(entry)
    try:
        return sorted(pools, key=pool_key)
    except ValueError:
        return pools


def pools_differ(declared, actual):
    """Compare declared pools with Docker's.

    Pools are matched by subnet whatever the order. Per pool only declared keys
    are compared (a gateway Docker chose is not a difference). Address families
    not declared at all are not compared (Docker may add an IPv6 pool itself).
    """
    families = set(ipaddress.ip_network(p['subnet']).version for p in declared)
    actual = [p for p in actual if _family(p['subnet']) in families]
    by_subnet = {p['subnet']: p for p in actual}
    if sorted(by_subnet) != sorted(p['subnet'] for p in declared):
        return True
    for pool in declared:
        have = by_subnet[pool['subnet']]
        for key in ('gateway', 'ip_range', 'aux_addresses'):
            if key in pool and pool[key] != have.get(key):
                return True
    return False


def _family(cidr):
    try:
        return ipaddress.ip_network(cidr, strict=False).version
    except ValueError:
        return None


# ---------------------------------------------------------------- views

def network_view(network):
    """The top-level fields of a listing entry every reader shows, in plain values."""
    ipam = network.get('IPAM') or {}
    return {
        'name': network['Name'],
        'driver': network.get('Driver'),
        'scope': network.get('Scope'),
        'internal': bool(network.get('Internal')),
        'attachable': bool(network.get('Attachable')),
        'ingress': bool(network.get('Ingress')),
        'enable_ipv6': bool(network.get('EnableIPv6')),
        'config_only': bool(network.get('ConfigOnly')),
        'config_from': (network.get('ConfigFrom') or {}).get('Network') or None,
        'ipam_driver': ipam.get('Driver') or 'default',
        'ipam_options': dict(ipam.get('Options') or {}),
    }


def actual_view(network, driver):
    """A network of the listing, in the same form as the declared fields (every field of the driver)."""
    options = dict(network.get('Options') or {})
    view = network_view(network)
    view.update({
        # Before API 1.48 there is no EnableIPv4: every network has IPv4.
        'enable_ipv4': bool(network.get('EnableIPv4', True)),
        'ipam_config': actual_pools(network),
        'labels': dict((k, v) for k, v in (network.get('Labels') or {}).items() if k not in OWN_LABELS),
        'owned': (network.get('Labels') or {}).get(OWNER_LABEL) == OWNER_VALUE,
    })
    dedicated = DRIVER_OPTIONS.get(driver, {})
    for option, (key, kind, absent) in dedicated.items():
        raw = options.pop(key, None)
        try:
            view[option] = normalise_option_value(kind, raw) if raw is not None else absent
        except ValueError:
            view[option] = raw
    for key in DOCKER_FILLED_OPTIONS.get(driver, ()):
        options.pop(key, None)
    view['options'] = options
    for field in _NOT_OF_DRIVER.get(driver, ()):
        view.pop(field, None)
    return view


def public_view(view):
    """A view as the user sees it (diff, results): without the engine's own fields."""
    if view is None:
        return None
    return dict((k, v) for k, v in view.items() if k not in _PRIVATE_FIELDS)


def desired_view(desired, before):
    """What the network will look like: the declared fields over the current ones."""
    after = {'name': desired['name'], 'driver': desired['driver']}
    if before:
        after.update(public_view(before))
        after['driver'] = desired['driver']
    after.update(desired['fields'])
    return after


def differences(desired, view):
    """The declared fields whose value differs from the network's, in a stable order."""
    found = []
    for field, wanted in desired['fields'].items():
        have = view.get(field)
        if field == 'ipam_config':
            if pools_differ(wanted, have or []):
                found.append(field)
        elif field == 'ipam_driver':
            if (wanted or 'default') != (have or 'default'):
                found.append(field)
        elif field == 'vxlan_ids':
            if sorted(wanted) != sorted(have or []):
                found.append(field)
        elif wanted != have:
            found.append(field)
    return found


def driver_matches(desired, network):
    actual = network.get('Driver')
    if actual == desired['driver']:
        return True
    # A config-only network is stored with the 'null' driver.
    return bool(network.get('ConfigOnly')) and actual == 'null'


def find_network(listing, name, driver):
    """The listing's network called ``name`` (exact match), or None."""
    matches = [n for n in listing if n.get('Name') == name]
    if len(matches) > 1:
        raise FabricError('network %s: the daemon has %d networks of that name (ids %s); remove the extra ones '
                          'by id first.' % (name, len(matches), ', '.join(n['Id'][:12] for n in matches)))
    return matches[0] if matches else None


# ---------------------------------------------------------------- create bodies

def create_body(desired, driver):
    """The /networks/create body for a desired network."""
    fields = desired['fields']
    body = {'Name': desired['name'], 'Driver': driver, 'CheckDuplicate': True}
    options = dict(fields.get('options') or {})
    for option, (key, kind, dummy) in DRIVER_OPTIONS[driver].items():
        if fields.get(option) is not None:
            if kind == 'presence':
                if fields[option]:
                    options[key] = ''
                continue
            options[key] = option_to_docker(kind, fields[option])
    if options:
        body['Options'] = options
    ipam = {'Driver': fields.get('ipam_driver') or 'default'}
    if fields.get('ipam_options'):
        ipam['Options'] = fields['ipam_options']
    if fields.get('ipam_config'):
        ipam['Config'] = [_docker_pool(p) for p in fields['ipam_config']]
    if len(ipam) > 1 or ipam['Driver'] != 'default':
        body['IPAM'] = ipam
    for key, docker_key in (('internal', 'Internal'), ('attachable', 'Attachable'), ('ingress', 'Ingress'),
                            ('enable_ipv6', 'EnableIPv6'), ('config_only', 'ConfigOnly')):
        if fields.get(key):
            body[docker_key] = True
    if fields.get('enable_ipv4') is False:     # sent only when false: older APIs do not know the field
        body['EnableIPv4'] = False
    if fields.get('config_from'):
        body['ConfigFrom'] = {'Network': fields['config_from']}
        body['Scope'] = 'swarm'
    if not fields.get('config_from'):
        # Docker refuses labels on a network made from a config-only network; such a
        # network counts as owned when its config-only network is (see is_owned).
        labels = dict(fields.get('labels') or {})
        labels[OWNER_LABEL] = OWNER_VALUE
        labels[OWNER_SCOPE_LABEL] = desired.get('owner') or DEFAULT_OWNER
        body['Labels'] = labels
    return body


def _docker_pool(pool):
    out = {'Subnet': pool['subnet']}
    if pool.get('gateway'):
        out['Gateway'] = pool['gateway']
    if pool.get('ip_range'):
        out['IPRange'] = pool['ip_range']
    if pool.get('aux_addresses'):
        out['AuxiliaryAddresses'] = dict(pool['aux_addresses'])
    return out


def body_from_network(network):
    """The /networks/create body that makes ``network`` (a listing entry) again, as it was."""
    body = {'Name': network['Name'], 'Driver': network.get('Driver'), 'CheckDuplicate': True,
            'Options': dict(network.get('Options') or {}), 'Labels': dict(network.get('Labels') or {})}
    ipam = network.get('IPAM') or {}
    body['IPAM'] = {'Driver': ipam.get('Driver') or 'default', 'Options': ipam.get('Options') or {},
                    'Config': [dict((k, v) for k, v in pool.items() if v) for pool in ipam.get('Config') or []]}
    for key in ('Internal', 'Attachable', 'Ingress', 'EnableIPv6', 'ConfigOnly'):
        if network.get(key):
            body[key] = True
    if network.get('EnableIPv4') is False:
        body['EnableIPv4'] = False
    source = (network.get('ConfigFrom') or {}).get('Network')
    if source:
        body['ConfigFrom'] = {'Network': source}
        body['Scope'] = 'swarm'
        for key in ('Options', 'Labels', 'IPAM'):
            body.pop(key)
    if network.get('ConfigOnly'):
        body['Driver'] = 'macvlan' if body['Driver'] == 'null' else body['Driver']
    return body


# ---------------------------------------------------------------- owners and duplicates

def is_owned(network, listing):
    """Does the collection own this network? A config_from network through its config-only network."""
    if (network.get('Labels') or {}).get(OWNER_LABEL) == OWNER_VALUE:
        return True
    source = (network.get('ConfigFrom') or {}).get('Network')
    if not source:
        return False
    return any(n.get('Name') == source and n.get('ConfigOnly')
               and (n.get('Labels') or {}).get(OWNER_LABEL) == OWNER_VALUE for n in listing)


def owner_of(network, listing):
    """The owner scope of an owned network (a config_from network: its config-only network's)."""
    labels = network.get('Labels') or {}
    source = (network.get('ConfigFrom') or {}).get('Network')
    if OWNER_LABEL not in labels and source:
        labels = next((n.get('Labels') or {} for n in listing if n.get('Name') == source and n.get('ConfigOnly')), {})
    return labels.get(OWNER_SCOPE_LABEL) or DEFAULT_OWNER


def _created_key(network):
    """Docker's Created (RFC 3339 with up to 9 decimals, trailing zeros cut) in a form that sorts, then the id."""
    text = network.get('Created') or ''
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$', text)
    if not match:
        return (text, '', network.get('Id') or '')
    return (match.group(1), (match.group(2) or '').ljust(9, '0'), network.get('Id') or '')


def oldest_first(networks):
    """Networks of one name, the oldest (by Created, then id) first: the one every run keeps."""
    return sorted(networks, key=_created_key)
