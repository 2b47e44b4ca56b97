# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the swarm module's engine, a node's swarm membership.

One cycle: normalise the declared state -> read the node's swarm state -> plan
the actions (``plan_swarm``, pure, tested by tables) -> apply them in order
(``Membership``) through the one ``Writer``, which skips writes in check mode
and lets a half-way failure report what was done. Settings live in
``_swarm_settings``, node views and the quorum guard in ``_swarm_nodes``,
swarm_node's engine in ``_swarm_node``.

Secrets (join tokens, unlock keys) never enter a diff, an action or a message:
they are returned under ``join_tokens`` and ``unlock_key`` only, and the
swarm action plugin hides a result that carries them.
"""

from __future__ import annotations

import socket

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_nodes import managers_of, node_view, quorum_guard
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_settings import (
    DEFAULT_SWARM_PORT, INIT_ONLY, ROTATIONS, get_path, init_only_conflicts, live_settings, normalise_pool,
    normalise_settings, settings_changes, shown_settings, spec_with,
)
from ansible_collections.docknet.fabric.plugins.module_utils._values import is_ip, split_host_port
from ansible_collections.docknet.fabric.plugins.module_utils._wait import wait_until
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer

WAIT_STEP = 1.0


# --- planning (pure) -----------------------------------------------------------

def resolve_addr(addr):
    """host:port of ``addr`` with the host resolved to its addresses (best effort)."""
    host, port = split_host_port(addr, DEFAULT_SWARM_PORT)
    if is_ip(host):
        return {(host, port)}
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return {(host, port)}
    return {(info[4][0], port) for info in infos} | {(host, port)}


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


def _plan_locked(params):
    if params['state'] == 'absent' and params.get('force'):
        return ['leave (force)']
    if not params.get('unlock_key'):
        raise FabricError('The node is a manager of a locked swarm (autolock is on and dockerd restarted). '
                          'Give unlock_key (the key returned as unlock_key when autolock was enabled) '
                          'to unlock it%s.' % (', or force=true to leave it' if params['state'] == 'absent' else ''))
    # After the unlock the node is an active manager; the caller re-plans on live state.
    return ['unlock']


def _plan_absent(params, info_swarm):
    if (info_swarm.get('LocalNodeState') or 'inactive') == 'inactive':
        return []
    if params.get('force'):
        return ['leave (force)']
    if role_of(info_swarm) == 'manager':
        return ['demote self', 'leave']
    return ['leave']


def _plan_join(params, info_swarm):
    role = role_of(info_swarm)
    if (info_swarm.get('LocalNodeState') or 'inactive') == 'inactive':
        return ['join as %s' % params['role']]
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
    return []


def _plan_present(params, info_swarm, swarm):
    desired = normalise_settings(params)
    rotations = [label for option, label in ROTATIONS if params.get(option)]
    if (info_swarm.get('LocalNodeState') or 'inactive') == 'inactive':
        return ['init'], {}
    if role_of(info_swarm) == 'worker':
        if desired or rotations or any(params.get(o) is not None for o in INIT_ONLY):
            raise FabricError('The node is a worker: swarm settings are read and changed on a manager. '
                              'Run state=present against a manager, or use state=join for workers.')
        return [], {}
    conflicts = init_only_conflicts(params, swarm or {}, info_swarm.get('NodeAddr'))
    if conflicts:
        raise FabricError('Settings fixed when the swarm was created differ from the live swarm (%s): they need '
                          're-initialisation (leave the swarm and init it again). Leave the options out, or '
                          'set them to the live values.' % '; '.join(conflicts))
    changes = settings_changes(desired, live_settings((swarm or {}).get('Spec')))
    actions = ['update settings: %s' % ', '.join(sorted(changes))] if changes else []
    return actions + rotations, changes


def plan_swarm(params, info_swarm, swarm=None):
    """The actions that bring the node to the declared swarm state, from its live state.

    ``info_swarm`` is the ``Swarm`` part of ``docker info``; ``swarm`` the
    inspected swarm when the node is a manager. Returns (actions, changes)
    where changes maps setting -> (live, wanted). Raises FabricError for what
    must not be done.
    """
    local = info_swarm.get('LocalNodeState') or 'inactive'
    if local == 'pending':
        raise FabricError('The node is still joining a swarm (state pending). Wait, or leave it with '
                          'state=absent and force=true.')
    if local == 'error':
        raise FabricError('The node is in swarm state error: %s. Leave it with state=absent and force=true.'
                          % (info_swarm.get('Error') or 'no detail'))
    if local == 'locked':
        return _plan_locked(params), {}
    if params['state'] == 'absent':
        return _plan_absent(params, info_swarm), {}
    if params['state'] == 'join':
        return _plan_join(params, info_swarm), {}
    return _plan_present(params, info_swarm, swarm)


def check_wait_timeout(params):
    """wait_timeout is a number of seconds to wait; zero or less would never wait (pure)."""
    timeout = params.get('wait_timeout')
    if timeout is not None and timeout < 1:
        raise FabricError('wait_timeout %s: give a positive number of seconds (the default is 120).' % timeout)


# --- reading and waiting -------------------------------------------------------

def read_info_swarm(client):
    return client.call("reading the node's swarm state", client.api.info).get('Swarm') or {}


def wait_for(check, timeout, what):
    """Poll ``check()`` until it is true; a timeout comes after a write, so it reports ``changed``."""
    return wait_until(check, timeout, what, step=WAIT_STEP, changed=True)


def _manager_ready(info_swarm):
    active = info_swarm.get('LocalNodeState') == 'active' and info_swarm.get('ControlAvailable')
    return info_swarm if active else None


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


def _predicted_facts(info_swarm, after):
    return {'swarm_state': after['state'], 'swarm_id': (info_swarm.get('Cluster') or {}).get('ID'),
            'node_id': info_swarm.get('NodeID') or None, 'node_role': after['role'],
            'node_addr': info_swarm.get('NodeAddr') or None,
            'manager_addresses': sorted(m.get('Addr') for m in info_swarm.get('RemoteManagers') or [])}


def _leave_guard(client, info_swarm, warnings):
    nodes = [node_view(n) for n in client.call('listing the swarm nodes', client.api.nodes)]
    warning = quorum_guard(managers_of(nodes), info_swarm['NodeID'], 'leave',
                           hint=' Set force=true to leave anyway (a swarm whose last manager leaves is lost).')
    if warning:
        warnings.append(warning)


def result_of(writer, before, after, changes, warnings):
    """The module result both swarm engines return: what was (or would be) done, and the diff."""
    actions = writer.actions
    result = {'changed': bool(actions), 'actions': actions,
              'diff': {'before': before, 'after': after if actions else before}}
    if changes:
        result['changed_settings'] = sorted(changes)
    if warnings:
        result['warnings'] = warnings
    return result


# --- applying ------------------------------------------------------------------

class Membership:
    """Applies the planned actions of one swarm module run, in order, through one Writer.

    Each action is done by the step its first word names (``init``, ``join``,
    ``update``/``rotate``, ``demote``, ``leave``); settings changes and
    rotations are one update call, recorded under every action it does.
    """

    def __init__(self, client, params, writer, info_swarm, swarm):
        self.client, self.params, self.writer = client, params, writer
        self.check_mode = writer.check_mode
        self.info_swarm, self.swarm = info_swarm, swarm
        self.listen = params.get('listen_addr') or '0.0.0.0:%d' % DEFAULT_SWARM_PORT
        self.warnings = []
        self.updated = False
        self.before = self.after = None

    def apply(self, actions, before):
        self.before, self.after = before, dict(before)
        steps = {'init': self.init, 'join': self.join, 'update': self.update, 'rotate': self.update,
                 'demote': self.demote_self, 'leave': self.leave}
        for action in actions:
            steps[action.split(' ', 1)[0]](action)

    def init(self, action):
        params = self.params
        kwargs = dict(advertise_addr=params.get('advertise_addr'), listen_addr=self.listen,
                      swarm_spec=_init_spec(params))
        for option in ('default_addr_pool', 'subnet_size', 'data_path_addr', 'data_path_port'):
            if params.get(option) not in (None, []):
                kwargs[option] = params[option]
        self.writer.write_as(action, 'initialising a swarm', self.client.api.init_swarm, **kwargs)
        self.after = {'state': 'active', 'role': 'manager', 'settings': shown_settings(normalise_settings(params))}

    def join(self, action):
        params = self.params
        kwargs = dict(remote_addrs=params['remote_addrs'], join_token=params['join_token'],
                      listen_addr=self.listen, advertise_addr=params.get('advertise_addr'))
        if params.get('data_path_addr'):
            kwargs['data_path_addr'] = params['data_path_addr']
        self.writer.write_as(action, 'joining the swarm at %s' % ', '.join(params['remote_addrs']),
                             self.client.api.join_swarm, **kwargs)
        self.after = {'state': 'active', 'role': params['role']}

    def update(self, action):
        if self.updated:
            self.writer.record(action)   # done by the one update call already sent
            return
        rotate = {option: bool(self.params.get(option)) for option, _label in ROTATIONS}
        desired = normalise_settings(self.params) if action.startswith('update settings') else {}
        swarm = self.swarm
        self.writer.write_as(action, 'updating the swarm', self.client.api.update_swarm,
                             swarm['Version']['Index'], swarm_spec=spec_with(swarm['Spec'], desired),
                             rotate_worker_token=rotate['rotate_worker_token'],
                             rotate_manager_token=rotate['rotate_manager_token'],
                             rotate_manager_unlock_key=rotate['rotate_unlock_key'])
        self.updated = True
        self.after['settings'] = dict(self.before['settings'], **shown_settings(desired))

    def demote_self(self, action):
        client = self.client
        _leave_guard(client, self.info_swarm, self.warnings)
        node = client.call('reading this node', client.api.inspect_node, self.info_swarm['NodeID'])
        self.writer.write_as(action, 'demoting this node before it leaves', client.api.update_node,
                             node['ID'], node['Version']['Index'], dict(node['Spec'], Role='worker'))
        if not self.check_mode:
            wait_for(lambda: not read_info_swarm(client).get('ControlAvailable'), self.params['wait_timeout'],
                     'for this node to become a worker before leaving')

    def leave(self, action):
        self.writer.write_as(action, 'leaving the swarm', self.client.api.leave_swarm,
                             force=action == 'leave (force)')
        self.after = {'state': 'inactive', 'role': None}


def _check_params(params):
    """Bad input fails here, before any call to Docker."""
    if params['state'] == 'join' and not (params.get('remote_addrs') and params.get('join_token')):
        raise FabricError('state=join needs remote_addrs (managers of the swarm) and join_token.')
    check_wait_timeout(params)
    if params.get('default_addr_pool') is not None:
        params['default_addr_pool'] = normalise_pool(params['default_addr_pool'])
    normalise_settings(params)


def run_swarm(client, params, check_mode):
    """The swarm module: init, join, update settings, rotate secrets, unlock, leave."""
    _check_params(params)
    _gates(client, params)
    writer = Writer(client, check_mode)
    with writer.reporting():
        return _converge(client, params, check_mode, writer)


def _converge(client, params, check_mode, writer):
    info_swarm = read_info_swarm(client)
    before = _state_view(info_swarm)
    swarm = _inspect_if_manager(client, params, info_swarm)
    actions, changes = plan_swarm(params, info_swarm, swarm)
    if actions == ['unlock']:
        writer.write_as('unlock', 'unlocking the swarm', client.api.unlock_swarm, {'UnlockKey': params['unlock_key']})
        if check_mode:
            # Nothing more can be known while the node is locked: report the unlock alone.
            result = result_of(writer, before, dict(before, state='active', role='manager'), {}, [])
            result.update(_predicted_facts(info_swarm, result['diff']['after']))
            return result
        info_swarm = wait_for(lambda: _manager_ready(read_info_swarm(client)), params['wait_timeout'],
                              'for the node to become an active manager after unlocking')
        swarm = _inspect_if_manager(client, params, info_swarm)
        actions, changes = plan_swarm(params, info_swarm, swarm)
    if swarm is not None:
        before['settings'] = shown_settings(live_settings(swarm.get('Spec')))

    run = Membership(client, params, writer, info_swarm, swarm)
    run.apply(actions, before)
    result = result_of(writer, before, run.after, changes, run.warnings)
    if check_mode and result['actions']:
        result.update(_predicted_facts(info_swarm, run.after))
        return result
    info_swarm = read_info_swarm(client)
    if params['state'] == 'join' and result['actions'] and params['role'] == 'manager':
        info_swarm = wait_for(lambda: _manager_ready(read_info_swarm(client)), params['wait_timeout'],
                              'for the node to become a reachable manager')
    result.update(_facts(client, info_swarm, params))
    return result
