# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: a swarm's live-changeable settings and those fixed at init (pure).

The swarm module declares settings by option name (``cert_expiry: 90d``); Docker
keeps them at paths of the swarm spec in its own units (nanoseconds). These
functions translate between the two, compare declared with live, and say which
init-only settings differ (those need a new swarm, which is never done silently).
"""

from __future__ import annotations

import copy
import ipaddress

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._values import (
    format_duration, is_ip, parse_duration, split_host_port,
)

DEFAULT_SWARM_PORT = 2377

# option -> (path in the swarm spec, kind). These can change on a live swarm.
SETTINGS = {
    'autolock': (('EncryptionConfig', 'AutoLockManagers'), 'bool'),
    'cert_expiry': (('CAConfig', 'NodeCertExpiry'), 'duration'),
    'task_history_limit': (('Orchestration', 'TaskHistoryRetentionLimit'), 'int'),
    'dispatcher_heartbeat': (('Dispatcher', 'HeartbeatPeriod'), 'duration'),
    'snapshot_interval': (('Raft', 'SnapshotInterval'), 'int'),
    'keep_old_snapshots': (('Raft', 'KeepOldSnapshots'), 'int'),
    'log_entries_for_slow_followers': (('Raft', 'LogEntriesForSlowFollowers'), 'int'),
}

# Fixed when the swarm is created; a difference needs a new swarm.
INIT_ONLY = ('advertise_addr', 'data_path_port', 'default_addr_pool', 'subnet_size')

ROTATIONS = (('rotate_worker_token', 'rotate worker join token'),
             ('rotate_manager_token', 'rotate manager join token'),
             ('rotate_unlock_key', 'rotate unlock key'))


def host_of(addr):
    """The host part of ``host[:port]`` (the swarm's default port when none is given)."""
    return split_host_port(addr, DEFAULT_SWARM_PORT)[0]


def get_path(spec, path):
    current = spec or {}
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def set_path(spec, path, value):
    current = spec
    for key in path[:-1]:
        if not isinstance(current.get(key), dict):
            current[key] = {}
        current = current[key]
    current[path[-1]] = value


def normalise_settings(params):
    """The live-changeable settings the user declared, in the API's units."""
    desired = {}
    for option, (_path, kind) in SETTINGS.items():
        value = params.get(option)
        if value is None:
            continue
        if kind == 'duration':
            value = parse_duration(value, option, positive=True)
        elif kind == 'int':
            if int(value) < 0:
                raise FabricError('%s must be zero or more, got %s.' % (option, value))
            value = int(value)
        desired[option] = value
    return desired


def live_settings(spec):
    """Every changeable setting of a live swarm spec, by option name."""
    found = {}
    for option, (path, kind) in SETTINGS.items():
        value = get_path(spec, path)
        if kind == 'bool':
            value = bool(value)
        found[option] = value
    return found


def shown_settings(settings):
    """Settings as a user reads them (durations in words) for diffs."""
    shown = {}
    for option, value in settings.items():
        shown[option] = format_duration(value) if SETTINGS.get(option, (None, ''))[1] == 'duration' else value
    return shown


def settings_changes(desired, actual):
    """The declared settings whose live value differs: {option: (live, wanted)}."""
    return {option: (actual.get(option), value) for option, value in desired.items()
            if actual.get(option) != value}


def spec_with(spec, desired):
    """A copy of ``spec`` carrying the desired settings."""
    new = copy.deepcopy(spec or {})
    for option, value in desired.items():
        set_path(new, SETTINGS[option][0], value)
    return new


def normalise_pool(pools):
    result = []
    for pool in pools or []:
        try:
            result.append(str(ipaddress.ip_network(str(pool).strip(), strict=False)))
        except ValueError:
            raise FabricError('default_addr_pool: %r is not a CIDR block like 10.0.0.0/8.' % (pool,))
    return result


def init_only_conflicts(params, swarm, node_addr):
    """Messages for settings fixed at init whose declared value differs from the live swarm."""
    conflicts = []
    if params.get('data_path_port') is not None:
        live = swarm.get('DataPathPort') or 4789
        if int(params['data_path_port']) != int(live):
            conflicts.append('data_path_port is %s, wanted %s' % (live, params['data_path_port']))
    if params.get('default_addr_pool'):
        live = normalise_pool(swarm.get('DefaultAddrPool') or ['10.0.0.0/8'])
        wanted = normalise_pool(params['default_addr_pool'])
        if sorted(live) != sorted(wanted):
            conflicts.append('default_addr_pool is %s, wanted %s' % (live, wanted))
    if params.get('subnet_size') is not None:
        live = swarm.get('SubnetSize') or 24
        if int(params['subnet_size']) != int(live):
            conflicts.append('subnet_size is %s, wanted %s' % (live, params['subnet_size']))
    if params.get('advertise_addr') and node_addr:
        host = host_of(params['advertise_addr'])
        if is_ip(host) and host != host_of(node_addr):
            conflicts.append('advertise_addr is %s, wanted %s' % (host_of(node_addr), host))
    return conflicts
