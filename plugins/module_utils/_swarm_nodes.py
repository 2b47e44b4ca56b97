# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: swarm nodes as a user sees them, which node is meant, and the quorum guard (pure).

``node_view`` turns a node of Docker's listing into the flat view every
engine uses (swarm_node, swarm_info, the doctor); ``select_node`` finds the
node a user names; ``quorum_guard`` refuses a change that would leave fewer
reachable managers than a raft majority needs; ``plan_node`` and
``plan_node_absent`` list the actions swarm_node takes. Tested by tables.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._values import is_ip
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_settings import host_of


def node_addr(status_addr, manager_addr):
    """A node's address: Docker may report a manager's as 0.0.0.0, then its raft address (without the port) is it."""
    if status_addr not in (None, '', '0.0.0.0'):
        return status_addr
    return host_of(manager_addr) if manager_addr else None


def node_view(node):
    """What a user sees of a node listing entry."""
    spec, status = node.get('Spec') or {}, node.get('Status') or {}
    manager = node.get('ManagerStatus')
    return {
        'id': node.get('ID'),
        'hostname': (node.get('Description') or {}).get('Hostname'),
        'addr': node_addr(status.get('Addr'), manager.get('Addr') if manager else None),
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
    host = host_of(wanted) if (is_ip(host_of(wanted)) or wanted.startswith('[')) else None
    if host:
        by_addr = _prefer_live([n for n in nodes if n.get('addr') == host or (
            n.get('manager_addr') and host_of(n['manager_addr']) == host)])
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


def check_node_labels(labels):
    """Node label keys must be non-empty words without spaces (Docker accepts an empty key, and nothing can match it)."""
    for key in labels or {}:
        text = str(key)
        if not text.strip() or text != text.strip() or any(ch.isspace() for ch in text):
            raise FabricError('labels: %r is not a usable label key; give keys like zone or com.example.rack '
                              '(no empty keys, no spaces).' % text)
