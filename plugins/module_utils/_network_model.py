# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the declared networks of bridge/overlay/macvlan_network, normalised (pure).

What a user declares becomes one form here, and bad input is refused here,
before any API call: names, pools (CIDR form, addresses inside subnets, no
overlap), dedicated driver options, the raw ``options``, the owner, and the
clashes between networks of one task (subnets, VXLAN ids). The constants
every network file shares (labels, driver option keys, modes) live here too.

Nothing here talks to Docker; tested by tables.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._values import lenient_ip, normalise_cidr, to_bool

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


# ---------------------------------------------------------------- option values

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
        return lenient_ip(value)
    return str(value)


def option_to_docker(kind, value):
    """The string Docker stores for a dedicated option."""
    if kind in ('bool', 'presence'):
        return 'true' if value else 'false'
    if kind == 'intlist':
        return ','.join(str(v) for v in value)
    return str(value)


def pool_key(pool):
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
    return sorted(out, key=pool_key)


# ---------------------------------------------------------------- one declared network

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


# ---------------------------------------------------------------- the networks of one task

def own_subnets(entry):
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
        for subnet in own_subnets(entry):
            for other_name, other in seen:
                if other.version == subnet.version and other.overlaps(subnet):
                    raise FabricError('networks %s (%s) and %s (%s) have overlapping subnets; give each network a '
                                      'subnet of its own.' % (other_name, other, entry['name'], subnet))
        seen.extend((entry['name'], subnet) for subnet in own_subnets(entry))
