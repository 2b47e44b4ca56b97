# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of the swarm and swarm_node modules.

Both follow one cycle: normalise the desired state -> read the live state ->
compare -> plan a list of actions -> apply. Planning, node selection and the
quorum guard are pure functions (tested by tables); every write goes through
``Writer``, the one place that knows about check mode.

Secrets (join tokens, unlock keys) never enter a diff, an action or a message:
they are returned under ``join_tokens`` and ``unlock_key`` only, and the
swarm action plugin hides a result that carries them.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import socket
import time

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError

DEFAULT_SWARM_PORT = 2377
WAIT_STEP = 1.0

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
# Used when the node inits or joins; Docker does not report them back.
JOIN_ONLY = ('listen_addr', 'data_path_addr')

ROTATIONS = (('rotate_worker_token', 'rotate worker join token'),
             ('rotate_manager_token', 'rotate manager join token'),
             ('rotate_unlock_key', 'rotate unlock key'))

_DURATION_UNITS = {'ns': 1, 'us': 10 ** 3, 'µs': 10 ** 3, 'ms': 10 ** 6, 's': 10 ** 9,
                   'm': 60 * 10 ** 9, 'h': 3600 * 10 ** 9, 'd': 86400 * 10 ** 9}
_DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)')


# --- pure helpers ------------------------------------------------------------

def parse_duration(value, option):
    """'90d', '2160h', '1h30m', '5s', '500ms' or a number of seconds -> nanoseconds."""
    if isinstance(value, bool):
        raise FabricError('%s: %r is not a duration; write it like 5s, 1h30m or 90d.' % (option, value))
    if isinstance(value, (int, float)):
        nanos = int(value * 10 ** 9)
    else:
        text = str(value).strip().replace(' ', '')
        if re.fullmatch(r'\d+(\.\d+)?', text):
            nanos = int(float(text) * 10 ** 9)
        elif text and _DURATION_PART.sub('', text) == '':
            nanos = sum(int(float(number) * _DURATION_UNITS[unit])
                        for number, unit in _DURATION_PART.findall(text))
        else:
            raise FabricError('%s: %r is not a duration; write it like 5s, 1h30m or 90d.' % (option, value))
    if nanos <= 0:
        raise FabricError('%s: the duration must be longer than zero, got %r.' % (option, value))
    return nanos


def format_duration(nanos):
    """Nanoseconds -> the shortest readable form ('90d', '5s', '1h30m'); None stays None."""
    if nanos is None:
        return None
    nanos = int(nanos)
    if nanos == 0:
        return '0s'
    parts = []
    for unit in ('d', 'h', 'm', 's', 'ms', 'us', 'ns'):
        size = _DURATION_UNITS[unit]
        if nanos >= size:
            parts.append('%d%s' % (nanos // size, unit))
            nanos %= size
    return ''.join(parts)


def split_host_port(addr, default_port=DEFAULT_SWARM_PORT):
    """'10.0.0.1' -> ('10.0.0.1', 2377); '[fe80::1]:2377' -> ('fe80::1', 2377)."""
    text = str(addr).strip()
    if text.startswith('['):
        host, _sep, rest = text[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else ''
    elif text.count(':') == 1:
        host, port = text.split(':')
    else:
        host, port = text, ''
    return host, int(port) if port.isdigit() else default_port


def is_ip(text):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except (OSError, ValueError):
            continue
    return False


def resolve_addr(addr):
    """host:port of ``addr`` with the host resolved to its addresses (best effort)."""
    host, port = split_host_port(addr)
    if is_ip(host):
        return {(host, port)}
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return {(host, port)}
    return {(info[4][0], port) for info in infos} | {(host, port)}


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
            value = parse_duration(value, option)
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
        host, _port = split_host_port(params['advertise_addr'])
        if is_ip(host) and host != split_host_port(node_addr)[0]:
            conflicts.append('advertise_addr is %s, wanted %s' % (split_host_port(node_addr)[0], host))
    return conflicts


def role_of(info_swarm):
    if info_swarm.get('LocalNodeState') != 'active':
        return None
    return 'manager' if info_swarm.get('ControlAvailable') else 'worker'


def same_swarm(remote_addrs, remote_managers):
    """Whether a node whose known managers are ``remote_managers`` belongs to the swarm at ``remote_addrs``."""
    known = set()
    for manager in remote_managers or []:
        known |= resolve_addr(manager.get('Addr', ''))
    wanted = set()
    for addr in remote_addrs or []:
        wanted |= resolve_addr(addr)
    return bool(known & wanted)


def plan_swarm(params, info_swarm, swarm=None):
    """The actions that bring the node to the declared swarm state, from its live state.

    ``info_swarm`` is the ``Swarm`` part of ``docker info``; ``swarm`` the
    inspected swarm when the node is a manager. Returns (actions, changes)
    where changes maps setting -> (live, wanted). Raises FabricError for what
    must not be done.
    """
    state = params['state']
    local = info_swarm.get('LocalNodeState') or 'inactive'
    role = role_of(info_swarm)
    actions, changes = [], {}
    if local == 'pending':
        raise FabricError('The node is still joining a swarm (state pending). Wait, or leave it with '
                          'state=absent and force=true.')
    if local == 'error':
        raise FabricError('The node is in swarm state error: %s. Leave it with state=absent and force=true.'
                          % (info_swarm.get('Error') or 'no detail'))
    if local == 'locked':
        if state == 'absent' and params.get('force'):
            return ['leave (force)'], changes
        if not params.get('unlock_key'):
            raise FabricError('The node is a manager of a locked swarm (autolock is on and dockerd restarted). '
                              'Give unlock_key (the key returned as unlock_key when autolock was enabled) '
                              'to unlock it%s.' % (', or force=true to leave it' if state == 'absent' else ''))
        actions.append('unlock')
        # After the unlock the node is an active manager; the caller re-plans on live state.
        return actions, changes

    if state == 'absent':
        if local == 'inactive':
            return actions, changes
        if params.get('force'):
            return ['leave (force)'], changes
        if role == 'manager':
            return ['demote self', 'leave'], changes
        return ['leave'], changes

    if state == 'join':
        if local == 'inactive':
            return ['join as %s' % params['role']], changes
        if not same_swarm(params['remote_addrs'], info_swarm.get('RemoteManagers')):
            known = sorted(m.get('Addr', '') for m in info_swarm.get('RemoteManagers') or [])
            raise FabricError('The node already belongs to another swarm (its managers: %s), not to the one at %s. '
                              'Leave that swarm first (state=absent) if it should move.'
                              % (', '.join(known) or 'unknown', ', '.join(params['remote_addrs'])))
        if params['role'] == 'manager' and role == 'worker':
            raise FabricError('The node is a worker of this swarm; joining cannot make it a manager. Promote it '
                              'with docknet.fabric.swarm_node (role=manager) on a manager.')
        if params['role'] == 'worker' and role == 'manager':
            raise FabricError('The node is a manager of this swarm; joining cannot make it a worker. Demote it '
                              'with docknet.fabric.swarm_node (role=worker) on a manager.')
        return actions, changes

    # state == present
    desired = normalise_settings(params)
    rotations = [label for option, label in ROTATIONS if params.get(option)]
    if local == 'inactive':
        return ['init'], changes
    if role == 'worker':
        if desired or rotations or any(params.get(o) is not None for o in INIT_ONLY):
            raise FabricError('The node is a worker: swarm settings are read and changed on a manager. '
                              'Run state=present against a manager, or use state=join for workers.')
        return actions, changes
    conflicts = init_only_conflicts(params, swarm or {}, info_swarm.get('NodeAddr'))
    if conflicts:
        raise FabricError('Settings fixed when the swarm was created differ from the live swarm (%s): they need '
                          're-initialisation (leave the swarm and init it again). Leave the options out, or '
                          'set them to the live values.' % '; '.join(conflicts))
    changes = settings_changes(desired, live_settings((swarm or {}).get('Spec')))
    if changes:
        actions.append('update settings: %s' % ', '.join(sorted(changes)))
    actions.extend(rotations)
    return actions, changes


# --- nodes and quorum --------------------------------------------------------

def node_view(node):
    """What a user sees of a node listing entry."""
    spec, status = node.get('Spec') or {}, node.get('Status') or {}
    manager = node.get('ManagerStatus')
    return {
        'id': node.get('ID'),
        'hostname': (node.get('Description') or {}).get('Hostname'),
        'addr': status.get('Addr'),
        'role': spec.get('Role'),
        'availability': spec.get('Availability'),
        'labels': dict(spec.get('Labels') or {}),
        'state': status.get('State'),
        'manager_addr': manager.get('Addr') if manager else None,
        'reachability': manager.get('Reachability') if manager else None,
        'leader': bool(manager.get('Leader')) if manager else False,
    }


def managers_of(nodes):
    """Raft members among ``node_view`` entries."""
    return [n for n in nodes if n.get('reachability') is not None or n.get('manager_addr')]


def _prefer_live(matches):
    """Among several matches, the one node that is not down (a node that left stays listed as down)."""
    live = [n for n in matches if n.get('state') != 'down']
    return live if len(matches) > 1 and len(live) == 1 else matches


def select_node(nodes, wanted):
    """The one node ``wanted`` names: its id, a unique id prefix, its address or its hostname.

    When an address or hostname matches several nodes of which one only is not
    down (the others left or were replaced), that one is meant. Returns None when nothing matches; raises when a hostname is ambiguous.
    """
    wanted = str(wanted).strip()
    exact = [n for n in nodes if n['id'] == wanted]
    if exact:
        return exact[0]
    host = split_host_port(wanted)[0] if (is_ip(split_host_port(wanted)[0]) or wanted.startswith('[')) else None
    if host:
        by_addr = _prefer_live([n for n in nodes if n.get('addr') == host or (
            n.get('manager_addr') and split_host_port(n['manager_addr'])[0] == host)])
        if len(by_addr) == 1:
            return by_addr[0]
        if len(by_addr) > 1:
            raise FabricError('node %s: the address matches %d nodes (%s); select it by id.'
                              % (wanted, len(by_addr), ', '.join(n['id'] for n in by_addr)))
    by_name = _prefer_live([n for n in nodes if n.get('hostname') == wanted])
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise FabricError('node %s: the hostname is shared by %d nodes (%s); select the node by id or by '
                          'address.' % (wanted, len(by_name), '; '.join(
                              '%s at %s' % (n['id'], n.get('addr')) for n in by_name)))
    if len(wanted) >= 5:
        by_prefix = [n for n in nodes if n['id'].startswith(wanted)]
        if len(by_prefix) == 1:
            return by_prefix[0]
        if len(by_prefix) > 1:
            raise FabricError('node %s: the id prefix matches %d nodes; give more of the id.' % (wanted, len(by_prefix)))
    return None


def describe_managers(managers):
    return '; '.join('%s (%s, %s): %s%s' % (
        m.get('hostname'), m['id'][:12], m.get('manager_addr') or m.get('addr'),
        m.get('reachability') or 'unknown', ', leader' if m.get('leader') else '') for m in managers)


def quorum_guard(managers, target_id, change, hint=''):
    """Decide whether ``change`` ('demote', 'remove', 'promote') of ``target_id`` keeps raft quorum.

    ``managers`` are ``node_view`` entries of the raft members. Returns a
    warning (or None); raises FabricError when the change must be refused.
    Pure: the same decision in check mode and for real.
    """
    members = list(managers)
    total = len(members)
    reachable = sum(1 for m in members if m.get('reachability') == 'reachable')
    target = next((m for m in members if m['id'] == target_id), None)
    if change == 'promote':
        if target is not None:
            return None
        after_total, after_reachable = total + 1, reachable + 1
    else:
        if target is None:
            return None
        after_total = total - 1
        after_reachable = reachable - (1 if target.get('reachability') == 'reachable' else 0)
        if after_total == 0:
            raise FabricError('Refusing to %s %s: it is the last manager of the swarm, which would be lost. '
                              'Managers: %s.%s' % (change, target.get('hostname') or target_id,
                                                   describe_managers(members), hint))
        need = after_total // 2 + 1
        if after_reachable < need:
            raise FabricError('Refusing to %s %s: the swarm would keep %d reachable of %d managers, fewer than the '
                              '%d a raft majority needs. Bring the unreachable managers back (or remove them) first. '
                              'Managers: %s.%s' % (change, target.get('hostname') or target_id, after_reachable,
                                                   after_total, need, describe_managers(members), hint))
    if after_total % 2 == 0:
        return ('After this change the swarm has %d managers, an even number: it tolerates no more failures than '
                'with %d. Prefer an odd number of managers.' % (after_total, after_total - 1))
    return None


def plan_node(params, node, managers):
    """(actions, new_spec_fields, warnings) for swarm_node state=present on an existing node."""
    actions, update, warnings = [], {}, []
    if params.get('availability') and params['availability'] != node['availability']:
        actions.append('set availability %s' % params['availability'])
        update['Availability'] = params['availability']
    if params.get('labels') is not None:
        wanted = {str(k): '' if v is None else str(v) for k, v in params['labels'].items()}
        if params.get('labels_state', 'merge') == 'replace':
            new_labels = wanted
        else:
            new_labels = dict(node['labels'], **wanted)
        if new_labels != node['labels']:
            actions.append('set labels')
            update['Labels'] = new_labels
    if params.get('role') and params['role'] != node['role']:
        change = 'promote' if params['role'] == 'manager' else 'demote'
        warning = quorum_guard(managers, node['id'], change)
        if warning:
            warnings.append(warning)
        actions.append(change)
        update['Role'] = params['role']
    return actions, update, warnings


def plan_node_absent(params, node, managers):
    """(actions, warnings) to take ``node`` out of the swarm: drain, demote, wait until down, remove."""
    actions, warnings = [], []
    if node is None:
        return actions, warnings
    if node['availability'] != 'drain' and node['state'] != 'down':
        actions.append('drain')
    if node['role'] == 'manager' or node.get('manager_addr'):
        warning = quorum_guard(managers, node['id'], 'remove')
        if warning:
            warnings.append(warning)
        actions.append('demote')
    if node['state'] != 'down':
        actions.append('remove (force)' if params.get('force') else 'wait until down')
    if 'remove (force)' not in actions:
        actions.append('remove')
    return actions, warnings


# --- applying ----------------------------------------------------------------

class Writer:
    """The one place that writes: in check mode it records and does nothing."""

    def __init__(self, client, check_mode):
        self.client = client
        self.check_mode = check_mode
        self.done = []

    def __call__(self, action, doing, method, *args, **kwargs):
        self.done.append(action)
        if self.check_mode:
            return None
        try:
            return self.client.call(doing, method, *args, **kwargs)
        except FabricError as exc:
            # A failure half-way reports what was already done (issue 11; #15 moves this onto _writer.Writer).
            self.done.pop()
            if self.done:
                exc.details.setdefault('changed', True)
                exc.details.setdefault('done', list(self.done))
            raise


def check_wait_timeout(params):
    """wait_timeout is a number of seconds to wait; zero or less would never wait (pure)."""
    timeout = params.get('wait_timeout')
    if timeout is not None and timeout < 1:
        raise FabricError('wait_timeout %s: give a positive number of seconds (the default is 120).' % timeout)


def check_node_labels(labels):
    """Node label keys must be non-empty words without spaces (Docker accepts an empty key, and nothing can match it)."""
    for key in labels or {}:
        text = str(key)
        if not text.strip() or text != text.strip() or any(ch.isspace() for ch in text):
            raise FabricError('labels: %r is not a usable label key; give keys like zone or com.example.rack '
                              '(no empty keys, no spaces).' % text)


def wait_for(check, timeout, what):
    """Poll ``check()`` until it returns a true value; FabricError after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() >= deadline:
            raise FabricError('Timed out after %s s waiting %s.' % (timeout, what), changed=True)
        time.sleep(WAIT_STEP)


def read_info_swarm(client):
    return client.call("reading the node's swarm state", client.api.info).get('Swarm') or {}


def _gates(client, params):
    for option in ('default_addr_pool', 'subnet_size', 'data_path_port', 'data_path_addr'):
        if params.get(option) not in (None, []):
            client.require('swarm.%s' % option, who='swarm')


def _facts(client, info_swarm, params):
    """What the swarm module returns about the node's swarm; secrets under join_tokens/unlock_key."""
    role = role_of(info_swarm)
    facts = {
        'swarm_state': info_swarm.get('LocalNodeState') or 'inactive',
        'swarm_id': (info_swarm.get('Cluster') or {}).get('ID'),
        'node_id': info_swarm.get('NodeID') or None,
        'node_role': role,
        'node_addr': info_swarm.get('NodeAddr') or None,
        'manager_addresses': sorted(m.get('Addr') for m in info_swarm.get('RemoteManagers') or []),
    }
    if role == 'manager':
        swarm = client.call('reading the swarm', client.api.inspect_swarm)
        facts['settings'] = shown_settings(live_settings(swarm.get('Spec')))
        if params.get('return_secrets', True):
            tokens = swarm.get('JoinTokens') or {}
            facts['join_tokens'] = {'worker': tokens.get('Worker'), 'manager': tokens.get('Manager')}
            key = None
            if get_path(swarm.get('Spec'), ('EncryptionConfig', 'AutoLockManagers')):
                key = client.call('reading the unlock key', client.api.get_unlock_key).get('UnlockKey') or None
            facts['unlock_key'] = key
    return facts


def _state_view(info_swarm, settings=None):
    view = {'state': info_swarm.get('LocalNodeState') or 'inactive', 'role': role_of(info_swarm)}
    if settings is not None:
        view['settings'] = settings
    return view


def _init_spec(params):
    return spec_with({}, normalise_settings(params))


def _inspect_if_manager(client, params, info_swarm):
    if params['state'] == 'present' and role_of(info_swarm) == 'manager':
        return client.call('reading the swarm', client.api.inspect_swarm)
    return None


def run_swarm(client, params, check_mode):
    """The swarm module: init, join, update settings, rotate secrets, unlock, leave."""
    if params['state'] == 'join' and not (params.get('remote_addrs') and params.get('join_token')):
        raise FabricError('state=join needs remote_addrs (managers of the swarm) and join_token.')
    check_wait_timeout(params)
    if params.get('default_addr_pool') is not None:
        params['default_addr_pool'] = normalise_pool(params['default_addr_pool'])
    normalise_settings(params)  # bad input fails here, before any call
    _gates(client, params)
    writer = Writer(client, check_mode)
    warnings = []
    info_swarm = read_info_swarm(client)
    before = _state_view(info_swarm)
    swarm = _inspect_if_manager(client, params, info_swarm)
    actions, changes = plan_swarm(params, info_swarm, swarm)

    if actions == ['unlock']:
        writer('unlock', 'unlocking the swarm', client.api.unlock_swarm, {'UnlockKey': params['unlock_key']})
        if check_mode:
            # Nothing more can be known while the node is locked: report the unlock alone.
            result = _result(writer, before, dict(before, state='active', role='manager'), {}, warnings)
            result.update(_predicted_facts(info_swarm, result['diff']['after']))
            return result
        info_swarm = wait_for(lambda: _manager_ready(read_info_swarm(client)), params['wait_timeout'],
                              'for the node to become an active manager after unlocking')
        swarm = _inspect_if_manager(client, params, info_swarm)
        actions, changes = plan_swarm(params, info_swarm, swarm)
    if swarm is not None:
        before['settings'] = shown_settings(live_settings(swarm.get('Spec')))

    after = dict(before)
    rotate = {option: bool(params.get(option)) for option, _label in ROTATIONS}
    rotated = False
    listen = params.get('listen_addr') or '0.0.0.0:%d' % DEFAULT_SWARM_PORT
    for action in actions:
        if action == 'init':
            kwargs = dict(advertise_addr=params.get('advertise_addr'), listen_addr=listen,
                          swarm_spec=_init_spec(params))
            for option in ('default_addr_pool', 'subnet_size', 'data_path_addr', 'data_path_port'):
                if params.get(option) not in (None, []):
                    kwargs[option] = params[option]
            writer('init', 'initialising a swarm', client.api.init_swarm, **kwargs)
            after = {'state': 'active', 'role': 'manager',
                     'settings': shown_settings(normalise_settings(params))}
        elif action.startswith('join as'):
            kwargs = dict(remote_addrs=params['remote_addrs'], join_token=params['join_token'],
                          listen_addr=listen, advertise_addr=params.get('advertise_addr'))
            if params.get('data_path_addr'):
                kwargs['data_path_addr'] = params['data_path_addr']
            writer(action, 'joining the swarm at %s' % ', '.join(params['remote_addrs']),
                   client.api.join_swarm, **kwargs)
            after = {'state': 'active', 'role': params['role']}
        elif action.startswith('update settings') or action.startswith('rotate'):
            if rotated:
                writer.done.append(action)  # done by the one update call below
                continue
            desired = normalise_settings(params) if action.startswith('update settings') else {}
            writer(action, 'updating the swarm', client.api.update_swarm,
                   swarm['Version']['Index'], swarm_spec=spec_with(swarm['Spec'], desired),
                   rotate_worker_token=rotate['rotate_worker_token'],
                   rotate_manager_token=rotate['rotate_manager_token'],
                   rotate_manager_unlock_key=rotate['rotate_unlock_key'])
            rotated = True
            after['settings'] = dict(before['settings'], **shown_settings(desired))
        elif action == 'demote self':
            _leave_guard(client, info_swarm, warnings)
            node = client.call('reading this node', client.api.inspect_node, info_swarm['NodeID'])
            writer('demote self', 'demoting this node before it leaves', client.api.update_node,
                   node['ID'], node['Version']['Index'], dict(node['Spec'], Role='worker'))
            if not check_mode:
                wait_for(lambda: not read_info_swarm(client).get('ControlAvailable'), params['wait_timeout'],
                         'for this node to become a worker before leaving')
        elif action.startswith('leave'):
            writer(action, 'leaving the swarm', client.api.leave_swarm, force=action == 'leave (force)')
            after = {'state': 'inactive', 'role': None}

    result = _result(writer, before, after, changes, warnings)
    if check_mode and writer.done:
        result.update(_predicted_facts(info_swarm, after))
        return result
    info_swarm = read_info_swarm(client)
    if params['state'] == 'join' and writer.done and params['role'] == 'manager':
        info_swarm = wait_for(lambda: _manager_ready(read_info_swarm(client)), params['wait_timeout'],
                              'for the node to become a reachable manager')
    result.update(_facts(client, info_swarm, params))
    return result


def _predicted_facts(info_swarm, after):
    return {'swarm_state': after['state'], 'swarm_id': (info_swarm.get('Cluster') or {}).get('ID'),
            'node_id': info_swarm.get('NodeID') or None, 'node_role': after['role'],
            'node_addr': info_swarm.get('NodeAddr') or None,
            'manager_addresses': sorted(m.get('Addr') for m in info_swarm.get('RemoteManagers') or [])}


def _manager_ready(info_swarm):
    active = info_swarm.get('LocalNodeState') == 'active' and info_swarm.get('ControlAvailable')
    return info_swarm if active else None


def _leave_guard(client, info_swarm, warnings):
    nodes = [node_view(n) for n in client.call('listing the swarm nodes', client.api.nodes)]
    warning = quorum_guard(managers_of(nodes), info_swarm['NodeID'], 'leave',
                           hint=' Set force=true to leave anyway (a swarm whose last manager leaves is lost).')
    if warning:
        warnings.append(warning)


def _result(writer, before, after, changes, warnings):
    result = {'changed': bool(writer.done), 'actions': list(writer.done),
              'diff': {'before': before, 'after': after if writer.done else before}}
    if changes:
        result['changed_settings'] = sorted(changes)
    if warnings:
        result['warnings'] = warnings
    return result


# --- swarm_node --------------------------------------------------------------

def list_nodes(client):
    return [node_view(n) for n in client.call('listing the swarm nodes', client.api.nodes)]


def _require_manager(client):
    info_swarm = read_info_swarm(client)
    if info_swarm.get('LocalNodeState') == 'locked':
        raise FabricError('The manager at %s is locked (autolock); unlock it with docknet.fabric.swarm and '
                          'unlock_key first.' % client.docker_host)
    if not info_swarm.get('ControlAvailable'):
        raise FabricError('swarm_node runs against a swarm manager; %s is %s. Point docker_host at a manager.'
                          % (client.docker_host, 'a worker' if info_swarm.get('LocalNodeState') == 'active'
                             else 'in no swarm'))
    return info_swarm


def _node_shown(node):
    if node is None:
        return {'state': 'absent'}
    return {'id': node['id'], 'hostname': node['hostname'], 'addr': node['addr'], 'role': node['role'],
            'availability': node['availability'], 'labels': node['labels']}


def _settled(client, node_id, role):
    """The node has the wanted role in raft and the swarm has a leader."""
    nodes = list_nodes(client)
    node = next((n for n in nodes if n['id'] == node_id), None)
    if node is None or not any(n['leader'] for n in nodes):
        return False
    if role == 'manager':
        return node.get('reachability') == 'reachable'
    return not node.get('manager_addr')


def _tasks_left(client, node_id):
    tasks = client.call('listing the tasks of the node', client.api.tasks,
                        filters={'node': node_id, 'desired-state': 'running'})
    busy = ('running', 'starting', 'preparing', 'assigned', 'accepted', 'ready')
    return [t for t in tasks if (t.get('Status') or {}).get('State') in busy]


def run_swarm_node(client, params, check_mode):
    """The swarm_node module: availability, role, labels of one node; or take it out of the swarm."""
    if params['state'] == 'absent' and (params.get('availability') or params.get('role') or params.get('labels')):
        raise FabricError('state=absent takes the node out of the swarm; leave out availability, role and labels.')
    check_wait_timeout(params)
    check_node_labels(params.get('labels'))
    self_id = _require_manager(client).get('NodeID')
    nodes = list_nodes(client)
    node = select_node(nodes, params['node'])
    managers = managers_of(nodes)
    writer = Writer(client, check_mode)
    timeout = params['wait_timeout']
    warnings = []
    if params['state'] == 'absent':
        actions, warnings = plan_node_absent(params, node, managers)
        if actions and node['id'] == self_id:
            raise FabricError('node %s is the manager this task runs against; it cannot remove itself. Run '
                              'docknet.fabric.swarm state=absent on it, then remove it from another manager.'
                              % params['node'])
    else:
        if node is None:
            raise FabricError('node %s: no such node in the swarm. Nodes: %s.' % (params['node'], '; '.join(
                '%s (%s, %s)' % (n['hostname'], n['id'], n['addr']) for n in nodes)))
        actions, update, warnings = plan_node(params, node, managers)
    before = _node_shown(node)
    after = dict(before)

    if params['state'] == 'present' and actions:
        current = client.call('reading node %s' % node['id'], client.api.inspect_node, node['id'])
        spec = dict(current['Spec'], **update)
        writer(', '.join(actions), 'updating node %s' % node['id'], client.api.update_node,
               node['id'], current['Version']['Index'], spec)
        writer.done[-1:] = actions  # one update call does them all
        after.update({'role': spec.get('Role'), 'availability': spec.get('Availability'),
                      'labels': dict(spec.get('Labels') or {})})
        if not check_mode:
            if 'Role' in update and not (node['id'] == self_id and update['Role'] == 'worker'):
                wait_for(lambda: _settled(client, node['id'], update['Role']), timeout,
                         'for raft membership to settle with %s as %s and a leader elected'
                         % (node['id'], update['Role']))
            if update.get('Availability') == 'drain':
                wait_for(lambda: not _tasks_left(client, node['id']), timeout,
                         "for the tasks of drained node %s to move" % node['id'])
    elif params['state'] == 'absent' and actions:
        for action in actions:
            if action in ('drain', 'demote'):
                current = client.call('reading node %s' % node['id'], client.api.inspect_node, node['id'])
                field = ('Availability', 'drain') if action == 'drain' else ('Role', 'worker')
                writer(action, '%s node %s' % ('draining' if action == 'drain' else 'demoting', node['id']),
                       client.api.update_node, node['id'], current['Version']['Index'],
                       dict(current['Spec'], **{field[0]: field[1]}))
                if check_mode:
                    continue
                if action == 'drain':
                    wait_for(lambda: not _tasks_left(client, node['id']), timeout,
                             'for the tasks of drained node %s to move' % node['id'])
                else:
                    wait_for(lambda: _settled(client, node['id'], 'worker'), timeout,
                             'for raft membership to settle after demoting %s' % node['id'])
            elif action == 'wait until down':
                writer.done.append(action)
                if not check_mode:
                    wait_for(lambda: _node_down(client, node['id']), timeout,
                             'for node %s to go down or leave; run docknet.fabric.swarm state=absent on it, or '
                             'set force=true to remove it while it runs' % node['id'])
            elif action.startswith('remove'):
                writer(action, 'removing node %s' % node['id'], client.api.remove_node, node['id'],
                       force=action == 'remove (force)')
        after = {'state': 'absent'}
    result = _result(writer, before, after, {}, warnings)
    self_demoted = node is not None and node['id'] == self_id and after.get('role') == 'worker' != before.get('role')
    result['node'] = after if check_mode or params['state'] == 'absent' or self_demoted else \
        _node_shown(next((n for n in list_nodes(client) if n['id'] == node['id']), None))
    result['managers'] = [{'hostname': m['hostname'], 'id': m['id'], 'addr': m['manager_addr'],
                           'reachability': m['reachability'], 'leader': m['leader']} for m in managers]
    return result


def _node_down(client, node_id):
    nodes = list_nodes(client)
    node = next((n for n in nodes if n['id'] == node_id), None)
    return node is None or node['state'] == 'down'
