# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: pure decisions the roles make from live state, behind the filters of plugins/filter/swarm_roles.py.

Plain Python instead of Jinja programs in the roles, so each rule is tested by a table (tests/unit/roles).
"""

from __future__ import annotations


def live_manager(hosts, infos, preferred=()):
    """The first of ``hosts`` whose swarm_info result (``infos[host]``) says it is a manager now.

    Hosts of ``preferred`` (the managers group) come first, in the order of ``hosts``; a host
    without a result (its dockerd did not answer, it was skipped) is never picked. '' when none is.
    """
    hosts = list(hosts or [])
    preferred = set(preferred or [])
    infos = infos or {}
    for host in [h for h in hosts if h in preferred] + [h for h in hosts if h not in preferred]:
        info = infos.get(host) or {}
        if isinstance(info, dict) and info.get('is_manager'):
            return host
    return ''


def _labels_match(current, desired, state):
    current = {str(k): str(v) for k, v in (current or {}).items()}
    desired = {str(k): str(v) for k, v in (desired or {}).items()}
    if state == 'replace':
        return current == desired
    return all(current.get(k) == v for k, v in desired.items())


def nodes_to_set(wanted, nodes):
    """The hosts whose node needs a swarm_node call: role or labels differ, or the node is not listed.

    ``wanted`` maps host -> {addr, role, labels, labels_state}; ``nodes`` is a manager's swarm_info
    node list (addr, role, labels), read before the joins: a node it does not hold (a new joiner,
    or any node when there is no listing) is always set. Order of ``wanted`` is kept.
    """
    out = []
    for host, want in (wanted or {}).items():
        node = _listed_node(nodes or [], want.get('addr'))
        if node is None:
            out.append(host)
            continue
        if node.get('role') != want.get('role') or not _labels_match(
                node.get('labels'), want.get('labels'), want.get('labels_state') or 'merge'):
            out.append(host)
    return out


def _listed_node(nodes, addr):
    """The one node of a listing at ``addr`` (a node that left and joined again is listed twice: the old one down)."""
    listed = [n for n in nodes if n.get('addr') == addr]
    listed = [n for n in listed if n.get('state') != 'down'] or listed
    return listed[0] if len(listed) == 1 else None


def memberships_from_listing(wanted, first_host, first):
    """Each host's swarm membership as one manager's node listing shows it, or {} when it cannot say.

    ``wanted`` maps each host of the play to its advertise address; ``first`` is the swarm_info result
    of ``first_host`` (the first listed manager). When that manager answers with a leader and lists every
    other host as a ready node (a manager also reachable), each host gets a result shaped like its own
    swarm_info would be (``first_host`` keeps its real one), so the bootstrap decision needs no read of
    every host. Any doubt (a host not listed, down, unreachable, no leader) gives {}: read every host.
    """
    if not isinstance(first, dict) or first.get('failed') or first.get('skipped'):
        return {}
    if first.get('local_node_state') != 'active' or not first.get('is_manager') or first.get('error'):
        return {}
    if first.get('leader_available') is False or not first.get('nodes'):
        return {}
    memberships = {}
    for host, addr in (wanted or {}).items():
        if host == first_host:
            memberships[host] = first
            continue
        node = _listed_node(first['nodes'], addr)
        if node is None or node.get('state') != 'ready':
            return {}
        manager = node.get('role') == 'manager'
        if manager and node.get('reachability') != 'reachable':
            return {}
        memberships[host] = {
            'local_node_state': 'active', 'is_manager': manager, 'node_id': node.get('id'),
            'node_addr': addr, 'hostname': node.get('hostname'),
            'cluster_id': first.get('cluster_id') if manager else None,
        }
        if manager:
            memberships[host]['leader_available'] = True
    return memberships if first_host in memberships else {}
