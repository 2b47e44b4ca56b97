# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the swarm_node module's engine, one node's availability, role and labels, or its removal.

Runs against a manager: read the node listing once -> select the node ->
plan (``plan_node`` / ``plan_node_absent`` in ``_swarm_nodes``, pure, with
the quorum guard) -> apply through the one ``Writer`` and wait until raft
and the tasks have settled.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._swarm import (
    check_wait_timeout, read_info_swarm, result_of, wait_for,
)
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_nodes import (
    check_node_labels, managers_of, node_view, plan_node, plan_node_absent, select_node,
)
from ansible_collections.docknet.fabric.plugins.module_utils._writer import Writer


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


def _node_down(client, node_id):
    nodes = list_nodes(client)
    node = next((n for n in nodes if n['id'] == node_id), None)
    return node is None or node['state'] == 'down'


class NodeChanges:
    """Applies swarm_node's planned actions to one node through one Writer, waiting where Docker works on."""

    def __init__(self, client, writer, node, timeout):
        self.client, self.writer, self.node, self.timeout = client, writer, node, timeout
        self.check_mode = writer.check_mode

    def _update(self, action, doing, **fields):
        """One node update (read the version, send the spec with ``fields``); returns the new spec."""
        node_id = self.node['id']
        current = self.client.call('reading node %s' % node_id, self.client.api.inspect_node, node_id)
        spec = dict(current['Spec'], **fields)
        self.writer.write_as(action, doing, self.client.api.update_node, node_id, current['Version']['Index'], spec)
        return spec

    def _wait(self, check, what):
        if not self.check_mode:
            wait_for(check, self.timeout, what)

    def update(self, actions, update, self_id):
        """state=present: one update call does every planned action (recorded under each)."""
        node_id = self.node['id']
        spec = self._update(actions[0], 'updating node %s' % node_id, **update)
        for action in actions[1:]:
            self.writer.record(action)
        if 'Role' in update and not (node_id == self_id and update['Role'] == 'worker'):
            self._wait(lambda: _settled(self.client, node_id, update['Role']),
                       'for raft membership to settle with %s as %s and a leader elected' % (node_id, update['Role']))
        if update.get('Availability') == 'drain':
            self._wait(lambda: not _tasks_left(self.client, node_id),
                       'for the tasks of drained node %s to move' % node_id)
        return spec

    def drain(self, action):
        node_id = self.node['id']
        self._update(action, 'draining node %s' % node_id, Availability='drain')
        self._wait(lambda: not _tasks_left(self.client, node_id), 'for the tasks of drained node %s to move' % node_id)

    def demote(self, action):
        node_id = self.node['id']
        self._update(action, 'demoting node %s' % node_id, Role='worker')
        self._wait(lambda: _settled(self.client, node_id, 'worker'),
                   'for raft membership to settle after demoting %s' % node_id)

    def wait_until_down(self, action):
        node_id = self.node['id']
        self.writer.record(action)
        self._wait(lambda: _node_down(self.client, node_id),
                   'for node %s to go down or leave; run docknet.fabric.swarm state=absent on it, or set '
                   'force=true to remove it while it runs' % node_id)

    def remove(self, action):
        node_id = self.node['id']
        self.writer.write_as(action, 'removing node %s' % node_id, self.client.api.remove_node, node_id,
                             force=action == 'remove (force)')

    def take_out(self, actions):
        """state=absent: drain, demote, wait until down, remove, in the planned order."""
        steps = {'drain': self.drain, 'demote': self.demote, 'wait until down': self.wait_until_down,
                 'remove': self.remove, 'remove (force)': self.remove}
        for action in actions:
            steps[action](action)


def _check_params(params):
    """Bad input fails here, before any call to Docker."""
    if params['state'] == 'absent' and (params.get('availability') or params.get('role') or params.get('labels')):
        raise FabricError('state=absent takes the node out of the swarm; leave out availability, role and labels.')
    check_wait_timeout(params)
    check_node_labels(params.get('labels'))


def _plan(params, node, nodes, managers, self_id):
    """(actions, spec fields to update, warnings) for the selected node; refusals raise."""
    if params['state'] == 'absent':
        actions, warnings = plan_node_absent(params, node, managers)
        if actions and node['id'] == self_id:
            raise FabricError('node %s is the manager this task runs against; it cannot remove itself. Run '
                              'docknet.fabric.swarm state=absent on it, then remove it from another manager.'
                              % params['node'])
        return actions, {}, warnings
    if node is None:
        raise FabricError('node %s: no such node in the swarm. Nodes: %s.' % (params['node'], '; '.join(
            '%s (%s, %s)' % (n['hostname'], n['id'], n['addr']) for n in nodes)))
    return plan_node(params, node, managers)


def run_swarm_node(client, params, check_mode):
    """The swarm_node module: availability, role, labels of one node; or take it out of the swarm."""
    _check_params(params)
    self_id = _require_manager(client).get('NodeID')
    nodes = list_nodes(client)
    node = select_node(nodes, params['node'])
    managers = managers_of(nodes)
    actions, update, warnings = _plan(params, node, nodes, managers, self_id)
    before = _node_shown(node)
    after = dict(before)
    writer = Writer(client, check_mode)
    changes = NodeChanges(client, writer, node, params['wait_timeout'])
    with writer.reporting():
        if params['state'] == 'present' and actions:
            spec = changes.update(actions, update, self_id)
            after.update({'role': spec.get('Role'), 'availability': spec.get('Availability'),
                          'labels': dict(spec.get('Labels') or {})})
        elif params['state'] == 'absent' and actions:
            changes.take_out(actions)
            after = {'state': 'absent'}
    result = result_of(writer, before, after, {}, warnings)
    self_demoted = node is not None and node['id'] == self_id and after.get('role') == 'worker' != before.get('role')
    result['node'] = after if check_mode or params['state'] == 'absent' or self_demoted else \
        _node_shown(next((n for n in list_nodes(client) if n['id'] == node['id']), None))
    result['managers'] = [{'hostname': m['hostname'], 'id': m['id'], 'addr': m['manager_addr'],
                           'reachability': m['reachability'], 'leader': m['leader']} for m in managers]
    return result
