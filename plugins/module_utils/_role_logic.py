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
        listed = [n for n in nodes or [] if n.get('addr') == want.get('addr')]
        # A node that left and joined again is listed twice: the old one down.
        listed = [n for n in listed if n.get('state') != 'down'] or listed
        if len(listed) != 1:
            out.append(host)
            continue
        node = listed[0]
        if node.get('role') != want.get('role') or not _labels_match(
                node.get('labels'), want.get('labels'), want.get('labels_state') or 'merge'):
            out.append(host)
    return out
