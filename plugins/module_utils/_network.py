# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of bridge_network, overlay_network and macvlan_network.

One cycle for every task: normalise the declared networks (and reject bad
input before any API call) -> read the daemon's network listing once ->
compare what was declared with what exists -> plan a list of actions ->
apply them. Check mode runs the same cycle; ``Engine.write`` is the one place
that knows about it and skips the writes.

Docker has no network update API: any difference means recreating the
network, which is refused unless ``recreate`` is true. Recreation puts every
container back with the endpoint settings it had (``_endpoints``).

Everything above ``Engine`` is pure and tested by tables.
"""

from __future__ import annotations

import ipaddress
import re
import time

from ansible_collections.docknet.fabric.plugins.module_utils._api_gates import version_at_least
from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError
from ansible_collections.docknet.fabric.plugins.module_utils import _endpoints
from ansible_collections.docknet.fabric.plugins.module_utils._network_info import list_services_if_manager
from ansible_collections.docknet.fabric.plugins.module_utils._recreation import Journal, static_first
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer

OWNER_LABEL = 'docknet.fabric.managed'
OWNER_VALUE = 'true'
# Which play, role or team made the network: purge removes only networks of its own owner.
# Networks made before the label existed count as the default owner's.
OWNER_SCOPE_LABEL = 'docknet.fabric.owner'
DEFAULT_OWNER = 'default'
OWN_LABELS = (OWNER_LABEL, OWNER_SCOPE_LABEL)
# VXLAN network identifiers are 24 bits; 0 is not a valid one.
VXLAN_ID_RANGE = (1, 2 ** 24 - 1)
# Networks Docker makes itself: never purged, never removed by name.
RESERVED_NAMES = frozenset(('bridge', 'host', 'none', 'ingress', 'docker_gwbridge'))

MTU_KEY = 'com.docker.network.driver.mtu'

# Dedicated options: module option -> (driver option key, kind, value Docker assumes when the key is absent).
DRIVER_OPTIONS = {
    'bridge': {
        'bridge_name': ('com.docker.network.bridge.name', 'str', None),
        'enable_icc': ('com.docker.network.bridge.enable_icc', 'bool', True),
        'enable_ip_masquerade': ('com.docker.network.bridge.enable_ip_masquerade', 'bool', True),
        'host_binding_ipv4': ('com.docker.network.bridge.host_binding_ipv4', 'ip', '0.0.0.0'),
        'mtu': (MTU_KEY, 'int', None),
        'gateway_mode_ipv4': ('com.docker.network.bridge.gateway_mode_ipv4', 'str', 'nat'),
        'gateway_mode_ipv6': ('com.docker.network.bridge.gateway_mode_ipv6', 'str', 'nat'),
    },
    'overlay': {
        'encrypted': ('encrypted', 'presence', False),
        'mtu': (MTU_KEY, 'int', None),
        'vxlan_ids': ('com.docker.network.driver.overlay.vxlanid_list', 'intlist', None),
    },
    'macvlan': {
        'parent': ('parent', 'str', None),
        'macvlan_mode': ('macvlan_mode', 'str', 'bridge'),
    },
}

# Driver option keys Docker fills in itself when they were not asked for.
_ALWAYS_FILLED = ('com.docker.network.enable_ipv4', 'com.docker.network.enable_ipv6')
DOCKER_FILLED_OPTIONS = {
    'bridge': frozenset(_ALWAYS_FILLED),
    'overlay': frozenset(_ALWAYS_FILLED + ('com.docker.network.driver.overlay.vxlanid_list',)),
    'macvlan': frozenset(_ALWAYS_FILLED),
}

# Raw option keys that belong to one driver only.
_FOREIGN_PREFIXES = {
    'bridge': ('com.docker.network.bridge.',),
    'overlay': ('com.docker.network.driver.overlay.',),
    'macvlan': (),
}
_DRIVER_ONLY_KEYS = {'encrypted': 'overlay', 'parent': 'macvlan', 'macvlan_mode': 'macvlan',
                     'ipvlan_mode': 'ipvlan', 'ipvlan_flag': 'ipvlan'}

TOP_LEVEL_BOOLS = ('internal', 'attachable', 'ingress', 'enable_ipv4', 'enable_ipv6', 'config_only')
MACVLAN_MODES = ('bridge', 'private', 'vepa', 'passthru')
# Bridge gateway modes (Docker 27: nat, routed; Docker 28 adds nat-unprotected and isolated).
GATEWAY_MODES = ('nat', 'nat-unprotected', 'routed', 'isolated')
GATEWAY_MODES_28 = ('nat-unprotected', 'isolated')

_TRUE = ('true', 'yes', 'on', '1', 'y', 't')
_FALSE = ('false', 'no', 'off', '0', 'n', 'f')


# ---------------------------------------------------------------- normalisation

def to_bool(value, empty=False):
    """Docker stores booleans as strings (``"true"``, ``"1"``, and for ``encrypted`` even ``""``)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text == '':
        return empty
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError('%r is not a boolean' % (value,))


def normalise_ip(text):
    """'2001:DB8:0:0::1' -> '2001:db8::1'. Raises ValueError."""
    return ipaddress.ip_address(str(text).strip()).compressed


def normalise_cidr(text):
    """'2001:0db8::/64' -> '2001:db8::/64'. Host bits set is an error: Docker wants the network."""
    text = str(text).strip()
    if '/' not in text:
        raise ValueError('%r is not in CIDR form (address/prefix length)' % text)
    try:
        return ipaddress.ip_network(text, strict=True).compressed
    except ValueError:
        network = ipaddress.ip_network(text, strict=False)  # raises for garbage
        raise ValueError('%r has host bits set; the network is %s' % (text, network.compressed))


def _lenient_cidr(text):
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False).compressed
    except ValueError:
        return str(text)


def _lenient_ip(text):
    text = str(text).strip().split('/', maxsplit=1)[0]  # Docker 20.10 may keep a prefix length on gateways
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def normalise_option_value(kind, value):
    """A dedicated option's value, in one form for both the declaration and Docker's string."""
    if value is None:
        return None
    if kind == 'bool':
        return to_bool(value)
    if kind == 'presence':
        return to_bool(value, empty=True)
    if kind == 'int':
        return int(str(value).strip())
    if kind == 'intlist':
        if isinstance(value, str):
            value = [v for v in value.split(',') if v.strip()]
        return [int(str(v).strip()) for v in value]
    if kind == 'ip':
        return _lenient_ip(value)
    return str(value)


def option_to_docker(kind, value):
    """The string Docker stores for a dedicated option."""
    if kind in ('bool', 'presence'):
        return 'true' if value else 'false'
    if kind == 'intlist':
        return ','.join(str(v) for v in value)
    return str(value)


def _pool_key(pool):
    return (ipaddress.ip_network(pool['subnet']).version, pool['subnet'])


def normalise_pool(pool, where):
    """One ``ipam_config`` entry, validated; ``where`` names it in messages."""
    subnet_text = pool.get('subnet')
    if not subnet_text:
        raise FabricError('%s: subnet is required in every ipam_config entry.' % where)
    try:
        subnet = normalise_cidr(subnet_text)
    except ValueError as exc:
        raise FabricError('%s: subnet %s.' % (where, _reason(exc)))
    network = ipaddress.ip_network(subnet)
    out = {'subnet': subnet}
    gateway = pool.get('gateway')
    if gateway:
        try:
            gw = ipaddress.ip_address(str(gateway).strip())
        except ValueError:
            raise FabricError('%s: gateway %r is not an IP address.' % (where, gateway))
        if gw.version != network.version or gw not in network:
            raise FabricError('%s: gateway %s is outside subnet %s.' % (where, gateway, subnet))
        out['gateway'] = gw.compressed
    ip_range = pool.get('ip_range') or pool.get('iprange')
    if ip_range:
        try:
            rng = ipaddress.ip_network(normalise_cidr(ip_range))
        except ValueError as exc:
            raise FabricError('%s: ip_range %s.' % (where, _reason(exc)))
        if rng.version != network.version or not rng.subnet_of(network):
            raise FabricError('%s: ip_range %s is outside subnet %s.' % (where, ip_range, subnet))
        out['ip_range'] = rng.compressed
    aux = pool.get('aux_addresses')
    if aux:
        if not isinstance(aux, dict):
            raise FabricError('%s: aux_addresses must be a mapping of host name to address.' % where)
        normalised = {}
        for host, address in aux.items():
            try:
                ip = ipaddress.ip_address(str(address).strip())
            except ValueError:
                raise FabricError('%s: aux_addresses %s: %r is not an IP address.' % (where, host, address))
            if ip.version != network.version or ip not in network:
                raise FabricError('%s: aux_addresses %s: %s is outside subnet %s.' % (where, host, address, subnet))
            normalised[str(host)] = ip.compressed
        out['aux_addresses'] = normalised
    return out


def _reason(exc):
    text = str(exc)
    if 'does not appear to be' in text:
        return '%s is not a valid CIDR network' % text.split(' does not', maxsplit=1)[0]
    return 'is invalid: %s' % text


def normalise_pools(pools, where, enable_ipv6):
    """Validate and sort ``ipam_config``: CIDR form, addresses inside subnets, no overlap, IPv6 needs enable_ipv6."""
    out = [normalise_pool(pool or {}, '%s ipam_config[%d]' % (where, i)) for i, pool in enumerate(pools)]
    nets = [ipaddress.ip_network(p['subnet']) for p in out]
    for i, first in enumerate(nets):
        for second in nets[i + 1:]:
            if first.version == second.version and first.overlaps(second):
                raise FabricError('%s: ipam_config subnets %s and %s overlap.' % (where, first, second))
    if any(n.version == 6 for n in nets) and not enable_ipv6:
        raise FabricError('%s: ipam_config has an IPv6 subnet but enable_ipv6 is not true. '
                          'Set enable_ipv6: true.' % where)
    return sorted(out, key=_pool_key)


def actual_pools(network):
    """Docker's IPAM.Config in the normalised form (lenient: Docker's own data)."""
    pools = []
    for pool in ((network.get('IPAM') or {}).get('Config') or []):
        if not pool.get('Subnet'):
            continue
        entry = {'subnet': _lenient_cidr(pool['Subnet'])}
        if pool.get('Gateway'):
            entry['gateway'] = _lenient_ip(pool['Gateway'])
        if pool.get('IPRange'):
            entry['ip_range'] = _lenient_cidr(pool['IPRange'])
        if pool.get('AuxiliaryAddresses'):
            entry['aux_addresses'] = {k: _lenient_ip(v) for k, v in pool['AuxiliaryAddresses'].items()}
        pools.append(entry)
    try:
        return sorted(pools, key=_pool_key)
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


# ---------------------------------------------------------------- desired state

def normalise_network(params, driver, defaults=None):
    """One declared network (module parameters) -> the engine's desired form. Fails on bad input."""
    defaults = defaults or {}
    name = params.get('name')
    if not name:
        raise FabricError('%s_network: every network needs a name.' % driver)
    where = 'network %s' % name
    state = params.get('state') or 'present'
    desired = {
        'name': name,
        'driver': driver,
        'state': state,
        'recreate': _inherit(params, defaults, 'recreate'),
        'force': _inherit(params, defaults, 'force'),
        'fields': {},
    }
    if state == 'absent':
        return desired
    if name in RESERVED_NAMES:
        raise FabricError('%s: %s is a network Docker manages itself; choose another name.' % (where, name))
    fields = desired['fields']
    for key in TOP_LEVEL_BOOLS:
        if params.get(key) is not None:
            fields[key] = bool(params[key])
    if params.get('config_from'):
        fields['config_from'] = params['config_from']
    if params.get('ipam_driver'):
        fields['ipam_driver'] = params['ipam_driver']
    if params.get('ipam_options') is not None:
        fields['ipam_options'] = {str(k): str(v) for k, v in params['ipam_options'].items()}
    if params.get('ipam_config') is not None:
        fields['ipam_config'] = normalise_pools(params['ipam_config'], where, fields.get('enable_ipv6'))
    if params.get('labels') is not None:
        labels = {str(k): str(v) for k, v in params['labels'].items()}
        for own in OWN_LABELS:
            if own in labels:
                raise FabricError('%s: label %s is set by this collection itself; leave it out (the owner option '
                                  'sets %s).' % (where, own, OWNER_SCOPE_LABEL))
        fields['labels'] = labels
    dedicated = DRIVER_OPTIONS[driver]
    for option, (key, kind, dummy) in dedicated.items():
        value = params.get(option)
        if value is None:
            continue
        try:
            fields[option] = normalise_option_value(kind, value)
        except ValueError:
            raise FabricError('%s: %s=%r is not a valid %s.' % (where, option, value, _KIND_WORDS[kind]))
    if fields.get('mtu') is not None and not 68 <= fields['mtu'] <= 65535:
        raise FabricError('%s: mtu %s is outside 68..65535.' % (where, fields['mtu']))
    if fields.get('host_binding_ipv4') is not None:
        try:
            if ipaddress.ip_address(fields['host_binding_ipv4']).version != 4:
                raise ValueError()
        except ValueError:
            raise FabricError('%s: host_binding_ipv4 %r is not an IPv4 address.' % (where, params['host_binding_ipv4']))
    if fields.get('macvlan_mode') is not None and fields['macvlan_mode'] not in MACVLAN_MODES:
        raise FabricError('%s: macvlan_mode must be one of %s.' % (where, ', '.join(MACVLAN_MODES)))
    _check_families(fields, where)
    if params.get('options') is not None:
        fields['options'] = _normalise_raw_options(params['options'], driver, dedicated, where)
    if fields.get('config_from') and fields.get('config_only'):
        raise FabricError('%s: config_only and config_from exclude each other.' % where)
    if fields.get('config_only'):
        clash = [k for k in ('internal', 'attachable', 'ingress') if fields.get(k)]
        if clash:
            raise FabricError('%s: a config-only network takes no %s; set them on the network made with config_from.'
                              % (where, ', '.join(clash)))
    if fields.get('config_from'):
        clash = [k for k in ('ipam_config', 'ipam_options', 'options', 'parent', 'macvlan_mode', 'enable_ipv6',
                             'internal', 'labels') if k in fields and fields[k] not in (False, None)]
        if clash:
            raise FabricError('%s: with config_from, %s come from the config-only network %s; leave them out here.'
                              % (where, ', '.join(clash), fields['config_from']))
    return desired


def _check_families(fields, where):
    """enable_ipv4 and the gateway modes: what Docker would refuse, said before any change."""
    for option in ('gateway_mode_ipv4', 'gateway_mode_ipv6'):
        mode = fields.get(option)
        if mode is None:
            continue
        if mode not in GATEWAY_MODES:
            raise FabricError('%s: %s must be one of %s, got %r.' % (where, option, ', '.join(GATEWAY_MODES), mode))
        if mode == 'isolated' and not fields.get('internal'):
            raise FabricError('%s: %s isolated needs internal: true (Docker gives an isolated gateway to internal '
                              'networks only).' % (where, option))
    if fields.get('enable_ipv4') is False:
        if not fields.get('enable_ipv6'):
            raise FabricError('%s: enable_ipv4: false makes an IPv6-only network and needs enable_ipv6: true.' % where)
        ipv4 = [p['subnet'] for p in fields.get('ipam_config') or [] if ipaddress.ip_network(p['subnet']).version == 4]
        if ipv4:
            raise FabricError('%s: ipam_config has the IPv4 subnet %s but enable_ipv4 is false; drop the subnet or '
                              'enable IPv4.' % (where, ', '.join(ipv4)))
        if fields.get('gateway_mode_ipv4') is not None:
            raise FabricError('%s: gateway_mode_ipv4 is set but enable_ipv4 is false; leave it out.' % where)


_KIND_WORDS = {'bool': 'boolean', 'presence': 'boolean', 'int': 'number', 'intlist': 'list of numbers',
               'ip': 'IP address', 'str': 'string'}


def _inherit(params, defaults, key):
    value = params.get(key)
    if value is None:
        value = defaults.get(key)
    return bool(value)


def _normalise_raw_options(options, driver, dedicated, where):
    out = {}
    owned = dict((key, option) for option, (key, dummy, dummy2) in dedicated.items())
    for key, value in options.items():
        key = str(key)
        owner = _DRIVER_ONLY_KEYS.get(key)
        if (owner and owner != driver) or any(
                key.startswith(prefix) for other, prefixes in _FOREIGN_PREFIXES.items() if other != driver
                for prefix in prefixes):
            raise FabricError('%s: option %s does not belong to the %s driver.' % (where, key, driver))
        if key in owned:
            raise FabricError('%s: options.%s is set with the %s option of this module; use that instead.'
                              % (where, key, owned[key]))
        out[key] = '' if value is None else (('true' if value else 'false') if isinstance(value, bool) else str(value))
    return out


def normalise_task(params, driver):
    """Module parameters (single or list form) -> list of desired networks. Fails on bad input."""
    if params.get('networks') is not None:
        defaults = {'recreate': params.get('recreate'), 'force': params.get('force')}
        desired = [normalise_network(entry, driver, defaults) for entry in params['networks']]
    else:
        if params.get('purge'):
            raise FabricError('%s_network: purge needs the list form (networks:), which says what to keep.' % driver)
        desired = [normalise_network(params, driver)]
    owner = params.get('owner')
    if owner is not None and not re.match(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$', str(owner)):
        raise FabricError('%s_network: owner %r must be a word of letters, digits, _, . and - (for example '
                          'the role or team name).' % (driver, owner))
    seen = set()
    for entry in desired:
        if entry['name'] in seen:
            raise FabricError('%s_network: network %s is declared twice.' % (driver, entry['name']))
        seen.add(entry['name'])
        entry['owner'] = owner or DEFAULT_OWNER
    check_declared_subnets(desired, driver)
    return desired


def _own_subnets(entry):
    """The subnets a declared network allocates (a config-only network allocates none; config_from: its source's)."""
    fields = entry['fields']
    if entry['state'] != 'present' or fields.get('config_only') or fields.get('config_from'):
        return []
    if (fields.get('ipam_driver') or 'default') != 'default':
        return []
    return [ipaddress.ip_network(p['subnet']) for p in fields.get('ipam_config') or []]


def check_vxlan_ids(entry):
    """Overlay VXLAN ids: in range, one per subnet (Docker pairs them in order), none twice."""
    ids = entry['fields'].get('vxlan_ids')
    if ids is None or entry['state'] != 'present':
        return
    where = 'network %s' % entry['name']
    low, high = VXLAN_ID_RANGE
    bad = [i for i in ids if not low <= i <= high]
    if bad:
        raise FabricError('%s: vxlan_ids %s outside %d..%d (VXLAN ids are 24 bits). Pick ids in that range, or '
                          'leave vxlan_ids out and let Docker choose.' % (where, ', '.join(map(str, bad)), low, high))
    if len(set(ids)) != len(ids):
        raise FabricError('%s: vxlan_ids lists an id twice; give one id per subnet.' % where)
    subnets = len(entry['fields'].get('ipam_config') or []) or 1
    if len(ids) != subnets:
        raise FabricError('%s: %d vxlan_ids for %d subnet(s); Docker gives the ids to the subnets in order, so '
                          'give exactly one per ipam_config entry (one when ipam_config is left out).'
                          % (where, len(ids), subnets))


def check_declared_subnets(desired, driver):
    """Within one task: no two networks with overlapping subnets, no VXLAN id used twice (pure)."""
    seen = []
    vxlan_owner = {}
    for entry in desired:
        if driver == 'overlay':
            check_vxlan_ids(entry)
            for vxlan_id in entry['fields'].get('vxlan_ids') or []:
                if vxlan_id in vxlan_owner and entry['state'] == 'present':
                    raise FabricError('networks %s and %s both ask for VXLAN id %d; give each network its own ids.'
                                      % (vxlan_owner[vxlan_id], entry['name'], vxlan_id))
                vxlan_owner[vxlan_id] = entry['name']
        for subnet in _own_subnets(entry):
            for other_name, other in seen:
                if other.version == subnet.version and other.overlaps(subnet):
                    raise FabricError('networks %s (%s) and %s (%s) have overlapping subnets; give each network a '
                                      'subnet of its own.' % (other_name, other, entry['name'], subnet))
        seen.extend((entry['name'], subnet) for subnet in _own_subnets(entry))


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
        for subnet in _own_subnets(entry):
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


# ---------------------------------------------------------------- actual state

def actual_view(network, driver):
    """A network of the listing, in the same form as the declared fields (every field of the driver)."""
    ipam = network.get('IPAM') or {}
    options = dict(network.get('Options') or {})
    view = {
        'name': network['Name'],
        'driver': network.get('Driver'),
        'scope': network.get('Scope'),
        'internal': bool(network.get('Internal')),
        'attachable': bool(network.get('Attachable')),
        'ingress': bool(network.get('Ingress')),
        # Before API 1.48 there is no EnableIPv4: every network has IPv4.
        'enable_ipv4': bool(network.get('EnableIPv4', True)),
        'enable_ipv6': bool(network.get('EnableIPv6')),
        'config_only': bool(network.get('ConfigOnly')),
        'config_from': (network.get('ConfigFrom') or {}).get('Network') or None,
        'ipam_driver': ipam.get('Driver') or 'default',
        'ipam_options': dict(ipam.get('Options') or {}),
        'ipam_config': actual_pools(network),
        'labels': dict((k, v) for k, v in (network.get('Labels') or {}).items() if k not in OWN_LABELS),
        'owned': (network.get('Labels') or {}).get(OWNER_LABEL) == OWNER_VALUE,
    }
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


# Top-level fields that mean nothing for a driver (left out of its diff).
_NOT_OF_DRIVER = {
    'bridge': ('ingress', 'config_only', 'config_from'),
    'overlay': ('config_only', 'config_from', 'enable_ipv4'),   # Docker: swarm networks always have IPv4
    'macvlan': ('ingress',),
}


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


def desired_view(desired, before):
    """What the network will look like: the declared fields over the current ones."""
    after = {'name': desired['name'], 'driver': desired['driver']}
    if before:
        after.update(dict((k, v) for k, v in before.items() if k not in ('owned', 'scope')))
        after['driver'] = desired['driver']
    after.update(desired['fields'])
    return after


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


def is_owned(network, listing):
    """Does the collection own this network? A config_from network through its config-only network."""
    if (network.get('Labels') or {}).get(OWNER_LABEL) == OWNER_VALUE:
        return True
    source = (network.get('ConfigFrom') or {}).get('Network')
    if not source:
        return False
    return any(n.get('Name') == source and n.get('ConfigOnly')
               and (n.get('Labels') or {}).get(OWNER_LABEL) == OWNER_VALUE for n in listing)


def _docker_pool(pool):
    out = {'Subnet': pool['subnet']}
    if pool.get('gateway'):
        out['Gateway'] = pool['gateway']
    if pool.get('ip_range'):
        out['IPRange'] = pool['ip_range']
    if pool.get('aux_addresses'):
        out['AuxiliaryAddresses'] = dict(pool['aux_addresses'])
    return out


def addresses_fit(settings, pools):
    """Static addresses of an endpoint that the new pools would not contain (a recreation would lose them)."""
    if not pools:
        return []
    nets = [ipaddress.ip_network(p['subnet']) for p in pools]
    lost = []
    for key in ('ipv4_address', 'ipv6_address'):
        address = settings.get(key)
        if not address:
            continue
        ip = ipaddress.ip_address(address)
        same_family = [n for n in nets if n.version == ip.version]
        if same_family and not any(ip in n for n in same_family):
            lost.append(address)
    return lost


def plan_network(desired, network):
    """One network's action: none, create, recreate, remove (pure; attachment checks come later)."""
    driver = desired['driver']
    if desired['state'] == 'absent':
        if network is None:
            return {'network': desired['name'], 'action': 'none'}
        if network['Name'] in RESERVED_NAMES:
            raise FabricError('network %s: Docker manages it itself; it is never removed.' % network['Name'])
        if not driver_matches(desired, network):
            raise FabricError('network %s: it exists with driver %s, not %s; remove it with the module of that '
                              'driver.' % (desired['name'], network.get('Driver'), driver))
        return {'network': desired['name'], 'action': 'remove', 'id': network['Id']}
    if network is None:
        return {'network': desired['name'], 'action': 'create'}
    if not driver_matches(desired, network):
        raise FabricError('network %s: a network of that name exists with driver %s, not %s. Remove it or choose '
                          'another name.' % (desired['name'], network.get('Driver'), driver))
    found = differences(desired, actual_view(network, driver))
    if not found:
        return {'network': desired['name'], 'action': 'none', 'id': network['Id']}
    return {'network': desired['name'], 'action': 'recreate', 'id': network['Id'], 'differences': found}


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


def owner_of(network, listing):
    """The owner scope of an owned network (a config_from network: its config-only network's)."""
    labels = network.get('Labels') or {}
    source = (network.get('ConfigFrom') or {}).get('Network')
    if OWNER_LABEL not in labels and source:
        labels = next((n.get('Labels') or {} for n in listing if n.get('Name') == source and n.get('ConfigOnly')), {})
    return labels.get(OWNER_SCOPE_LABEL) or DEFAULT_OWNER


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
    declared_by_name = dict((p['desired']['name'], p['desired']) for p in plans if p['desired']['state'] == 'present')
    going = set(p['network'] for p in plans if p['action'] in ('remove', 'recreate'))
    users = {}  # parent -> [(name, description, config-only source of it)]
    for network in listing:
        if network['Name'] in going or not (network.get('Driver') == 'macvlan' or network.get('ConfigOnly')):
            continue
        parent = (network.get('Options') or {}).get('parent')
        if parent:
            users.setdefault(parent, []).append((network['Name'], _describe_parent_user(network)))
    for plan in plans:
        desired = plan['desired']
        if desired['state'] != 'present' or plan['action'] not in ('create', 'recreate'):
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


# ---------------------------------------------------------------- the engine

class Engine:
    """Runs the cycle for one task. Every write goes through ``self.writer``, which stops them in check mode."""

    def __init__(self, client, driver, check_mode, module_name=None, warn=None):
        self.client = client
        self.driver = driver
        self.check_mode = check_mode
        self.who = module_name or 'docknet.fabric.%s_network' % driver
        self.warn = warn or (lambda msg: None)
        self.writer = Writer(client, check_mode)
        self.journal = Journal(client, self.writer)
        self.duplicates_removed = []
        self._services = None
        self._service_ids = {}

    def write(self, what, method, *args, **kwargs):
        return self.writer.write(what, method, *args, **kwargs)

    def _create(self, body):
        try:
            return self.writer.post('Creating network %s' % body['Name'], '/networks/create', body)
        except FabricError as exc:
            raise FabricError(explain_create_error(body, exc.msg))

    def _leave_service(self, doing, service_name, network):
        """Take ``network`` out of a service, from the service as it is now.

        Read again right before each update: an earlier update of this run (the
        service left another network) moved its version on, and Docker refuses
        an update made from an older version and spec.
        """
        service_id = self._service_ids.get(service_name, service_name)
        service = self.client.call('Reading service %s' % service_name, self.client.api.inspect_service, service_id)
        spec = service_spec_without(service['Spec'], network)
        return self.writer.post('%s: updating service %s to leave it' % (doing, service_name),
                                '/services/{0}/update', spec, {'version': service['Version']['Index']}, service['ID'])

    def _remove_when_released(self, network, name, seconds=60):
        """A service that left the network releases it once its tasks are replaced; retry until then."""
        deadline = time.time() + seconds

        def remove():
            while True:
                try:
                    return self.client.call('Removing network %s' % name, self.client.api.remove_network,
                                            network['Id'])
                except FabricError as exc:
                    if time.time() > deadline or not any(word in exc.msg for word in ('in use', 'active endpoints')):
                        raise
                    time.sleep(0.5)
        return self.write('Removing network %s' % name, remove)

    def _remove_if_present(self, what, network_id):
        """Remove a network; one that is already gone (a concurrent run removed it) is no error."""
        def remove():
            try:
                return self.client.api.remove_network(network_id)
            except APIError as exc:
                if getattr(exc, 'status_code', None) != 404:
                    raise
                return None
        return self.write(what, remove)

    # -- reads
    def services(self):
        """Swarm services by network id (empty when the host is not a manager). Read once, when needed."""
        if self._services is None:
            # Not a manager (Docker's 503): no service can be using the network from here.
            services = self.client.call('Listing services', list_services_if_manager, self.client) or []
            by_network = {}
            self._service_ids = {}
            for service in services:
                spec = service.get('Spec') or {}
                self._service_ids[spec.get('Name') or service['ID']] = service['ID']
                targets = (spec.get('TaskTemplate') or {}).get('Networks') or spec.get('Networks') or []
                for target in targets:
                    by_network.setdefault(target.get('Target'), []).append(spec.get('Name') or service['ID'])
            self._services = by_network
        return self._services

    def services_on(self, network):
        found = self.services().get(network['Id'], []) + self.services().get(network['Name'], [])
        return sorted(set(found))

    def is_manager(self):
        info = self.client.call('Reading the daemon information', self.client.api.info)
        swarm = info.get('Swarm') or {}
        return swarm.get('LocalNodeState') == 'active' and bool(swarm.get('ControlAvailable'))

    def check_gates(self, desired):
        for entry in desired:
            for gate in gates_needed(entry['fields']):
                self.client.require(gate, who=self.who)

    def require_manager(self):
        info = self.client.call('Reading the daemon information', self.client.api.info)
        swarm = info.get('Swarm') or {}
        if swarm.get('LocalNodeState') != 'active' or not swarm.get('ControlAvailable'):
            state = swarm.get('LocalNodeState') or 'inactive'
            role = 'a swarm worker' if state == 'active' else 'not in a swarm (%s)' % state
            raise FabricError('%s must run against a swarm manager; the daemon at %s is %s. Point docker_host at a '
                              'manager.' % (self.who, self.client.docker_host, role))

    def list_networks(self):
        return self.client.call('Listing networks', self.client.api.networks)

    # -- the cycle
    def run(self, params):
        desired = normalise_task(params, self.driver)
        self.check_gates(desired)
        needs_manager = self.driver == 'overlay' or any(d['fields'].get('config_from') for d in desired)
        if needs_manager:
            self.require_manager()
        try:
            with self.writer.reporting():
                return self._run(params, desired)
        except FabricError as exc:
            pending = list(self.journal.pending)
            if pending and not self.check_mode:
                exc.details.setdefault('recreation_records', pending)
                exc.msg += (' The endpoints are recorded on the Docker host (volume %s): run the task again to '
                            'finish the recreation; nothing recorded is lost.' % ', '.join(pending))
            raise

    def _run(self, params, desired):
        listing = self.list_networks()
        resumed = self.resume_records(desired, listing)
        if resumed and not self.check_mode:
            listing = self.list_networks()
        check_subnets(desired, listing, self.driver)
        plans, before, after = [], {}, {}
        for entry in desired:
            network = self.resolve_duplicates(entry, listing)
            plan = plan_network(entry, network)
            plan['desired'] = entry
            plan['current'] = network
            plans.append(plan)
        if params.get('networks') is not None and params.get('purge'):
            manager = None
            for network in purge_candidates(listing, self.driver, set(d['name'] for d in desired),
                                            owner=params.get('owner') or DEFAULT_OWNER):
                if network.get('Scope') == 'swarm':
                    # Swarm-wide networks are a manager's to remove; a worker only sees them while its tasks use them.
                    manager = self.is_manager() if manager is None else manager
                    if not manager:
                        continue
                plans.append({'network': network['Name'], 'action': 'remove', 'id': network['Id'], 'purge': True,
                              'current': network,
                              'desired': {'name': network['Name'], 'driver': self.driver, 'state': 'absent',
                                          'force': bool(params.get('force')), 'recreate': False, 'fields': {}}})
        if self.driver == 'macvlan':
            check_parents(plans, listing)
        if self.driver == 'overlay':
            self.check_dual_stack(plans)
        # Every refusal happens before the first write.
        for plan in plans:
            self.prepare(plan)
        for plan in plans:
            current = plan['current']
            if plan['action'] == 'none' and current is None:
                continue
            view = actual_view(current, self.driver) if current else None
            before[plan['network']] = _public(view) if view else None
            if plan['action'] == 'remove':
                after[plan['network']] = None
            elif plan['action'] == 'none':
                after[plan['network']] = before[plan['network']]
            else:
                after[plan['network']] = _public(desired_view(plan['desired'], view))
        for plan in plans:
            self.apply(plan)
        self.remove_concurrent_duplicates(plans)
        for plan in plans:
            if plan['desired']['fields'].get('encrypted') and plan['desired']['state'] == 'present':
                self.warn('network %s is encrypted (IPsec ESP). Docker does not check that the nodes can do IPsec: '
                          'on a node without ESP support (kernel modules esp4/xfrm) containers on this network '
                          'cannot reach each other; traffic is dropped, never sent in clear. Check every node '
                          'that runs containers on it.' % plan['network'])
        changed = bool(resumed) or bool(self.duplicates_removed) or any(p['action'] != 'none' for p in plans)
        return {
            'changed': changed,
            'actions': resumed + [_public_plan(p) for p in plans if p['action'] != 'none'],
            'networks': [dict(name=p['network'], action=p['action'], id=p.get('new_id') or p.get('id'))
                         for p in plans],
            'duplicates_removed': self.duplicates_removed,
            'diff': {'before': before, 'after': after},
        }

    def check_dual_stack(self, plans):
        """Refuse to make an overlay with enable_ipv6 on an engine that cannot serve it; warn about one that exists."""
        dual = [p for p in plans if p['desired']['state'] == 'present' and p['desired']['fields'].get('enable_ipv6')]
        if not dual:
            return
        engine = self.client.call('Reading the engine version', self.client.api.version, api_version=False)
        problem = dual_stack_overlay_problem(engine or {})
        if not problem:
            return
        for plan in dual:
            if plan['action'] in ('create', 'recreate'):
                raise FabricError('network %s: %s.' % (plan['network'], problem), network=plan['network'])
        for plan in dual:
            self.warn('network %s exists with enable_ipv6: %s.' % (plan['network'], problem))

    # -- concurrency: two runs that created the same network
    def resolve_duplicates(self, entry, listing):
        """The network of that name; extra ones a concurrent run made (as declared, ours, empty) are removed.

        The oldest (by Created, then id) is kept, whichever run looks: so every run keeps the same one.
        """
        matches = oldest_first([n for n in listing if n.get('Name') == entry['name']])
        if len(matches) < 2:
            return matches[0] if matches else None
        keep, extra = matches[0], matches[1:]
        if not all(self._is_spare_duplicate(entry, n, listing) for n in extra):
            raise FabricError('network %s: the daemon has %d networks of that name (ids %s) that differ from the '
                              'declaration, are not this collection\'s or have containers; remove the extra ones '
                              'by id first.' % (entry['name'], len(matches), ', '.join(n['Id'][:12] for n in matches)))
        for network in extra:
            self._remove_duplicate(network, keep)
            listing.remove(network)
        return keep

    def _is_spare_duplicate(self, entry, network, listing):
        """A duplicate that can go: our label, the declared settings (for state=absent: the driver), no endpoints."""
        if not driver_matches(entry, network) or not is_owned(network, listing):
            return False
        if entry['state'] == 'present' and differences(entry, actual_view(network, self.driver)):
            return False
        return not (_endpoints.snapshot(self.client, network)
                    or (network.get('Scope') == 'swarm' and self.services_on(network)))

    def _remove_duplicate(self, network, keep):
        self._remove_if_present('Removing network %s %s, a duplicate of %s (same name, as declared, no endpoints)'
                                % (network['Name'], network['Id'][:12], keep['Id'][:12]), network['Id'])
        self.duplicates_removed.append({'network': network['Name'], 'id': network['Id'], 'kept': keep['Id']})

    def remove_concurrent_duplicates(self, plans):
        """After creating, a concurrent run may have created the same network: keep the oldest, remove the rest.

        Whichever run lists last sees both networks, so the runs converge on the
        oldest one whatever their timing.
        """
        made = [p for p in plans if p['action'] in ('create', 'recreate')]
        if not made or self.check_mode:
            return
        listing = self.list_networks()
        for plan in made:
            matches = oldest_first([n for n in listing if n.get('Name') == plan['network']])
            if len(matches) < 2:
                continue
            keep = matches[0]
            for network in matches[1:]:
                if not self._is_spare_duplicate(plan['desired'], network, listing):
                    self.warn('network %s: another network of that name (%s) appeared while this task ran, with '
                              'other settings or containers; it was left alone.' % (plan['network'], network['Id'][:12]))
                    continue
                self._remove_duplicate(network, keep)
            if plan.get('new_id') and plan['new_id'] != keep['Id']:
                plan['new_id'] = keep['Id']

    def _made_meanwhile(self, plan):
        """The network of that name another run made since our listing, when it is as declared; else None."""
        matches = oldest_first([n for n in self.list_networks() if n.get('Name') == plan['network']])
        if matches and plan_network(plan['desired'], matches[0])['action'] == 'none':
            return matches[0]
        return None

    # -- crash recovery
    def resume_records(self, desired, listing):
        """Finish the recreations a crash interrupted, for the networks this task declares."""
        names = set(d['name'] for d in desired)
        actions = []
        for record in self.journal.records():
            if record['network'] in names and record.get('driver') == self.driver:
                actions.append(self.resume(record, listing))
        return actions

    def resume(self, record, listing):
        name = record['network']
        doing = 'Finishing the interrupted recreation of network %s' % name
        self.journal.pending.append(record['volume'])
        matches = oldest_first([n for n in listing if n.get('Name') == name])
        created = False
        if matches:
            network_id = matches[0]['Id']
        else:
            made = self._create(record['old'])
            network_id = (made or {}).get('Id') or name
            created = True
        reconnected, gone = [], []
        for entry in static_first(record['containers']):
            container = self.client.call('Inspecting container %s' % entry['name'], _inspect_or_none,
                                         self.client, entry['id'])
            if container is None:
                gone.append(entry['name'])
                continue
            endpoints = (container.get('NetworkSettings') or {}).get('Networks') or {}
            endpoint = endpoints.get(name)
            if endpoint is not None and (endpoint.get('NetworkID') or network_id) == network_id:
                continue
            self.write('%s: connecting container %s' % (doing, entry['name']), _endpoints.connect, self.client,
                       network_id, entry['id'], entry['settings'], doing)
            reconnected.append(entry['name'])
        if gone:
            self.warn('network %s: the recreation record names containers that no longer exist: %s.'
                      % (name, ', '.join(gone)))
        self.journal.remove(record['volume'], name)
        self.journal.pending.remove(record['volume'])
        action = {'network': name, 'action': 'resume', 'containers': reconnected}
        if created:
            action['created'] = True
        if gone:
            action['gone'] = gone
        return action

    # -- plan checks and apply
    def prepare(self, plan):
        """Read what is attached to networks about to be replaced or removed, and refuse when it would lose it."""
        action = plan['action']
        if action not in ('recreate', 'remove'):
            return
        network = plan['current']
        name = plan['network']
        containers = _endpoints.snapshot(self.client, network)
        services = self.services_on(network) if network.get('Scope') == 'swarm' else []
        plan['containers'] = containers
        plan['services'] = services
        names = [c['name'] for c in containers]
        details = dict(network=name, containers=names, services=services)
        if action == 'recreate':
            diff_text = ', '.join(plan['differences'])
            if services:
                raise FabricError('network %s differs in %s and needs recreating, but swarm services use it: %s. '
                                  'Remove the network from those services first.'
                                  % (name, diff_text, ', '.join(services)), **details)
            if not plan['desired']['recreate']:
                attached = ('; attached containers: %s' % ', '.join(names)) if names else '; no containers attached'
                raise FabricError('network %s differs in %s; Docker cannot change a network, it must be recreated%s. '
                                  'Set recreate: true to recreate it (containers are reconnected with their '
                                  'settings).' % (name, diff_text, attached), **details)
            plan['body'] = recreation_body(plan['desired'], network, self.driver)
            pools = [normalise_pool_lenient(p) for p in (plan['body'].get('IPAM') or {}).get('Config') or []]
            for container in containers:
                lost = addresses_fit(container['settings'], plan['desired']['fields'].get('ipam_config'))
                if lost:
                    raise FabricError('network %s: container %s has static address %s, outside the new ipam_config; '
                                      'recreating would lose it. Change the container first.'
                                      % (name, container['name'], ', '.join(lost)), **details)
            conflicts = address_conflicts(containers, pools)
            if conflicts:
                raise FabricError('network %s cannot be recreated: %s. Change ipam_config (gateway, aux_addresses) '
                                  'or the containers first.' % (name, '; '.join(conflicts)), **details)
        elif (names or services) and not plan['desired']['force']:
            what = '; '.join(part for part in (
                ('attached containers: %s' % ', '.join(names)) if names else '',
                ('swarm services: %s' % ', '.join(services)) if services else '') if part)
            raise FabricError('network %s is in use (%s). Set force: true to disconnect them (services are updated '
                              'to leave the network) and remove it.' % (name, what), **details)

    def apply(self, plan):
        action = plan['action']
        if action == 'none':
            return
        name = plan['network']
        if action == 'create':
            try:
                created = self._create(create_body(plan['desired'], self.driver))
            except FabricError as exc:
                existing = self._made_meanwhile(plan) if 'already exists' in exc.msg else None
                if existing is None:
                    raise
                # A concurrent run created it between our listing and our create: it is there, as declared.
                self.writer.attempted = None
                plan.update(action='none', id=existing['Id'], made_meanwhile=True)
                return
            plan['new_id'] = (created or {}).get('Id')
            return
        network = plan['current']
        containers = plan.get('containers', [])
        doing = '%s network %s' % ('Recreating' if action == 'recreate' else 'Removing', name)
        record = None
        if action == 'recreate' and containers:
            # Before the first disconnect: a crash from here on is finished by the next run.
            record = self.journal.write(name, self.driver, body_from_network(network), containers)
            self.journal.pending.append(record)
        detached = []
        try:
            for container in list(containers):
                try:
                    self.write('%s: disconnecting container %s' % (doing, container['name']), _endpoints.disconnect,
                               self.client, network['Id'], container['id'], doing)
                except FabricError as exc:
                    # A removal races the containers leaving on their own (a removed service's tasks): one
                    # that is gone or already detached is what we wanted, not a failure.
                    if action != 'remove' or not any(w in exc.msg for w in ('is not connected', 'No such container')):
                        raise
                    containers.remove(container)
                    continue
                detached.append(container)
            for service_name in plan.get('services', []):
                self._leave_service(doing, service_name, network)
            if plan.get('services') and not self.check_mode:
                self._remove_when_released(network, name)
            else:
                self.write('Removing network %s' % name, self.client.api.remove_network, network['Id'])
        except FabricError as exc:
            # Docker kept the network (containers of other nodes, a network made from it, a service update
            # refused...): give this host's containers their endpoints back before reporting.
            failures = self._reconnect(detached, network['Id'], doing)
            self._forget(record, name, failures)
            raise FabricError('%s: %s; so its containers on this host were reconnected%s'
                              % (doing, exc.msg, _failed_text(failures)), network=name)
        if action == 'remove':
            return
        try:
            created = self._create(plan['body'])
        except FabricError as exc:
            # Put the network back as it was, with its containers, before reporting.
            restored = self._create(body_from_network(network))
            failures = self._reconnect(containers, (restored or {}).get('Id') or name, doing)
            self._forget(record, name, failures)
            raise FabricError('network %s could not be recreated with the new settings, so it was put back as it '
                              'was with its containers%s: %s' % (name, _failed_text(failures), exc.msg), network=name)
        new_id = (created or {}).get('Id') or name
        plan['new_id'] = new_id if created else None
        failures = self._reconnect(containers, new_id, doing)
        if failures:
            self._roll_back(plan, network, new_id, failures, record, doing)
        self._forget(record, name, [])

    def _forget(self, record, name, failures):
        """The recreation is over: remove its record, unless a container is still missing its endpoint."""
        if record and not failures:
            self.journal.remove(record, name)
            self.journal.pending.remove(record)

    def _roll_back(self, plan, old, new_id, failures, record, doing):
        """A container could not join the new network: put the old network back with every container."""
        failed = set(name for name, dummy in failures)
        for container in plan['containers']:
            if container['name'] not in failed:
                self.write('%s (rolling back): disconnecting container %s' % (doing, container['name']),
                           _endpoints.disconnect, self.client, new_id, container['id'], doing)
        self.write('%s (rolling back): removing the new network' % doing, self.client.api.remove_network, new_id)
        restored = self._create(body_from_network(old))
        again = self._reconnect(plan['containers'], (restored or {}).get('Id') or plan['network'], doing)
        self._forget(record, plan['network'], again)
        raise FabricError('network %s was recreated but these containers could not join it: %s; so the network was '
                          'put back as it was, with its containers%s.'
                          % (plan['network'], '; '.join('%s (%s)' % f for f in failures), _failed_text(again)),
                          network=plan['network'])

    def _reconnect(self, containers, network_id, doing):
        """Connect every container with its settings (static addresses first); the failures, as (name, reason)."""
        failures = []
        for container in static_first(containers):
            try:
                self.write('%s: connecting container %s' % (doing, container['name']), _endpoints.connect,
                           self.client, network_id, container['id'], container['settings'], doing)
            except FabricError as exc:
                failures.append((container['name'], exc.msg))
        return failures


def _failed_text(failures):
    if not failures:
        return ''
    return (', except %s (the recreation record on the Docker host keeps their settings: run the task again)'
            % '; '.join('%s: %s' % f for f in failures))


def _inspect_or_none(client, container_id):
    try:
        return client.api.inspect_container(container_id)
    except APIError as exc:
        if getattr(exc, 'status_code', None) == 404:
            return None
        raise


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


def normalise_pool_lenient(pool):
    """A Docker IPAM Config entry (create body form) -> our pool form."""
    out = {'subnet': _lenient_cidr(pool['Subnet'])}
    if pool.get('Gateway'):
        out['gateway'] = _lenient_ip(pool['Gateway'])
    if pool.get('AuxiliaryAddresses'):
        out['aux_addresses'] = dict((k, _lenient_ip(v)) for k, v in pool['AuxiliaryAddresses'].items())
    return out


def recreation_body(desired, current, driver):
    """The create body of a recreation: the declared fields, and the current pools where none are declared.

    Without declared pools Docker would pick a subnet again, maybe another one,
    and the containers' static addresses would no longer fit.
    """
    fields = dict(desired['fields'])
    if 'ipam_config' not in fields and (fields.get('ipam_driver') or 'default') == 'default':
        pools = [dict((k, v) for k, v in p.items() if k != 'gateway' or v) for p in actual_pools(current)]
        if pools:
            fields['ipam_config'] = pools
    return create_body(dict(desired, fields=fields), driver)


def default_gateway(subnet):
    """The gateway Docker's default IPAM picks when none is given: the first address after the network's."""
    network = ipaddress.ip_network(subnet, strict=False)
    return str(network.network_address + 1)


def address_conflicts(containers, pools):
    """Static addresses of the containers that the new network would refuse, with the reason (pure)."""
    reserved = {}
    nets = []
    for pool in pools:
        try:
            net = ipaddress.ip_network(pool['subnet'], strict=False)
        except ValueError:
            continue
        nets.append(net)
        gateway = pool.get('gateway') or default_gateway(pool['subnet'])
        reserved[_lenient_ip(gateway)] = 'the gateway of %s%s' % (net, '' if pool.get('gateway') else ' (Docker picks it)')
        for host, address in (pool.get('aux_addresses') or {}).items():
            reserved[_lenient_ip(address)] = 'the auxiliary address %s' % host
        reserved[str(net.network_address)] = 'the network address of %s' % net
        if net.version == 4 and net.prefixlen < 31:
            reserved[str(net.broadcast_address)] = 'the broadcast address of %s' % net
    holders = {}
    found = []
    for container in containers:
        for key in ('ipv4_address', 'ipv6_address'):
            address = container['settings'].get(key)
            if not address:
                continue
            address = _lenient_ip(address)
            if address in reserved:
                found.append('container %s has static address %s, which would be %s'
                             % (container['name'], address, reserved[address]))
            elif address in holders:
                found.append('containers %s and %s have the same static address %s'
                             % (holders[address], container['name'], address))
            holders[address] = container['name']
    return found


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


def _without_network(targets, network):
    return [t for t in targets or [] if t.get('Target') not in (network['Id'], network['Name'])]


def service_spec_without(spec, network):
    """A service spec with ``network`` taken out of its task template (and of the old top-level list)."""
    spec = dict(spec)
    template = dict(spec.get('TaskTemplate') or {})
    if 'Networks' in template:
        template['Networks'] = _without_network(template['Networks'], network)
    spec['TaskTemplate'] = template
    if 'Networks' in spec:
        spec['Networks'] = _without_network(spec['Networks'], network)
    return spec


def explain_create_error(body, message):
    """Turn the daemon's words on a failed create into what to do (macvlan parents above all)."""
    parent = (body.get('Options') or {}).get('parent')
    lower = message.lower()
    if parent and 'already using parent interface' in lower:
        return ('network %s: parent %s is already used by another macvlan network of the Docker host (Docker names '
                'it by a dummy interface, dm- and its short id), and Docker allows one macvlan network per parent '
                'interface. Use another parent or remove that network first. Docker said: %s'
                % (body['Name'], parent, message))
    if parent and ('parent interface' in lower or 'invalid subinterface' in lower or 'not found' in lower or 'no such' in lower
                   or 'link not found' in lower):
        if '.' in parent:
            return ('network %s: parent %s is a VLAN sub-interface that does not exist, and Docker could not create '
                    'it (is the 802.1q kernel module missing, or the base interface %s absent?). Create the '
                    'sub-interface on the host or use an existing parent. Docker said: %s'
                    % (body['Name'], parent, parent.split('.')[0], message))
        return ('network %s: parent interface %s does not exist on the Docker host. Set parent to an interface of '
                'that host. Docker said: %s' % (body['Name'], parent, message))
    if parent and '.' in parent and ('operation not supported' in lower or 'vlan' in lower):
        return ('network %s: parent %s needs an 802.1q VLAN link, which this host cannot make (8021q kernel '
                'module missing?). Use a parent without a VLAN id, or load 8021q on the host. Docker said: %s'
                % (body['Name'], parent, message))
    return message


def _public(view):
    if view is None:
        return None
    return dict((k, v) for k, v in view.items() if k not in ('owned', 'scope'))


def _public_plan(plan):
    out = {'network': plan['network'], 'action': plan['action']}
    # ``changes`` holds option names, as network_attachment's and swarm_service's ``changes`` do.
    for key, shown in (('differences', 'changes'), ('containers', 'containers'), ('services', 'services')):
        if plan.get(key):
            out[shown] = [c['name'] if isinstance(c, dict) else c for c in plan[key]]
    if plan.get('purge'):
        out['purge'] = True
    return out


def run(client, params, driver, check_mode, warn=None):
    """Entry point of the three modules."""
    return Engine(client, driver, check_mode, warn=warn).run(params)


# ---------------------------------------------------------------- argument spec

_POOL_SPEC = dict(
    subnet=dict(type='str', required=True),
    gateway=dict(type='str'),
    ip_range=dict(type='str', aliases=['iprange']),
    aux_addresses=dict(type='dict'),
)

_DRIVER_SPECS = {
    'bridge': dict(
        bridge_name=dict(type='str'),
        enable_icc=dict(type='bool'),
        enable_ip_masquerade=dict(type='bool'),
        host_binding_ipv4=dict(type='str'),
        mtu=dict(type='int'),
        gateway_mode_ipv4=dict(type='str', choices=list(GATEWAY_MODES)),
        gateway_mode_ipv6=dict(type='str', choices=list(GATEWAY_MODES)),
        enable_ipv4=dict(type='bool'),
    ),
    'overlay': dict(
        encrypted=dict(type='bool'),
        ingress=dict(type='bool'),
        mtu=dict(type='int'),
        vxlan_ids=dict(type='list', elements='int'),
    ),
    'macvlan': dict(
        parent=dict(type='str'),
        macvlan_mode=dict(type='str', choices=list(MACVLAN_MODES)),
        enable_ipv4=dict(type='bool'),
        config_only=dict(type='bool'),
        config_from=dict(type='str'),
    ),
}


def network_spec(driver):
    """The options of one network (the single form, and each entry of ``networks``)."""
    spec = dict(
        name=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent']),
        ipam_config=dict(type='list', elements='dict', options=_POOL_SPEC),
        ipam_driver=dict(type='str'),
        ipam_options=dict(type='dict'),
        enable_ipv6=dict(type='bool'),
        internal=dict(type='bool'),
        attachable=dict(type='bool'),
        labels=dict(type='dict'),
        options=dict(type='dict', aliases=['driver_options']),
        recreate=dict(type='bool'),
        force=dict(type='bool'),
    )
    spec.update(_DRIVER_SPECS[driver])
    return spec


def network_argument_spec(driver, connection_spec):
    """The whole argument spec of ``<driver>_network``: connection options, one network, or ``networks``."""
    spec = dict(connection_spec)
    spec.update(network_spec(driver))
    element = network_spec(driver)
    element['name']['required'] = True
    spec['networks'] = dict(type='list', elements='dict', options=element)
    spec['purge'] = dict(type='bool', default=False)
    spec['owner'] = dict(type='str', default=DEFAULT_OWNER)
    return spec


MODULE_KWARGS = dict(
    mutually_exclusive=[('name', 'networks')],
    required_one_of=[('name', 'networks')],
    supports_check_mode=True,
)
